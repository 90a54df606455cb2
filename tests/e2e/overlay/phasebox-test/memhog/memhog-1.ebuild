# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: src_compile touches 200 MiB (limited through package.env)"

src_unpack() { mkdir -p "${S}" || die; }
src_compile() {
	e2e_record
	# 200 MiB, every page written (bytes * n fills them)
	python3 -c 'b = b"\x01" * (200 << 20); print("touched", len(b) >> 20, "MiB")' ||
		die "the 200 MiB allocation failed"
}
src_install() { e2e_record; }
