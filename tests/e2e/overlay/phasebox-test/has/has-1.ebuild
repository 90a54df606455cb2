# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

# phasebox.eclass is copied into this overlay's eclass/ by tests/e2e/scenarios/eclass.sh.
PHASEBOX_REQUIRED=manual
inherit phasebox-e2e phasebox

DESCRIPTION="phasebox e2e: what phasebox_has answers in each src phase"

# One line per isolation: "<what> yes|no".
e2e_has() {
	local w
	for w in cgroup network ipc pid mount; do
		if phasebox_has "${w}"; then echo "${w} yes"; else echo "${w} no"; fi
	done > "$(e2e_file has)" || die
	e2e_record
}

src_unpack() { mkdir -p "${S}" || die; e2e_has; }
src_compile() { e2e_has; }
src_test() { e2e_has; }
src_install() { e2e_has; }
pkg_setup() { phasebox_has cgroup && die "phasebox_has cgroup in pkg_setup"; }
