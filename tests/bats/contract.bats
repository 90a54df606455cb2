#!/usr/bin/env bats
# The contract that phasebox-cgroup and phasebox-reap state in their file headers and man
# pages: 100 for a usage error, 0 and the usage on stdout for --help, 127 for a program
# not found, 126 for one that cannot be executed, the program's own status 0..255, 128+N
# for a program killed by signal N, messages on stderr prefixed with the helper's name,
# and stdout left to the program alone.  Runs as root (phasebox-cgroup then makes its
# leaves below /phasebox/leaves, named after the test's marker).

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup contract
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}" --log "${SCRATCH}/log/accounting.jsonl" )
	RP=( "${B}/phasebox-reap" --package "cat/${MARK}" )
}

teardown() {
	pb_teardown
}

# Every line of ${stderr} starts with "$1: ", and there is at least one.
stderr_prefixed() {
	local l
	[[ -n ${stderr} ]]
	while IFS= read -r l; do
		[[ ${l} == "$1: "* ]] || { echo "unprefixed: ${l}" >&2; return 1; }
	done <<<"${stderr}"
}

# $1: helper name; the rest: its arguments.  Usage errors, each with a message.
usage_error() {
	local name=$1
	shift
	run -100 --separate-stderr "$@"
	[[ -z ${output} ]]
	stderr_prefixed "${name}"
}

@test "usage errors exit 100 with a prefixed message: unknown option, no --, no program" {
	for h in cgroup reap; do
		if [[ ${h} == cgroup ]]; then cmd=( "${CG[@]}" ); else cmd=( "${RP[@]}" ); fi
		usage_error "phasebox-${h}" "${cmd[@]}" --no-such-option -- "${P}" exit 0
		usage_error "phasebox-${h}" "${cmd[@]}" "${P}" exit 0
		usage_error "phasebox-${h}" "${cmd[@]}" --
		usage_error "phasebox-${h}" "${cmd[@]}"
		[[ ${stderr} == *"missing '-- PROG"* ]]
	done
}

@test "phasebox-cgroup: a bad --hierarchy or --kill-timeout is a usage error (100)" {
	usage_error phasebox-cgroup "${CG[@]}" --hierarchy v3 -- "${P}" exit 0
	usage_error phasebox-cgroup "${CG[@]}" --hierarchy '' -- "${P}" exit 0
	usage_error phasebox-cgroup "${CG[@]}" --kill-timeout 0 -- "${P}" exit 0
	usage_error phasebox-cgroup "${CG[@]}" --kill-timeout 601 -- "${P}" exit 0
	usage_error phasebox-cgroup "${CG[@]}" --kill-timeout x -- "${P}" exit 0
	# twin: the same options with good values run the program
	run -0 "${CG[@]}" --hierarchy v2 --kill-timeout 1 -- "${P}" exit 0
	run -0 "${CG[@]}" --hierarchy auto --kill-timeout 600 -- "${P}" exit 0
}

@test "--help exits 0 with the usage on stdout and nothing on stderr" {
	for cmd in "${B}/phasebox-cgroup" "${B}/phasebox-reap" "${B}/phasebox-unshare" "${B}/phasebox-proxy" \
		"${B}/phasebox-service"; do
		run -0 --separate-stderr "${cmd}" --help
		[[ ${output} == *"Usage: ${cmd##*/} "*"-- PROG"* ]]
		# one usage line: the helper's own, not CLI11's generated one besides it
		[[ $(grep -c '^Usage: ' <<<"${output}") -eq 1 ]]
		[[ -z ${stderr} ]]
	done
	run -0 --separate-stderr "${B}/phasebox-cgroup" adopt --help
	[[ ${output} == *"Usage: phasebox-cgroup adopt"* ]]
}

@test "a program that is not found exits 127 with a prefixed message naming it" {
	for h in cgroup reap; do
		if [[ ${h} == cgroup ]]; then cmd=( "${CG[@]}" ); else cmd=( "${RP[@]}" ); fi
		run -127 --separate-stderr "${cmd[@]}" -- "${SCRATCH}/no-such-program"
		stderr_prefixed "phasebox-${h}"
		[[ ${stderr} == *"'${SCRATCH}/no-such-program'"*"No such file"* ]]
		[[ -z ${output} ]]
		run -127 --separate-stderr "${cmd[@]}" -- "no-such-program-${MARK}"
		stderr_prefixed "phasebox-${h}"
		[[ ${stderr} == *"no-such-program-${MARK}"* ]]
	done
}

@test "a program that cannot be executed exits 126: no x bit, a directory" {
	printf '#!/bin/sh\nexit 0\n' >"${SCRATCH}/noexec"
	chmod 644 "${SCRATCH}/noexec"
	mkdir "${SCRATCH}/dir"
	for h in cgroup reap; do
		if [[ ${h} == cgroup ]]; then cmd=( "${CG[@]}" ); else cmd=( "${RP[@]}" ); fi
		run -126 --separate-stderr "${cmd[@]}" -- "${SCRATCH}/noexec"
		stderr_prefixed "phasebox-${h}"
		[[ ${stderr} == *"'${SCRATCH}/noexec'"*"Permission denied"* ]]
		run -126 --separate-stderr "${cmd[@]}" -- "${SCRATCH}/dir"
		stderr_prefixed "phasebox-${h}"
		[[ ${stderr} == *"'${SCRATCH}/dir'"* ]]
	done
	# twin: with the x bit the same file runs
	chmod 755 "${SCRATCH}/noexec"
	run -0 "${CG[@]}" -- "${SCRATCH}/noexec"
}

@test "every exit status 0..255 of the program passes through both helpers" {
	local s rc bad=()
	for s in {0..255}; do
		rc=0
		"${CG[@]}" -- "${P}" exit "${s}" || rc=$?
		[[ ${rc} -eq ${s} ]] || bad+=( "cgroup:${s}->${rc}" )
		rc=0
		"${RP[@]}" -- "${P}" exit "${s}" || rc=$?
		[[ ${rc} -eq ${s} ]] || bad+=( "reap:${s}->${rc}" )
	done
	[[ ${#bad[@]} -eq 0 ]] || { echo "wrong statuses: ${bad[*]}" >&2; return 1; }
}

@test "a program killed by signal N gives 128+N: TERM KILL INT HUP SEGV ABRT" {
	local sig n
	for sig in TERM KILL INT HUP SEGV ABRT; do
		n=$(kill -l "${sig}")
		run -$((128 + n)) "${CG[@]}" -- "${P}" kill-self "${sig}"
		run -$((128 + n)) "${RP[@]}" -- "${P}" kill-self "${sig}"
		run -$((128 + n)) "${CG[@]}" -- "${RP[@]}" -- "${P}" kill-self "${sig}"
	done
	# twin: the probe really dies by the signal (bash reports 128+N too, so compare the
	# wait status the way python sees it: a negative return code)
	run -0 "${PY}" -c 'import subprocess,sys; sys.exit(subprocess.run([sys.argv[1], "kill-self", "TERM"]).returncode != -15)' "${P}"
}

@test "the program's stdout comes through byte for byte; the helpers add nothing to it" {
	# every byte value, no final newline, and more than a pipe buffer
	"${PY}" -c 'import os,sys; sys.stdout.buffer.write(bytes(range(256)) * 2 + os.urandom(200000) + b"\0end")' \
		>"${SCRATCH}/data"
	"${CG[@]}" -- cat "${SCRATCH}/data" >"${SCRATCH}/out1"
	cmp "${SCRATCH}/data" "${SCRATCH}/out1"
	"${RP[@]}" -- cat "${SCRATCH}/data" >"${SCRATCH}/out2"
	cmp "${SCRATCH}/data" "${SCRATCH}/out2"
	"${CG[@]}" -- "${RP[@]}" -- cat "${SCRATCH}/data" >"${SCRATCH}/out3"
	cmp "${SCRATCH}/data" "${SCRATCH}/out3"
	# nothing of their own, even with orphans to report: the QA notice goes to stderr
	"${CG[@]}" -- true >"${SCRATCH}/empty"
	[[ ! -s ${SCRATCH}/empty ]]
	"${CG[@]}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready1" >"${SCRATCH}/d1" 2>"${SCRATCH}/e1"
	cmp "${SCRATCH}/ready1" "${SCRATCH}/d1"
	grep -q 'QA Notice' "${SCRATCH}/e1"
	"${RP[@]}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready2" >"${SCRATCH}/d2" 2>"${SCRATCH}/e2"
	cmp "${SCRATCH}/ready2" "${SCRATCH}/d2"
	grep -q 'QA Notice' "${SCRATCH}/e2"
}

@test "adopt: a bad pid is a usage error (100): abc 0 -1 01 and an empty one" {
	local pid
	for pid in abc 0 -1 01 '' 4294967296; do
		run -100 --separate-stderr "${B}/phasebox-cgroup" adopt "${pid}"
		stderr_prefixed phasebox-cgroup
		[[ -z ${output} ]]
	done
	run -100 --separate-stderr "${B}/phasebox-cgroup" adopt
	stderr_prefixed phasebox-cgroup
}

@test "adopt as a non-root user fails (111) and says it must run as root" {
	run -111 --separate-stderr "${NOBODY[@]}" "${B}/phasebox-cgroup" adopt "$$"
	stderr_prefixed phasebox-cgroup
	[[ ${stderr} == *"must run as root"* ]]
	run -111 --separate-stderr "${NOBODY[@]}" --no-new-privs "${B}/phasebox-cgroup" adopt "$$"
	[[ ${stderr} == *"must run as root"* ]]
	# twin: a bad pid is still a usage error for nobody (parsed before any privilege check)
	run -100 "${NOBODY[@]}" "${B}/phasebox-cgroup" adopt abc
}
