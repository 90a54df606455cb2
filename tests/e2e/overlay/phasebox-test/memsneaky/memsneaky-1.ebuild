# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: memhog whose global scope drops the limit package.env gives it"

# A build that does not want its limit: every phase's shell loses the variable (the
# ebuild is sourced before bashrc), yet the limit root registered in pkg_setup holds.
unset PHASEBOX_MEMORY_MAX

src_unpack() { mkdir -p "${S}" || die; }
src_compile() {
	e2e_record
	[[ -z ${PHASEBOX_MEMORY_MAX} ]] || die "the global scope did not unset PHASEBOX_MEMORY_MAX"
	# 200 MiB, every page written (bytes * n fills them)
	python3 -c 'b = b"\x01" * (200 << 20); print("touched", len(b) >> 20, "MiB")' ||
		die "the 200 MiB allocation failed"
}
src_install() { e2e_record; }
