# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: six trivial src phases (tests/e2e/bench)"

src_unpack() { mkdir -p "${S}" || die; }
src_prepare() { default; }
src_configure() { :; }
# What the bench checks after each emerge: whether this phase really ran isolated.
src_compile() {
	e2e_record
	readlink "/proc/${BASHPID}/ns/net" > "$(e2e_file netns)" || die
}
src_test() { :; }
src_install() { :; }
