#!/usr/bin/env bats
# The machine's own phasebox state: the default accounting log (/var/log/phasebox) and an
# install under a PREFIX.  Every other test writes its records to its scratch log
# (PHASEBOX_LOG, helpers/phasebox.bash); these check the defaults themselves, and that
# tests/state/guard — run around the suites — sees a write to them.  Each does so in a
# private mount namespace with an empty tmpfs over /var/log (or /usr/local): the machine's
# own files are never touched.  Runs as root.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup guard
	GUARD="${BATS_TEST_DIRNAME}/../state/guard"
	FAKE="${BATS_TEST_DIRNAME}/helpers/fake-ebuild.sh"
	mkdir -m 777 "${SCRATCH}/o"
}

teardown() {
	pb_teardown
}

# ns DIR SCRIPT ARGS...: bash SCRIPT (with ARGS) in a private mount namespace with an empty
# tmpfs on DIR, root's and 0755 as the accounting log wants its directory.
ns() {
	local dir=$1 script=$2
	shift 2
	unshare -m --propagation private bash -c 'mount -t tmpfs -o mode=0755 pbguard "$0" || exit 98
'"${script}" "${dir}" "$@"
}

@test "tests/state/guard self-test: a write, a new file, a replaced file, a touch, a removal and a new directory are each found" {
	run -0 "${GUARD}" self-test
	[[ ${output} != *"not ok"* ]]
	[[ $(grep -c '^ok ' <<<"${output}") -ge 9 ]]
	run -2 "${GUARD}" check "${SCRATCH}/missing"
	run -2 "${GUARD}" frobnicate
}

@test "tests/state/guard run: the command's status; 1 when it passed but wrote the default log (private /var/log)" {
	run -1 ns /var/log '"$1" run -- bash -c "mkdir /var/log/phasebox && echo {} >/var/log/phasebox/accounting.jsonl"' "${GUARD}"
	[[ ${output} == *"now:"*"/var/log/phasebox/accounting.jsonl"* ]]
	run -0 ns /var/log '"$1" run -- true' "${GUARD}"
	[[ -z ${output} ]]
	run -3 ns /var/log '"$1" run -- bash -c "exit 3"' "${GUARD}"
	run -3 ns /var/log '"$1" run -- bash -c "mkdir /var/log/phasebox; exit 3"' "${GUARD}"
	[[ ${output} == *"now:"*"/var/log/phasebox"* ]]
}

@test "phasebox-cgroup without --log appends to /var/log/phasebox/accounting.jsonl, phasebox report reads it there, and the guard sees the write" {
	run -1 ns /var/log '"$1" save "$2/state" || exit 97
		env -u PHASEBOX_LOG "$3" --package "cat/$4" --phase src_compile -- true || exit 96
		"$5" report --json >"$2/report" || exit 95
		cat /var/log/phasebox/accounting.jsonl >"$2/default"
		"$1" check "$2/state"' "${GUARD}" "${SCRATCH}" "${B}/phasebox-cgroup" "${MARK}" "${B}/phasebox"
	[[ ${output} == *"changed"*"/var/log/phasebox/accounting.jsonl"* ]]
	[[ ${output} == *"1 line(s) in the new /var/log/phasebox/accounting.jsonl"*"\"package\":\"cat/${MARK}\""* ]]
	[[ $(grep -c "\"package\":\"cat/${MARK}\"" "${SCRATCH}/default") -eq 1 ]]
	grep -q "cat/${MARK}" "${SCRATCH}/report"
	[[ ! -e ${PHASEBOX_LOG} ]]
}

@test "negative twin: with --log the record goes there; the default log is not made and the guard sees nothing" {
	run -0 ns /var/log '"$1" save "$2/state" || exit 97
		"$3" --package "cat/$4" --phase src_compile --log "$5" -- true || exit 96
		[[ ! -e /var/log/phasebox ]] || exit 95
		"$1" check "$2/state"' "${GUARD}" "${SCRATCH}" "${B}/phasebox-cgroup" "${MARK}" "${PHASEBOX_LOG}"
	[[ $(grep -c "\"package\":\"cat/${MARK}\"" "${PHASEBOX_LOG}") -eq 1 ]]
}

@test "the snippet without PHASEBOX_LOG leaves the default to the helper (/var/log/phasebox); with it, the record goes there" {
	local -a phase=( env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_SNIPPET="${B}/test/phasebox.bashrc"
		PB_OUT="${SCRATCH}/o" EBUILD_PHASE=compile EBUILD_PHASE_FUNC=src_compile CATEGORY=app-misc
		PF="${MARK}-1" FEATURES=phasebox-cgroup )
	for method in builtin reexec; do
		run -0 ns /var/log '"$@" >&2 || exit 96; cat /var/log/phasebox/accounting.jsonl' \
			"${phase[@]}" PHASEBOX_METHOD="${method}" /bin/bash "${FAKE}"
		[[ $(grep -c "\"package\":\"app-misc/${MARK}-1\"" <<<"${output}") -eq 1 ]]
		[[ ! -e ${PHASEBOX_LOG} ]]
		# twin: PHASEBOX_LOG set
		run -0 ns /var/log '"$@" >&2 || exit 96; [[ ! -e /var/log/phasebox ]]' \
			"${phase[@]}" PHASEBOX_METHOD="${method}" PHASEBOX_LOG="${PHASEBOX_LOG}" /bin/bash "${FAKE}"
		[[ $(grep -c "\"package\":\"app-misc/${MARK}-1\"" "${PHASEBOX_LOG}") -eq 1 ]]
		rm "${PHASEBOX_LOG}"
	done
}

@test "the keeper of an adopt without --log writes the build user's records to /var/log/phasebox" {
	[[ -n ${CG2} ]] || skip "no cgroup2: the keeper is for cgroup v2"
	mkfifo "${SCRATCH}/done"
	pb_start_holder --end --ns 'mount -t tmpfs -o mode=0755 pbguard /var/log' "${SCRATCH}/go" \
		bash -c '"$@"; echo "rc=$?" >"$0"' "${SCRATCH}/done" "${NOBODY[@]}" --no-new-privs \
		"${B}/phasebox-cgroup" --package "cat/${MARK}-1" --phase src_compile -- true
	run -0 "${PB_IN_NS[@]}" "${B}/phasebox-cgroup" adopt --user nobody "${HOLDER}"
	pb_go "${SCRATCH}/go"
	[[ $(pb_await "${SCRATCH}/done") == rc=0 ]]
	run -0 "${PB_IN_NS[@]}" cat /var/log/phasebox/accounting.jsonl
	[[ $(grep -c "\"package\":\"cat/${MARK}-1\".*\"writer\":\"phasebox-keeper\"" <<<"${output}") -eq 1 ]]
	[[ ! -e ${PHASEBOX_LOG} ]]
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	pb_drop_inv "${HOLDER}"
}

@test "the guard sees an install under /usr/local (a tmpfs over it here), and nothing where nothing was installed" {
	run -1 ns /usr/local '"$1" save "$2/state" || exit 97
		mkdir -p /usr/local/libexec/phasebox && cp "$3" /usr/local/libexec/phasebox/ || exit 96
		"$1" check "$2/state"' "${GUARD}" "${SCRATCH}" "${B}/phasebox-cgroup"
	[[ ${output} == *"now:"*"/usr/local/libexec/phasebox/phasebox-cgroup"* ]]
	run -0 ns /usr/local '"$1" save "$2/state" && "$1" check "$2/state"' "${GUARD}" "${SCRATCH}"
}
