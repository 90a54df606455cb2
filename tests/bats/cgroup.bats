#!/usr/bin/env bats
# phasebox-cgroup's kernel effects, as root, each with a negative twin that shows the
# check can see the opposite: the leaf the program runs in, the daemons it leaves (dead,
# reported, leaf removed) on cgroup2 and on the v1 freezer, capabilities and environment
# passed through unchanged, two runs side by side, a supervisor killed by SIGKILL (its
# child dies, the next run reaps the stale leaf), SIGTERM forwarded, a read-only or missing
# cgroup file system (111 before PROG runs), and delegation to an
# unprivileged build user through `adopt`.  Synchronisation is on fifos (pb_await), on the
# probe's pipes (it returns once its daemons have exec'd) and on pidfds — never on time.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup cgroup
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}" --log "${SCRATCH}/log/accounting.jsonl" )
	LEAF_RE="^/phasebox/leaves/cat:${MARK}:src_compile\.pb[0-9]+$"
}

teardown() {
	pb_teardown
}

# The caller's own cgroup2 path.
own_cgroup2() {
	sed -n 's/^0:://p' /proc/self/cgroup
}

# The holder standing in for emerge: pb_start_holder (helpers/phasebox.bash).

@test "the program runs in /phasebox/leaves/<pkg>:<phase>.pb<pid>; the leaf is gone afterwards" {
	run -0 "${CG[@]}" --phase src_compile -- "${P}" cgroup
	local leaf
	[[ ${output} =~ cgroup2=([^$'\n']*) ]]
	leaf=${BASH_REMATCH[1]}
	[[ ${leaf} =~ ${LEAF_RE} ]]
	[[ ! -e ${CG2}${leaf} ]]
	[[ -z $(pb_left_cgroups) ]]
}

@test "negative twin: without the helper the program stays in the caller's cgroup" {
	run -0 "${P}" cgroup
	[[ ${output} == *"cgroup2=$(own_cgroup2)"* ]]
	[[ ! ${output} =~ cgroup2=/phasebox/ ]]
}

# in_private_mounts <shell commands>: run them in a private mount namespace (so remounts
# and unmounts of the cgroup file systems never reach the host), with CG as ${cg}.
in_private_mounts() {
	unshare --mount --propagation private bash -c "$1" cg "${CG[@]}"
}

@test "--hierarchy v1: the leaf is in the freezer hierarchy, and gone afterwards; without a v1 freezer, 111 naming it" {
	if [[ -n ${FRZ} ]]; then
		run -0 "${CG[@]}" --phase src_compile --hierarchy v1 -- "${P}" cgroup
		local leaf
		[[ ${output} =~ freezer=([^$'\n']*) ]]
		leaf=${BASH_REMATCH[1]}
		[[ ${leaf} =~ ${LEAF_RE} ]]
		[[ ! -e ${FRZ}${leaf} ]]
		# twin: cgroup2 is not where this leaf is
		[[ ${output} == *"cgroup2=$(own_cgroup2)"$'\n'* || ${output} == *"cgroup2=$(own_cgroup2)" ]]
	fi
	# A host without a v1 freezer (pure cgroup2; simulated where there is one): asked for v1,
	# it fails before PROG runs, naming what is missing
	run -111 in_private_mounts "${FRZ:+umount -l '${FRZ}' && }\"\${@}\" --phase src_compile --hierarchy v1 -- touch '${SCRATCH}/ran'"
	[[ ${output} == *"phasebox-cgroup: cat/${MARK} src_compile: no cgroup v1 freezer hierarchy is mounted: No such file or directory"* ]]
	[[ ! -e ${SCRATCH}/ran ]]
	[[ -z $(pb_left_cgroups) ]]
}

@test "daemons left behind are killed and named in a QA notice; the leaf is gone (v2 and v1)" {
	local h d daemons
	for h in v2 v1; do
		[[ ${h} == v1 && -z ${FRZ} ]] && continue
		run -0 --separate-stderr "${CG[@]}" --phase src_compile --hierarchy "${h}" -- \
			"${P}" daemonize "${MARK}" "${SCRATCH}/ready-${h}"
		daemons=$(pb_daemons "${output}")
		[[ $(wc -l <<<"${daemons}") -eq 2 ]]
		[[ ${stderr} == *"* QA Notice: phasebox: src_compile of cat/${MARK} left 2 processes running; killed:"* ]]
		for d in ${daemons}; do
			pb_dead "${d}"
			[[ ${stderr} == *" *   pid ${d} (sleep): ${MARK} 3600"* ]]
		done
		[[ -z $(pb_left_cgroups) ]]
	done
}

@test "negative twin: without the helper the daemons survive" {
	local d daemons
	run -0 "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	daemons=$(pb_daemons "${output}")
	[[ $(wc -l <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do
		pb_alive "${d}"
	done
	# shellcheck disable=SC2086
	pb_kill_wait ${daemons}
}

@test "a read-only cgroup2 mount: 111 before PROG runs, naming package, phase, EROFS and a hint" {
	run -111 in_private_mounts "mount -o remount,bind,ro '${CG2}' && \"\${@}\" --phase src_compile -- touch '${SCRATCH}/ran'"
	[[ ${output} == *"phasebox-cgroup: cat/${MARK} src_compile: the cgroup hierarchy at '${CG2}' is mounted read-only: Read-only file system"* ]]
	[[ ${output} == *"hint: the cgroup file system is mounted read-only; remedy: "* ]]
	[[ ! -e ${SCRATCH}/ran ]]
	[[ -z $(pb_left_cgroups) ]]
}

@test "negative twin: the same private mount namespace with cgroup2 writable runs PROG in a leaf" {
	run -0 in_private_mounts "\"\${@}\" --phase src_compile -- '${P}' cgroup"
	[[ ${output} =~ cgroup2=([^$'\n']*) ]]
	[[ ${BASH_REMATCH[1]} =~ ${LEAF_RE} ]]
	[[ -z $(pb_left_cgroups) ]]
}

@test "no cgroup2 and no v1 freezer mounted: 111 before PROG runs, naming what is missing" {
	# whichever of the two this host has is unmounted in the private namespace
	run -111 in_private_mounts "${CG2:+umount -l '${CG2}' && }${FRZ:+umount -l '${FRZ}' && }\"\${@}\" --phase src_compile -- touch '${SCRATCH}/ran'"
	[[ ${output} == *"cat/${MARK} src_compile: no cgroup2 file system and no cgroup v1 freezer hierarchy is mounted"* ]]
	[[ ${output} == *"hint: no usable cgroup file system is mounted; remedy: mount cgroup2"* ]]
	[[ ! -e ${SCRATCH}/ran ]]
}

@test "negative twin: with only cgroup2 unmounted, auto falls back to the v1 freezer and PROG runs there" {
	# A host without a v1 freezer (pure cgroup2) gets one in the private namespace: the
	# kernel's freezer controller is bound to no hierarchy there.  The leaf must be gone
	# from it before the namespace ends (the host's own leak check cannot see it).
	local frz=${FRZ} mount_frz=
	[[ -n ${frz} ]] || { frz=${SCRATCH}/freezer; mount_frz="mkdir '${frz}' && mount -t cgroup -o freezer 'pb-${MARK}' '${frz}' && "; }
	run -0 in_private_mounts "${CG2:+umount -l '${CG2}' && }${mount_frz}\"\${@}\" --phase src_compile -- '${P}' cgroup && echo \"left=\$(find '${frz}' -mindepth 1 -type d -name '*${MARK}*' | wc -l)\""
	[[ ${output} =~ freezer=/phasebox/[^$'\n']*${MARK} ]]
	[[ ${output} == *$'\n'left=0* ]]
	[[ -z $(pb_left_cgroups) ]]
}

@test "a root program keeps the caller's capabilities (CapEff, CapPrm, CapBnd)" {
	local direct
	direct=$("${P}" caps | grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)=')
	run -0 "${CG[@]}" -- "${P}" caps
	[[ $(grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)=' <<<"${output}") == "${direct}" ]]
	[[ ${direct} == *CapEff=000001fffeffffff* || ${direct} =~ CapEff=[0-9a-f]*[1-9a-f] ]]
	# twin: a caller with a smaller bounding set passes on exactly that smaller set
	local small
	small=$(setpriv --bounding-set=-net_admin,-sys_time "${P}" caps | grep -E '^Cap(Eff|Prm|Bnd)=')
	[[ ${small} != "$(grep -E '^Cap(Eff|Prm|Bnd)=' <<<"${direct}")" ]]
	run -0 setpriv --bounding-set=-net_admin,-sys_time "${CG[@]}" -- "${P}" caps
	[[ $(grep -E '^Cap(Eff|Prm|Bnd)=' <<<"${output}") == "${small}" ]]
}

@test "the environment passes byte for byte through cgroup and reap (SANDBOX_ON=1 included)" {
	local -a vars=( PATH=/usr/bin:/bin SANDBOX_ON=1 "LD_PRELOAD=libsandbox.so" "A=with space"
		"EMPTY=" "EQ=a=b=c" $'NL=line1\nline2' "UTF=ä€" "PHASEBOX_X=1" "MARK=${MARK}" )
	env -i "${vars[@]}" "${CG[@]}" -- "${B}/phasebox-reap" -- "${P}" env "${SCRATCH}/through"
	env -i "${vars[@]}" "${P}" env "${SCRATCH}/direct"
	cmp "${SCRATCH}/direct" "${SCRATCH}/through"
	[[ $(tr '\0' '\n' <"${SCRATCH}/through") == *SANDBOX_ON=1* ]]
	# twin: cmp does see a difference of one variable
	env -i "${vars[@]}" EXTRA=1 "${P}" env "${SCRATCH}/other"
	run -1 cmp -s "${SCRATCH}/direct" "${SCRATCH}/other"
}

@test "two runs side by side: ending one kills only its own processes" {
	local a_daemons b_daemons waiter d rc
	mkfifo "${SCRATCH}/a-up"
	"${CG[@]}" --phase a -- bash -c '"$0" daemonize "$1-a" "$2" >/dev/null && exec "$0" wait-forever "$3"' \
		"${P}" "${MARK}" "${SCRATCH}/a-daemons" "${SCRATCH}/a-up" 3>&- &
	local sup=$!
	waiter=$(pb_await "${SCRATCH}/a-up")
	waiter=${waiter#pid=}
	a_daemons=$(pb_daemons "$(<"${SCRATCH}/a-daemons")")
	run -0 --separate-stderr "${CG[@]}" --phase b -- "${P}" daemonize "${MARK}-b" "${SCRATCH}/b-daemons"
	b_daemons=$(pb_daemons "${output}")
	for d in ${b_daemons}; do pb_dead "${d}"; done
	# A's processes are untouched, and not named in B's report
	kill -0 "${waiter}"
	for d in ${a_daemons}; do
		pb_alive "${d}"
		[[ ${stderr} != *"pid ${d} "* ]]
	done
	kill -TERM "${sup}"
	rc=0
	wait "${sup}" || rc=$?
	[[ ${rc} -eq 143 ]]
	for d in ${a_daemons}; do pb_dead "${d}"; done
}

@test "SIGKILL of the supervisor: its child dies, a daemon stays in the stale leaf, the next run reaps it" {
	# All of it inside an outer leaf of this test's own: a run there nests its leaf below
	# it, so the stale leaf is in a base no concurrent phasebox run (another test suite
	# on this machine) can reap first.  The outer script reports the inner supervisor's
	# pid, waits for it to be killed, then on "go" runs the next phase in the same base.
	local sup child daemons d stale rc outer
	mkfifo "${SCRATCH}/sup" "${SCRATCH}/up" "${SCRATCH}/go"
	"${CG[@]}" --phase outer -- bash -c '
		cg=$1 p=$2 mark=$3 s=$4 log=$5
		"$cg" --package "cat/$mark" --phase src_compile --log "$log" -- bash -c \
			"\"\$0\" daemonize \"\$1\" \"\$2\" >/dev/null && exec \"\$0\" wait-forever \"\$3\"" \
			"$p" "$mark" "$s/daemons" "$s/up" &
		echo "$!" >"$s/sup"
		wait "$!"
		echo "inner=$?"
		read -r _ <"$s/go"
		exec "$cg" --package "cat/$mark" --phase src_compile --log "$log" -- true
	' outer "${B}/phasebox-cgroup" "${P}" "${MARK}" "${SCRATCH}" "${PHASEBOX_LOG}" >"${SCRATCH}/outer" 3>&- &
	outer=$!
	sup=$(pb_await "${SCRATCH}/sup")
	child=$(pb_await "${SCRATCH}/up")
	child=${child#pid=}
	daemons=$(pb_daemons "$(<"${SCRATCH}/daemons")")
	kill -KILL "${sup}"
	pb_wait_gone "${sup}" "${child}" # the child: PR_SET_PDEATHSIG
	for d in ${daemons}; do pb_alive "${d}"; done
	stale=$(find "${CG2}/phasebox/leaves" -mindepth 2 -maxdepth 2 -type d -name "cat:${MARK}:src_compile.pb${sup}")
	[[ -n ${stale} ]]
	[[ ${stale} == */cat:${MARK}:outer.pb${outer}/* ]]
	for d in ${daemons}; do grep -qx "${d}" "${stale}/cgroup.procs"; done
	# the next run in the same base reaps it
	local fd
	exec {fd}<>"${SCRATCH}/go"
	echo go >&"${fd}"
	exec {fd}<&-
	rc=0
	wait "${outer}" || rc=$?
	[[ ${rc} -eq 0 ]]
	[[ $(<"${SCRATCH}/outer") == inner=137 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	[[ ! -e ${stale} ]]
}

@test "SIGTERM to the supervisor is forwarded to the program (143)" {
	local child rc
	mkfifo "${SCRATCH}/up"
	"${CG[@]}" -- "${P}" wait-forever "${SCRATCH}/up" 3>&- &
	local sup=$!
	child=$(pb_await "${SCRATCH}/up")
	child=${child#pid=}
	kill -TERM "${sup}"
	rc=0
	wait "${sup}" || rc=$?
	[[ ${rc} -eq 143 ]]
	run -1 kill -0 "${child}"
}

delegated_run() { # $@: extra setpriv options
	pb_start_holder "${SCRATCH}/go" "${NOBODY[@]}" "$@" "${CG[@]}" --phase src_compile -- \
		bash -c '"$0" cgroup && "$0" caps && "$0" ids' "${P}" >"${SCRATCH}/out" 2>"${SCRATCH}/err"
	pb_adopt
	# the holder itself is in its invocation's main cgroup
	grep -qx "0::/phasebox/inv-${HOLDER}/main" "/proc/${HOLDER}/cgroup"
	pb_run_holder "${SCRATCH}/go"
	cat "${SCRATCH}/err" >&2
	[[ ${HOLDER_RC} -eq 0 ]]
	output=$(<"${SCRATCH}/out")
	[[ ${output} =~ cgroup2=/phasebox/inv-${HOLDER}/builds/cat:${MARK}:src_compile\.pb${HOLDER}$'\n' ]]
	[[ ${output} == *uid=65534,65534,65534* ]]
	local c
	for c in CapInh CapPrm CapEff CapAmb; do
		[[ ${output} == *"${c}=0000000000000000"* ]]
	done
	[[ ! -e ${CG2}/phasebox/inv-${HOLDER}/builds/cat:${MARK}:src_compile.pb${HOLDER} ]]
	pb_drop_inv "${HOLDER}"
}

@test "delegation: after adopt, nobody's phase runs in a leaf below inv-<pid>/builds with no capabilities" {
	delegated_run
}

@test "delegation: the same with no_new_privs" {
	delegated_run --no-new-privs
	[[ ${output} == *NoNewPrivs=1* ]]
}

@test "negative twin: without adopt, nobody gets 111 and a hint about PORTAGE_IONICE_COMMAND" {
	run -111 --separate-stderr "${NOBODY[@]}" "${CG[@]}" -- "${P}" cgroup
	[[ -z ${output} ]]
	[[ ${stderr} == "phasebox-cgroup: "* ]]
	[[ ${stderr} == *PORTAGE_IONICE_COMMAND* ]]
	run -111 --separate-stderr "${NOBODY[@]}" --no-new-privs "${CG[@]}" -- "${P}" cgroup
	[[ ${stderr} == *PORTAGE_IONICE_COMMAND* ]]
}

# Run, in a delegated leaf of a fresh invocation, a script that tries to move itself into
# the invocation's main cgroup and into the cgroup2 root.  $1: run as nobody (1) or root (0).
escape_attempt() {
	# $PPID of the script is phasebox-cgroup, which has the holder's pid (exec chain).
	local script='echo $$ 2>&1 >"$0/phasebox/inv-$PPID/main/cgroup.procs"; echo "main=$?"
		echo $$ 2>&1 >"$0/cgroup.procs"; echo "root=$?"; "$1" cgroup'
	local -a as=()
	(( $1 )) && as=( "${NOBODY[@]}" --no-new-privs )
	pb_start_holder "${SCRATCH}/go" "${as[@]}" "${CG[@]}" --phase src_compile -- \
		bash -c "${script}" "${CG2}" "${P}" >"${SCRATCH}/out" 2>"${SCRATCH}/err"
	pb_adopt
	pb_run_holder "${SCRATCH}/go"
	output=$(<"${SCRATCH}/out")
	pb_drop_inv "${HOLDER}"
}

@test "security: a delegated build cannot move itself into inv-<pid>/main nor the cgroup2 root" {
	escape_attempt 1
	[[ ${output} == *main=1* && ${output} == *root=1* ]]
	[[ ${output} =~ cgroup2=/phasebox/inv-[0-9]+/builds/cat:${MARK}:src_compile\.pb[0-9]+ ]]
	[[ $(grep -c 'Permission denied' "${SCRATCH}/out") -eq 2 ]]
}

@test "negative twin: root in the same leaf can move itself out (the writes are possible at all)" {
	escape_attempt 0
	[[ ${output} == *main=0* && ${output} == *root=0* ]]
	[[ ${output} == *cgroup2=/$'\n'* || ${output} == *cgroup2=/ ]]
}

# The safety net: the keeper removes its invocation when its holder ends (keeper.bats); one
# whose keeper is gone (killed) is left to the next adopt.
@test "after the holder exits with its keeper gone, the next adopt removes its invocation" {
	local first k
	pb_start_holder "${SCRATCH}/go1" true
	first=${HOLDER}
	pb_adopt
	[[ -d ${CG2}/phasebox/inv-${first}/builds ]]
	[[ -S /run/phasebox/inv-${first}.sock ]] # its keeper (keeper.bats)
	k=$(<"${CG2}/phasebox/inv-${first}/keeper/cgroup.procs")
	pb_kill_wait "${k}"
	# twin: while its holder lives, another adopt keeps it
	pb_start_holder "${SCRATCH}/go2" true
	pb_adopt
	[[ -d ${CG2}/phasebox/inv-${first} ]]
	local second=${HOLDER}
	HOLDER=${first}
	pb_run_holder "${SCRATCH}/go1"
	[[ -d ${CG2}/phasebox/inv-${first} ]]
	# a third adopt reaps it
	pb_start_holder "${SCRATCH}/go3" true
	pb_adopt
	[[ ! -e ${CG2}/phasebox/inv-${first} ]]
	[[ -d ${CG2}/phasebox/inv-${second} ]]
	pb_run_holder "${SCRATCH}/go3"
	local third=${HOLDER}
	HOLDER=${second}
	pb_run_holder "${SCRATCH}/go2"
	pb_drop_inv "${second}"
	pb_drop_inv "${third}"
}
