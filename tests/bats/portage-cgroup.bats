#!/usr/bin/env bats
# Beside Portage's own FEATURES=cgroup (common/portage_cgroup.hh): Portage puts each phase
# into its build's cgroup <root>/emerge-<emerge pid>/<cpv> before it execs, and reads the
# build's totals from that cgroup.  phasebox's leaf goes below it — made by root itself for a
# root phase, by the invocation's keeper for a build user's — and while the leaf exists the
# processes Portage put there wait in <cpv>/phasebox.portage; afterwards the cgroup is as
# Portage made it.  Here root plays Portage: it makes a build cgroup below a root of the
# test's own (PORTAGE_CGROUP_ROOT is any path) and writes the phase's process into it.
# The real thing, with real Portage where its FEATURES=cgroup is active (pure cgroup v2),
# is tests/e2e/scenarios/portage-cgroup.sh.  Each kernel effect has its twin; teardown
# checks that nothing of the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup portagecg
	[[ -n ${CG2} ]] || skip "no cgroup2 mounted: Portage's FEATURES=cgroup is cgroup v2 only"
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --log "${SCRATCH}/log/accounting.jsonl" )
	PROOT=${CG2}/${MARK}
	mkdir "${PROOT}"
	# Portage enables these on its root and on emerge-<pid> (lib/portage/util/cgroup.py),
	# where the kernel offers them (none on a hybrid host's cgroup2).
	CTRLS=$(cat "${CG2}/cgroup.controllers")
}

teardown() {
	local left
	left=$(find "${PROOT}" -mindepth 1 -type d -name "*.pb*" 2>/dev/null)
	pb_remove_cgroups "${PROOT}"
	[[ ! -e ${PROOT} ]] || { echo "cannot remove ${PROOT}" >&2; return 1; }
	pb_teardown
	[[ -z ${left} ]] || { echo "leaked leaves: ${left}" >&2; return 1; }
}

# build_cgroup <emerge pid>: the build cgroup of cat/${MARK}-1 as Portage makes it; BUILD.
build_cgroup() {
	BUILD=${PROOT}/emerge-$1/cat_${MARK}-1
	mkdir -p "${BUILD}"
	local c
	for c in cpu io memory; do
		[[ " ${CTRLS} " == *" ${c} "* ]] || continue
		echo "+${c}" >"${CG2}/cgroup.subtree_control"
		echo "+${c}" >"${PROOT}/cgroup.subtree_control"
		echo "+${c}" >"${PROOT}/emerge-$1/cgroup.subtree_control"
	done
}

# As Portage's spawn does: the process writes itself into the build cgroup, then execs.
IN_BUILD='echo $$ >"$0/cgroup.procs" && exec "$@"'

# The two daemons the phase left (their pids in w/ready) are gone, and the build cgroup is as
# Portage made it: no leaf, no holder, no controller enabled below it.
daemons_gone_build_given_back() {
	local daemons
	daemons=$(pb_daemons "$(cat "${SCRATCH}/w/ready")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]] || return 1
	# shellcheck disable=SC2086
	pb_wait_gone ${daemons} || return 1
	[[ -z $(find "${BUILD}" -mindepth 1 -type d) ]] || return 1
	[[ -z $(cat "${BUILD}/cgroup.subtree_control") ]]
}

# The path of the build cgroup, as /proc/PID/cgroup shows it.
rel() {
	echo "${1#"${CG2}"}"
}

@test "root's phase in Portage's build cgroup: its leaf is below it, Portage's processes wait in phasebox.portage meanwhile, and all is as Portage made it after" {
	build_cgroup $$
	run -0 --separate-stderr bash -c "${IN_BUILD}" "${BUILD}" "${CG[@]}" --phase src_compile -- \
		bash -c '"$0" cgroup | grep ^cgroup2=; wc -l <"$1/phasebox.portage/cgroup.procs"; "$0" daemonize "$2" "$3" >/dev/null' \
		"${P}" "${BUILD}" "${MARK}" "${SCRATCH}/w/ready"
	[[ ${lines[0]} =~ ^cgroup2=$(rel "${BUILD}")/cat:${MARK}-1:src_compile\.pb[0-9]+$ ]]
	# The supervisor (this bash, exec'd into phasebox-cgroup) waited in the holder.
	[[ ${lines[1]} -ge 1 ]]
	[[ ${stderr} == *"QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed"* ]]
	daemons_gone_build_given_back
}

@test "negative twin: root's phase outside any build cgroup of Portage's gets a leaf of phasebox's own, and leaves the cgroup alone" {
	build_cgroup $$
	run -0 "${CG[@]}" --phase src_compile -- "${P}" cgroup
	[[ ${output} =~ cgroup2=/phasebox/leaves/cat:${MARK}-1:src_compile\.pb[0-9]+ ]]
	[[ -z $(find "${BUILD}" -mindepth 1 -type d) ]]
}

@test "Portage's totals include the phase: the build cgroup's cpu.stat counts the CPU its leaf used (twin: a phase outside adds nothing)" {
	build_cgroup $$
	local before after
	before=$(awk '$1 == "usage_usec" { print $2 }' "${BUILD}/cpu.stat")
	run -0 bash -c "${IN_BUILD}" "${BUILD}" "${CG[@]}" --phase src_compile -- "${P}" spin 0.3
	after=$(awk '$1 == "usage_usec" { print $2 }' "${BUILD}/cpu.stat")
	(( after - before >= 250000 ))
	# Twin: the same burn in a leaf of phasebox's own.
	before=${after}
	run -0 "${CG[@]}" --phase src_compile -- "${P}" spin 0.3
	after=$(awk '$1 == "usage_usec" { print $2 }' "${BUILD}/cpu.stat")
	(( after - before < 100000 ))
}

@test "a limit below Portage's build cgroup holds, and is written where it belongs (cgroup v2 with memory, else the v1 mirror)" {
	build_cgroup $$
	run -0 --separate-stderr bash -c "${IN_BUILD}" "${BUILD}" "${CG[@]}" --phase src_compile --pids-max 64 -- \
		bash -c 'grep ^0:: /proc/self/cgroup; f=$(sed -n "s/^0:://p" /proc/self/cgroup); [ -e "$0$f/pids.max" ] && cat "$0$f/pids.max" "$1/cgroup.subtree_control" || echo "v1 mirror"' \
		"${CG2}" "${BUILD}"
	if [[ " ${CTRLS} " == *" pids "* ]]; then
		# pure v2: the limit in the leaf, pids enabled in the build cgroup meanwhile
		[[ ${lines[1]} == 64 ]]
		[[ " ${lines[2]} " == *" pids "* ]]
	else
		[[ ${lines[1]} == "v1 mirror" ]]
	fi
	[[ -z $(cat "${BUILD}/cgroup.subtree_control") ]]
	[[ -z $(find "${BUILD}" -mindepth 1 -type d) ]]
}

@test "nobody's phase in Portage's build cgroup of its adopted emerge: the keeper makes its leaf below it; daemons die; all is given back" {
	pb_start_holder --end "${SCRATCH}/go" bash -c "${IN_BUILD}" "${SCRATCH}/build" "${NOBODY[@]}" --no-new-privs \
		"${CG[@]}" --phase src_compile -- bash -c '"$0" cgroup | grep ^cgroup2= >"$1/out"; "$0" daemonize "$2" "$1/ready" >/dev/null' \
		"${P}" "${SCRATCH}/w" "${MARK}"
	build_cgroup "${HOLDER}"
	ln -s "${BUILD}" "${SCRATCH}/build"
	pb_adopt
	pb_holder_done "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(cat "${SCRATCH}/w/out") =~ ^cgroup2=$(rel "${BUILD}")/cat:${MARK}-1:src_compile\.pb[0-9]+$ ]]
	daemons_gone_build_given_back
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
	pb_end_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}

@test "negative twin: without the hook (no keeper for the emerge) nobody's phase fails before it runs, naming FEATURES=cgroup and PORTAGE_IONICE_COMMAND" {
	build_cgroup $$
	run -111 --separate-stderr bash -c "${IN_BUILD}" "${BUILD}" "${NOBODY[@]}" --no-new-privs \
		"${CG[@]}" --phase src_compile -- touch "${SCRATCH}/w/ran"
	[[ ! -e ${SCRATCH}/w/ran ]]
	[[ ${stderr} == *"FEATURES=cgroup put this phase into its build cgroup '$(rel "${BUILD}")'"* ]]
	[[ ${stderr} == *"PORTAGE_IONICE_COMMAND"* ]]
	[[ -z $(find "${BUILD}" -mindepth 1 -type d) ]]
}

@test "security: the keeper refuses a phase in the build cgroup of another emerge, and one in a build cgroup not root's" {
	pb_start_holder --end "${SCRATCH}/go" true
	pb_adopt
	# Another emerge's (this shell's pid in the name): refused.
	build_cgroup $$
	run -111 --separate-stderr bash -c "${IN_BUILD}" "${BUILD}" "${NOBODY[@]}" --no-new-privs \
		"${CG[@]}" --phase src_compile -- touch "${SCRATCH}/w/ran"
	[[ ! -e ${SCRATCH}/w/ran ]]
	# The phase asks the keeper of the emerge named in the path, which is not running.
	[[ ${stderr} == *"inv-$$.sock"* ]]
	# The adopted emerge's, but made by nobody (a delegated subtree of its own): refused.
	mkdir -p "${PROOT}/u"
	chown 65534 "${PROOT}/u" "${PROOT}/u/cgroup.procs"
	"${NOBODY[@]}" mkdir -p "${PROOT}/u/emerge-${HOLDER}/cat_${MARK}-1"
	run -111 --separate-stderr bash -c "${IN_BUILD}" "${PROOT}/u/emerge-${HOLDER}/cat_${MARK}-1" "${NOBODY[@]}" \
		--no-new-privs "${CG[@]}" --phase src_compile -- touch "${SCRATCH}/w/ran"
	[[ ! -e ${SCRATCH}/w/ran ]]
	[[ ${stderr} == *"belongs to uid 65534, not to root"* ]]
	# Twin: the adopted emerge's own, root's: granted.
	BUILD=${PROOT}/emerge-${HOLDER}/cat_${MARK}-1
	mkdir -p "${BUILD}"
	run -0 bash -c "${IN_BUILD}" "${BUILD}" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- "${P}" cgroup
	[[ ${output} =~ cgroup2=$(rel "${BUILD}")/cat:${MARK}-1:src_compile\.pb[0-9]+ ]]
	pb_run_holder "${SCRATCH}/go"
	pb_drop_inv "${HOLDER}"
}
