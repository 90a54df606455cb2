# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # the harness's variables (tests/e2e/run, lib.sh), read and set
# Scenario "sandbox-enforced": sys-apps/sandbox still refuses writes outside SANDBOX_WRITE in
# a phase phasebox isolated — in its own shell (the builtin, which runs its links with
# SANDBOX_ON=0 for their own cgroupfs writes) and re-executed.  sbescape's src_compile
# (portage) and src_install (root) each write a file in a root-owned directory outside
# the sandbox's write list (below /var/lib: the scratch directory is below /tmp, which
# /etc/sandbox.conf lets every build write; removed at the end): with sandbox, the emerge
# fails with sandbox's violation summary and neither file exists; the twin without sandbox
# writes the root phase's file.

e2e_more_scenarios+=(sandbox-enforced)

scenario_sandbox-enforced() {
	local name method dir=/var/lib/phasebox-e2e.${marker}
	if (( ! have_sandbox )); then
		skip_scenario "sandbox-enforced scenario: /usr/bin/sandbox does not exist (make test-deps installs sys-apps/sandbox from its snapshot; or install sys-apps/sandbox)"
		return
	fi
	mkdir -m 0755 "${dir}" || { not_ok "sandbox-enforced: mkdir ${dir}"; return; }
	for method in auto reexec; do
		name=sandbox-enforced-${method}
		rm -f "${dir}"/*
		extra_conf="PHASEBOX_METHOD=\"${method}\"
E2E_ESCAPE=\"${dir}/${method}\""
		write_make_conf "${name}" sandbox usersandbox phasebox-cgroup phasebox-network-sandbox \
			phasebox-pid-sandbox "${native_off[@]}"
		extra_conf=
		emerge_run "${name}" 240 =phasebox-test/sbescape-1
		check "${name}: the emerge fails" test "${emerge_status}" -ne 0
		check "${name}: sys-apps/sandbox reports the write of the isolated src_compile" \
			grep -q "ACCESS VIOLATION SUMMARY" "${emerge_out}"
		check "${name}: the violation (denied) names the file outside the sandbox" \
			grep -qxF "P: ${dir}/${method}.compile" "${emerge_out}"
		check "${name}: src_compile ran isolated (a phasebox leaf)" \
			grep -qE '^0::/phasebox/.*\.pb[0-9]+' "${res}/sbescape.src_compile.cgroup"
		check "${name}: nothing was written outside the sandbox ($(find "${dir}" -mindepth 1 -printf '%f '))" \
			test -z "$(find "${dir}" -mindepth 1)"
	done
	# The twin: without sys-apps/sandbox the same phases write; src_install (root) succeeds.
	name=sandbox-enforced-off
	extra_conf="E2E_ESCAPE=\"${dir}/off\""
	write_make_conf "${name}" -sandbox -usersandbox phasebox-cgroup "${native_off[@]}"
	extra_conf=
	emerge_run "${name}" 240 =phasebox-test/sbescape-1
	check "${name}: without sandbox, no violation summary" not grep -q "ACCESS VIOLATION SUMMARY" "${emerge_out}"
	check "${name}: without sandbox, root's src_install wrote outside (${dir}/off.install)" \
		test -s "${dir}/off.install"
	rm -rf "${dir}"
}
