#!/usr/bin/env bats
# A legacy cgroup v1 host (no cgroup2 at all), simulated in a private mount namespace:
# a fresh tmpfs on /sys/fs/cgroup holding bind mounts of this host's v1 hierarchies and no
# cgroup2 (the kernel still shows a "0::" line in /proc/self/cgroup, as on a real legacy
# host).  phasebox-cgroup then uses the v1 freezer hierarchy for the leaf and the v1
# memory/pids mirrors for the limits: as root directly, and for the build user through
# `adopt`, which on v1 delegates builds/ (no keeper).  Limits for the build user's phases
# cannot be applied there and fail closed (README, "Limits and accounting").  Each kernel
# effect has its twin; teardown checks that no process, cgroup, mirror or mount namespace of
# the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup legacy
	[[ -n ${FRZ} ]] || skip "no v1 freezer hierarchy on this host to simulate a legacy one with"
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --phase src_compile --log "${LOG}" )
	mkdir "${SCRATCH}/v1"
	# Run in the new namespace: the tmpfs (named after the marker), a bind of every v1
	# hierarchy into it; then the host's /sys/fs/cgroup, cgroup2 and all, is unmounted (in
	# this namespace only: a hidden mount would still be in mountinfo) and the tmpfs moved
	# there.
	V1_SETUP="mount -t tmpfs -o mode=0755 ${MARK} ${SCRATCH}/v1 &&
		for m in \$(findmnt -rn -t cgroup -o TARGET); do
			mkdir ${SCRATCH}/v1/\${m##*/} && mount --bind \"\${m}\" ${SCRATCH}/v1/\${m##*/} || exit
		done &&
		umount -R /sys/fs/cgroup &&
		mount --move ${SCRATCH}/v1 /sys/fs/cgroup &&
		echo \"ns=\$(readlink /proc/self/ns/mnt) cgroup2=\$(findmnt -rn -t cgroup2 | wc -l) v1=\$(findmnt -rn -t cgroup | wc -l)\""
	HOLDER=
}

teardown() {
	[[ -z ${HOLDER} ]] || pb_drop_inv "${HOLDER}"
	pb_teardown
}

# Run the rest on the simulated legacy host; its first line of output is "ns=… cgroup2=N v1=N".
on_v1() {
	unshare -m --propagation private bash -c "${V1_SETUP}"' && exec "$@"' "${SCRATCH}/v1" "$@"
}

# The first line of on_v1's output: there was no cgroup2 and every v1 hierarchy; PB_NS is set (for the leak check).
simulated() {
	[[ ${lines[0]} =~ ^ns=(mnt:\[[0-9]+\])\ cgroup2=0\ v1=([0-9]+)$ ]] || { echo "${lines[0]}" >&2; return 1; }
	PB_NS=${BASH_REMATCH[1]}
	[[ ${BASH_REMATCH[2]} -eq $(findmnt -rn -t cgroup | wc -l) ]]
	[[ ${PB_NS} != $(readlink /proc/self/ns/mnt) ]]
}

# In the phase: its memory.limit_in_bytes and pids.max (from the v1 cgroups it is in),
# then daemons left behind.
PHASE_SH='"$0" cgroup
m=$(sed -n "s/^[0-9]*:memory://p" /proc/self/cgroup); p=$(sed -n "s/^[0-9]*:pids://p" /proc/self/cgroup)
echo "memory=${m##*/} $(</sys/fs/cgroup/memory$m/memory.limit_in_bytes)"
echo "pids=${p##*/} $(</sys/fs/cgroup/pids$p/pids.max)"
"$0" daemonize "$1" "$2"'

@test "legacy v1 only: root's phase gets a freezer leaf and its limits in the v1 mirrors; its daemons die; leaf and mirrors go" {
	run -0 --separate-stderr on_v1 "${CG[@]}" --memory-max 300M --pids-max 77 -- \
		bash -c "${PHASE_SH}" "${P}" "${MARK}" "${SCRATCH}/ready"
	simulated
	[[ ${output} =~ $'\n'freezer=(/phasebox/leaves/cat:${MARK}-1:src_compile\.pb[0-9]+)$'\n' ]]
	local leaf=${BASH_REMATCH[1]}
	# the kernel's "0::" line is not a phasebox cgroup: no cgroup2 was used
	[[ ${output} =~ $'\n'cgroup2=([^$'\n']*) && ${BASH_REMATCH[1]} != *phasebox* ]]
	[[ ${output} == *$'\n'"memory=${leaf##*/} $((300 << 20))"$'\n'* ]]
	[[ ${output} == *$'\n'"pids=${leaf##*/} 77"$'\n'* ]]
	local daemons
	daemons=$(pb_daemons "$(<"${SCRATCH}/ready")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	# shellcheck disable=SC2086
	pb_wait_gone ${daemons}
	[[ ${stderr} == *"* QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed:"* ]]
	[[ ! -e ${FRZ}${leaf} ]]
	[[ $(grep -c '"limits":{"memory_max":"300M","pids_max":"77"}' "${LOG}") -eq 1 ]]
}

@test "negative twin: on this host's own mounts the same run takes a cgroup2 leaf (a freezer leaf on a host that is legacy already); on the simulated host without the helper the daemons survive" {
	run -0 --separate-stderr "${CG[@]}" -- "${P}" cgroup
	if [[ -n ${CG2} ]]; then
		[[ ${output} =~ cgroup2=/phasebox/leaves/cat:${MARK}-1:src_compile\.pb[0-9]+ ]]
		[[ ${output} != *freezer=/phasebox/* ]]
	else
		# no cgroup2 here: the simulation below is this host as it is
		[[ ${output} =~ freezer=/phasebox/leaves/cat:${MARK}-1:src_compile\.pb[0-9]+ ]]
	fi
	run -0 on_v1 bash -c "${PHASE_SH}" "${P}" "${MARK}" "${SCRATCH}/ready"
	simulated
	[[ ${output} == *$'\n'freezer=$(sed -n 's/^[0-9]*:freezer://p' /proc/self/cgroup)$'\n'* ]]
	local daemons d
	daemons=$(pb_daemons "$(<"${SCRATCH}/ready")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do
		pb_alive "${d}"
	done
	# shellcheck disable=SC2086
	pb_kill_wait ${daemons}
}

# --- the build user, through adopt ------------------------------------------------------

# The holder on the simulated host, adopted there: the invocation is in the freezer
# hierarchy, builds/ is nobody's, and there is no keeper.
start_v1_holder() {
	pb_start_holder --ns "${V1_SETUP}" "$@"
	PB_NS=$(readlink "/proc/${HOLDER}/ns/mnt")
	pb_adopt
	INV=${FRZ}/phasebox/inv-${HOLDER}
	[[ $(stat -c '%U' "${INV}/builds" "${INV}/builds/cgroup.procs" "${INV}/builds/tasks") == $'nobody\nnobody\nnobody' ]]
	[[ $(stat -c '%U' "${INV}" "${INV}/main") == $'root\nroot' ]]
	grep -qx "[0-9]*:freezer:/phasebox/inv-${HOLDER}/main" "/proc/${HOLDER}/cgroup"
	[[ ! -e ${INV}/keeper && ! -e /run/phasebox/inv-${HOLDER}.sock ]]
	[[ -z ${CG2} || ! -e ${CG2}/phasebox/inv-${HOLDER} ]]
}

@test "legacy v1 only: after adopt, nobody's phase (no_new_privs) makes its own freezer leaf below builds/; its daemons die; the leaf goes" {
	start_v1_holder "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" -- \
		bash -c '"$0" cgroup >"$3" && "$0" daemonize "$1" "$2"' "${P}" "${MARK}" "${SCRATCH}/w/ready" "${SCRATCH}/w/out"
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	[[ ${output} == *"freezer=/phasebox/inv-${HOLDER}/builds/cat:${MARK}-1:src_compile.pb${HOLDER}"* ]]
	local daemons
	daemons=$(pb_daemons "$(<"${SCRATCH}/w/ready")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	# shellcheck disable=SC2086
	pb_wait_gone ${daemons}
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
}

@test "legacy v1 only: a limit for nobody's phase cannot be applied: 111 naming the variable before the phase runs; with PHASEBOX_FALLBACK=warn it runs without it" {
	start_v1_holder "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs bash -c '
		"${@:3}" --memory-max 64M -- "$0" cgroup >"$1" 2>"$2"; echo "fail=$?" >>"$1"
		"${@:3}" --memory-max 64M --fallback warn -- "$0" cgroup >>"$1" 2>>"$2"; echo "warn=$?" >>"$1"' \
		"${P}" "${SCRATCH}/w/out" "${SCRATCH}/w/err" "${CG[@]}"
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	# fail closed: nothing ran
	[[ ${lines[0]} == fail=111 ]]
	# warn: the phase ran in its leaf, without the limit
	[[ ${output} == *$'\n'"freezer=/phasebox/inv-${HOLDER}/builds/cat:${MARK}-1:src_compile.pb"* ]]
	[[ ${lines[-1]} == warn=0 ]]
	run -0 cat "${SCRATCH}/w/err"
	[[ ${output} == *"PHASEBOX_MEMORY_MAX=64M cannot be applied: mkdir '"*"': Permission denied"$'\n'* ]]
	[[ ${output} == *"PHASEBOX_MEMORY_MAX=64M cannot be applied: "*"; running without it (PHASEBOX_FALLBACK=warn)"* ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
}
