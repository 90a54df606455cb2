# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: src_compile leaves a daemon behind and dies"

src_unpack() { mkdir -p "${S}" || die; }
src_compile() {
	e2e_record
	e2e_daemons
	die "phasebox-e2e deliberate failure"
}
src_install() { die "src_install must not run after a failed src_compile"; }
