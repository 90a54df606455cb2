# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: src_compile leaves a daemon behind and runs until interrupted"

src_unpack() { mkdir -p "${S}" || die; }
src_compile() {
	e2e_record
	e2e_daemons
	echo "${BASHPID}" > "$(e2e_file started)" || die
	# The runner interrupts emerge meanwhile; E2E_SLOW_SECONDS bounds the wait.
	( exec -a "${E2E_MARKER}-${PN}-${EBUILD_PHASE}-main" sleep "${E2E_SLOW_SECONDS:-300}" )
	echo "${BASHPID}" > "$(e2e_file finished)" || die
}
src_install() { :; }
