# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)
# Scenario "limits": per-package limits through package.env, the OOM message, the
# accounting records and `phasebox report`, with real Portage (FEATURES=userpriv: the
# src_compile under test runs as portage, so its limit is applied by the root keeper).
#
#   memhog    package.env gives it PHASEBOX_MEMORY_MAX=64M (and MAKEOPTS=-j3); its
#             src_compile touches 200 MiB: OOM-killed, emerge fails, and says why
#   memfree   the same ebuild without a package.env entry: completes (the twin)
#   memsneaky memhog whose global scope unsets PHASEBOX_MEMORY_MAX: the limit root
#             registered in pkg_setup (from the environment Portage passed) still holds
#   daemons   leaves 2 daemons in src_compile and src_test: counted in the records

e2e_more_scenarios+=(limits)

limits_record() { # <pn> <phase func> <python expression on r>: print it for the last record
	"${E2E_PYTHON:-/usr/bin/python3}" - "${limits_log}" "phasebox-test/${1}-1" "${2}" "${3}" <<-'PY'
		import json, sys
		log, pkg, phase, expr = sys.argv[1:]
		recs = [json.loads(l) for l in open(log) if l.strip()]
		recs = [r for r in recs if r.get("package") == pkg and r.get("phase") == phase]
		if not recs:
		    sys.exit("no record of %s %s" % (pkg, phase))
		r = recs[-1]
		print(eval(expr))
	PY
}

limits_check_record() { # <what> <pn> <phase func> <python condition on r>
	local got
	got=$(limits_record "${2}" "${3}" "${4}" 2>&1)
	check "limits: ${1} (${2} ${3}: ${4} -> ${got})" test "${got}" = True
}

limits_mirrors_left() { # v1 limit/accounting mirrors of the test packages still present
	local c m
	for c in memory pids blkio cpu; do
		m=$(awk -v c="${c}" '{ for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" && $(i+3) ~ ("(^|,)" c "(,|$)")) { print $5; exit } }' /proc/self/mountinfo)
		[[ -n ${m} ]] && find "${m}" -mindepth 1 -type d -name 'phasebox-test:mem*' 2>/dev/null
	done
	return 0
}

scenario_limits() {
	local name=limits pe=${eprefix}/etc/portage out_hog out_free out_sneaky
	limits_log=${eprefix}/var/log/phasebox/accounting.jsonl
	mkdir -p "${pe}/env"
	cat > "${pe}/env/limit64.conf" <<-'CONF'
		PHASEBOX_MEMORY_MAX="64M"
		MAKEOPTS="-j3"
	CONF
	printf '%s\n' "phasebox-test/memhog limit64.conf" "phasebox-test/memsneaky limit64.conf" > "${pe}/package.env"

	write_make_conf "${name}-hog" phasebox-cgroup "${native_on[@]}"
	emerge_run "${name}-hog" 300 phasebox-test/memhog
	out_hog=${emerge_out}
	check "limits: emerge of memhog (64M, touches 200 MiB) fails" test "${emerge_status}" -ne 0
	check "limits: emerge's output says src_compile of memhog hit PHASEBOX_MEMORY_MAX=64M, OOM-killed" \
		grep -qE '\* phasebox: src_compile of phasebox-test/memhog-1 hit PHASEBOX_MEMORY_MAX=64M \(peak [0-9.]+ MiB, [0-9]+ process(es)? OOM-killed\)' "${out_hog}"
	check "limits: ... with the hint naming its MAKEOPTS" \
		grep -qF '* phasebox: hint: lower the make jobs for this package (MAKEOPTS=-j3) or raise PHASEBOX_MEMORY_MAX, in package.env' "${out_hog}"
	limits_check_record "memhog's record: the limit, OOM kills, written by the keeper for uid 250" memhog src_compile \
		'r["limits"] == {"memory_max": "64M"} and r["oom_kills"] >= 1 and r["writer"] == "phasebox-keeper" and r["uid"] == 250 and r["makeopts"] == "-j3"'

	write_make_conf "${name}-free" phasebox-cgroup "${native_on[@]}"
	emerge_run "${name}-free" 300 phasebox-test/memfree
	out_free=${emerge_out}
	check_emerge_ok "${name}-free" "of memfree (no package.env entry, touches 200 MiB)"
	check "limits: (twin) no OOM message for memfree" not grep -q 'OOM-killed' "${out_free}"
	check "limits: memfree's build log has the accounting line of src_compile, no limits" \
		grep -qE '\* phasebox: src_compile of phasebox-test/memfree-1: .*, peak [0-9.]+ MiB, .*no limits$' "$(build_log "${name}-free" memfree)"
	limits_check_record "memfree's peak >= the 200 MiB it touched, no limits, no OOM kill" memfree src_compile \
		'r["limits"] == {} and r["mem_peak"] >= 200 << 20 and r["oom_kills"] == 0 and r["status"] == 0'
	limits_check_record "memfree's src_install (root) is accounted by phasebox-cgroup itself" memfree src_install \
		'r["uid"] == 0 and r["writer"] == "phasebox-cgroup" and r["status"] == 0'

	write_make_conf "${name}-sneaky" phasebox-cgroup "${native_on[@]}"
	emerge_run "${name}-sneaky" 300 phasebox-test/memsneaky
	out_sneaky=${emerge_out}
	check "limits: memsneaky, whose global scope unsets the limit, is still OOM-killed at 64M" \
		grep -qE '\* phasebox: src_compile of phasebox-test/memsneaky-1 hit PHASEBOX_MEMORY_MAX=64M' "${out_sneaky}"
	check "limits: ... and its own check saw the variable unset (the limit is root's, not the phase's)" \
		not grep -q 'the global scope did not unset' "${out_sneaky}"

	# A package that leaves daemons: its records count them (phasebox-reap killed them and
	# told phasebox-cgroup, which told the keeper).
	write_make_conf "${name}-daemons" phasebox-cgroup "${native_on[@]}"
	emerge_run "${name}-daemons" 300 phasebox-test/daemons
	check_emerge_ok "${name}-daemons" "of daemons"
	limits_check_record "daemons' src_compile record counts the 2 daemons it left" daemons src_compile 'r["orphans"] == 2'
	limits_check_record "(twin) its src_configure left nothing" daemons src_configure 'r["orphans"] == 0'

	"${pb_prefix}/bin/phasebox" report --log "${limits_log}" > "${out}/report.txt" 2>&1
	check "limits: phasebox report exits 0" test $? -eq 0
	check "limits: phasebox report lists memhog and memfree" \
		grep -q 'phasebox-test/memhog-1 src_compile.*OOM-killed' "${out}/report.txt"
	check "limits: ... memfree too" grep -q 'phasebox-test/memfree-1 src_compile' "${out}/report.txt"
	check "limits: ... and that daemons' src_compile and src_test left processes" \
		grep -qE 'phasebox-test/daemons-1 src_test: [0-9]+ processes in [0-9]+ runs?' "${out}/report.txt"
	info "phasebox report --log ${limits_log}:"
	sed 's/^/#   /' "${out}/report.txt"

	check "limits: no phase leaf left" test -z "$(leftover_leaves)"
	check "limits: no v1 limit or accounting mirror left" test -z "$(limits_mirrors_left)"
	rm -f "${pe}/package.env" "${pe}/env/limit64.conf"
}
