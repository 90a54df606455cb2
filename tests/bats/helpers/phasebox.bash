# Shared by the bats files: a unique marker per
# test, a scratch directory, the cgroup mounts, synchronisation helpers that never sleep,
# and the leak check that teardown runs after every test.
# shellcheck shell=bash

pb_setup() {
	B=${PHASEBOX_BUILD:?run through make check-bats}
	# shellcheck disable=SC2034 # P: the probe, run by the .bats files
	P="${B}/phasebox-probe"
	PY=/usr/bin/python3
	MARK="pb${1}-${BATS_TEST_NUMBER}-$$-${RANDOM}"
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pb${1}.XXXXXX")
	chmod 755 "${SCRATCH}"
	mkdir -m 1777 "${SCRATCH}/w" # writable by nobody
	# The test's accounting log.  Every record a test makes goes here, never to the
	# machine's own /var/log/phasebox: the helpers' default without --log, the snippet's
	# without PHASEBOX_LOG, the keeper's without adopt --log.  Exported for what runs the
	# snippet; a test that clears the environment (env -i) passes it on, and a helper run
	# directly gets --log "${PHASEBOX_LOG}" (tests/bats/guard.bats checks the default
	# path in a mount namespace of its own; tests/state/guard, around the suite, the host).
	export PHASEBOX_LOG="${SCRATCH}/log/accounting.jsonl"
	: >"${SCRATCH}/invs"
	# The mounts, from /proc/self/mountinfo: field 5 is the mount point, and after " - "
	# come the file system type, the source and the super options.
	CG2=$(awk '{ for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
	FRZ=$(awk '{ for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)freezer(,|$)/) { print $5; exit } }' /proc/self/mountinfo)
	# The v1 hierarchies phasebox's limit and accounting mirrors go into.
	V1_MIRRORS=()
	local c m
	for c in memory pids cpu blkio; do
		m=$(awk -v c="${c}" '{ for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" && $(i+3) ~ ("(^|,)" c "(,|$)")) { print $5; exit } }' /proc/self/mountinfo)
		[[ -n ${m} ]] && V1_MIRRORS+=( "${m}" )
	done
	# shellcheck disable=SC2034 # NOBODY: a command prefix for the .bats files
	NOBODY=( setpriv --reuid=65534 --regid=65534 --clear-groups )
	ulimit -c 0
}

# Every cgroup directory this test made that is still there: leaves carry the marker in
# their name (tests pass it in --package), invocations are listed in ${SCRATCH}/invs.
pb_left_cgroups() {
	local root pid
	for root in "${CG2}" "${FRZ}"; do
		[[ -n ${root} && -d ${root}/phasebox ]] || continue
		find "${root}/phasebox" -mindepth 1 -type d -name "*${MARK}*" -prune
		while read -r pid; do
			[[ -d ${root}/phasebox/inv-${pid} ]] && echo "${root}/phasebox/inv-${pid}"
		done <"${SCRATCH}/invs"
	done
	# Mirrors (common/cgroup_limits.hh) are named like leaves, below wherever the phase was.
	for root in "${V1_MIRRORS[@]}"; do
		find "${root}" -mindepth 1 -type d -name "*${MARK}*" -prune
	done
}

# Kill what is in the cgroup directories given and remove them, depth first.  Something else
# may be removing them meanwhile (an invocation's keeper, once its holder has ended): what
# is gone already is skipped.
pb_remove_cgroups() {
	local d f pid
	local -a pids
	for d in "$@"; do
		[[ -d ${d} ]] || continue
		pids=()
		while IFS= read -r f; do
			while read -r pid; do pids+=( "${pid}" ); done < <(cat "${f}" 2>/dev/null)
		done < <(find "${d}" -name cgroup.procs 2>/dev/null)
		# Killed and gone (through pidfds) before the rmdir, which fails while any is left.
		(( ${#pids[@]} )) && { pb_kill_wait "${pids[@]}" || true; }
		find "${d}" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

pb_teardown() {
	local left cg rc=0
	# setup stopped before the marker was made (PHASEBOX_BUILD unset): nothing to check,
	# and an empty marker would match, and kill, every process on the machine.
	[[ -n ${MARK:-} ]] || return 0
	left=$(pgrep -f "${MARK}" || true)
	if [[ -n ${left} ]]; then
		pkill -9 -f "${MARK}" || true
		echo "leaked processes: ${left}" >&2
		rc=1
	fi
	# A mount namespace the test made (PB_NS, "mnt:[inode]"): no process may be left in it.
	[[ -z ${PB_NS:-} ]] || pb_mntns_gone "${PB_NS}" || rc=1
	cg=$(pb_left_cgroups)
	if [[ -n ${cg} ]]; then
		# shellcheck disable=SC2086 # one path per line, no blanks in them
		pb_remove_cgroups ${cg}
		echo "leaked cgroups: ${cg}" >&2
		rc=1
	fi
	rm -rf "${SCRATCH}"
	return "${rc}"
}

# Wait at most 30 s for one line on the fifo $1 (made with mkfifo) and print it.  Opened
# read-write, so that the open never blocks and the read's timeout applies even when the
# writer died before opening it.
pb_await() {
	local fd line
	exec {fd}<>"$1"
	if ! read -r -t 30 -u "${fd}" line; then
		exec {fd}<&-
		echo "nothing on $1 within 30 s" >&2
		return 1
	fi
	exec {fd}<&-
	printf '%s\n' "${line}"
}

# Wait, through pidfds, at most 10 s for the processes to end (without killing them).
pb_wait_gone() {
	"${PY}" - "$@" <<-'EOF'
		import os, select, sys
		for pid in map(int, sys.argv[1:]):
		    try:
		        fd = os.pidfd_open(pid)
		    except ProcessLookupError:
		        continue
		    if not select.select([fd], [], [], 10)[0]:
		        sys.exit("process %d still running after 10 s" % pid)
	EOF
}

# Succeeds once none of the paths $2... exists, looking every 10 ms for at most $1 seconds:
# the bound of a promise ("removed within a second") that no event this shell can wait
# on announces.  A failure names what is still there.
pb_gone_within() {
	"${PY}" - "$@" <<-'EOF'
		import os, sys, time
		end = time.monotonic() + float(sys.argv[1])
		while True:
		    left = [p for p in sys.argv[2:] if os.path.lexists(p)]
		    if not left:
		        sys.exit(0)
		    if time.monotonic() > end:
		        sys.exit("still there after %s s: %s" % (sys.argv[1], " ".join(left)))
		    time.sleep(0.01)
	EOF
}

# SIGKILL the processes and wait, through pidfds, until they are gone.
pb_kill_wait() {
	"${PY}" - "$@" <<-'EOF'
		import os, select, signal, sys
		fds = []
		for pid in map(int, sys.argv[1:]):
		    try:
		        fds.append(os.pidfd_open(pid))
		        os.kill(pid, signal.SIGKILL)
		    except ProcessLookupError:
		        pass
		for fd in fds:
		    if not select.select([fd], [], [], 10)[0]:
		        sys.exit("still alive")
	EOF
}

# The pids in daemon=PID lines of $1 (text).
pb_daemons() {
	sed -n 's/^daemon=\([0-9]*\)$/\1/p' <<<"$1"
}

# Succeeds when process $1 runs and its command line contains the marker.
pb_alive() {
	[[ -r /proc/$1/cmdline ]] && [[ $(tr '\0' ' ' </proc/"$1"/cmdline) == *"${MARK}"* ]]
}

# Succeeds when process $1 is gone (or a zombie): the negation of pb_alive as a command
# of its own, since `! cmd` never fails a bats test.
pb_dead() {
	if pb_alive "$1"; then
		echo "process $1 is still alive" >&2
		return 1
	fi
}

# pb_last_json <log> <field>: field <field> (a.b for a nested one) of the last record in the
# accounting log <log>, as JSON ("null" when it is not there).
pb_last_json() {
	"${PY}" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); v=r
for k in sys.argv[2].split("."): v=v.get(k) if isinstance(v, dict) else None
print(json.dumps(v))' "$1" "$2"
}

# Succeeds when all the phase wrote on stderr (${stderr}, from run --separate-stderr) is
# phasebox-cgroup's one accounting line for src_$1 of app-misc/${MARK}-1 (the package the
# fake ebuild.sh runs).
pb_only_accounting_line() {
	# shellcheck disable=SC2154 # bats' run --separate-stderr sets stderr
	[[ ${stderr} =~ ^\ ?\*\ phasebox:\ src_${1}\ of\ app-misc/${MARK}-1:\ [^$'\n']*$ ]] ||
		{ echo "stderr: ${stderr}" >&2; return 1; }
}

# --- the holder: a root bash standing in for emerge ----------------------------------------
# Its pid (HOLDER, listed in ${SCRATCH}/invs for the leak check) is what `adopt` gets, as
# emerge's would be.
#
#   pb_start_holder [--end] [--adopt] [--ns SETUP] FIFO CMD...
#
# The holder waits for a line on the fifo FIFO, then execs CMD.  --end: it runs CMD instead
# (CMD's status is the holder's), writes that status on FIFO.done, and then waits for a line
# on FIFO.end too, so that the invocation outlives CMD (pb_holder_done, pb_end_holder: its
# keeper removes the invocation once the holder, its "emerge", has ended).  --adopt:
# pb_adopt it at once.  --ns SETUP: the holder runs in a
# mount namespace of its own (private propagation) and runs the bash code SETUP there
# first, as root (a failure fails the start); PB_IN_NS then is the nsenter command that
# runs a command in that namespace, which pb_adopt uses: the keeper lives there too.
pb_start_holder() {
	local end=0 adopt=0 setup=
	while :; do
		case $1 in
		--end) end=1 ;;
		--adopt) adopt=1 ;;
		--ns) setup=$2; shift ;;
		*) break ;;
		esac
		shift
	done
	# shellcheck disable=SC2016 # the holder's own script: it expands in the holder's shell
	local go=$1 body='read -r _ <"$0"; exec "$@"'
	shift
	mkfifo "${go}"
	if (( end )); then
		# The end and done fifos are opened at once, read-write, so that a line written to
		# either before it is read is kept.
		mkfifo "${go}.end" "${go}.done"
		# shellcheck disable=SC2016 # likewise
		body='exec 9<>"$0.end" 8<>"$0.done"; read -r _ <"$0"; "$@" 9<&- 8<&-; rc=$?; echo "${rc}" >&8; read -r _ <&9; exit "${rc}"'
	fi
	PB_IN_NS=()
	if [[ -n ${setup} ]]; then
		mkfifo "${go}.ready"
		body="{ ${setup}
} && echo ready >\"\$0.ready\" || { echo \"setup failed: \$?\" >\"\$0.ready\"; exit 1; }; ${body}"
		unshare -m --propagation private bash -c "${body}" "${go}" "$@" 3>&- &
	else
		bash -c "${body}" "${go}" "$@" 3>&- &
	fi
	HOLDER=$!
	echo "${HOLDER}" >>"${SCRATCH}/invs"
	if [[ -n ${setup} ]]; then
		[[ $(pb_await "${go}.ready") == ready ]] || return 1
		PB_IN_NS=( nsenter -t "${HOLDER}" -m -- )
	fi
	(( adopt )) || return 0
	# shellcheck disable=SC2119 # adopt's options: the .bats files pass them, not this one
	pb_adopt
}

# Adopt the holder (the build user nobody unless --user is given): INV its invocation on
# cgroup2 (the v1 freezer where no cgroup2 is mounted), SOCK its keeper's socket.
# shellcheck disable=SC2120 # the .bats files pass options; pb_start_holder none
pb_adopt() {
	run -0 "${PB_IN_NS[@]}" "${B}/phasebox-cgroup" adopt --user nobody \
		--log "${LOG:-${PHASEBOX_LOG}}" "$@" "${HOLDER}"
	# shellcheck disable=SC2034 # INV and SOCK are read by the .bats files
	INV=${CG2:-${FRZ}}/phasebox/inv-${HOLDER}
	# shellcheck disable=SC2034
	SOCK=/run/phasebox/inv-${HOLDER}.sock
}

# A holder started with --end, of fifo $1: let it run its command and wait until that has
# ended (its status in HOLDER_RC); the holder, and so its invocation, lives on.
pb_holder_done() {
	pb_go "$1"
	# shellcheck disable=SC2034 # HOLDER_RC is read by the .bats files
	HOLDER_RC=$(pb_await "$1.done") || return 1
}

# Then let it end, and wait for it.
pb_end_holder() {
	pb_go "$1.end"
	wait "${HOLDER}" || true
}

# Write a line to the fifo $1 (opened read-write: never blocks).
pb_go() {
	local fd
	exec {fd}<>"$1"
	echo go >&"${fd}"
	exec {fd}<&-
}

# Let the holder of fifo $1 run its command, and end (FIFO.end, with --end), and wait for
# it; its status in HOLDER_RC.
pb_run_holder() {
	pb_go "$1"
	[[ ! -p $1.end ]] || pb_go "$1.end"
	# shellcheck disable=SC2034 # HOLDER_RC is read by the .bats files
	HOLDER_RC=0
	# shellcheck disable=SC2034
	wait "${HOLDER}" || HOLDER_RC=$?
}

# Remove invocation inv-$1 of both hierarchies (a keeper in it is killed with it), and the
# socket its keeper left (the test's own clean-up; adopt leaves the last invocation for the
# next one to reap).
pb_drop_inv() {
	local root
	for root in "${CG2}" "${FRZ}"; do
		[[ -z ${root} ]] || pb_remove_cgroups "${root}/phasebox/inv-$1"
	done
	rm -f "/run/phasebox/inv-$1.sock"
}

# Succeeds when no process is left in the mount namespace $1 (as readlink
# /proc/PID/ns/mnt says it: "mnt:[inode]"), so that the namespace and its mounts are gone.
pb_mntns_gone() {
	local d left=
	for d in /proc/[0-9]*; do
		[[ $(readlink "${d}/ns/mnt" 2>/dev/null) == "$1" ]] && left+=" ${d#/proc/}"
	done
	[[ -z ${left} ]] || { echo "processes left in $1:${left}" >&2; return 1; }
}
