# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: what each src phase sees of the network, IPC, pid and mount namespaces"

src_unpack() { mkdir -p "${S}" || die; e2e_record; e2e_ns_probe; }
src_prepare() { default; e2e_record; e2e_ns_probe; }
src_configure() { e2e_record; e2e_ns_probe; }
src_compile() { e2e_record; e2e_ns_probe; e2e_ipc_queue; e2e_daemons; }
src_test() { e2e_record; e2e_ns_probe; e2e_build_server; }
src_install() { e2e_record; e2e_ns_probe; e2e_mount_probe; }
