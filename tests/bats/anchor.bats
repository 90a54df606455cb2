#!/usr/bin/env bats
# Where an emerge's invocation goes on cgroup v2 (choose_anchor() in
# common/cgroup_setup.hh): below the emerge's own cgroup when that is delegated to it with
# the controllers — a systemd unit with Delegate=yes, as `systemd-run -p Delegate=yes emerge …`
# makes one — as Portage 3.0.82 anchors its own FEATURES=cgroup hierarchy; else at the root
# of the hierarchy.  Here root plays systemd: a "unit" cgroup below a slice of the test's
# own, holding the emerge stand-in (the holder) and another process of the unit, marked
# delegated with the extended attribute systemd sets.  Each placement has its twin; teardown
# checks that nothing of the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup anchor
	[[ -n ${CG2} ]] || skip "no cgroup2 mounted: the anchor is a cgroup v2 matter"
	SLICE=${CG2}/${MARK}.slice
	UNIT=${SLICE}/emerge.service
	mkdir -p "${UNIT}"
	# What the root offers among cpu, io, memory, pids goes down to the unit, as systemd
	# does for a unit with Delegate=yes (none on a hybrid host's cgroup2).
	WANTED=()
	local c
	for c in cpu io memory pids; do
		[[ " $(<"${CG2}/cgroup.controllers") " == *" ${c} "* ]] || continue
		WANTED+=( "${c}" )
		echo "+${c}" >"${CG2}/cgroup.subtree_control"
		echo "+${c}" >"${SLICE}/cgroup.subtree_control"
	done
	SIBLING=
}

teardown() {
	[[ -z ${SIBLING} ]] || pb_kill_wait "${SIBLING}" || true
	pb_remove_cgroups "${SLICE}"
	[[ ! -e ${SLICE} ]] || { echo "cannot remove ${SLICE}" >&2; return 1; }
	pb_teardown
}

delegate() { # <attribute> <value>: mark the unit as systemd marks a delegated one
	"${PY}" -c 'import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "${UNIT}" "$1" "$2"
}

# The holder (the unit's emerge) and a sibling (another process of the unit) in the unit;
# adopt run from the unit, as emerge spawns its PORTAGE_IONICE_COMMAND.
start_in_unit() {
	pb_start_holder --end "${SCRATCH}/go" "$@"
	echo "${HOLDER}" >"${UNIT}/cgroup.procs"
	bash -c 'exec -a "$0" sleep 3600' "${MARK}-sibling" 3>&- &
	SIBLING=$!
	echo "${SIBLING}" >"${UNIT}/cgroup.procs"
	PB_IN_NS=( bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "${UNIT}" )
	pb_adopt
}

unit_rel() {
	echo "${UNIT#"${CG2}"}"
}

@test "a delegated unit (user.delegate, as systemd >= 250 sets it): the invocation goes below it; the unit's other processes wait in its init.scope; a phase gets its leaf there" {
	delegate user.delegate 1
	start_in_unit "${NOBODY[@]}" --no-new-privs "${B}/phasebox-cgroup" --package "cat/${MARK}" \
		--log "${SCRATCH}/log/accounting.jsonl" --phase src_compile -- bash -c '"$0" cgroup | grep ^cgroup2= >"$1/out"' "${P}" "${SCRATCH}/w"
	INV=${UNIT}/phasebox/inv-${HOLDER}
	[[ -d ${INV}/main && -d ${INV}/builds && -d ${INV}/keeper ]]
	[[ ! -e ${CG2}/phasebox/inv-${HOLDER} ]]
	grep -qx "0::$(unit_rel)/phasebox/inv-${HOLDER}/main" "/proc/${HOLDER}/cgroup"
	if (( ${#WANTED[@]} )); then
		# The unit must give controllers to the top: its other processes leave it.
		grep -qx "0::$(unit_rel)/init.scope" "/proc/${SIBLING}/cgroup"
	else
		# Nothing to give (a hybrid host's cgroup2): nothing moved.
		grep -qx "0::$(unit_rel)" "/proc/${SIBLING}/cgroup"
	fi
	local c
	for c in "${WANTED[@]}"; do
		[[ " $(<"${UNIT}/cgroup.subtree_control") " == *" ${c} "* ]]
	done
	pb_holder_done "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(<"${SCRATCH}/w/out") =~ ^cgroup2=$(unit_rel)/phasebox/inv-${HOLDER}/builds/cat:${MARK}:src_compile\.pb[0-9]+$ ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	# emerge ends: its keeper removes the invocation below the unit, as at the root.
	local k
	k=$(<"${INV}/keeper/cgroup.procs")
	pb_end_holder "${SCRATCH}/go"
	pb_wait_gone "${k}"
	[[ ! -e ${INV} ]]
	[[ ! -e /run/phasebox/inv-${HOLDER}.sock ]]
}

@test "a delegated unit (trusted.delegate, as systemd < 250 sets it) is one too; a limit of the phase is applied below it" {
	delegate trusted.delegate 1
	start_in_unit "${NOBODY[@]}" --no-new-privs "${B}/phasebox-cgroup" --package "cat/${MARK}" \
		--log "${SCRATCH}/log/accounting.jsonl" --phase src_compile --pids-max 32 -- \
		bash -c 'f=$(sed -n "s/^0:://p" /proc/self/cgroup); echo "$f" >"$1/out"; cat "$0$f/pids.max" >>"$1/out" 2>/dev/null || echo "v1 mirror" >>"$1/out"' "${CG2}" "${SCRATCH}/w"
	pb_holder_done "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	[[ ${lines[0]} =~ ^$(unit_rel)/phasebox/inv-${HOLDER}/builds/cat:${MARK}:src_compile\.pb[0-9]+$ ]]
	if [[ " ${WANTED[*]} " == *" pids "* ]]; then
		[[ ${lines[1]} == 32 ]]
	else
		[[ ${lines[1]} == "v1 mirror" ]]
	fi
	pb_end_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

@test "negative twin: the same unit not delegated (no attribute, or user.delegate=0): the invocation goes to the root, the unit is left as it was" {
	local how
	for how in none zero; do
		[[ ${how} == none ]] || delegate user.delegate 0
		start_in_unit true
		[[ -d ${CG2}/phasebox/inv-${HOLDER}/main ]]
		[[ ! -e ${UNIT}/phasebox && ! -e ${UNIT}/init.scope ]]
		grep -qx "0::$(unit_rel)" "/proc/${SIBLING}/cgroup"
		[[ -z $(<"${UNIT}/cgroup.subtree_control") ]]
		pb_run_holder "${SCRATCH}/go"
		pb_drop_inv "${HOLDER}"
		pb_kill_wait "${SIBLING}"
		SIBLING=
		rm -f "${SCRATCH}/go" "${SCRATCH}/go.end" "${SCRATCH}/go.done"
	done
}

@test "negative twin: an emerge in a plain session scope (not delegated, nothing enabled below it) gets the root, even where the kernel offers every controller" {
	start_in_unit true
	[[ -d ${CG2}/phasebox/inv-${HOLDER}/main ]]
	[[ ! -e ${UNIT}/phasebox ]]
	pb_run_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}
