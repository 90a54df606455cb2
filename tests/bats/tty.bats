#!/usr/bin/env bats
# Interactive phases keep their controlling terminal and job control through the chain
# (Portage bugs 675868, 675870, 704498, 870310: its pid-sandbox's setsid() broke them),
# and a terminal's ^C ends the phase and everything it left.  Each test runs the chain on
# a real pseudo-terminal (helpers/pty_run.py), synchronised on output, never on time: ^C
# is typed only once the foreground shell prints DAEMON-UP, which it does after the daemon
# (past its setsid()) wrote to a fifo, so the terminal's SIGINT cannot be what kills it —
# and after the `( … & )` subshell that started it has ended: a ^C landing while that
# subshell was the foreground job let it exit 0, and bash then went on to `sleep 3600`
# (bash's wait-and-cooperative-exit rule), a hang of the test, not of phasebox.

bats_require_minimum_version 1.5.0

setup() {
	B=${PHASEBOX_BUILD:?run through make check-bats}
	PTY="${BATS_TEST_DIRNAME}/helpers/pty_run.py"
	MARK="pbtty-${BATS_TEST_NUMBER}-$$-${RANDOM}"
	CHAIN=( "${B}/phasebox-unshare" --pid --net --uts --ipc -- "${B}/phasebox-reap" -- )
	NOBODY=( setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs )
	TTYLOG=$(mktemp -d /tmp/pbtty.XXXXXX) # phasebox-cgroup's accounting log goes here
	mkfifo "${TTYLOG}/up"
}

teardown() {
	# Leak check: nothing carrying this test's marker survives.
	local left
	# setup stopped before the marker was made (PHASEBOX_BUILD unset): nothing to check,
	# and an empty marker would match, and kill, every process on the machine.
	[[ -n ${MARK:-} ]] || return 0
	[[ -n ${TTYLOG:-} ]] && rm -rf "${TTYLOG}"
	left=$(pgrep -f "${MARK}" || true)
	if [[ -n ${left} ]]; then
		pkill -9 -f "${MARK}" || true
		echo "leaked processes: ${left}" >&2
		return 1
	fi
}

@test "/dev/tty opens inside the pid sandbox (root)" {
	run -0 python3 "${PTY}" -- "${CHAIN[@]}" bash -c 'exec 3<>/dev/tty && echo TTY-OK'
	[[ ${output} == *TTY-OK* ]]
	[[ ${output} == *exit=0* ]]
}

@test "/dev/tty opens inside the pid sandbox (unprivileged, no_new_privs, user namespace)" {
	run -0 python3 "${PTY}" -- "${NOBODY[@]}" "${CHAIN[@]}" bash -c 'exec 3<>/dev/tty && echo TTY-OK'
	[[ ${output} == *TTY-OK* ]]
}

@test "negative twin: after setsid() there is no controlling terminal (what Portage's pid-ns-init did)" {
	run -0 python3 "${PTY}" -- setsid -w bash -c 'exec 3<>/dev/tty && echo TTY-OK; echo done'
	[[ ${output} != *TTY-OK* ]]
	[[ ${output} == *done* ]]
}

@test "job control works in an interactive shell inside the pid sandbox" {
	# An interactive bash puts itself in its own process group and makes that group the
	# terminal's foreground group (tcsetpgrp): its pgid equals the tty's tpgid.
	run -0 python3 "${PTY}" -- "${CHAIN[@]}" bash --norc --noprofile -ic \
		'echo "FLAGS=$-"; read -r pg tp < <(ps -o pgid=,tpgid= -p $$); echo "PGID=${pg} TPGID=${tp}"'
	[[ ${output} == *FLAGS=*m* ]]
	[[ ${output} =~ PGID=([0-9]+)\ TPGID=([0-9]+) ]]
	[[ ${BASH_REMATCH[1]} -gt 0 && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]]
	[[ ${output} != *"no job control"* ]]
}

@test "negative twin: without a controlling terminal bash says no job control" {
	run -0 python3 "${PTY}" -- setsid -w bash --norc --noprofile -ic 'echo "FLAGS=$-"'
	[[ ${output} == *"no job control"* ]]
}

@test "^C on the terminal ends the phase (130) and kills what it left (pid sandbox + cgroup)" {
	run -0 python3 "${PTY}" --interrupt-on DAEMON-UP -- "${B}/phasebox-cgroup" --log "${TTYLOG}/accounting.jsonl" -- "${CHAIN[@]}" \
		bash -c "(setsid bash -c \"echo up >${TTYLOG}/up; exec -a ${MARK} sleep 3600\" &); read -r _ <${TTYLOG}/up; echo DAEMON-UP; sleep 3600; echo NOT-REACHED"
	[[ ${output} == *exit=130* ]]
	[[ ${output} != *NOT-REACHED* ]]
	run -1 pgrep -f "${MARK}"
}

@test "^C on the terminal ends the phase (130) and kills what it left (reaper alone)" {
	run -0 python3 "${PTY}" --interrupt-on DAEMON-UP -- "${B}/phasebox-reap" -- \
		bash -c "(setsid bash -c \"echo up >${TTYLOG}/up; exec -a ${MARK} sleep 3600\" &); read -r _ <${TTYLOG}/up; echo DAEMON-UP; sleep 3600; echo NOT-REACHED"
	[[ ${output} == *exit=130* ]]
	run -1 pgrep -f "${MARK}"
}

@test "negative twin: without phasebox a setsid daemon survives ^C" {
	run -0 python3 "${PTY}" --interrupt-on DAEMON-UP -- \
		bash -c "(setsid bash -c \"echo up >${TTYLOG}/up; exec -a ${MARK} sleep 3600\" &); read -r _ <${TTYLOG}/up; echo DAEMON-UP; sleep 3600"
	[[ ${output} == *exit=130* ]]
	run -0 pgrep -f "${MARK}"
	pkill -9 -f "${MARK}"
}
