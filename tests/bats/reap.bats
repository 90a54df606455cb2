#!/usr/bin/env bats
# phasebox-reap alone (no cgroup): as a child subreaper it gets every orphan of the
# program, kills what is left when the program ends — round after round, since killing
# one process re-parents its children — and names each in a QA notice on stderr.  Each
# effect has a negative twin without the helper.  The probe returns only once its daemons
# have exec'd (it reads a pipe to end of file), so nothing here waits on time.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup reap
	RP=( "${B}/phasebox-reap" --package "cat/${MARK}" --phase src_compile )
}

teardown() {
	pb_teardown
}

# The QA notice in ${SCRATCH}/err names each pid of $1 (sleep, with the marker), and
# says how many there were.
reported() {
	local d n
	n=$(wc -w <<<"$1")
	grep -qxF " * QA Notice: phasebox: src_compile of cat/${MARK} left ${n} processes running; killed:" "${SCRATCH}/err"
	for d in $1; do
		grep -qxF " *   pid ${d} (sleep): ${MARK} 3600" "${SCRATCH}/err"
	done
	[[ $(grep -c '^ \*   pid ' "${SCRATCH}/err") -eq ${n} ]]
}

@test "a double-forked daemon and a setsid child are killed and reported (pid, comm, cmdline)" {
	local daemons d
	"${RP[@]}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready" >"${SCRATCH}/out" 2>"${SCRATCH}/err"
	daemons=$(pb_daemons "$(<"${SCRATCH}/out")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	reported "${daemons}"
}

@test "negative twin: without phasebox-reap the daemons survive, re-parented away" {
	local daemons d
	run -0 "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	daemons=$(pb_daemons "${output}")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_alive "${d}"; done
	# shellcheck disable=SC2086
	pb_kill_wait ${daemons}
}

@test "a 3-level tree whose middle exits is killed to the last process (round after round)" {
	# PROG -> L1 -> L2 -> L3: PROG and L1 exit, L2 (re-parented to the reaper) and its
	# child L3 stay; L3 is re-parented only when L2 is killed.
	local daemons d
	"${RP[@]}" -- "${P}" tree "${MARK}" "${SCRATCH}/ready" >"${SCRATCH}/out" 2>"${SCRATCH}/err"
	daemons=$(pb_daemons "$(<"${SCRATCH}/out")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	reported "${daemons}"
}

@test "negative twin: without phasebox-reap the tree survives, L3 still L2's child" {
	local -a daemons
	run -0 "${P}" tree "${MARK}" "${SCRATCH}/ready"
	mapfile -t daemons < <(pb_daemons "${output}")
	[[ ${#daemons[@]} -eq 2 ]]
	pb_alive "${daemons[0]}"
	pb_alive "${daemons[1]}"
	local ppid0 ppid1
	ppid0=$(awk '{ print $4 }' "/proc/${daemons[0]}/stat")
	ppid1=$(awk '{ print $4 }' "/proc/${daemons[1]}/stat")
	[[ ${ppid0} == "${daemons[1]}" || ${ppid1} == "${daemons[0]}" ]]
	pb_kill_wait "${daemons[@]}"
}

@test "as nobody (no_new_privs) the reaper kills what is left just the same" {
	local daemons d
	"${NOBODY[@]}" --no-new-privs "${RP[@]}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/w/ready" \
		>"${SCRATCH}/out" 2>"${SCRATCH}/err"
	daemons=$(pb_daemons "$(<"${SCRATCH}/out")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	reported "${daemons}"
}

@test "the program's status passes through, with or without orphans to kill" {
	local s
	for s in 0 1 42 255; do
		run -"${s}" "${RP[@]}" -- "${P}" exit "${s}"
		run -"${s}" --separate-stderr "${RP[@]}" -- bash -c '"$0" daemonize "$1" "$2" >/dev/null; exit "$3"' \
			"${P}" "${MARK}" "${SCRATCH}/ready" "${s}"
		[[ ${stderr} == *"QA Notice"* ]]
	done
	run -143 "${RP[@]}" -- "${P}" kill-self TERM
	# no orphans, no notice
	run -0 --separate-stderr "${RP[@]}" -- "${P}" exit 0
	[[ -z ${stderr} ]]
}

@test "--exec FILE runs FILE with PROG's argv[0] unchanged" {
	run -0 "${RP[@]}" --exec "${P}" -- "argv0-${MARK}" argv0
	[[ ${output} == "argv0=argv0-${MARK}" ]]
	# twin: without --exec argv[0] is the program searched in PATH, which does not exist
	run -127 "${RP[@]}" -- "argv0-${MARK}" argv0
	run -0 "${RP[@]}" -- "${P}" argv0
	[[ ${output} == "argv0=${P}" ]]
}
