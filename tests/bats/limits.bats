#!/usr/bin/env bats
# Per-phase limits and accounting (common/cgroup_limits.hh, common/accounting.hh), as root,
# with real kernel effects on this host's hierarchies (on a hybrid host the limits go
# through the v1 memory/pids/cpu/blkio "mirrors"; where cgroup2 offers a controller, into
# the leaf itself).  Each kernel effect has its negative twin, and teardown checks that no
# process, leaf or mirror is left.  No timing is asserted: CPU time is compared with what
# the workload itself measured (lower bounds), memory with what it touched.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup limits
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --phase src_compile --log "${LOG}" )
	CLIENT=( "${PY}" "${BATS_TEST_DIRNAME}/helpers/keeper_client.py" )
}

teardown() {
	pb_teardown
}

# Field $1 of the last record in the log, as JSON (python's repr for strings).
last() {
	pb_last_json "${LOG}" "$1"
}

# The file $2 of the v1 (or cgroup2) cgroup the program runs in, for controller $1, read
# from inside: "<value>" — or "root" when it is not in a cgroup of its own there.
CTRL_FILE_SH='c=$1 f=$2
if [[ $c == 2 ]]; then p=$(sed -n "s/^0:://p" /proc/self/cgroup); m=$(awk '\''$9 == "cgroup2" { print $5; exit }'\'' /proc/self/mountinfo)
else p=$(grep -E "^[0-9]+:([^:]*,)?$c(,[^:]*)?:" /proc/self/cgroup | cut -d: -f3-)
m=$(awk -v c="$c" '\''{ for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" && $(i+3) ~ ("(^|,)" c "(,|$)")) { print $5; exit } }'\'' /proc/self/mountinfo); fi
case $p in *.pb[0-9]*) echo "$(stat -c %u "$m$p/$f") $(<"$m$p/$f")" ;; *) echo root ;; esac'

need_v1() {
	local c
	for c in "$@"; do
		grep -Eq "^[0-9]+:([^:]*,)?${c}(,[^:]*)?:" /proc/self/cgroup ||
			skip "no cgroup v1 ${c} hierarchy here (the v2 writes are unit-tested)"
	done
}

# --- memory -----------------------------------------------------------------------------

@test "a process allocating past PHASEBOX_MEMORY_MAX is OOM-killed, and the phase says so with a hint" {
	run -137 --separate-stderr "${CG[@]}" --memory-max 64M --makeopts -j8 -- "${P}" alloc 256
	[[ ${output} != *touched=* ]]
	[[ ${stderr} == *" * phasebox: src_compile of cat/${MARK}-1 hit PHASEBOX_MEMORY_MAX=64M (peak "*" MiB, 1 process OOM-killed)"* ]]
	[[ ${stderr} == *" * phasebox: hint: lower the make jobs for this package (MAKEOPTS=-j8) or raise PHASEBOX_MEMORY_MAX, in package.env"* ]]
	[[ $(last oom_kills) -ge 1 ]]
	[[ $(last status) == 137 ]]
	[[ $(last limits.memory_max) == '"64M"' ]]
	[[ $(last mem_peak) -le $((64 << 20)) ]]
	[[ $(last mem_peak) -ge $((32 << 20)) ]]
}

@test "negative twin: under a limit above what it touches it completes; no OOM message; peak >= what it touched" {
	run -0 --separate-stderr "${CG[@]}" --memory-max 512M -- "${P}" alloc 96
	[[ ${output} == touched=96 ]]
	[[ ${stderr} != *OOM* && ${stderr} != *"hit PHASEBOX"* ]]
	[[ $(last oom_kills) == 0 ]]
	[[ $(last mem_peak) -ge $((96 << 20)) ]]
	[[ $(last mem_peak) -lt $((512 << 20)) ]]
}

@test "memory limits are written, root's, where the phase is: memory.limit_in_bytes, soft limit; a nobody phase cannot rewrite them" {
	local c=memory
	if [[ $(<"${CG2}/cgroup.controllers") == *memory* ]]; then c=2; fi
	[[ ${c} == 2 ]] || need_v1 memory
	local max=memory.limit_in_bytes high=memory.soft_limit_in_bytes
	[[ ${c} == 2 ]] && { max=memory.max; high=memory.high; }
	run -0 --separate-stderr "${CG[@]}" --memory-max 300M --memory-high 200M -- bash -c "${CTRL_FILE_SH}" x "${c}" "${max}"
	[[ ${output} == "0 $((300 << 20))" ]]
	run -0 --separate-stderr "${CG[@]}" --memory-max 300M --memory-high 200M -- bash -c "${CTRL_FILE_SH}" x "${c}" "${high}"
	[[ ${output} == "0 $((200 << 20))" ]]
	# as nobody inside, writing the limit away fails
	run -0 --separate-stderr "${CG[@]}" --memory-max 300M -- "${NOBODY[@]}" bash -c \
		"${CTRL_FILE_SH/echo \"\$(stat -c %u \"\$m\$p\/\$f\") \$(<\"\$m\$p\/\$f\")\"/echo max 2>/dev/null >\"\$m\$p\/\$f\"; echo rc=\$?}" x "${c}" "${max}"
	[[ ${output} == rc=1 ]]
	# twin: without a limit there is no limit file of the phase's own to read
	[[ ${c} == 2 ]] || {
		run -0 --separate-stderr "${CG[@]}" -- bash -c "${CTRL_FILE_SH}" x "${c}" "${max}"
		[[ ${output} == "0 9223372036854771712" ]]
	}
}

# --- pids -------------------------------------------------------------------------------

@test "a fork loop stops at PHASEBOX_PIDS_MAX (EAGAIN), and the accounting's peak is the limit" {
	run -0 --separate-stderr "${CG[@]}" --pids-max 20 -- "${P}" forkloop 200
	[[ ${output} == *forked=19* ]]
	[[ ${output} == *fork_errno=11* ]]
	[[ $(last limits.pids_max) == '"20"' ]]
	[[ $(last pids_peak) == 20 ]]
}

@test "negative twin: without PHASEBOX_PIDS_MAX the same loop forks all 200" {
	run -0 --separate-stderr "${CG[@]}" -- "${P}" forkloop 200
	[[ ${output} == *forked=200* ]]
	[[ ${output} == *fork_errno=0* ]]
	[[ $(last pids_peak) -ge 201 ]]
	[[ $(last limits) == '{}' ]]
}

# --- cpu and io -------------------------------------------------------------------------

@test "PHASEBOX_CPU_MAX=0.5 and PHASEBOX_CPU_WEIGHT=50 are written as cfs quota and shares (or cpu.max)" {
	local c=cpu quota=cpu.cfs_quota_us shares=cpu.shares want_q="0 50000" want_s="0 512"
	if [[ $(<"${CG2}/cgroup.controllers") == *cpu* ]]; then
		c=2 quota=cpu.max shares=cpu.weight want_q="0 50000 100000" want_s="0 50"
	else
		need_v1 cpu
	fi
	run -0 --separate-stderr "${CG[@]}" --cpu-max 0.5 --cpu-weight 50 -- bash -c "${CTRL_FILE_SH}" x "${c}" "${quota}"
	[[ ${output} == "${want_q}" ]]
	run -0 --separate-stderr "${CG[@]}" --cpu-max 0.5 --cpu-weight 50 -- bash -c "${CTRL_FILE_SH}" x "${c}" "${shares}"
	[[ ${output} == "${want_s}" ]]
	# twin: no CPU limit, no cpu cgroup of the phase's own
	[[ ${c} == 2 ]] || {
		run -0 --separate-stderr "${CG[@]}" -- bash -c "${CTRL_FILE_SH}" x "${c}" "${quota}"
		[[ ${output} == root ]]
	}
}

# Where PHASEBOX_IO_WEIGHT goes on this kernel, as phasebox decides it
# (common/cgroup_limits.cc): "<controller> <file>", the controller as CTRL_FILE_SH takes
# it: "2 io.weight" (blk-iocost) or "2 io.bfq.weight" where cgroup2 offers io, "blkio
# blkio.bfq.weight" on a v1 blkio hierarchy; "2 -" or "blkio -" where neither blk-iocost
# nor BFQ is there to take a weight; "no-io" with no io controller at all.  BFQ, once
# loaded (built in, or its module loaded by selecting it), is in every disk's list of
# schedulers and gives every cgroup below the root its weight file; blk-iocost gives the
# cgroup2 root io.cost.qos.
io_weight_file() {
	local bfq=0
	grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null && bfq=1
	if [[ -n ${CG2} && $(<"${CG2}/cgroup.controllers") == *io* ]]; then
		if [[ -e ${CG2}/io.cost.qos ]]; then echo "2 io.weight"
		elif (( bfq )); then echo "2 io.bfq.weight"
		else echo "2 -"; fi
	elif grep -Eq "^[0-9]+:([^:]*,)?blkio(,[^:]*)?:" /proc/self/cgroup; then
		if (( bfq )); then echo "blkio blkio.bfq.weight"; else echo "blkio -"; fi
	else
		echo no-io
	fi
}

# What the phase's weight file $1 holds for weight $2: BFQ's v1 file the number, the
# cgroup2 files "default N" (CTRL_FILE_SH's output: owner, then the file).
io_weight_want() {
	if [[ $1 == blkio.* ]]; then echo "0 $2"; else echo "0 default $2"; fi
}

# What a kernel without a weight for the phase's I/O makes phasebox say, after
# "PHASEBOX_IO_WEIGHT=N cannot be applied: ", for the controller $1 (as io_weight_file).
NO_BFQ="(select bfq for the build's disk: echo bfq > /sys/block/<dev>/queue/scheduler; or unset PHASEBOX_IO_WEIGHT)"
io_weight_refused() {
	case $1 in
	2) echo "no BFQ I/O scheduler and no blk-iocost ${NO_BFQ}: no 'io.weight' nor 'io.bfq.weight'" ;;
	blkio) echo "no BFQ I/O scheduler ${NO_BFQ}: no 'blkio.bfq.weight' in '" ;;
	*) echo "no io controller: " ;;
	esac
}

@test "PHASEBOX_IO_WEIGHT=50 is the phase's I/O weight where the kernel weighs I/O (BFQ's blkio.bfq.weight on v1, io.weight or io.bfq.weight on cgroup2); where not, 111 before the phase runs, naming BFQ and the fix" {
	local where c f
	where=$(io_weight_file)
	echo "PHASEBOX_IO_WEIGHT here: ${where}" >&2
	c=${where% *} f=${where#* }
	if [[ ${where} == no-io || ${f} == - ]]; then
		run -111 --separate-stderr "${CG[@]}" --io-weight 50 -- touch "${SCRATCH}/ran"
		[[ ${stderr} == *"phasebox-cgroup: cat/${MARK}-1 src_compile: PHASEBOX_IO_WEIGHT=50 cannot be applied: $(io_weight_refused "${c}")"* ]]
		[[ ${stderr} == *": Operation not supported"$'\n'"phasebox-cgroup: cat/${MARK}-1 src_compile: hint: see 'Limits and accounting' in phasebox(8); PHASEBOX_FALLBACK=warn runs the phase without the limits that cannot be applied"* ]]
		[[ ! -e ${SCRATCH}/ran && ! -s ${LOG} ]]
		# twin: without PHASEBOX_IO_WEIGHT the same phase runs, and nothing is dropped ...
		run -0 --separate-stderr "${CG[@]}" -- touch "${SCRATCH}/ran"
		[[ -e ${SCRATCH}/ran ]]
		[[ ${stderr} != *"cannot be applied"* && ${stderr} != *BFQ* ]]
		[[ $(last limits) == '{}' && $(last dropped) == null && $(last status) == 0 ]]
		# ... in a blkio cgroup of its own, for the accounting, where v1 has one
		if [[ ${c} == blkio ]]; then
			run -0 --separate-stderr "${CG[@]}" -- bash -c "${CTRL_FILE_SH}" x blkio blkio.throttle.io_service_bytes
			[[ ${output} == "0 "* ]]
		fi
	else
		run -0 --separate-stderr "${CG[@]}" --io-weight 50 -- bash -c "${CTRL_FILE_SH}" x "${c}" "${f}"
		[[ ${output} == "$(io_weight_want "${f}" 50)" ]]
		[[ $(last limits.io_weight) == '"50"' && $(last dropped) == null ]]
		# twin: the accounting's cgroup alone keeps the default weight
		run -0 --separate-stderr "${CG[@]}" -- bash -c "${CTRL_FILE_SH}" x "${c}" "${f}"
		[[ ${output} == "$(io_weight_want "${f}" 100)" ]]
	fi
}

@test "PHASEBOX_IO_WEIGHT=50 with --fallback warn: applied where the kernel weighs I/O; where not, the phase runs, says it dropped the I/O weight, and the record says so" {
	local where c f
	where=$(io_weight_file)
	echo "PHASEBOX_IO_WEIGHT here: ${where}" >&2
	c=${where% *} f=${where#* }
	run -0 --separate-stderr "${CG[@]}" --io-weight 50 --fallback warn -- touch "${SCRATCH}/ran"
	[[ -e ${SCRATCH}/ran ]]
	[[ $(last limits.io_weight) == '"50"' && $(last status) == 0 ]]
	if [[ ${where} == no-io || ${f} == - ]]; then
		[[ ${stderr} == *"phasebox-cgroup: cat/${MARK}-1 src_compile: PHASEBOX_IO_WEIGHT=50 cannot be applied: $(io_weight_refused "${c}")"*"; running without it (PHASEBOX_FALLBACK=warn)"* ]]
		[[ $(last dropped) == "[\"PHASEBOX_IO_WEIGHT=50 cannot be applied: $(io_weight_refused "${c}")"*'"]' ]]
	else
		# applied, so nothing dropped: the weight is in the phase's file
		[[ ${stderr} != *"cannot be applied"* && $(last dropped) == null ]]
		run -0 --separate-stderr "${CG[@]}" --io-weight 50 --fallback warn -- bash -c "${CTRL_FILE_SH}" x "${c}" "${f}"
		[[ ${output} == "$(io_weight_want "${f}" 50)" ]]
	fi
	# twin: without PHASEBOX_IO_WEIGHT the same warn run drops nothing and says nothing of it
	rm "${SCRATCH}/ran"
	run -0 --separate-stderr "${CG[@]}" --fallback warn -- touch "${SCRATCH}/ran"
	[[ -e ${SCRATCH}/ran ]]
	[[ ${stderr} != *"cannot be applied"* && ${stderr} != *"running without it"* ]]
	[[ $(last limits) == '{}' && $(last dropped) == null ]]
}

# --- accounting -------------------------------------------------------------------------

@test "accounting: a 2 s CPU-bound phase shows CPU >= 1.9 s; one line in the build log, one record in the log" {
	run -0 --separate-stderr "${CG[@]}" --makeopts "-j3 -l2" -- "${P}" spin 2
	local cpu
	cpu=$("${PY}" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(r["cpu_user_s"] + r["cpu_system_s"])' "${LOG}")
	"${PY}" -c 'import sys; sys.exit(not float(sys.argv[1]) >= 1.9)' "${cpu}"
	[[ $(wc -l <"${LOG}") -eq 1 ]]
	[[ $(last makeopts) == '"-j3 -l2"' ]]
	[[ $(last package) == "\"cat/${MARK}-1\"" && $(last phase) == '"src_compile"' ]]
	[[ $(last uid) == 0 && $(last writer) == '"phasebox-cgroup"' ]]
	[[ $(grep -c '^ *\* phasebox: src_compile of ' <<<"${stderr}") -eq 1 ]]
	[[ ${stderr} == *", MAKEOPTS=-j3 -l2, no limits"* ]]
	# twin: a phase that does nothing shows (almost) no CPU and a small peak
	run -0 --separate-stderr "${CG[@]}" -- "${P}" exit 0
	cpu=$("${PY}" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(r["cpu_user_s"] + r["cpu_system_s"])' "${LOG}")
	"${PY}" -c 'import sys; sys.exit(not float(sys.argv[1]) < 0.5)' "${cpu}"
	[[ $(last mem_peak) -lt $((32 << 20)) ]]
	[[ $(wc -l <"${LOG}") -eq 2 ]]
}

@test "the log: parallel phases append whole records (valid JSON, none lost); orphans counted; root's file in root's directory" {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		"${CG[@]}" -- "${P}" exit 0 &
	done
	wait
	"${CG[@]}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready" >/dev/null 2>&1
	[[ $(wc -l <"${LOG}") -eq 9 ]]
	"${PY}" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "${LOG}"
	[[ $(last orphans) == 2 ]]
	[[ $(stat -c '%u %a' "${LOG}" "${LOG%/*}") == $'0 644\n0 755' ]]
	# a log in a directory others can write is refused (the record is not written)
	mkdir -m 1777 "${SCRATCH}/open"
	run -0 --separate-stderr "${B}/phasebox-cgroup" --log "${SCRATCH}/open/a.jsonl" -- true
	[[ ${stderr} == *"append to the accounting log: '${SCRATCH}/open' is writable by others than uid 0, ignoring"* ]]
	[[ ! -e ${SCRATCH}/open/a.jsonl ]]
}

@test "orphans phasebox-reap killed are counted in the record; the phase sees neither the variable nor the pipe" {
	run -0 --separate-stderr "${CG[@]}" -- "${B}/phasebox-reap" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	[[ $(last orphans) == 2 ]]
	[[ ${stderr} == *"QA Notice: phasebox: phase of unknown left 2 processes running"* ]]
	[[ ${stderr} == *", 2 left running (killed), no limits"* ]]
	# what the phase gets: no PHASEBOX_ORPHANS_FD, and the same descriptors as without phasebox
	run -0 --separate-stderr "${CG[@]}" -- "${B}/phasebox-reap" -- bash -c 'env | grep -c ^PHASEBOX_ORPHANS_FD=; ls /proc/self/fd | tr "\n" " "' 3>&-
	local with=${output}
	run -0 --separate-stderr "${B}/phasebox-reap" -- bash -c 'env | grep -c ^PHASEBOX_ORPHANS_FD=; ls /proc/self/fd | tr "\n" " "' 3>&-
	[[ ${with} == "${output}" && ${with} == 0$'\n'* ]]
	# twin: a phase that leaves nothing counts 0
	run -0 --separate-stderr "${CG[@]}" -- "${B}/phasebox-reap" -- "${P}" exit 0
	[[ $(last orphans) == 0 ]]
}

# --- bad values -------------------------------------------------------------------------

@test "bad limit values: phasebox-cgroup exits 100 naming the variable, the value and what is accepted; nothing runs" {
	local size="a size: whole bytes, or a number (up to 3 decimals) with K, M, G or T (powers of 1024), or a percentage of RAM from 1% to 100%"
	local -A want=(
		[memory-max=8X]="PHASEBOX_MEMORY_MAX='8X' is not valid: expected ${size}"
		[memory-max=0]="PHASEBOX_MEMORY_MAX='0' is not valid: expected ${size}"
		[memory-max=101%]="PHASEBOX_MEMORY_MAX='101%' is not valid: expected ${size}"
		[memory-high=1.5]="PHASEBOX_MEMORY_HIGH='1.5' is not valid: expected ${size}"
		[memory-swap-max=-1]="PHASEBOX_MEMORY_SWAP_MAX='-1' is not valid: expected a size (0 for no swap): whole bytes, or a number (up to 3 decimals) with K, M, G or T (powers of 1024), or a percentage of RAM from 1% to 100%"
		[pids-max=0]="PHASEBOX_PIDS_MAX='0' is not valid: expected a whole number of tasks from 1 to 4194304"
		[pids-max=5000000]="PHASEBOX_PIDS_MAX='5000000' is not valid: expected a whole number of tasks from 1 to 4194304"
		[cpu-max=0]="PHASEBOX_CPU_MAX='0' is not valid: expected a number of CPUs greater than 0 (up to 3 decimals, at most 4096), such as 4 or 2.5"
		[cpu-max=2.5555]="PHASEBOX_CPU_MAX='2.5555' is not valid: expected a number of CPUs greater than 0 (up to 3 decimals, at most 4096), such as 4 or 2.5"
		[cpu-weight=10001]="PHASEBOX_CPU_WEIGHT='10001' is not valid: expected a whole number from 1 to 10000 (100 is the default share)"
		[io-weight=x]="PHASEBOX_IO_WEIGHT='x' is not valid: expected a whole number from 1 to 10000 (100 is the default share)"
	)
	local k
	for k in "${!want[@]}"; do
		run -100 --separate-stderr "${CG[@]}" "--${k%%=*}" "${k#*=}" -- touch "${SCRATCH}/ran"
		[[ ${stderr} == "phasebox-cgroup: cat/${MARK}-1 src_compile: ${want[${k}]}" ]] ||
			{ echo "for ${k}: ${stderr}" >&2; return 1; }
		[[ ! -e ${SCRATCH}/ran ]]
	done
	run -100 --separate-stderr "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --log /etc/passwd -- touch "${SCRATCH}/ran"
	[[ ${stderr} == *"PHASEBOX_LOG: the accounting log '/etc/passwd' does not end in '.jsonl'"* ]]
	[[ ! -e ${SCRATCH}/ran ]]
	# twin: the same kinds of values, good, are accepted and run the program (where the
	# kernel weighs no I/O, PHASEBOX_IO_WEIGHT=1 is accepted too but cannot be applied:
	# under warn the phase runs without it, and that alone is dropped)
	local where warn=()
	where=$(io_weight_file)
	[[ ${where} == no-io || ${where#* } == - ]] && warn=( --fallback warn )
	run -0 --separate-stderr "${CG[@]}" --memory-max 50% --memory-high 1.5G --memory-swap-max 0 --pids-max 4194304 \
		--cpu-max 2.5 --cpu-weight 10000 --io-weight 1 "${warn[@]}" -- touch "${SCRATCH}/ran"
	[[ -e ${SCRATCH}/ran ]]
	[[ $(last limits.memory_max) == '"50%"' && $(last limits.cpu_max) == '"2.5"' && $(last limits.io_weight) == '"1"' ]]
	if (( ${#warn[@]} )); then
		[[ $(last dropped) == "[\"PHASEBOX_IO_WEIGHT=1 cannot be applied: $(io_weight_refused "${where% *}")"*'"]' ]]
		[[ $(last dropped) != *'", "'* ]]
	else
		[[ $(last dropped) == null ]]
	fi
}

@test "bad limit values in the bashrc snippet fail the phase before it runs, naming variable, value, package and phase" {
	local FAKE="${BATS_TEST_DIRNAME}/helpers/fake-ebuild.sh" v
	for v in PHASEBOX_MEMORY_MAX=8X PHASEBOX_MEMORY_HIGH=0G PHASEBOX_MEMORY_SWAP_MAX=1.5 PHASEBOX_PIDS_MAX=01 \
		PHASEBOX_CPU_MAX=0.000 PHASEBOX_CPU_MAX=5000 PHASEBOX_CPU_WEIGHT=0 PHASEBOX_IO_WEIGHT=10001 \
		PHASEBOX_LOG=/etc/passwd PHASEBOX_LOG=relative.jsonl PHASEBOX_LOG=/var/log/../x.jsonl PHASEBOX_FALLBACK=maybe; do
		mkdir -p "${SCRATCH}/o"
		run -1 --separate-stderr env -i PATH=/usr/bin:/bin HOME=/ PB_SNIPPET="${B}/test/phasebox.bashrc" PB_OUT="${SCRATCH}/o" \
			EBUILD_PHASE=compile EBUILD_PHASE_FUNC=src_compile CATEGORY=cat PF="${MARK}-1" \
			FEATURES="userpriv phasebox-cgroup" PHASEBOX_LOG="${LOG}" "${v}" /bin/bash "${FAKE}"
		[[ ${stderr} == "DIE: phasebox: cat/${MARK}-1 src_compile: ${v%%=*}='${v#*=}' is not valid: expected "* ]] ||
			{ echo "for ${v}: ${stderr}" >&2; return 1; }
		[[ ! -s ${SCRATCH}/o/counter ]]
		# the same in pkg_setup, before any build code
		run -1 --separate-stderr env -i PATH=/usr/bin:/bin HOME=/ PB_SNIPPET="${B}/test/phasebox.bashrc" PB_OUT="${SCRATCH}/o" \
			EBUILD_PHASE=setup EBUILD_PHASE_FUNC=pkg_setup CATEGORY=cat PF="${MARK}-1" \
			FEATURES="userpriv phasebox-cgroup" PHASEBOX_LOG="${LOG}" "${v}" /bin/bash "${FAKE}"
		[[ ${stderr} == "DIE: phasebox: cat/${MARK}-1 pkg_setup: ${v%%=*}='${v#*=}' is not valid: expected "* ]]
		rm -rf "${SCRATCH}/o"
	done
	# twin: good values pass, and the compile phase runs under them
	mkdir -p "${SCRATCH}/o"
	run -0 --separate-stderr env -i PATH=/usr/bin:/bin HOME=/ PB_SNIPPET="${B}/test/phasebox.bashrc" PB_OUT="${SCRATCH}/o" \
		EBUILD_PHASE=compile EBUILD_PHASE_FUNC=src_compile CATEGORY=cat PF="${MARK}-1" MAKEOPTS=-j2 \
		FEATURES="userpriv phasebox-cgroup" PHASEBOX_LOG="${LOG}" PHASEBOX_MEMORY_MAX=1.5G PHASEBOX_PIDS_MAX=300 \
		PHASEBOX_CPU_MAX=4096 PHASEBOX_FALLBACK=fail /bin/bash "${FAKE}"
	[[ -s ${SCRATCH}/o/counter ]]
	[[ $(last limits.memory_max) == '"1.5G"' && $(last limits.pids_max) == '"300"' && $(last makeopts) == '"-j2"' ]]
	[[ ${stderr} == *"limits: PHASEBOX_MEMORY_MAX=1.5G PHASEBOX_PIDS_MAX=300 PHASEBOX_CPU_MAX=4096"* ]]
}

# --- fail closed ------------------------------------------------------------------------

@test "PHASEBOX_MEMORY_SWAP_MAX alone: where v1 has memory it cannot be applied, failing the phase before it runs (111), and --fallback warn runs it and says what was dropped; cgroup2 applies it" {
	if [[ -n ${CG2} && $(<"${CG2}/cgroup.controllers") == *memory* ]]; then
		# cgroup2 limits swap on its own (memory.swap.max): applied, also under warn, nothing dropped
		run -0 --separate-stderr "${CG[@]}" --memory-swap-max 1G -- bash -c "${CTRL_FILE_SH}" x 2 memory.swap.max
		[[ ${output} == "0 $((1 << 30))" ]]
		[[ ${stderr} != *"cannot be applied"* && $(last dropped) == null ]]
		run -0 --separate-stderr "${CG[@]}" --memory-swap-max 1G --fallback warn -- touch "${SCRATCH}/ran"
		[[ -e ${SCRATCH}/ran ]]
		[[ ${stderr} != *"running without it"* && $(last dropped) == null && $(last limits.memory_swap_max) == '"1G"' ]]
		return
	fi
	need_v1 memory
	run -111 --separate-stderr "${CG[@]}" --memory-swap-max 1G -- touch "${SCRATCH}/ran"
	[[ ${stderr} == *"PHASEBOX_MEMORY_SWAP_MAX=1G cannot be applied: cgroup v1 limits swap only together with memory"* ]]
	[[ ! -e ${SCRATCH}/ran ]]
	run -0 --separate-stderr "${CG[@]}" --memory-swap-max 1G --fallback warn -- touch "${SCRATCH}/ran"
	[[ -e ${SCRATCH}/ran ]]
	[[ ${stderr} == *"PHASEBOX_MEMORY_SWAP_MAX=1G cannot be applied: "*"; running without it (PHASEBOX_FALLBACK=warn)"* ]]
	[[ $(last dropped) == *"PHASEBOX_MEMORY_SWAP_MAX=1G cannot be applied"* ]]
}

# --- the build user's phases: the keeper applies the limits -----------------------------
# The holder standing in for emerge: pb_start_holder --adopt (helpers/phasebox.bash).

# Root, in the invocation's main (as pkg_setup is): register the package's limits.
register() {
	bash -c 'echo $$ >"$0/main/cgroup.procs" && exec "$@"' "${INV}" \
		"${B}/phasebox-cgroup" register --package "cat/${MARK}-1" --log "${LOG}" "$@"
}

@test "keeper: a limit root registered (pkg_setup) holds for nobody's phase that asks for none; the keeper writes the record" {
	[[ -n ${CG2} ]] || skip "no cgroup2: the keeper is for cgroup v2"
	pb_start_holder --adopt "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" -- \
		bash -c '"$0" alloc 256 >"$1" 2>&1; echo "rc=$?" >>"$1"' "${P}" "${SCRATCH}/w/out"
	register --memory-max 64M
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(<"${SCRATCH}/w/out") == *rc=137* ]]
	[[ $(last writer) == '"phasebox-keeper"' && $(last uid) == 65534 ]]
	[[ $(last limits.memory_max) == '"64M"' ]]
	[[ $(last oom_kills) -ge 1 ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	pb_drop_inv "${HOLDER}"
}

@test "negative twin: with nothing registered and nothing asked, nobody's phase allocates freely; what it asks for is applied" {
	[[ -n ${CG2} ]] || skip "no cgroup2: the keeper is for cgroup v2"
	pb_start_holder --adopt "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs bash -c '
		"$0" --package "cat/$3-1" --phase src_compile --log "$4" -- "$1" alloc 256 >"$2" 2>&1; echo "free=$?" >>"$2"
		"$0" --package "cat/$3-1" --phase src_compile --log "$4" --memory-max 64M -- "$1" alloc 256 >>"$2" 2>&1; echo "asked=$?" >>"$2"' \
		"${B}/phasebox-cgroup" "${P}" "${SCRATCH}/w/out" "${MARK}" "${LOG}"
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	[[ ${output} == *touched=256*free=0* ]]
	[[ ${output} == *"hit PHASEBOX_MEMORY_MAX=64M"*asked=137* ]]
	[[ $(grep -c '"writer":"phasebox-keeper"' "${LOG}") -eq 2 ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	pb_drop_inv "${HOLDER}"
}

@test "keeper: the record cannot be written by the build user; register is refused to it" {
	[[ -n ${CG2} ]] || skip "no cgroup2: the keeper is for cgroup v2"
	pb_start_holder --adopt "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs bash -c '
		echo "{}" 2>/dev/null >>"$0"; echo "append=$?" >"$1"
		"$2" register --package cat/x-1 --memory-max 1G >>"$1" 2>&1; echo "register=$?" >>"$1"
		"$3" "$4" auto register "cat/$5-1" memory_max=1T >>"$1"' \
		"${LOG}" "${SCRATCH}/w/out" "${B}/phasebox-cgroup" "${CLIENT[@]}" "${MARK}"
	mkdir -p "${LOG%/*}"
	: >"${LOG}"
	pb_run_holder "${SCRATCH}/go"
	run -0 cat "${SCRATCH}/w/out"
	[[ ${output} == *append=1* ]]
	[[ ${output} == *"register must run as root"*register=111* ]]
	# speaking the protocol itself does not help either
	[[ ${output} == *"E1:only root may register limits, not uid 65534"* ]]
	[[ ! -s ${LOG} ]]
	# twin: root can append (the file is writable at all)
	echo "{}" >>"${LOG}"
	[[ -s ${LOG} ]]
	pb_drop_inv "${HOLDER}"
}
