# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)
# Scenario "invocation": nothing of an emerge stays behind it.  The root hook's invocation
# cgroup (inv-<emerge pid>), its keeper and the keeper's socket go when emerge ends,
# whoever ends it (check_invocation_gone in tests/e2e/run; the scenarios cgroup, interrupt
# and nsall check it after their emerges too):
#
#   invocation-exit  an emerge that succeeds
#   invocation-kill  an emerge SIGKILLed between two phases: carry's phases are done, and
#                    emerge waits for the build directory lock of noop (held by the runner)
#                    before noop's first phase; no phase runs, so no phase's end can clean
#                    up: the keeper does.  Twin: while emerge waits, its invocation, keeper
#                    and socket are there.

e2e_more_scenarios+=(invocation)

# invocation_lock_start <pf>: hold the build directory lock of phasebox-test/<pf> as Portage
# takes it (portage.locks: lockf on <PORTAGE_TMPDIR>/portage/<category>/.<pf>.portage_lockfile)
# until invocation_lock_stop.
invocation_lock_start() {
	local dir=${eprefix}/var/tmp/portage/phasebox-test ready=${scratch}/lock-ready
	mkdir -p "${dir}"
	rm -f "${ready}"
	# Marked (kill_markers ends it with the rest), and gone after 15 minutes whatever happens.
	( exec -a "${marker}-lockholder" "${E2E_PYTHON:-/usr/bin/python3}" -c '
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o660)
fcntl.lockf(fd, fcntl.LOCK_EX)
with open(sys.argv[2], "w") as f:
    f.write("locked\n")
signal.alarm(900)
signal.pause()
' "${dir}/.${1}.portage_lockfile" "${ready}" </dev/null ) &
	invocation_lock_pid=$!
	invocation_wait 30 test -s "${ready}"
}

invocation_lock_stop() {
	[[ -n ${invocation_lock_pid:-} ]] || return 0
	kill "${invocation_lock_pid}" 2>/dev/null
	wait "${invocation_lock_pid}" 2>/dev/null
	invocation_lock_pid=
	return 0
}

# invocation_wait <seconds> <command...>: bounded poll until the command succeeds.
invocation_wait() {
	local limit=$(( SECONDS + $1 ))
	shift
	until "$@"; do
		(( SECONDS < limit )) || return 1
		sleep 0.2
	done
}

# Succeeds while emerge waits for a lock (its lock-helper child) and no phase of it runs
# (no ebuild.sh below it).
invocation_between_phases() {
	local pid helper=0 phase=0 cmd
	[[ -e /proc/${emerge_pid} ]] || return 1
	while read -r pid; do
		cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/${pid}/cmdline")
		[[ ${cmd} == *lock-helper* ]] && helper=1
		[[ ${cmd} == *ebuild.sh* ]] && phase=1
	done < <(cat "${cgroup2}/phasebox/inv-${emerge_pid}/main/cgroup.procs" 2>/dev/null)
	(( helper && ! phase ))
}

scenario_invocation() {
	local name inv procs left
	name=invocation-exit
	write_make_conf "${name}" phasebox-cgroup "${native_off[@]}"
	emerge_run "${name}" 180 =phasebox-test/noop-1
	check_emerge_ok "${name}" noop
	check_phases "${name}" noop phasebox src_compile
	check_invocation_gone "${name}"

	name=invocation-kill
	write_make_conf "${name}" phasebox-cgroup "${native_off[@]}"
	if ! invocation_lock_start noop-1; then
		not_ok "${name}: the runner holds noop's build directory lock"
		invocation_lock_stop
		return
	fi
	start_emerge "${name}" =phasebox-test/carry-1 =phasebox-test/noop-1
	inv=${cgroup2}/phasebox/inv-${emerge_pid}
	if ! invocation_wait 240 invocation_between_phases; then
		not_ok "${name}: emerge waits for noop's build directory lock, no phase running (see ${emerge_out})"
		kill -KILL -- "-${emerge_pid}" 2>/dev/null
		wait_emerge 60
		invocation_lock_stop
		return
	fi
	procs=$(tr '\n' ' ' < "${inv}/main/cgroup.procs")
	info "${name}: emerge waits between carry's phases and noop's; in its main cgroup: ${procs}"
	check "${name}: carry's phases ran before (its src_compile carried)" test -s "${res}/carry.src_compile.carried"
	check "${name}: noop's phases have not started" test ! -e "${res}/noop.src_compile.cgroup"
	check "${name}: no phase leaf while emerge waits ($(find "${inv}/builds" -mindepth 1 -type d | tr '\n' ' '))" \
		test -z "$(find "${inv}/builds" -mindepth 1 -type d)"
	# twin: while emerge lives, its invocation, keeper and socket are there
	check "${name}: while emerge lives its invocation, keeper and socket are there ($(invocation_left))" \
		test -d "${inv}/main" -a -S "/run/phasebox/inv-${emerge_pid}.sock" -a -n "$(cat "${inv}/keeper/cgroup.procs" 2>/dev/null)"
	kill -KILL "${emerge_pid}"
	wait_emerge 60
	check "${name}: emerge was killed by SIGKILL (exit ${emerge_status})" test "${emerge_status}" = 137
	check_invocation_gone "${name}"
	# shellcheck disable=SC2086 # pids, one word each
	left=$(invocation_alive ${procs})
	check "${name}: what was in its main cgroup is dead (${left:-none})" test -z "${left}"
	invocation_lock_stop
	check_nothing_left "${name}"
}

# The processes given that are alive (a zombie is not: dead, not yet reaped by its new parent).
invocation_alive() {
	local p state
	for p; do
		state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/${p}/stat" 2>/dev/null) || continue
		[[ -n ${state} && ${state} != Z ]] && printf '%s ' "${p}"
	done
	return 0
}
