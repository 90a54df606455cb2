#!/usr/bin/env bats
# The keeper `phasebox-cgroup adopt` leaves on cgroup v2 (helpers/common/keeper.hh): the
# build user's phases get their leaves from it, and nothing under the invocation that
# would let the build user move root's processes is delegated.  A holder stands in for
# emerge: a root bash, adopted, with a root "victim" beside it in main as emerge's own
# processes would be.  When the holder ends, the keeper removes the invocation (what is in
# main, the victim included, is killed first).  Each kernel effect has its twin; teardown
# checks that no process, cgroup or socket of the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup keeper
	[[ -n ${CG2} ]] || skip "no cgroup2 mounted: the keeper is for cgroup v2 only"
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}" --log "${SCRATCH}/log/accounting.jsonl" )
	CLIENT=( "${PY}" "${BATS_TEST_DIRNAME}/helpers/keeper_client.py" )
	VICTIM=
}

teardown() {
	[[ -z ${VICTIM} ]] || pb_kill_wait "${VICTIM}"
	pb_teardown
}

# The holder (pb_start_holder, helpers/phasebox.bash) is started with --end: it runs its
# command, then waits for a line on go.end, so that the invocation outlives the command.
# Adopt the holder, and put a root process with the marker into its main cgroup beside it.
adopt_holder() {
	pb_adopt
	[[ -S ${SOCK} ]]
	bash -c 'exec -a "$0" sleep 3600' "${MARK}-victim" 3>&- &
	VICTIM=$!
	echo "${VICTIM}" >"${INV}/main/cgroup.procs"
}

# The keeper's pid: the one process of inv-<holder>/keeper.
keeper_pid() {
	cat "${INV}/keeper/cgroup.procs"
}

in_main() { # <pid>
	grep -qx "0::/phasebox/inv-${HOLDER}/main" "/proc/$1/cgroup"
}

# --- the build user's phase -----------------------------------------------------------

@test "adopt on v2: builds/ and the invocation stay root's; the keeper listens, alone in inv/keeper" {
	pb_start_holder --end "${SCRATCH}/go" true
	adopt_holder
	[[ $(stat -c '%u %a' "${INV}" "${INV}/cgroup.procs" "${INV}/builds" "${INV}/builds/cgroup.procs") == \
		$'0 755\n0 644\n0 755\n0 644' ]]
	[[ $(stat -c '%u %a' /run/phasebox) == "0 755" ]]
	[[ $(stat -c '%u %a %F' "${SOCK}") == "0 666 socket" ]]
	local k
	k=$(keeper_pid)
	[[ ${k} =~ ^[0-9]+$ ]]
	[[ $(</proc/${k}/comm) == phasebox-keeper ]]
	[[ $(awk '$1 == "Uid:" { print $2 }' "/proc/${k}/status") == 0 ]]
	# Its own session, not emerge's process group: ^C on emerge's terminal misses it.
	[[ $(ps -o sid= -p "${k}") -ne $(ps -o sid= -p "${HOLDER}") ]]
	[[ $(ps -o pgid= -p "${k}") -ne $(ps -o pgid= -p "${HOLDER}") ]]
	pb_run_holder "${SCRATCH}/go"
	# emerge has ended: the keeper removes its socket and the invocation, and exits.
	pb_wait_gone "${k}"
	[[ ! -e ${SOCK} ]]
	[[ ! -e ${INV} ]]
	pb_drop_inv "${HOLDER}"
}

@test "negative twin: adopt with a root build user (--user root) starts no keeper" {
	pb_start_holder --end "${SCRATCH}/go" true
	run -0 "${B}/phasebox-cgroup" adopt --user root --log "${SCRATCH}/log/accounting.jsonl" "${HOLDER}"
	[[ ! -e /run/phasebox/inv-${HOLDER}.sock ]]
	[[ ! -e ${CG2}/phasebox/inv-${HOLDER}/keeper ]]
	pb_run_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

@test "nobody's phase (no_new_privs) runs in a leaf the keeper made; its daemons die, the leaf goes, the report names them" {
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- \
		bash -c '"$0" cgroup && "$0" caps && "$0" daemonize "$1" "$2"' "${P}" "${MARK}" "${SCRATCH}/w/ready"
	adopt_holder
	pb_holder_done "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/ready"
	local daemons
	daemons=$(pb_daemons "${output}")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	# shellcheck disable=SC2086
	pb_wait_gone ${daemons}
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	in_main "${VICTIM}"
	pb_end_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

@test "a nested phasebox-cgroup inside the keeper's leaf nests below it (the leaf is delegated)" {
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- \
		bash -c '"$0" --package "cat/$1" --phase inner -- "$2" cgroup >"$3"' "${B}/phasebox-cgroup" "${MARK}" "${P}" "${SCRATCH}/w/out"
	adopt_holder
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	[[ ${output} =~ cgroup2=/phasebox/inv-${HOLDER}/builds/cat:${MARK}:src_compile\.pb[0-9]+/cat:${MARK}:inner\.pb[0-9]+$ ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	pb_drop_inv "${HOLDER}"
}

# --- security ---------------------------------------------------------------------------

# A phase of nobody tries to move the victim (root, in main; its pid in the file $1) into
# its own leaf, into a cgroup it makes inside its leaf, and into builds/.  $0: the cgroup2
# mount point.
MOVE_SH='v=$(cat "$1"); leaf=$(sed -n "s/^0:://p" /proc/self/cgroup)
echo "$v" 2>/dev/null >"$0$leaf/cgroup.procs"; echo "leaf=$?"
mkdir "$0$leaf/sub" && { echo "$v" 2>/dev/null >"$0$leaf/sub/cgroup.procs"; echo "sub=$?"; rmdir "$0$leaf/sub"; }
echo "$v" 2>/dev/null >"$0${leaf%/*}/cgroup.procs"; echo "builds=$?"'

@test "security: a build cannot move a root process of its emerge's main into its leaf, a cgroup of its own, or builds/" {
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- \
		bash -c 'exec >"$2"; '"${MOVE_SH}" "${CG2}" "${SCRATCH}/w/victim" "${SCRATCH}/w/out"
	adopt_holder
	echo "${VICTIM}" >"${SCRATCH}/w/victim"
	pb_holder_done "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(<"${SCRATCH}/w/out") == $'leaf=1\nsub=1\nbuilds=1' ]]
	in_main "${VICTIM}"
	pb_alive "${VICTIM}"
	pb_end_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

# The kernel rule the layout guards against: with cgroup.procs of the common ancestor
# writable (as phasebox delegated it before the keeper), nobody moves root's process.
@test "negative twin: with the common ancestor's cgroup.procs delegated, nobody does move a root process" {
	local t=${CG2}/phasebox/twin-${MARK}
	mkdir -p "${t}/main" "${t}/leaf"
	chown nobody "${t}/leaf" "${t}/leaf/cgroup.procs"
	bash -c 'exec -a "$0" sleep 3600' "${MARK}-victim" 3>&- &
	VICTIM=$!
	echo "${VICTIM}" >"${t}/main/cgroup.procs"
	run -1 "${NOBODY[@]}" bash -c 'echo "$1" >"$0/cgroup.procs"' "${t}/leaf" "${VICTIM}"
	[[ $(sed -n 's/^0:://p' "/proc/${VICTIM}/cgroup") == /phasebox/twin-${MARK}/main ]]
	chown nobody "${t}/cgroup.procs"
	run -0 "${NOBODY[@]}" bash -c 'echo "$1" >"$0/cgroup.procs"' "${t}/leaf" "${VICTIM}"
	[[ $(sed -n 's/^0:://p' "/proc/${VICTIM}/cgroup") == /phasebox/twin-${MARK}/leaf ]]
	pb_kill_wait "${VICTIM}"
	VICTIM=
	rmdir "${t}/leaf" "${t}/main" "${t}"
}

# The keeper's own checks, through a hand-made client in main (as nobody).
@test "security: the keeper refuses a pidfd of a process that is not the caller's child, and grants the caller's own child" {
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs \
		bash -c '{ "$@" other "$(cat "$0")"; "$@" child; } >"$0.out"' "${SCRATCH}/w/victim" "${CLIENT[@]}" auto
	adopt_holder
	echo "${VICTIM}" >"${SCRATCH}/w/victim"
	pb_holder_done "${SCRATCH}/go"
	run -0 cat "${SCRATCH}/w/victim.out"
	[[ ${lines[0]} == "E1:process ${VICTIM} is not the supervisor's child" ]]
	[[ ${lines[1]} =~ ^Ocat:keeper-test:src_compile\.pb[0-9]+$ ]]
	[[ ${lines[2]} == "child 0::/phasebox/inv-${HOLDER}/builds/${lines[1]#O}" ]]
	[[ ${lines[3]} == O\{*'"writer":"phasebox-keeper"'* ]] # released: the record comes back
	in_main "${VICTIM}"
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	pb_end_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

@test "security: the keeper refuses a caller outside main, root asking for a lease, and a caller of another uid" {
	pb_start_holder --end "${SCRATCH}/go" true
	adopt_holder
	local child
	# nobody, but not in the invocation
	run -0 "${NOBODY[@]}" "${CLIENT[@]}" "${SOCK}" child
	[[ ${lines[0]} == "E1:the supervisor is in '"*"', not in '/phasebox/inv-${HOLDER}/main' nor in a build cgroup Portage made for emerge ${HOLDER}" ]]
	# root (not the build user) in main
	bash -c 'echo $$ >"$0/main/cgroup.procs"; exec "$@"' "${INV}" "${CLIENT[@]}" "${SOCK}" other "${VICTIM}" >"${SCRATCH}/out"
	[[ $(<"${SCRATCH}/out") == "E1:uid 0 is not the build user this invocation was delegated to (uid 65534); root may only register limits" ]]
	# a third uid, neither root nor the build user, in main: refused as it connects
	bash -c 'echo $$ >"$0/main/cgroup.procs"; exec "$@"' "${INV}" \
		setpriv --reuid=65533 --regid=65533 --clear-groups \
		"${CLIENT[@]}" "${SOCK}" other "${VICTIM}" >"${SCRATCH}/out"
	[[ $(<"${SCRATCH}/out") == "E1:uid 65533 is not the build user this invocation was delegated to (uid 65534)" ]]
	in_main "${VICTIM}"
	pb_run_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

@test "supervisor killed by SIGKILL: the keeper kills what its phase left and removes the leaf, while emerge goes on" {
	mkfifo -m 666 "${SCRATCH}/w/ready"
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- \
		bash -c '"$0" daemonize "$1" "$2.daemons" >/dev/null && exec "$0" wait-forever "$2"' "${P}" "${MARK}" "${SCRATCH}/w/ready"
	adopt_holder
	pb_go "${SCRATCH}/go"
	local daemons sup line
	line=$(pb_await "${SCRATCH}/w/ready") # the wait-forever probe: the phase's first process
	daemons=$(pb_daemons "$(<"${SCRATCH}/w/ready.daemons")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	[[ ${line} == pid=* ]]
	sup=$(pgrep -f -- "^${B}/phasebox-cgroup --package cat/${MARK} ")
	[[ ${sup} =~ ^[0-9]+$ ]]
	kill -KILL "${sup}"
	# shellcheck disable=SC2086
	pb_wait_gone ${daemons} "${line#pid=}"
	# The keeper answers one request at a time: an answer asked for now comes after it has
	# removed the leaf.
	run -0 "${CLIENT[@]}" "${SOCK}" other 1
	[[ ${output} == E* ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	in_main "${VICTIM}"
	pb_go "${SCRATCH}/go.end"
	wait "${HOLDER}" || true
	pb_drop_inv "${HOLDER}"
}

# --- when emerge ends ---------------------------------------------------------------------

# The accounting log's last record, field $1.
last() {
	"${PY}" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' \
		"${SCRATCH}/log/accounting.jsonl" "$1"
}

@test "emerge exits: its keeper kills what is left in main, removes the invocation and the socket within a second, and exits; while emerge lives they stay (twin)" {
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- "${P}" cgroup
	adopt_holder
	local k
	k=$(keeper_pid)
	pb_holder_done "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	# twin: a phase has come and gone, emerge lives on: so do the invocation, the keeper, its
	# socket and the root process in main
	[[ -d ${INV}/main && -d ${INV}/builds && -S ${SOCK} ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	[[ $(keeper_pid) == "${k}" ]]
	in_main "${VICTIM}"
	pb_alive "${VICTIM}"
	pb_end_holder "${SCRATCH}/go"
	pb_gone_within 1 "${INV}" "${SOCK}"
	pb_dead "${VICTIM}"
	pb_wait_gone "${k}"
	pb_drop_inv "${HOLDER}"
}

@test "emerge killed by SIGKILL while a phase runs: the keeper kills the phase, its daemons, its supervisor and main, and removes the invocation and the socket within a second" {
	mkfifo -m 666 "${SCRATCH}/w/ready"
	pb_start_holder --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- \
		bash -c '"$0" daemonize "$1" "$2.daemons" >/dev/null && exec "$0" wait-forever "$2"' "${P}" "${MARK}" "${SCRATCH}/w/ready"
	adopt_holder
	local k daemons sup line leaf
	k=$(keeper_pid)
	pb_go "${SCRATCH}/go"
	line=$(pb_await "${SCRATCH}/w/ready") # the wait-forever probe: the phase's first process
	[[ ${line} == pid=* ]]
	daemons=$(pb_daemons "$(<"${SCRATCH}/w/ready.daemons")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	sup=$(pgrep -f -- "^${B}/phasebox-cgroup --package cat/${MARK} ")
	[[ ${sup} =~ ^[0-9]+$ ]]
	in_main "${sup}"
	leaf=$(sed -n 's/^0:://p' "/proc/${line#pid=}/cgroup")
	[[ ${leaf} == /phasebox/inv-${HOLDER}/builds/cat:${MARK}:src_compile.pb* ]]
	# twin: while emerge lives, the phase, its leaf, the invocation and the socket stay
	[[ -d ${CG2}${leaf} && -S ${SOCK} ]]
	kill -0 "${line#pid=}"
	pb_alive "${VICTIM}"
	kill -KILL "${HOLDER}"
	wait "${HOLDER}" || true
	pb_gone_within 1 "${INV}" "${SOCK}"
	# gone with it (a cgroup is removed only once no process is left in it)
	# shellcheck disable=SC2086
	pb_wait_gone ${daemons} "${line#pid=}" "${sup}" "${VICTIM}" "${k}"
	# the phase's record: its supervisor went away without a word (-1)
	[[ $(last phase) == src_compile && $(last status) == -1 && $(last writer) == phasebox-keeper ]]
	pb_drop_inv "${HOLDER}"
}

@test "negative twin: a keeper whose socket was bound anew (its invocation taken over, as by an emerge with the same pid) leaves the invocation alone when emerge ends" {
	pb_start_holder --end "${SCRATCH}/go" true
	adopt_holder
	local k
	k=$(keeper_pid)
	rm "${SOCK}"
	"${PY}" -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' "${SOCK}"
	pb_run_holder "${SCRATCH}/go"
	pb_wait_gone "${k}"
	[[ -d ${INV}/main && -S ${SOCK} ]]
	in_main "${VICTIM}"
	pb_alive "${VICTIM}"
	pb_drop_inv "${HOLDER}"
}
