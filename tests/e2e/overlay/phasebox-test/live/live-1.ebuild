# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: PROPERTIES=live (a VCS ebuild): src_unpack keeps the network, no other phase does"
PROPERTIES="live"

src_unpack() { mkdir -p "${S}" || die; e2e_ns_probe; }
src_prepare() { default; e2e_ns_probe; }
src_configure() { e2e_ns_probe; }
src_compile() { e2e_ns_probe; }
src_test() { e2e_ns_probe; }
src_install() { e2e_ns_probe; }
