# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: PROPERTIES=test_network gives src_test, and only src_test, the network"
# As in ::gentoo: the network test is also RESTRICTed, so it runs only with
# ALLOW_TEST="network" (or "all") in make.conf.
PROPERTIES="test_network"
RESTRICT="test"

src_unpack() { mkdir -p "${S}" || die; e2e_ns_probe; }
src_prepare() { default; e2e_ns_probe; }
src_configure() { e2e_ns_probe; }
src_compile() { e2e_ns_probe; }
src_test() { e2e_ns_probe; }
src_install() { e2e_ns_probe; }
