# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: src_compile (portage) and src_install (root) write outside the sandbox"

S=${WORKDIR}

src_compile() {
	e2e_record
	# Outside SANDBOX_WRITE: sys-apps/sandbox must refuse and report it.
	echo compile > "${E2E_ESCAPE}.compile"
}
src_install() {
	e2e_record
	echo install > "${E2E_ESCAPE}.install"
	keepdir /usr/share/sbescape
}
