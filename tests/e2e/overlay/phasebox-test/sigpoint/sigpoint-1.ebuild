# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: every phase takes a while and leaves processes and a mount (interrupt-random)"

# Each src phase, isolated by phasebox, records where it ran (cgroup, namespaces), leaves
# three daemons behind — the two of e2e_daemons and one that ignores SIGINT, SIGTERM and
# SIGHUP, so that only phasebox can end it — mounts a marked tmpfs when it runs as root in
# a mount namespace of its own (src_install), and takes E2E_PHASE_SECONDS (default 1) in a
# marked sleep, so that tests/e2e/scenarios/interrupt-random.sh can interrupt emerge
# anywhere and tell where its signal landed (<phase>.started and <phase>.finished hold the
# time).

sigpoint_stamp() { # <what>: the time (seconds since the epoch) into $(e2e_file <what>)
	printf '%s\n' "${EPOCHREALTIME}" > "$(e2e_file "${1}")" || die
}

sigpoint_phase() {
	local marker="${E2E_MARKER:?}-${PN}-${EBUILD_PHASE}" n
	sigpoint_stamp started
	e2e_record
	for n in mnt net ipc pid uts user cgroup; do
		readlink "/proc/${BASHPID}/ns/${n}"
	done > "$(e2e_file ns)" || die
	e2e_daemons
	( setsid bash -c "trap '' INT TERM HUP; exec -a '${marker}-stubborn' sleep 3600" </dev/null &>/dev/null & )
	# Only root can mount: a build-user phase has no capability, even in its user namespace.
	if [[ ${EUID} -eq 0 && -n ${E2E_HOST_MNTNS} && $(readlink "/proc/${BASHPID}/ns/mnt") != "${E2E_HOST_MNTNS}" ]]; then
		mkdir -p "${T}/sigpoint-${EBUILD_PHASE}" || die
		mount -t tmpfs -o size=1m "${E2E_MARKER}-${PN}-tmpfs" "${T}/sigpoint-${EBUILD_PHASE}" ||
			die "mount of a tmpfs in a mount namespace of its own failed"
		grep -F -- "${E2E_MARKER}-${PN}-tmpfs" /proc/self/mountinfo > "$(e2e_file mount)"
	fi
	( exec -a "${marker}-main" sleep "${E2E_PHASE_SECONDS:-1}" )
	sigpoint_stamp finished
}

pkg_setup() { sigpoint_stamp started; }
src_unpack() { mkdir -p "${S}" || die; sigpoint_phase; }
src_prepare() { default; sigpoint_phase; }
src_configure() { sigpoint_phase; }
src_compile() { sigpoint_phase; }
src_test() { sigpoint_phase; }
src_install() {
	sigpoint_phase
	insinto "/usr/share/${PN}"
	newins - stamp <<< "${PF}"
}
pkg_preinst() { sigpoint_stamp started; }
pkg_postinst() { sigpoint_stamp started; }
