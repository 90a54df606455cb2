#!/usr/bin/env bats
# The bash builtin phasebox_isolate (build/phasebox-builtin.so): the helper chain run in the
# shell that calls it.  What it must do: come back (status 0) in the same shell — its
# variables, functions, descriptors, traps, signal mask and process name as they were —
# inside the leaf and namespaces asked for; make the calling process end with the
# phase's status, after the links killed and reported what the phase left; refuse
# anything but phasebox's own links, with nothing done.  Twins without the builtin, and
# the leak check of every test (teardown).

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup builtin
	SO="${B}/phasebox-builtin.so"
	W=( --package "cat/${MARK}" --phase src_compile )
	CHAIN=( "${B}/phasebox-cgroup" "${W[@]}" --log "${PHASEBOX_LOG}" -- "${B}/phasebox-unshare" "${W[@]}" --net --uts --ipc --pid --mount --
		"${B}/phasebox-reap" "${W[@]}" -- )
	HOST_NET=$(readlink /proc/self/ns/net)
}

teardown() {
	pb_teardown
}

# shell SCRIPT: bash running SCRIPT with the builtin loaded and ${CHAIN[@]} in "$@".
shell() {
	local script=$1
	bash -c "enable -f $(printf %q "${SO}") phasebox_isolate || exit 99
${script}" bash "${CHAIN[@]}"
}

@test "the shell comes back isolated, its state unchanged: variables, functions, fds, traps, mask, comm" {
	run -0 --separate-stderr shell '
		x=42; f() { echo "f:$x"; }
		exec {fd}</dev/null
		trap "echo usr1" USR1; trap "" USR2
		before="$(trap -p) fds=$(ls /proc/$BASHPID/fd | sort -n | tr "\n" " ") mask=$(awk "/^SigBlk/ { print \$2 }" /proc/$BASHPID/status)"
		SANDBOX_ON=0 phasebox_isolate "$@" || exit 98
		after="$(trap -p) fds=$(ls /proc/$BASHPID/fd | sort -n | tr "\n" " ") mask=$(awk "/^SigBlk/ { print \$2 }" /proc/$BASHPID/status)"
		[[ $before == "$after" ]] || { echo "before: $before"; echo "after: $after"; exit 97; }
		echo "$(f) pid=$BASHPID comm=$(< /proc/$BASHPID/comm) net=$(readlink /proc/$BASHPID/ns/net) host=$(hostname) sandbox_on=${SANDBOX_ON-unset}"
		sed -n "s/^0:://p" /proc/$BASHPID/cgroup'
	[[ ${lines[0]} == "f:42 pid=2 comm=bash net="* ]]
	[[ ${lines[0]} != *"net=${HOST_NET} "* ]]
	[[ ${lines[0]} == *" host=localhost sandbox_on=unset" ]]
	[[ ${lines[1]} =~ ^/phasebox/leaves/cat:${MARK}:src_compile\.pb[0-9]+$ ]]
	[[ ! -e ${CG2}${lines[1]} ]]
	[[ ${stderr} =~ ^\ ?\*\ phasebox:\ src_compile\ of\ cat/${MARK}: ]] || { echo "stderr: ${stderr}" >&2; false; }
	# twin: the same script without the builtin runs on the host, in the caller's cgroup
	run -0 bash -c 'echo "pid=$BASHPID net=$(readlink /proc/$BASHPID/ns/net)"'
	[[ ${output} == *"net=${HOST_NET}" ]]
}

@test "the calling process ends with the phase's status: 0 3 and 128+9, the rest never runs there" {
	local s
	for s in 0 3; do
		run -"${s}" --separate-stderr shell "SANDBOX_ON=0 phasebox_isolate \"\$@\"; echo in-phase; exit ${s}"
		[[ ${output} == in-phase ]]
	done
	run -137 --separate-stderr shell 'SANDBOX_ON=0 phasebox_isolate "$@"; echo in-phase; kill -9 $BASHPID'
	[[ ${output} == in-phase ]]
	# twin: without the chain the same script's status is its own, too
	run -3 bash -c 'echo in-phase; exit 3'
}

@test "what the phase leaves is killed and named; the leaf is gone" {
	run -0 --separate-stderr shell "SANDBOX_ON=0 phasebox_isolate \"\$@\" && \"${P}\" daemonize ${MARK} ${SCRATCH}/ready"
	local daemons d
	daemons=$(pb_daemons "${output}")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	[[ ${stderr} == *"QA Notice: phasebox: src_compile of cat/${MARK} left "*" processes running; killed:"* ]]
	# twin: the same daemons without the builtin survive (and are killed here)
	run -0 "${P}" daemonize "${MARK}" "${SCRATCH}/ready2"
	daemons=$(pb_daemons "${output}")
	for d in ${daemons}; do pb_alive "${d}"; done
	# shellcheck disable=SC2086
	pb_kill_wait ${daemons}
}

@test "a non-root shell: the chain in a user namespace, no capabilities left" {
	CHAIN=( "${B}/phasebox-unshare" "${W[@]}" --net --ipc --pid -- "${B}/phasebox-reap" "${W[@]}" -- )
	run -0 "${NOBODY[@]}" bash -c "enable -f ${SO} phasebox_isolate || exit 99
		SANDBOX_ON=0 phasebox_isolate \"\$@\" || exit 98
		echo \"uid=\$(id -u) pid=\$BASHPID net=\$(readlink /proc/\$BASHPID/ns/net)\"
		grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/\$BASHPID/status | awk '{ print \$2 }' | sort -u" bash "${CHAIN[@]}"
	[[ ${lines[0]} == "uid=65534 pid=2 net="* && ${lines[0]} != *"net=${HOST_NET}" ]]
	[[ ${lines[1]} == 0000000000000000 && ${#lines[@]} -eq 2 ]]
}

@test "refused with nothing done: another program, a chain not ending with --, a second call" {
	local before
	before=$(find "${CG2}/phasebox" -maxdepth 2 -name "*${MARK}*" | wc -l)
	CHAIN=( /bin/sh -c 'echo ran' -- )
	run -2 --separate-stderr shell 'SANDBOX_ON=0 phasebox_isolate "$@"; echo "status $?" >&2; exit 2'
	[[ -z ${output} && ${stderr} == "phasebox_isolate: usage: "* ]]
	CHAIN=( "${B}/phasebox-reap" "${W[@]}" -- )
	run -2 --separate-stderr shell 'SANDBOX_ON=0 phasebox_isolate "$@" extra; exit $?'
	# a program after a link: that link refuses to run it (126), it is never executed
	CHAIN=( "${B}/phasebox-reap" "${W[@]}" -- /bin/sh -c "echo ran" -- )
	run -126 --separate-stderr shell 'SANDBOX_ON=0 phasebox_isolate "$@"; echo back'
	[[ -z ${output} && ${stderr} == *"from the shell builtin (only phasebox's own helpers"* ]]
	CHAIN=( "${B}/phasebox-reap" "${W[@]}" -- )
	run -0 --separate-stderr shell 'SANDBOX_ON=0 phasebox_isolate "$@" || exit 9; SANDBOX_ON=0 phasebox_isolate "$@"; echo "second: $?"'
	[[ ${output} == "second: 1" && ${stderr} == *"already is an isolated phase"* ]]
	[[ $(find "${CG2}/phasebox" -maxdepth 2 -name "*${MARK}*" | wc -l) -eq ${before} ]]
}

@test "sys-apps/sandbox's SANDBOX_ON: off for the links (the temporary assignment), the phase's own after" {
	CHAIN=( "${B}/phasebox-reap" "${W[@]}" -- )
	run -0 shell 'export SANDBOX_ON=1; SANDBOX_ON=0 phasebox_isolate "$@" || exit 9
		echo "SANDBOX_ON=$SANDBOX_ON exported=$(declare -p SANDBOX_ON)"'
	[[ ${output} == 'SANDBOX_ON=1 exported=declare -x SANDBOX_ON="1"' ]]
}

@test "--isolated: 0 in the shell the builtin came back in and its subshells, 1 before and elsewhere" {
	CHAIN=( "${B}/phasebox-reap" "${W[@]}" -- )
	run -0 shell 'phasebox_isolate --isolated; echo "before $?"
		SANDBOX_ON=0 phasebox_isolate "$@" || exit 9
		phasebox_isolate --isolated; echo "after $?"
		( phasebox_isolate --isolated; echo "subshell $?" )'
	[[ ${output} == $'before 1\nafter 0\nsubshell 0' ]]
}
