# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: src_compile and src_test leave daemons behind"

src_unpack() { mkdir -p "${S}" || die; e2e_record; }
src_prepare() { default; e2e_record; }
src_configure() { e2e_record; }
src_compile() { e2e_record; e2e_daemons; }
src_test() { e2e_record; e2e_daemons; }
src_install() { e2e_record; }
