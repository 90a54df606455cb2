# tests/e2e/scenarios/eclass.sh — phasebox.eclass with real Portage (sourced by tests/e2e/run).
#
# The test overlay gets the repository's eclass/phasebox.eclass copied into its eclass/
# (the scratch copy: the checkout's overlay stays stand-alone), and phasebox-service is
# installed where the eclass looks for it, ${BROOT}/usr/libexec/phasebox (BROOT is the
# scratch EPREFIX here).
#   service: src_test starts a service (with a double-forked daemon of its own) through
#     phasebox_start_service and then dies, is SIGKILLed (no trap runs) or stops it; with no
#     phasebox FEATURES and with phasebox-cgroup: the service and its daemon are gone when
#     emerge ends, and phasebox-cgroup reports no leftover (the EXIT trap stopped it first).
#     Negative twin: the same service started with '&' survives the die.
#   has: phasebox_has cgroup/network/ipc/pid/mount in src_unpack, src_compile, src_test,
#     src_install under each FEATURES combination, against the table of what phasebox does.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)

e2e_more_scenarios+=(eclass)

eclass_setup() {
	[[ -n ${eclass_ready:-} ]] && return 0
	cp "${repo}/eclass/phasebox.eclass" "${overlay}/eclass/" || die_harness "cannot copy phasebox.eclass"
	chmod a+r "${overlay}/eclass/phasebox.eclass"
	make -s -C "${repo}" install DESTDIR="${eprefix}" PREFIX=/usr LIBEXECDIR=/usr/libexec/phasebox \
		> "${out}/make-install-eprefix.log" 2>&1 || {
		cat "${out}/make-install-eprefix.log"
		die_harness "make install DESTDIR=${eprefix} failed"
	}
	chmod -R a+rX "${eprefix}/usr"
	[[ -x ${eprefix}/usr/libexec/phasebox/phasebox-service ]] ||
		die_harness "no ${eprefix}/usr/libexec/phasebox/phasebox-service after make install"
	eclass_ready=1
}

# check_service_gone <run name>: neither the server nor its daemon survived.
check_service_gone() {
	local name=$1 pids left
	pids=$(cat "${res}/service.src_test.main" "${res}/service.src_test.daemon" 2>/dev/null | tr '\n' ' ')
	check "${name}: src_test started the service and its daemon (pids: ${pids:-none})" \
		test "$(wc -w <<< "${pids}")" -eq 2
	left=$(marker_pids service)
	check "${name}: no process of the service survives (${left:-none})" test -z "${left}"
}

scenario_eclass() {
	local name variant log end left
	eclass_setup

	for end in die kill stop; do
		for variant in none cgroup; do
			name=eclass-${end}-${variant}
			extra_conf="E2E_SERVICE_END=\"${end}\""
			if [[ ${variant} == cgroup ]]; then
				write_make_conf "${name}" phasebox-cgroup "${native_off[@]}"
			else
				# No phasebox at all, not even the root hook, whose keeper would kill
				# what is left when emerge ends: the service must be gone by the
				# eclass's own doing.
				no_adopt=1 write_make_conf "${name}" "${native_off[@]}"
			fi
			emerge_run "${name}" 180 =phasebox-test/service-1
			if [[ ${end} == stop ]]; then
				check_emerge_ok "${name}" service
			else
				check "${name}: emerge fails (exit ${emerge_status})" test "${emerge_status}" -ne 0
			fi
			[[ ${end} == die ]] && check "${name}: emerge's output has the die message" \
				grep -q 'deliberate failure with a service running' "${emerge_out}"
			check_service_gone "${name}"
			# After a SIGKILL no trap runs: the supervisor stops the service when it sees the
			# phase shell gone, racing phasebox's own end-of-phase kill, which may report it.
			if [[ ${end} != kill ]]; then
				log=$(build_log "${name}" service)
				check "${name}: the build log has no leftover notice (the service was stopped, not reaped)" \
					not grep -q 'QA Notice: phasebox: src_test of phasebox-test/service-1 left' "${log:-/dev/null}"
			fi
			[[ ${variant} == cgroup ]] && check_phases "${name}" service phasebox src_test
			kill_markers
		done
	done

	# The negative twin: a plain '&' service survives the phase's die (no phasebox token,
	# no root hook, Portage's pid-sandbox off).
	name=eclass-plain
	extra_conf='E2E_SERVICE_END="plain"'
	no_adopt=1 write_make_conf "${name}" "${native_off[@]}"
	emerge_run "${name}" 180 =phasebox-test/service-1
	check "${name}: emerge fails (exit ${emerge_status})" test "${emerge_status}" -ne 0
	left=$(marker_pids service)
	check "${name}: the plain '&' service and its daemon survive the die (${left:-none})" \
		test "$(wc -w <<< "${left}")" -eq 2
	kill_markers
	# shellcheck disable=SC2034 # lib.sh's write_make_conf reads it
	extra_conf=

	eclass_has_runs
}

# What phasebox_has must answer, per FEATURES combination and phase: "<what>=<yes|no> ...".
# has is no PROPERTIES=live ebuild, so its src_unpack is network-sandboxed too (Portage's
# rule); phasebox-pid-sandbox implies a mount namespace (a fresh /proc); Portage's own
# sandboxes never count.
eclass_has_expect() { # <combination> <phase>
	local c=$1 phase=$2 cg=no net=no ipc=no pid=no mnt=no
	case ${c} in
		cgroup) cg=yes ;;
		network) net=yes ;;
		ipc-mount) ipc=yes mnt=yes ;;
		pid) pid=yes mnt=yes ;;
		all | all-native) cg=yes net=yes ipc=yes pid=yes mnt=yes ;;
	esac
	echo "cgroup=${cg} network=${net} ipc=${ipc} pid=${pid} mount=${mnt}"
}

eclass_has_runs() {
	local c name phase want got
	local -a tokens
	for c in none native cgroup network ipc-mount pid all all-native; do
		name=eclass-has-${c}
		case ${c} in
			none) tokens=("${native_off[@]}") ;;
			native) tokens=("${native_on[@]}") ;;
			cgroup) tokens=(phasebox-cgroup "${native_off[@]}") ;;
			network) tokens=(phasebox-network-sandbox "${native_off[@]}") ;;
			ipc-mount) tokens=(phasebox-ipc-sandbox phasebox-mount-sandbox "${native_off[@]}") ;;
			pid) tokens=(phasebox-pid-sandbox "${native_off[@]}") ;;
			all) tokens=(phasebox-cgroup "${ns_tokens[@]}" "${native_off[@]}") ;;
			all-native) tokens=(phasebox-cgroup "${ns_tokens[@]}" "${native_on[@]}") ;;
		esac
		write_make_conf "${name}" "${tokens[@]}"
		emerge_run "${name}" 240 =phasebox-test/has-1
		check_emerge_ok "${name}" has
		for phase in src_unpack src_compile src_test src_install; do
			want=$(eclass_has_expect "${c}" "${phase}")
			got=$(awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $1, $2 }' "${res}/has.${phase}.has" 2>/dev/null)
			check "${name}: phasebox_has in ${phase}: ${got:-nothing recorded} (want ${want})" \
				test "${got}" = "${want}"
		done
	done
}
