# tests/e2e/scenarios/containers.sh — real Portage in a Docker-like environment built on
# this machine without a container engine (tests/restrict/restrict: a read-only cgroupfs in
# a private mount namespace, Docker's capability bounding set, a seccomp filter like
# Docker's default — Docker's own profile from ../shared/data when it is there, else the
# rules derived from it).  emerge runs in it with PHASEBOX_FALLBACK=fail (the phase fails
# before build code, with the cause and the remedy) and with warn (every phase runs, one
# warning each, the subreaper still kills the daemons); `phasebox doctor --json`, run in
# the same environment as root and as portage, must have predicted both.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)

e2e_more_scenarios+=(containers)

# A portageq that reads this run's configuration (the scratch EPREFIX), for doctor: it
# takes FEATURES, PHASEBOX_FALLBACK and PORTAGE_IONICE_COMMAND from Portage itself.
containers_portageq() {
	local bin=${scratch}/portageq-bin
	mkdir -p "${bin}"
	if [[ -n ${portage_src} ]]; then
		# shellcheck disable=SC2016 # the wrapper script expands $E2E_REPOSITORIES and $@ when it runs
		printf '#!/bin/sh\nexec env PYTHONPATH=%s PORTAGE_OVERRIDE_EPREFIX=%s PORTAGE_REPOSITORIES="$E2E_REPOSITORIES" %s %s "$@"\n' \
			"${portage_src}/lib" "${eprefix}" "${python}" "${portage_src}/bin/portageq" > "${bin}/portageq"
	else
		# shellcheck disable=SC2016 # the wrapper script expands $E2E_REPOSITORIES and $@ when it runs
		printf '#!/bin/sh\nexec env PORTAGE_OVERRIDE_EPREFIX=%s PORTAGE_REPOSITORIES="$E2E_REPOSITORIES" %s "$@"\n' \
			"${eprefix}" "$(command -v portageq)" > "${bin}/portageq"
	fi
	chmod -R a+rX "${bin}"
	chmod 755 "${bin}/portageq"
	containers_path=${bin}:/usr/sbin:/usr/bin:/sbin:/bin
}

# containers_doctor <run name> <user|root> <fallback>: doctor's verdicts (token verdict, one
# per line) in ${res}/doctor.<user>.<fallback>; FEATURES and PHASEBOX_FALLBACK from Portage.
containers_doctor() {
	local name=$1 who=$2 fallback=$3 f
	local -a as=()
	[[ ${who} == root ]] || as=( --user "${who}" )
	f=${res}/doctor.${who}.${fallback}
	env -i PATH="${containers_path}" E2E_REPOSITORIES="${repositories}" \
		"${containers_restrict[@]}" "${as[@]}" -- "${pb_prefix}/bin/phasebox" doctor --json > "${f}.json"
	echo "$?" > "${f}.rc"
	check "${name}: doctor (${who}) read FEATURES and PHASEBOX_FALLBACK=${fallback} from Portage" \
		grep -q "\"fallback\":\"${fallback}\",\"features_source\":\"portageq\"" "${f}.json"
	check "${name}: doctor (${who}) found the adopt hook in PORTAGE_IONICE_COMMAND" \
		grep -q '"name":"delegated route","ok":true' "${f}.json"
	check "${name}: doctor (${who}) says phases are isolated in their own shell (the installed builtin loads)" \
		grep -qF '"name":"phase method","ok":true,"detail":"in the phase'"'"'s own shell (bash loads '"${pb_libexec}"'/phasebox-builtin.so)"' "${f}.json"
	check "${name}: doctor (${who}) judged phasebox-ipc-sandbox, which FEATURES lacks, as not asked for" \
		grep -q '{"token":"phasebox-ipc-sandbox","asked":false' "${f}.json"
	# The Portage configuration, as Portage itself gives it: the scratch EPREFIX's.
	check "${name}: doctor (${who}) read Portage's version and its configuration root (${eprefix}/)" \
		grep -qE '"portage":\{"found":true,"version":"[0-9]+\.[0-9]+[^"]*","version_source":"[^"]+","config_root":"'"${eprefix}"'/","config_root_source":"portageq"' "${f}.json"
	check "${name}: doctor (${who}) found the installed snippet sourced once by the bashrc in effect" \
		grep -qF '{"name":"bashrc snippet","ok":true,"detail":"sourced once: '"${eprefix}"'/etc/portage/bashrc:'"$(grep -n '^source ' "${eprefix}/etc/portage/bashrc" | cut -d: -f1)"', '"${pb_prefix}"'/share/phasebox/phasebox.bashrc (this installation'"'"'s)"' "${f}.json"
	# The harness's bashrc copies the phase's environment before the snippet, on purpose
	# (install_phasebox, tests/e2e/lib.sh): doctor names that line.
	check "${name}: doctor (${who}) says the harness's addwrite runs before the snippet" \
		grep -qF '{"name":"snippet first","ok":false,"detail":"'"${eprefix}"'/etc/portage/bashrc:'"$(grep -n 'addwrite' "${eprefix}/etc/portage/bashrc" | head -n 1 | cut -d: -f1)"' runs '"'"'addwrite' "${f}.json"
	check "${name}: doctor (${who}) found Portage's own namespace sandboxes off (FEATURES -ipc-sandbox -network-sandbox -pid-sandbox)" \
		grep -qF '"name":"native network-sandbox","ok":true,"detail":"phasebox-network-sandbox alone (the src_* phases)"' "${f}.json"
	"${repo}/tests/restrict/check-doctor-json" "${repo}/tests/restrict/doctor.schema.json" "${f}.json" \
		phasebox-cgroup phasebox-network-sandbox > "${f}" 2>&1
	check "${name}: doctor --json (${who}, ${fallback}) conforms to its schema" test "$(head -c 3 "${f}")" = ok$'\t'
}

containers_verdict() { # <user> <fallback> <token>: the verdict doctor gave
	awk -F '\t' -v t="$3" '$1 == t { print $2 }' "${res}/doctor.${1}.${2}"
}

scenario_containers() {
	local name log phase n profile="${repo}/../shared/data/docker-seccomp-default.json"
	local -a saved=( "${emerge_cmd[@]}" ) phases=( src_unpack src_prepare src_configure src_compile src_test src_install )
	containers_restrict=( "${repo}/tests/restrict/restrict" --ro-cgroup --docker-caps )
	if [[ -r ${profile} ]]; then
		containers_restrict+=( --profile "$(realpath "${profile}")" )
		info "containers: Docker's profile ${profile}"
	else
		containers_restrict+=( --seccomp )
		info "containers: no ${profile}: the seccomp rules derived from Docker's profile"
	fi
	emerge_cmd=( "${containers_restrict[@]}" -- "${saved[@]}" )
	containers_portageq

	name=containers-fail
	write_make_conf "${name}" phasebox-cgroup phasebox-network-sandbox "${native_off[@]}"
	emerge_run "${name}" 180 =phasebox-test/daemons-1
	check "${name}: emerge fails (exit ${emerge_status})" test "${emerge_status}" -ne 0
	check "${name}: src_unpack's build code never ran (no record)" test ! -e "${res}/daemons.src_unpack.cgroup"
	check "${name}: the failure names the package, the phase, the read-only mount and EROFS" \
		grep -qE "^phasebox-cgroup: phasebox-test/daemons-1 src_unpack: .*Read-only file system$" "${emerge_out}"
	check "${name}: the hint names the read-only cgroupfs and the remedy" \
		grep -qE "^phasebox-cgroup: phasebox-test/daemons-1 src_unpack: hint: the cgroup file system is mounted read-only.*; remedy: .*PHASEBOX_FALLBACK=warn" "${emerge_out}"
	containers_doctor "${name}" root fail
	containers_doctor "${name}" portage fail
	check "${name}: doctor as portage said phasebox-cgroup fails" test "$(containers_verdict portage fail phasebox-cgroup)" = fails
	check "${name}: doctor as portage said phasebox-network-sandbox fails" test "$(containers_verdict portage fail phasebox-network-sandbox)" = fails
	check "${name}: doctor as root said phasebox-cgroup fails" test "$(containers_verdict root fail phasebox-cgroup)" = fails
	check "${name}: doctor exited 1" test "$(< "${res}/doctor.portage.fail.rc")" = 1
	kill_markers

	name=containers-warn
	extra_conf='PHASEBOX_FALLBACK="warn"' write_make_conf "${name}" phasebox-cgroup phasebox-network-sandbox "${native_off[@]}"
	emerge_run "${name}" 180 =phasebox-test/daemons-1
	check_emerge_ok "${name}" "daemons under PHASEBOX_FALLBACK=warn"
	check_phases "${name}" daemons native "${phases[@]}"
	log=$(build_log "${name}" daemons)
	for phase in "${phases[@]}"; do
		n=$(grep -cE "^phasebox-reap: phasebox-test/daemons-1 ${phase}: warning: PHASEBOX_FALLBACK=warn: .*the phase's cgroup \(.*Read-only file system" "${log:-/dev/null}")
		check "${name}: ${phase} has exactly one warning naming the cgroup it dropped (${n})" test "${n}" = 1
	done
	check "${name}: the warnings name the network namespace dropped too" \
		grep -qE "warning: PHASEBOX_FALLBACK=warn: .*the network, uts namespaces \(" "${log:-/dev/null}"
	check "${name}: and say that the subreaper alone kills what is left" \
		grep -q "killed by the subreaper phasebox-reap only" "${log:-/dev/null}"
	n=$(marker_pids daemons)
	check "${name}: the subreaper killed the daemons of src_compile and src_test (${n:-none} left)" test -z "${n}"
	for phase in src_compile src_test; do
		check "${name}: the build log has the subreaper's QA notice for ${phase}" \
			grep -qE "QA Notice: phasebox: ${phase} of phasebox-test/daemons-1 left [0-9]+ process" "${log:-/dev/null}"
	done
	containers_doctor "${name}" portage warn
	check "${name}: doctor as portage said phasebox-cgroup degrades under warn" test "$(containers_verdict portage warn phasebox-cgroup)" = degrades
	check "${name}: doctor as portage said phasebox-network-sandbox degrades under warn" test "$(containers_verdict portage warn phasebox-network-sandbox)" = degrades
	kill_markers
	emerge_cmd=( "${saved[@]}" )
}
