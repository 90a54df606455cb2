# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: what src_configure defines reaches src_compile"

src_unpack() { mkdir -p "${S}" || die; }
src_configure() {
	export CARRY_VALUE=42
	CARRY_UNEXPORTED=unexported
	# shellcheck disable=SC2317 # never called: the test checks that it reaches the next phase
	carry_function() { echo carried; }
	e2e_record
}
src_compile() {
	e2e_record
	[[ ${CARRY_VALUE} == 42 ]] || die "CARRY_VALUE='${CARRY_VALUE}' did not carry over"
	[[ ${CARRY_UNEXPORTED} == unexported ]] || die "CARRY_UNEXPORTED did not carry over"
	[[ $(carry_function) == carried ]] || die "carry_function did not carry over"
	echo carried > "$(e2e_file carried)" || die
}
src_install() { e2e_record; }
