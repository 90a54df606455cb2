# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)
# Scenario "portage-cgroup": phasebox beside Portage's own FEATURES=cgroup (Portage 3.0.82,
# lib/portage/util/cgroup.py; common/portage_cgroup.hh).  Where Portage's cgroup is active
# (a Portage that has it, cgroup2 mounted at /sys/fs/cgroup, emerge as root), each phase
# runs in a phasebox leaf below the build cgroup Portage put it in
# (<root>/emerge-<emerge pid>/<cpv>/<leaf>), both accountings hold — Portage's
# "=== Resource usage for …" line counts the phase (memfree touches 200 MiB in its
# src_compile: Portage's MaxMem is at least that) and phasebox's line, limits and orphan
# kill hold — and nothing is left (no leaf, no Portage cgroup, no daemon).  Where it is not
# active (this hybrid host, an older Portage), Portage says nothing and the phases run in
# phasebox's own leaves: the other branch, checked as such.
#
#   pcg-userpriv   FEATURES="cgroup phasebox-cgroup" (the build user's phases: the keeper);
#                  memfree too, the unlimited twin of pcg-limit
#   pcg-root       FEATURES="-userpriv phasebox-cgroup cgroup mount-sandbox" (root's phases:
#                  phasebox itself; the tokens in the other order, Portage's mount-sandbox on)
#   pcg-limit      memhog under PHASEBOX_MEMORY_MAX=64M (package.env): OOM-killed below
#                  Portage's build cgroup, emerge fails and says why

e2e_more_scenarios+=(portage-cgroup)

# Why Portage's FEATURES=cgroup is not active here, or nothing when it is.
pcg_inactive_reason() {
	local py=${python:-python3}
	if ! env ${portage_src:+PYTHONPATH="${portage_src}/lib"} "${py}" -c 'import portage.util.cgroup' 2>/dev/null; then
		echo "this Portage ($(portage_version)) has no FEATURES=cgroup (3.0.82 brought it)"
	elif [[ ! -e /sys/fs/cgroup/cgroup.controllers ]]; then
		echo "cgroup2 is not mounted at /sys/fs/cgroup (this host mounts it at '${cgroup2}'): Portage's FEATURES=cgroup is cgroup v2 only"
	fi
}

# pcg_build_re <pn>: the phase's cgroup below Portage's build cgroup of this emerge.
pcg_build_re() {
	echo "^/(.+/)?emerge-${emerge_pid}/phasebox-test_${1}-1/phasebox-test:${1}-1:src_[a-z]+\.pb[0-9]+(-[0-9]+)?$"
}

pcg_matches() { # <string> <extended regular expression>
	[[ ${1} =~ ${2} ]]
}

# pcg_check_phases <run name> <pn> <phases...>: where each phase ran.
pcg_check_phases() {
	local name=$1 pn=$2 phase cg re
	shift 2
	re=$(pcg_build_re "${pn}")
	for phase; do
		cg=$(phase_cgroup "${pn}" "${phase}")
		if [[ -z ${pcg_reason} ]]; then
			check "${name}: ${pn} ${phase} runs in a phasebox leaf below Portage's build cgroup (0::${cg})" \
				pcg_matches "${cg}" "${re}"
		else
			check "${name}: ${pn} ${phase} runs in a phasebox leaf of its own (Portage's cgroup inactive; 0::${cg})" \
				is_leaf "${cg}"
		fi
	done
}

# pcg_check_accounting <run name> <pn>: Portage's line and phasebox's, in the build log.
pcg_check_accounting() {
	local name=$1 pn=$2 log
	log=$(build_log "${name}" "${pn}")
	if [[ -z ${log} ]]; then
		not_ok "${name}: ${pn} has a build log in ${logdir}/${name}"
		return
	fi
	check "${name}: the build log has phasebox's accounting line for ${pn} src_compile" \
		grep -qE "\* phasebox: src_compile of phasebox-test/${pn}-1: " "${log}"
	if [[ -z ${pcg_reason} ]]; then
		check "${name}: the build log has Portage's resource line for ${pn}" \
			grep -qE "=== Resource usage for phasebox-test/${pn}-1 \[" "${log}"
		grep -E "=== Resource usage for|\* phasebox: src_compile of" "${log}" | sed 's/^/#   /'
	else
		check "${name}: no resource line of Portage's (its cgroup is inactive here)" \
			not grep -qE "=== Resource usage for phasebox-test/${pn}-1" "${log}"
	fi
}

# Nothing of Portage's cgroups stays behind the emerge that ended last, nor a holder.
pcg_check_nothing_left() {
	local left
	left=$(find /sys/fs/cgroup -maxdepth 6 -type d \( -name "emerge-${emerge_pid}" -o -name phasebox.portage \) 2>/dev/null | tr '\n' ' ')
	check "${1}: no cgroup of emerge ${emerge_pid} (Portage's) and no phasebox.portage holder is left (${left:-none})" \
		test -z "${left}"
}

# MaxMem of Portage's resource line for <pn> in <log>, in MiB (integer), or nothing.
pcg_maxmem_mib() {
	sed -nE "s/.*=== Resource usage for phasebox-test\/${1}-1 \[.*MaxMem: ([0-9.]+) (B|KiB|MiB|GiB).*/\1 \2/p" "$2" |
		tail -n 1 | awk '{ m = $1; if ($2 == "B") m /= 1048576; if ($2 == "KiB") m /= 1024; if ($2 == "GiB") m *= 1024; printf "%d\n", m }'
}

scenario_portage-cgroup() {
	local name features pe=${eprefix}/etc/portage log mib
	pcg_reason=$(pcg_inactive_reason)
	if [[ -n ${pcg_reason} ]]; then
		info "portage-cgroup: Portage's FEATURES=cgroup is inactive here: ${pcg_reason}; checking that branch"
	else
		info "portage-cgroup: Portage's FEATURES=cgroup is active here (pure cgroup v2)"
	fi
	# Three emerges (the VM tier runs this under TCG, 90 s to several minutes an emerge;
	# E2E_EMERGE_TIMEOUT bounds each): the userpriv one with Portage's token first also
	# builds memfree, the unlimited twin of pcg-limit's memhog; the root one has
	# phasebox's token first and Portage's mount-sandbox on.
	local timeout=${E2E_EMERGE_TIMEOUT:-600}
	for name in pcg-userpriv pcg-root; do
		case ${name} in
		pcg-userpriv) features=(cgroup phasebox-cgroup) ;;
		pcg-root) features=(-userpriv phasebox-cgroup cgroup mount-sandbox) ;;
		esac
		write_make_conf "${name}" "${features[@]}" "${native_off[@]}"
		if [[ ${name} == pcg-userpriv ]]; then
			emerge_run "${name}" "${timeout}" =phasebox-test/daemons-1 =phasebox-test/memfree-1
		else
			emerge_run "${name}" "${timeout}" =phasebox-test/daemons-1
		fi
		check_emerge_ok "${name}" "daemons (FEATURES=\"${features[*]}\")"
		pcg_check_phases "${name}" daemons src_unpack src_compile src_test src_install
		if [[ ${name} == pcg-root ]]; then
			check "${name}: daemons src_compile runs as root" test "$(< "${res}/daemons.src_compile.uid")" = 0
		else
			check_phases "${name}" daemons phasebox src_compile src_install
			check_invocation_gone "${name}"
		fi
		check_cleaned "${name}" daemons src_compile src_test
		pcg_check_accounting "${name}" daemons
		if [[ ${name} == pcg-userpriv ]]; then
			# Portage's totals count what the phase's leaf used.
			pcg_check_phases "${name}" memfree src_compile
			pcg_check_accounting "${name}" memfree
			if [[ -z ${pcg_reason} ]]; then
				log=$(build_log "${name}" memfree)
				mib=$(pcg_maxmem_mib memfree "${log}")
				check "${name}: Portage's MaxMem for memfree counts the 200 MiB its src_compile's leaf touched (${mib:-none} MiB)" \
					test "${mib:-0}" -ge 200
			fi
		fi
		pcg_check_nothing_left "${name}"
		kill_markers
	done

	# A limit below Portage's build cgroup (its twin: memfree above).
	name=pcg-limit
	mkdir -p "${pe}/env"
	printf 'PHASEBOX_MEMORY_MAX="64M"\n' > "${pe}/env/pcg64.conf"
	printf '%s\n' "phasebox-test/memhog pcg64.conf" > "${pe}/package.env"
	write_make_conf "${name}" cgroup phasebox-cgroup "${native_off[@]}"
	emerge_run "${name}" "${timeout}" =phasebox-test/memhog-1
	check "${name}: emerge of memhog (PHASEBOX_MEMORY_MAX=64M, touches 200 MiB) fails" test "${emerge_status}" -ne 0
	check "${name}: emerge's output says src_compile of memhog hit PHASEBOX_MEMORY_MAX=64M, OOM-killed" \
		grep -qE '\* phasebox: src_compile of phasebox-test/memhog-1 hit PHASEBOX_MEMORY_MAX=64M \(peak [0-9.]+ MiB, [0-9]+ process(es)? OOM-killed\)' "${emerge_out}"
	pcg_check_phases "${name}" memhog src_compile
	pcg_check_nothing_left "${name}"
	rm -f "${pe}/package.env"
	kill_markers
}
