# phasebox — Portage bashrc snippet: runs each src_* phase through the phasebox helpers.
#
# Source it from /etc/portage/bashrc, before anything else:
#	source @DATADIR@/phasebox.bashrc
# In a phase it isolates, it re-executes the phase's original invocation (argv and
# environment of the process Portage started, read from /proc) through the helper chain,
# so whatever was sourced before it runs twice.  See phasebox(8).
#
# Portage sources bashrc in every phase, `depend` included (PATH=/dev/null there), and
# saves everything it defines into ${T}/environment: this file defines only phasebox_*
# functions, leaves no variable behind, and returns at once where it has nothing to do.

# @FUNCTION: phasebox_initial_env
# @USAGE: <name>
# @DESCRIPTION:
# Set phasebox_value to NAME's value in this phase process's *initial* environment
# (/proc/$$/environ: exactly what it was started with), and return 1 when NAME is absent.
# The shell variable cannot be trusted for the guard: ${T}/environment may carry a copy.
phasebox_initial_env() {
	local e
	local -a phasebox_environ
	mapfile -d '' -t phasebox_environ < "/proc/$$/environ" || return 1
	for e in "${phasebox_environ[@]}"; do
		if [[ ${e} == "${1}="* ]]; then
			phasebox_value=${e#*=}
			return 0
		fi
	done
	return 1
}

# @FUNCTION: phasebox_fail
# @USAGE: <message>
# @DESCRIPTION:
# Fail the phase before any build code runs, naming the package and the phase.
phasebox_fail() {
	die "phasebox: ${CATEGORY}/${PF} ${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}}: ${*}"
}

# @FUNCTION: phasebox_check_vars
# @DESCRIPTION:
# Validate every PHASEBOX_* variable; warn about names phasebox does not know (typos).
phasebox_check_vars() {
	local v
	for v in "${!PHASEBOX_@}"; do
		case ${v} in
			PHASEBOX_REEXEC) ;;
			PHASEBOX_REQUIRED)
				# phasebox.eclass's: an ebuild sets it before inherit
				[[ ${!v} == @(test|always|manual) ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected test, always or manual"
				;;
			PHASEBOX_CGROUP_HIERARCHY)
				[[ ${!v} == @(auto|v2|v1) ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected auto, v2 or v1"
				;;
			PHASEBOX_USERNS)
				[[ ${!v} == @(auto|never|always) ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected auto, never or always"
				;;
			PHASEBOX_KILL_TIMEOUT)
				[[ ${!v} =~ ^[1-9][0-9]{0,2}$ && ${!v} -le 600 ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected whole seconds from 1 to 600"
				;;
			*)
				ewarn "phasebox: ${CATEGORY}/${PF} ${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}}: unknown variable ${v} ignored (see phasebox(8))"
				;;
		esac
	done
}

# @FUNCTION: phasebox_plan
# @DESCRIPTION:
# Fill phasebox_cgroup (0/1) and phasebox_ns (phasebox-unshare options) for this phase
# from FEATURES, minus Portage's own exceptions to network-sandbox: src_unpack (it may
# fetch from a VCS; PROPERTIES=live), src_test with PROPERTIES=test_network (ALLOW_TEST
# decides whether such a test runs at all; when it runs, it has the network), and every
# phase of an ebuild with RESTRICT=network-sandbox.
phasebox_plan() {
	local f
	phasebox_cgroup=0
	phasebox_ns=()
	for f in ${FEATURES}; do
		case ${f} in
			phasebox-cgroup) phasebox_cgroup=1 ;;
			phasebox-network-sandbox)
				[[ ${EBUILD_PHASE} == unpack ]] && continue
				[[ ${EBUILD_PHASE} == test && " ${PORTAGE_PROPERTIES} " == *" test_network "* ]] && continue
				[[ " ${PORTAGE_RESTRICT} " == *" network-sandbox "* ]] && continue
				phasebox_ns+=( --net --uts )
				;;
			phasebox-ipc-sandbox) phasebox_ns+=( --ipc ) ;;
			phasebox-pid-sandbox) phasebox_ns+=( --pid ) ;;
			phasebox-mount-sandbox) phasebox_ns+=( --mount ) ;;
		esac
	done
}

# @FUNCTION: phasebox_origin
# @DESCRIPTION:
# Record the namespaces and cgroups of the process Portage started for this phase into
# ${T}/phasebox.<phase>.origin ("ns <name> <link>" and "cg <line of /proc/self/cgroup>"),
# for phasebox.eclass's phasebox_has, which compares them with the re-executed phase's
# own.  A file, not a variable: nothing of it can reach ${T}/environment, and each original
# run of a phase rewrites it just before it re-executes.
phasebox_origin() {
	local f="${T}/phasebox.${EBUILD_PHASE}.origin" n l
	[[ -n ${T} && -d ${T} && -w ${T} ]] || return 0
	rm -f "${f}" 2>/dev/null
	{
		for n in net ipc pid mnt uts; do
			l=$(readlink "/proc/${BASHPID}/ns/${n}") && echo "ns ${n} ${l}"
		done
		while read -r l; do echo "cg ${l}"; done < "/proc/${BASHPID}/cgroup"
	} > "${f}" 2>/dev/null ||
		ewarn "phasebox: ${CATEGORY}/${PF} ${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}}: cannot write ${f}: phasebox_has will answer no"
}

# @FUNCTION: phasebox_reexec
# @DESCRIPTION:
# Replace this phase process by the helper chain, which runs the phase's original
# invocation again: argv from /proc/$$/cmdline, environment from /proc/$$/environ (what
# Portage passed, sys-apps/sandbox's preload included) plus the guard PHASEBOX_REEXEC.
# $$ is the process Portage started, whether bashrc runs in it or in ebuild.sh's
# __ebuild_main subshell.
phasebox_reexec() {
	local libexec="@LIBEXECDIR@" phase=${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}} h
	local -a phasebox_environ phasebox_argv chain=() helpers=( phasebox-reap )
	local -a who=( --package "${CATEGORY}/${PF}" --phase "${phase}" )
	(( phasebox_cgroup )) && helpers+=( phasebox-cgroup )
	(( ${#phasebox_ns[@]} )) && helpers+=( phasebox-unshare )
	for h in "${helpers[@]}"; do
		[[ -x ${libexec}/${h} ]] ||
			phasebox_fail "${libexec}/${h} is missing or not executable (reinstall phasebox, or remove phasebox-* from FEATURES)"
	done
	mapfile -d '' -t phasebox_environ < "/proc/$$/environ" ||
		phasebox_fail "cannot read /proc/$$/environ"
	mapfile -d '' -t phasebox_argv < "/proc/$$/cmdline" ||
		phasebox_fail "cannot read /proc/$$/cmdline"
	(( phasebox_cgroup )) && chain+=(
		"${libexec}/phasebox-cgroup" "${who[@]}"
		--hierarchy "${PHASEBOX_CGROUP_HIERARCHY:-auto}"
		--kill-timeout "${PHASEBOX_KILL_TIMEOUT:-10}" --
	)
	(( ${#phasebox_ns[@]} )) && chain+=(
		"${libexec}/phasebox-unshare" "${who[@]}" "${phasebox_ns[@]}"
		--userns "${PHASEBOX_USERNS:-auto}" --
	)
	chain+=( "${libexec}/phasebox-reap" "${who[@]}" --exec "${BASH}" -- )
	phasebox_origin
	exec env -i "${phasebox_environ[@]}" PHASEBOX_REEXEC="${EBUILD_PHASE}" \
		"${chain[@]}" "${phasebox_argv[@]}"
}

# @FUNCTION: phasebox_main
# @DESCRIPTION:
# Decide, for this phase, whether to isolate it, and if so re-execute it.
phasebox_main() {
	local phasebox_value phasebox_cgroup
	local -a phasebox_ns
	# Only src_* phases: pkg_* phases may legitimately (re)start daemons.
	[[ ${EBUILD_PHASE} == @(unpack|prepare|configure|compile|test|install) ]] || return 0

	if phasebox_initial_env PHASEBOX_REEXEC; then
		# The re-executed phase.  Unset the guard so that ${T}/environment never carries it.
		unset PHASEBOX_REEXEC
		[[ ${phasebox_value} == "${EBUILD_PHASE}" ]] ||
			phasebox_fail "re-executed as phase '${phasebox_value}' but this is '${EBUILD_PHASE}'; refusing to re-execute again"
		return 0
	fi
	unset PHASEBOX_REEXEC

	[[ " ${FEATURES} " == *" phasebox-"* ]] || return 0
	phasebox_plan
	(( phasebox_cgroup || ${#phasebox_ns[@]} )) || return 0
	phasebox_check_vars
	phasebox_reexec
}

phasebox_main
unset -f phasebox_main phasebox_reexec phasebox_origin phasebox_plan phasebox_check_vars phasebox_fail phasebox_initial_env
