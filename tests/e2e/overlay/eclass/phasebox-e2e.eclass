# @ECLASS: phasebox-e2e.eclass
# @MAINTAINER:
# phasebox developers
# @SUPPORTED_EAPIS: 8
# @BLURB: probes for phasebox's end-to-end tests (tests/e2e/run)
# @DESCRIPTION:
# Test packages record what each phase saw into ${E2E_RESULTS} (a world-writable
# directory the runner names in make.conf), and start daemons whose command lines carry a
# marker unique to the runner's invocation (${E2E_MARKER}), so that the runner can tell
# whether they survived the phase.  Every phase a test looks at must be defined by the
# ebuild: Portage skips the undefined src phases of a package without SRC_URI.

case ${EAPI} in
	8) ;;
	*) die "${ECLASS}: EAPI ${EAPI:-0} not supported" ;;
esac

if [[ -z ${_PHASEBOX_E2E_ECLASS} ]]; then
_PHASEBOX_E2E_ECLASS=1

DESCRIPTION="phasebox end-to-end test package"
HOMEPAGE="https://example.invalid/phasebox"
LICENSE="public-domain"
SLOT="0"
KEYWORDS="amd64"
S=${WORKDIR}

# @FUNCTION: e2e_file
# @USAGE: <what>
# @DESCRIPTION:
# Print the name of the results file for <what> of this package's current phase.
e2e_file() {
	[[ -n ${E2E_RESULTS} && -d ${E2E_RESULTS} ]] ||
		die "${FUNCNAME[0]}: E2E_RESULTS='${E2E_RESULTS}' is not a directory"
	echo "${E2E_RESULTS}/${PN}.${EBUILD_PHASE_FUNC}.${1}"
}

# @FUNCTION: e2e_record
# @DESCRIPTION:
# Record this phase's cgroups, uid, capability and no_new_privs state (of the phase
# shell itself, not of a child) and its exported environment, sorted, NUL-separated.
e2e_record() {
	local self=${BASHPID}
	cat "/proc/${self}/cgroup" > "$(e2e_file cgroup)" || die
	id -u > "$(e2e_file uid)" || die
	grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "/proc/${self}/status" \
		> "$(e2e_file status)" || die
	env -0 | sort -z > "$(e2e_file env)" || die
}

# @FUNCTION: e2e_daemons
# @DESCRIPTION:
# Leave two daemons behind: a double-forked one (its parent exits at once, so it is
# re-parented away from the phase) and one in a session of its own (setsid).  Neither
# keeps the phase's stdout/stderr: Portage would otherwise wait for the log pipe.
e2e_daemons() {
	local marker="${E2E_MARKER:?}-${PN}-${EBUILD_PHASE}"
	( bash -c "exec -a '${marker}-fork' sleep 3600" </dev/null &>/dev/null & ) ||
		die "${FUNCNAME[0]}: cannot start the double-forked daemon"
	setsid bash -c "exec -a '${marker}-setsid' sleep 3600" </dev/null &>/dev/null &
	# Wait until both are in place (exec -a done), so the phase cannot end before them.
	local i
	for (( i = 0; i < 100; i++ )); do
		[[ $(pgrep -c -f -- "^${marker}-") == 2 ]] && break
		sleep 0.05
	done
	pgrep -a -f -- "^${marker}-" > "$(e2e_file daemons)"
	einfo "${FUNCNAME[0]}: started $(wc -l < "$(e2e_file daemons)") daemons marked '${marker}'"
}

fi
