#!/usr/bin/env bats
# Every limit and accounting field of phasebox on a pure cgroup v2 kernel with every
# controller (the VM tier, tests/vm/suite: a hybrid host's cgroup2 has no controller, so
# there these limits go to the v1 mirrors, which tests/bats/limits.bats covers).  Each
# kernel effect next to its negative twin; nothing is timed against a clock of the test's:
# CPU time and wall time both come from the phase's own accounting record.  Teardown
# checks that no process or leaf of the test is left.

bats_require_minimum_version 1.5.0

load ../bats/helpers/phasebox

setup_file() {
	# Swap, so that memory.high and memory.swap.max act on something: a zram device in
	# the guest's RAM (the guest is thrown away after the run).
	if [[ $(awk 'NR > 1' /proc/swaps | wc -l) -eq 0 && -e /sys/fs/cgroup/cgroup.controllers ]]; then
		modprobe zram num_devices=1 2>/dev/null || true
		if [[ -e /sys/block/zram0/disksize ]]; then
			echo 512M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
		fi
	fi
}

setup() {
	pb_setup v2limits
	# The tier exists for this: not a pure cgroup v2 machine with these controllers is a
	# failure of the tier, never a skip.
	[[ ${CG2} == /sys/fs/cgroup ]] || { echo "cgroup2 is at '${CG2}', not /sys/fs/cgroup: not a pure v2 machine" >&2; return 1; }
	local c
	for c in memory pids cpu io; do
		[[ " $(<"${CG2}/cgroup.controllers") " == *" ${c} "* ]] ||
			{ echo "cgroup2 offers no ${c} controller here" >&2; return 1; }
	done
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --phase src_compile --log "${LOG}" )
}

teardown() {
	pb_teardown
}

# Field $1 of the last record in the log, as JSON.
last() {
	pb_last_json "${LOG}" "$1"
}

# In the phase: "$0" is the cgroup2 mount, the leaf is read from /proc/self/cgroup.
LEAF='leaf=$0$(sed -n "s/^0:://p" /proc/self/cgroup)'

have_swap() {
	[[ $(awk 'NR > 1' /proc/swaps | wc -l) -gt 0 ]]
}

# --- memory -----------------------------------------------------------------------------

@test "v2: past PHASEBOX_MEMORY_MAX the phase is OOM-killed, named with its peak and count; memory.events of the leaf agrees" {
	run -137 --separate-stderr "${CG[@]}" --memory-max 48M --memory-swap-max 0 -- "${P}" alloc 128
	[[ ${stderr} =~ \*\ phasebox:\ src_compile\ of\ cat/${MARK}-1\ hit\ PHASEBOX_MEMORY_MAX=48M\ \(peak\ ([0-9.]+)\ MiB,\ 1\ process\ OOM-killed\) ]]
	echo "peak said: ${BASH_REMATCH[1]} MiB" >&3
	[[ $(last oom_kills) -ge 1 ]]
	[[ $(last mem_peak) -le $((48 << 20)) ]]
	[[ $(last mem_peak) -ge $((40 << 20)) ]]
}

@test "negative twin (v2): under a limit above what it touches the same phase completes, no OOM kill" {
	run -0 --separate-stderr "${CG[@]}" --memory-max 256M -- "${P}" alloc 128
	[[ ${output} == touched=128 ]]
	[[ $(last oom_kills) == 0 ]]
	[[ ${stderr} != *OOM* ]]
}

@test "v2: memory.peak is within 10 % of what the phase touched (96 MiB)" {
	run -0 --separate-stderr "${CG[@]}" -- "${P}" alloc 96
	local peak
	peak=$(last mem_peak)
	echo "mem_peak ${peak} for 96 MiB touched" >&3
	(( peak >= (96 << 20) ))
	(( peak <= (96 << 20) * 110 / 100 ))
}

@test "v2: PHASEBOX_MEMORY_HIGH throttles (the leaf's memory.events counts 'high'); twin: without it, none" {
	have_swap || { echo "no swap: memory.high could only stall the phase" >&2; return 1; }
	run -0 --separate-stderr "${CG[@]}" --memory-high 32M -- bash -c "${LEAF}"'; "$1" alloc 64 >/dev/null; grep "^high " "$leaf/memory.events"; cat "$leaf/memory.high"' "${CG2}" "${P}"
	echo "with memory.high=32M: ${lines[*]}" >&3
	[[ ${lines[0]} =~ ^high\ ([0-9]+)$ ]]
	(( BASH_REMATCH[1] > 0 ))
	[[ ${lines[1]} == $((32 << 20)) ]]
	run -0 --separate-stderr "${CG[@]}" -- bash -c "${LEAF}"'; "$1" alloc 64 >/dev/null; grep "^high " "$leaf/memory.events"; cat "$leaf/memory.high"' "${CG2}" "${P}"
	echo "without: ${lines[*]}" >&3
	[[ ${lines[0]} == "high 0" ]]
	[[ ${lines[1]} == max ]]
}

@test "v2: PHASEBOX_MEMORY_SWAP_MAX=0 makes memory.max final (OOM), while swap lets the same phase through (twin)" {
	have_swap || { echo "no swap in the guest (zram could not be set up)" >&2; return 1; }
	run -137 --separate-stderr "${CG[@]}" --memory-max 32M --memory-swap-max 0 -- "${P}" alloc 64
	[[ $(last oom_kills) -ge 1 ]]
	run -0 --separate-stderr "${CG[@]}" --memory-max 32M --memory-swap-max 128M -- bash -c "${LEAF}"'; "$1" alloc 64; cat "$leaf/memory.swap.max" "$leaf/memory.swap.peak" 2>/dev/null || cat "$leaf/memory.swap.max"' "${CG2}" "${P}"
	echo "swap.max, swap.peak: ${lines[*]:1}" >&3
	[[ ${lines[0]} == touched=64 ]]
	[[ ${lines[1]} == $((128 << 20)) ]]
	[[ $(last oom_kills) == 0 ]]
}

# --- pids -------------------------------------------------------------------------------

@test "v2: a fork loop stops at PHASEBOX_PIDS_MAX, pids.events counts it; twin: without it, all 100" {
	run -0 --separate-stderr "${CG[@]}" --pids-max 16 -- bash -c "${LEAF}"'; "$1" forkloop 100; grep "^max " "$leaf/pids.events"' "${CG2}" "${P}"
	[[ ${output} == *forked=14* ]] # bash and the probe are 2 of the 16
	[[ ${output} == *fork_errno=11* ]]
	[[ ${lines[-1]} =~ ^max\ [1-9][0-9]*$ ]]
	[[ $(last pids_peak) == 16 ]]
	run -0 --separate-stderr "${CG[@]}" -- "${P}" forkloop 100
	[[ ${output} == *forked=100* ]]
}

# --- cpu --------------------------------------------------------------------------------

@test "v2: PHASEBOX_CPU_MAX=0.5 holds two busy processes to half a CPU (CPU / wall within 10 %); twin: without it they take more than one" {
	run -0 --separate-stderr "${CG[@]}" --cpu-max 0.5 -- bash -c '"$0" spin 1.5 >/dev/null & "$0" spin 1.5 >/dev/null; wait' "${P}"
	local ratio
	ratio=$("${PY}" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("%.3f" % ((r["cpu_user_s"] + r["cpu_system_s"]) / r["wall_s"]))' "${LOG}")
	echo "cpu.max 0.5: CPU/wall = ${ratio}" >&3
	"${PY}" -c 'import sys; sys.exit(0 if 0.45 <= float(sys.argv[1]) <= 0.55 else 1)' "${ratio}"
	run -0 --separate-stderr "${CG[@]}" -- bash -c '"$0" spin 1.5 >/dev/null & "$0" spin 1.5 >/dev/null; wait' "${P}"
	ratio=$("${PY}" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("%.3f" % ((r["cpu_user_s"] + r["cpu_system_s"]) / r["wall_s"]))' "${LOG}")
	echo "no limit: CPU/wall = ${ratio} ($(nproc) CPUs)" >&3
	if (( $(nproc) >= 2 )); then
		"${PY}" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 1.0 else 1)' "${ratio}"
	else
		"${PY}" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0.8 else 1)' "${ratio}"
	fi
}

@test "v2: PHASEBOX_CPU_WEIGHT and PHASEBOX_IO_WEIGHT are written into the leaf's cpu.weight and io weight file; twin: the defaults" {
	local iofile=io.weight
	[[ -e ${CG2}/io.cost.qos ]] || iofile=io.bfq.weight
	if [[ ! -e ${CG2}/io.cost.qos ]] && ! grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null; then
		# Neither blk-iocost nor BFQ: phasebox refuses the I/O weight (limits.bats); the
		# CPU weight alone here.
		run -0 --separate-stderr "${CG[@]}" --cpu-weight 50 -- bash -c "${LEAF}"'; cat "$leaf/cpu.weight"' "${CG2}"
		[[ ${output} == 50 ]]
	else
		run -0 --separate-stderr "${CG[@]}" --cpu-weight 50 --io-weight 40 -- bash -c "${LEAF}"'; cat "$leaf/cpu.weight" "$leaf/'"${iofile}"'"' "${CG2}"
		[[ ${lines[0]} == 50 ]]
		[[ ${lines[1]} == "default 40" ]]
	fi
	run -0 --separate-stderr "${CG[@]}" -- bash -c "${LEAF}"'; cat "$leaf/cpu.weight"' "${CG2}"
	[[ ${output} == 100 ]]
}

# --- nothing can be lifted from inside ----------------------------------------------------

# In the phase, as whoever it runs as: rewrite each limit file, move itself into a sibling
# cgroup it makes beside its leaf (refused: not its own), its parent and the root.  "$0":
# the cgroup2 mount.  One line each: "<what> <exit status>".
LIFT='leaf=$0$(sed -n "s/^0:://p" /proc/self/cgroup)
for f in memory.max memory.high memory.swap.max pids.max cpu.max; do echo max 2>/dev/null >"$leaf/$f"; echo "$f $?"; done
mkdir "${leaf%/*}/sibling-$$" 2>/dev/null; echo "mkdir-sibling $?"
echo $$ 2>/dev/null >"${leaf%/*}/cgroup.procs"; echo "parent $?"
echo $$ 2>/dev/null >"$0/cgroup.procs"; echo "root $?"
echo "limit $(cat "$leaf/memory.max")"'

@test "v2 security: the build user can lift no limit and leave its leaf for neither its parent nor the root, nor make a sibling" {
	run -0 --separate-stderr "${CG[@]}" --memory-max 64M --memory-high 48M --memory-swap-max 0 --pids-max 64 --cpu-max 1 -- \
		"${NOBODY[@]}" bash -c "${LIFT}" "${CG2}"
	echo "${output}" >&3
	local l
	for l in "${lines[@]:0:8}"; do
		[[ ${l} =~ \ 1$ ]]
	done
	[[ ${lines[8]} == "limit $((64 << 20))" ]]
}

@test "v2 security: root of a user namespace of the build user can lift nothing either" {
	run -0 --separate-stderr "${CG[@]}" --memory-max 64M --pids-max 64 -- \
		"${NOBODY[@]}" unshare --user --map-root-user bash -c '[ "$(id -u)" = 0 ] && echo "uid0 in userns"; '"${LIFT}" "${CG2}"
	echo "${output}" >&3
	[[ ${lines[0]} == "uid0 in userns" ]]
	local l
	for l in "${lines[@]:1:8}"; do
		[[ ${l} =~ \ 1$ ]]
	done
	[[ ${lines[9]} == "limit $((64 << 20))" ]]
}

@test "negative twin: root in the same leaf does lift them (the files are root's, not locked)" {
	run -0 --separate-stderr "${CG[@]}" --memory-max 64M -- bash -c "${LEAF}"'; echo max >"$leaf/memory.max"; cat "$leaf/memory.max"' "${CG2}"
	[[ ${output} == max ]]
}
