# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)
# Scenario "elog": what phasebox says about a phase reaches Portage's elog, with real
# Portage: PORTAGE_ELOG_CLASSES="warn error qa" and PORTAGE_ELOG_SYSTEM="save", so that
# each package's messages are saved in ${PORT_LOGDIR}/elog/<category>:<pf>:<date>.log
# (lib/portage/elog/mod_save.py), collected from ${T}/logging/<phase> at the end.
#
#   elog-daemons  phasebox-cgroup: daemons' src_compile and src_test leave 2 daemons each;
#                 the QA notice naming them is in the saved elog (written by the
#                 supervisor after the phase's process exited), the accounting line in
#                 the build log only
#   elog-warn     phasebox-cgroup and phasebox-network-sandbox with PHASEBOX_FALLBACK=warn,
#                 PHASEBOX_USERNS=never (a portage phase cannot make a network namespace
#                 without a user namespace: the downgrade) and PHASEBOX_IO_WEIGHT=50
#                 (dropped where this kernel cannot weigh I/O, detected as limits.bats does;
#                 applied, and nothing said, where it can); PHASEBOX_SUMMARY=quiet
#   elog-fail     the same with PHASEBOX_FALLBACK=fail: noop's src_unpack (the first phase
#                 Portage's networked rule sandboxes: no PROPERTIES=live) fails, and
#                 the failure with its hint is ERROR in the saved elog
#   elog-without  the twin: the same configuration without any phasebox token: no
#                 phasebox line in any saved elog

e2e_more_scenarios+=(elog)

elog_conf='PORTAGE_ELOG_CLASSES="warn error qa"
PORTAGE_ELOG_SYSTEM="save"'

elog_saved() { # <run name> <pn>: the saved elog file of that package in that run
	local f=("${logdir}/${1}/elog/phasebox-test:${2}-1:"*.log)
	(( ${#f[@]} )) && echo "${f[-1]}"
}

# Whether PHASEBOX_IO_WEIGHT is dropped here (tests/bats/limits.bats, io_weight_file): no
# BFQ on any disk, and no blk-iocost on a cgroup2 that offers the io controller.
elog_io_weight_droppable() {
	local bfq=0
	grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null && bfq=1
	if [[ $(< "${cgroup2}/cgroup.controllers") == *io* ]]; then
		[[ ! -e ${cgroup2}/io.cost.qos ]] && (( ! bfq ))
	elif grep -Eq "^[0-9]+:([^:]*,)?blkio(,[^:]*)?:" /proc/self/cgroup; then
		(( ! bfq ))
	else
		return 0
	fi
}

# elog_has <what> <file> <grep -E pattern>: a line of the saved elog matches.
elog_has() {
	check "${1}" grep -qE -- "${3}" "${2:-/dev/null}"
}

scenario_elog() {
	local name file log phase pn droppable=0
	elog_io_weight_droppable && droppable=1
	info "elog: PHASEBOX_IO_WEIGHT $( (( droppable )) && echo 'cannot be applied here (no BFQ, no blk-iocost): dropped under warn' || echo 'is applied here')"

	# A package that leaves daemons: the QA notice names them in the saved elog.
	name=elog-daemons
	extra_conf=${elog_conf}
	write_make_conf "${name}" phasebox-cgroup "${native_on[@]}"
	emerge_run "${name}" 300 =phasebox-test/daemons-1
	check_emerge_ok "${name}" daemons
	file=$(elog_saved "${name}" daemons)
	check "${name}: daemons has a saved elog file (${file:-none})" test -s "${file:-/dev/null}"
	for phase in compile test; do
		elog_has "${name}: its elog has the QA notice of src_${phase} under 'QA: ${phase}'" "${file}" \
			"^QA Notice: phasebox: src_${phase} of phasebox-test/daemons-1 left 2 processes running; killed:\$"
		check "${name}: ... naming both daemons of src_${phase} (pid, command name, command line)" \
			test "$(grep -cE "^  pid [0-9]+ \(sleep\): ${marker}-daemons-${phase}-(fork|setsid) 3600\$" "${file:-/dev/null}")" = 2
		# shellcheck disable=SC2016 # awk's own $0
		check "${name}: ... in the section of src_${phase}" \
			awk -v p="QA: ${phase}" -v n="src_${phase} of" '$0 == p { s = 1; next } /^[A-Z]+: [a-z]+$/ { s = 0 } s && index($0, n) { f = 1 } END { exit !f }' "${file:-/dev/null}"
	done
	check "${name}: the accounting line is not in elog" \
		not grep -q 'phasebox: src_compile of phasebox-test/daemons-1: ' "${file:-/dev/null}"
	log=$(build_log "${name}" daemons)
	check "${name}: the build log has the QA notice as before (' * QA Notice: …')" \
		grep -qE '^ \* QA Notice: phasebox: src_compile of phasebox-test/daemons-1 left 2 processes running; killed:$' "${log:-/dev/null}"
	check "${name}: the build log has the accounting line (PHASEBOX_SUMMARY unset: show)" \
		grep -qE '^ \* phasebox: src_compile of phasebox-test/daemons-1: ' "${log:-/dev/null}"
	info "${name}: ${file}:"
	sed 's/^/#   /' "${file:-/dev/null}"
	kill_markers

	# A warn-mode package: what was dropped, per phase, in the saved elog.
	name=elog-warn
	extra_conf="${elog_conf}
PHASEBOX_FALLBACK=\"warn\"
PHASEBOX_USERNS=\"never\"
PHASEBOX_IO_WEIGHT=\"50\"
PHASEBOX_SUMMARY=\"quiet\""
	write_make_conf "${name}" phasebox-cgroup phasebox-network-sandbox "${native_on[@]}"
	emerge_run "${name}" 300 =phasebox-test/noop-1
	check_emerge_ok "${name}" noop
	check_phases "${name}" noop phasebox src_compile
	file=$(elog_saved "${name}" noop)
	check "${name}: noop has a saved elog file (${file:-none})" test -s "${file:-/dev/null}"
	elog_has "${name}: its elog says src_compile (portage) ran with less isolation: the network namespace made in a user namespace" "${file}" \
		"^phasebox-reap: phasebox-test/noop-1 src_compile: warning: PHASEBOX_FALLBACK=warn: this phase runs with less isolation than asked: .*network.* are made inside a user namespace instead"
	check "${name}: ... under 'WARN: compile'" grep -qx 'WARN: compile' "${file:-/dev/null}"
	check "${name}: ... and not for src_install (root makes its namespaces itself)" \
		not grep -q 'src_install: warning: PHASEBOX_FALLBACK=warn' "${file:-/dev/null}"
	if (( droppable )); then
		elog_has "${name}: its elog says src_compile (portage: the keeper's) ran without PHASEBOX_IO_WEIGHT=50, and why" "${file}" \
			'^phasebox-cgroup: phasebox-test/noop-1 src_compile: PHASEBOX_IO_WEIGHT=50 cannot be applied: no BFQ I/O scheduler.*; the phase ran without it \(PHASEBOX_FALLBACK=warn\)$'
		elog_has "${name}: ... and src_install (root: phasebox-cgroup's own)" "${file}" \
			'^phasebox-cgroup: phasebox-test/noop-1 src_install: PHASEBOX_IO_WEIGHT=50 cannot be applied: no BFQ I/O scheduler.*; running without it \(PHASEBOX_FALLBACK=warn\)$'
	else
		check "${name}: (PHASEBOX_IO_WEIGHT applied here) its elog says nothing of it" \
			not grep -q 'PHASEBOX_IO_WEIGHT' "${file:-/dev/null}"
	fi
	log=$(build_log "${name}" noop)
	check "${name}: the build log has the same warning as before" \
		grep -q 'phasebox-reap: phasebox-test/noop-1 src_compile: warning: PHASEBOX_FALLBACK=warn' "${log:-/dev/null}"
	check "${name}: PHASEBOX_SUMMARY=quiet: no accounting line in the build log (elog-daemons' has one)" \
		not grep -qE '^ \* phasebox: src_[a-z]+ of phasebox-test/noop-1: ' "${log:-/dev/null}"
	check "${name}: ... the records are written all the same" \
		grep -q '"package":"phasebox-test/noop-1","phase":"src_compile"' "${eprefix}/var/log/phasebox/accounting.jsonl"
	info "${name}: ${file}:"
	sed 's/^/#   /' "${file:-/dev/null}"

	# The same isolation with PHASEBOX_FALLBACK=fail: the failure, with its hint, is ERROR.
	name=elog-fail
	extra_conf="${elog_conf}
PHASEBOX_USERNS=\"never\""
	write_make_conf "${name}" phasebox-cgroup phasebox-network-sandbox "${native_on[@]}"
	emerge_run "${name}" 300 =phasebox-test/noop-1
	check "${name}: emerge fails (exit ${emerge_status})" test "${emerge_status}" -ne 0
	file=$(elog_saved "${name}" noop)
	check "${name}: noop has a saved elog file (${file:-none})" test -s "${file:-/dev/null}"
	check "${name}: its elog has the failure under 'ERROR: unpack'" grep -qx 'ERROR: unpack' "${file:-/dev/null}"
	elog_has "${name}: ... naming the namespace and the errno" "${file}" \
		'^phasebox-unshare: phasebox-test/noop-1 src_unpack: unshare\(network, uts namespaces\): Operation not permitted$'
	elog_has "${name}: ... and the hint" "${file}" \
		'^phasebox-unshare: phasebox-test/noop-1 src_unpack: hint: .*PHASEBOX_FALLBACK=warn'
	info "${name}: ${file}:"
	sed 's/^/#   /' "${file:-/dev/null}"

	# The twin: no phasebox token (the variables set all the same); Portage's own sandboxes
	# off and no root hook, as in the negative scenario, so that the daemons are not killed by
	# anyone (the hook's keeper would kill them when the emerge ends).
	name=elog-without
	extra_conf="${elog_conf}
PHASEBOX_FALLBACK=\"warn\"
PHASEBOX_IO_WEIGHT=\"50\""
	no_adopt=1 write_make_conf "${name}" "${native_off[@]}"
	emerge_run "${name}" 300 =phasebox-test/daemons-1 =phasebox-test/noop-1
	check_emerge_ok "${name}" "daemons and noop"
	check "${name}: without phasebox the 4 daemons survive ($(marker_pids daemons | wc -w) found)" \
		test "$(marker_pids daemons | wc -w)" = 4
	for pn in daemons noop; do
		file=$(elog_saved "${name}" "${pn}")
		check "${name}: nothing in ${pn}'s elog comes from phasebox (saved: ${file:-none, nothing of the classes asked for})" \
			not grep -q 'phasebox' "${file:-/dev/null}"
	done
	kill_markers
	check "elog: no phase leaf left" test -z "$(leftover_leaves)"
	# shellcheck disable=SC2034 # extra_conf: read by write_make_conf (lib.sh)
	extra_conf=
}
