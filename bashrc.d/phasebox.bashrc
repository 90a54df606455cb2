# phasebox — Portage bashrc snippet: runs each src_* phase through the phasebox helpers.
#
# Source it from /etc/portage/bashrc, before anything else:
#	source @DATADIR@/phasebox.bashrc
# In a phase it isolates, it runs the helper chain inside this very shell with the bash
# builtin phasebox_isolate (phasebox-builtin.so; PHASEBOX_METHOD=auto or builtin), which
# comes back in the isolated phase, so nothing runs twice; or (PHASEBOX_METHOD=reexec, the
# network proxy, a bash that cannot load the builtin) it re-executes the phase's original
# invocation (argv and environment of the process Portage started, read from /proc)
# through the helper binaries, so whatever was sourced before it runs twice.  See
# phasebox(8).
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
			PHASEBOX_FALLBACK)
				[[ ${!v} == @(fail|warn) ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected fail or warn"
				;;
			PHASEBOX_METHOD)
				[[ ${!v} == @(auto|builtin|reexec) ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected auto, builtin or reexec"
				;;
			PHASEBOX_SUMMARY)
				[[ ${!v} == @(show|quiet) ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected show or quiet"
				;;
			PHASEBOX_KILL_TIMEOUT)
				[[ ${!v} =~ ^[1-9][0-9]{0,2}$ && ${!v} -le 600 ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected whole seconds from 1 to 600"
				;;
			PHASEBOX_MEMORY_MAX|PHASEBOX_MEMORY_HIGH)
				phasebox_is_size "${!v}" ||
					phasebox_fail "${v}='${!v}' is not valid: expected a size: whole bytes, or a number (up to 3 decimals) with K, M, G or T (powers of 1024), or a percentage of RAM from 1% to 100%"
				;;
			PHASEBOX_MEMORY_SWAP_MAX)
				[[ ${!v} == 0 ]] || phasebox_is_size "${!v}" ||
					phasebox_fail "${v}='${!v}' is not valid: expected a size (0 for no swap): whole bytes, or a number (up to 3 decimals) with K, M, G or T (powers of 1024), or a percentage of RAM from 1% to 100%"
				;;
			PHASEBOX_PIDS_MAX)
				[[ ${!v} =~ ^[1-9][0-9]{0,6}$ && ${!v} -le 4194304 ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected a whole number of tasks from 1 to 4194304"
				;;
			PHASEBOX_CPU_MAX)
				phasebox_is_cpus "${!v}" ||
					phasebox_fail "${v}='${!v}' is not valid: expected a number of CPUs greater than 0 (up to 3 decimals, at most 4096), such as 4 or 2.5"
				;;
			PHASEBOX_CPU_WEIGHT|PHASEBOX_IO_WEIGHT)
				[[ ${!v} =~ ^[1-9][0-9]{0,4}$ && ${!v} -le 10000 ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected a whole number from 1 to 10000 (100 is the default share)"
				;;
			PHASEBOX_LOG)
				[[ ${!v} == /*[!/].jsonl && ${!v} != *//* && /${!v}/ != */./* && /${!v}/ != */../* ]] ||
					phasebox_fail "${v}='${!v}' is not valid: expected an absolute path ending in .jsonl, with no '.', '..' or empty component"
				;;
			PHASEBOX_NETWORK_ALLOW)
				phasebox_check_allow "${v}" "${!v}"
				;;
			*)
				ewarn "phasebox: ${CATEGORY}/${PF} ${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}}: unknown variable ${v} ignored (see phasebox(8))"
				;;
		esac
	done
}

# @FUNCTION: phasebox_is_size
# @USAGE: <value>
# @DESCRIPTION:
# Whether the value is a size phasebox-cgroup accepts: whole bytes, a number with up to 3
# decimals and K, M, G or T, or a whole percentage of RAM from 1% to 100%; never zero.
phasebox_is_size() {
	[[ ${1} =~ ^([1-9][0-9]?|100)%$ ]] && return 0
	[[ ${1} =~ ^[0-9]{1,15}$ || ${1} =~ ^[0-9]{1,12}(\.[0-9]{1,3})?[KMGT]$ ]] || return 1
	[[ ${1//[^1-9]/} ]]
}

# @FUNCTION: phasebox_is_cpus
# @USAGE: <value>
# @DESCRIPTION:
# Whether the value is a CPU count: up to 3 decimals, more than 0, at most 4096.
phasebox_is_cpus() {
	[[ ${1} =~ ^[0-9]{1,4}(\.[0-9]{1,3})?$ && ${1//[^1-9]/} ]] || return 1
	(( 10#${1%%.*} < 4096 )) || [[ ${1} =~ ^4096(\.0*)?$ ]]
}

# @FUNCTION: phasebox_limit_args
# @DESCRIPTION:
# Fill phasebox_limits with phasebox-cgroup's options for the limit variables that are
# set, and the accounting record's MAKEOPTS, log and fallback policy.  A variable in this
# phase process's initial environment (what Portage passed: make.conf and package.env,
# for the first phase of a build) wins over the shell's, which the ebuild's global scope
# may have changed.
phasebox_limit_args() {
	local v n o e val
	local -a phasebox_environ
	local -A phasebox_init=()
	mapfile -d '' -t phasebox_environ < "/proc/$$/environ"
	for e in "${phasebox_environ[@]}"; do
		[[ ${e} == PHASEBOX_*=* ]] && phasebox_init[${e%%=*}]=${e#*=}
	done
	phasebox_limits=()
	for v in MEMORY_MAX MEMORY_HIGH MEMORY_SWAP_MAX PIDS_MAX CPU_MAX CPU_WEIGHT IO_WEIGHT LOG FALLBACK; do
		n=PHASEBOX_${v}
		val=${phasebox_init[${n}]-${!n}}
		[[ -n ${val} ]] || continue
		o=${v,,}
		phasebox_limits+=( "--${o//_/-}" "${val}" )
	done
	phasebox_limits+=( --makeopts "${MAKEOPTS}" )
}

# @FUNCTION: phasebox_register
# @DESCRIPTION:
# In pkg_setup, which Portage runs as root outside sys-apps/sandbox: hand the package's
# limits to the root keeper of this emerge, which applies them to the build user's phases
# whatever those ask for (see phasebox-cgroup(8), "register").
phasebox_register() {
	local libexec="@LIBEXECDIR@"
	local -a phasebox_limits elog=()
	[[ ${EUID} -eq 0 && -x ${libexec}/phasebox-cgroup ]] || return 0
	phasebox_limit_args
	[[ -n ${T} && -d ${T}/logging ]] && elog=( --elog "${T}/logging/${EBUILD_PHASE}" )
	"${libexec}/phasebox-cgroup" register --package "${CATEGORY}/${PF}" \
		--hierarchy "${PHASEBOX_CGROUP_HIERARCHY:-auto}" "${elog[@]}" "${phasebox_limits[@]}" ||
		phasebox_fail "could not register the package's limits with phasebox's keeper (see the message above)"
}

# @FUNCTION: phasebox_check_allow
# @USAGE: <name> <value>
# @DESCRIPTION:
# Validate a PHASEBOX_NETWORK_ALLOW value: whitespace-separated HOST:PORT, HOST a host
# name, an IPv4 address or an [IPv6] address in brackets, PORT 1-65535.  phasebox-proxy
# parses it again; this names the variable, the package and the phase.
phasebox_check_allow() {
	local tok host port IFS=$' \t\n'
	local -a toks
	local name_re='^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$'
	read -r -d '' -a toks <<<"${2}"
	for tok in "${toks[@]}"; do
		host=${tok%:*} port=${tok##*:}
		if [[ ${tok} != *:* || -z ${host} ]] ||
			! [[ ${port} =~ ^[1-9][0-9]{0,4}$ && ${port} -le 65535 ]] ||
			! [[ ${host} =~ ^\[[0-9A-Fa-f:.]+\]$ || ( ${host} != *:* && ${host} =~ ${name_re} ) ]]
		then
			phasebox_fail "${1}='${2}' is not valid: '${tok}' is not HOST:PORT (expected whitespace-separated HOST:PORT, HOST a host name, an IPv4 address or an [IPv6] address, PORT 1-65535)"
		fi
	done
}

# @FUNCTION: phasebox_networked
# @DESCRIPTION:
# Whether this src_* phase keeps the network under phasebox-network-sandbox: exactly where
# Portage's own network-sandbox leaves it (`networked` in _doebuild_spawn,
# lib/portage/package/ebuild/doebuild.py): src_unpack of an ebuild with PROPERTIES=live
# (it fetches from a VCS), src_test with PROPERTIES=test_network (ALLOW_TEST decides
# whether such a test runs at all; when it runs, it has the network), and every phase of
# an ebuild with RESTRICT=network-sandbox.  (Portage's other exceptions, the pkg_* phases
# of _ipc_phases, are phases phasebox never isolates.)  PORTAGE_PROPERTIES and
# PORTAGE_RESTRICT are the ebuild's, USE conditionals resolved; Portage splits them on
# whitespace, and so does this.
phasebox_networked() {
	local props=" ${PORTAGE_PROPERTIES//[[:space:]]/ } " restrict=" ${PORTAGE_RESTRICT//[[:space:]]/ } "
	[[ ${EBUILD_PHASE} == unpack && ${props} == *" live "* ]] && return 0
	[[ ${EBUILD_PHASE} == test && ${props} == *" test_network "* ]] && return 0
	[[ ${restrict} == *" network-sandbox "* ]]
}

# @FUNCTION: phasebox_plan
# @DESCRIPTION:
# Fill phasebox_cgroup (0/1), phasebox_proxy (0/1: phasebox-proxy lets the network-
# sandboxed phase reach DISTCC_HOSTS with FEATURES=distcc, and PHASEBOX_NETWORK_ALLOW) and
# phasebox_ns (phasebox-unshare options) for this phase from FEATURES; the network
# namespace only where Portage's rule takes the network away (phasebox_networked).
phasebox_plan() {
	local f distcc=0
	phasebox_cgroup=0
	phasebox_proxy=0
	phasebox_ns=()
	for f in ${FEATURES}; do
		case ${f} in
			phasebox-cgroup) phasebox_cgroup=1 ;;
			phasebox-network-sandbox)
				phasebox_networked && continue
				phasebox_ns+=( --net --uts )
				phasebox_proxy=1
				;;
			distcc) distcc=1 ;;
			phasebox-ipc-sandbox) phasebox_ns+=( --ipc ) ;;
			phasebox-pid-sandbox) phasebox_ns+=( --pid ) ;;
			phasebox-mount-sandbox) phasebox_ns+=( --mount ) ;;
		esac
	done
	[[ ${phasebox_proxy} == 1 && ( ${distcc} == 1 || -n ${PHASEBOX_NETWORK_ALLOW//[[:space:]]} ) ]] ||
		phasebox_proxy=0
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

# @FUNCTION: phasebox_builtin
# @DESCRIPTION:
# Whether this phase runs the chain in its own shell (the loadable builtin phasebox_isolate
# from phasebox-builtin.so: no exec, ebuild.sh not run again) rather than re-executing
# itself.  PHASEBOX_METHOD: auto (the builtin where bash can load it), builtin (it or
# fail), reexec.  The distcc/allow-list proxy (a link of its own) always re-executes.
phasebox_builtin() {
	local libexec="@LIBEXECDIR@" method=${PHASEBOX_METHOD:-auto}
	[[ ${method} == reexec ]] && return 1
	if (( phasebox_proxy )); then
		[[ ${method} == builtin ]] &&
			phasebox_fail "PHASEBOX_METHOD=builtin: the network proxy (PHASEBOX_NETWORK_ALLOW, distcc) needs PHASEBOX_METHOD=auto or reexec"
		return 1
	fi
	enable -f "${libexec}/phasebox-builtin.so" phasebox_isolate 2>/dev/null && return 0
	[[ ${method} == builtin ]] &&
		phasebox_fail "PHASEBOX_METHOD=builtin: bash cannot load ${libexec}/phasebox-builtin.so ($(enable -f "${libexec}/phasebox-builtin.so" phasebox_isolate 2>&1))"
	return 1
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
	local -a phasebox_environ phasebox_argv chain=() helpers=( phasebox-reap ) phasebox_limits
	local -a who=( --package "${CATEGORY}/${PF}" --phase "${phase}" )
	local sock=${T}/phasebox-proxy.sock
	# What the helpers say about the phase goes to Portage's elog too, where eqawarn and
	# ewarn would write it (__elog_base); like __elog_base, nothing where there is no
	# ${T}/logging.  The helpers refuse a path with a symbolic link in it (SECURITY.md).
	[[ -n ${T} && -d ${T}/logging ]] && who+=( --elog "${T}/logging/${EBUILD_PHASE}" )
	local -a proxy_env=()
	(( phasebox_cgroup )) && helpers+=( phasebox-cgroup )
	(( phasebox_proxy )) && helpers+=( phasebox-proxy )
	(( ${#phasebox_ns[@]} )) && helpers+=( phasebox-unshare )
	for h in "${helpers[@]}"; do
		[[ -x ${libexec}/${h} ]] ||
			phasebox_fail "${libexec}/${h} is missing or not executable (reinstall phasebox, or remove phasebox-* from FEATURES)"
	done
	phasebox_limit_args
	(( phasebox_cgroup )) && chain+=(
		"${libexec}/phasebox-cgroup" "${who[@]}"
		--hierarchy "${PHASEBOX_CGROUP_HIERARCHY:-auto}"
		--kill-timeout "${PHASEBOX_KILL_TIMEOUT:-10}" --summary "${PHASEBOX_SUMMARY:-show}"
		"${phasebox_limits[@]}" --
	)
	if (( phasebox_proxy )); then
		[[ -n ${T} && -d ${T} ]] ||
			phasebox_fail "T='${T}' is not a directory: phasebox-proxy needs one for its socket"
		chain+=( "${libexec}/phasebox-proxy" "${who[@]}" --socket "${sock}" )
		# Where distcc itself reads its hosts: DISTCC_HOSTS when set, otherwise the first
		# readable of ${DISTCC_DIR:-~/.distcc}/hosts and ${EPREFIX}/etc/distcc/hosts.
		if [[ " ${FEATURES} " == *" distcc "* ]]; then
			if [[ ${DISTCC_HOSTS+set} ]]; then
				chain+=( --distcc-hosts "${DISTCC_HOSTS}" )
			else
				chain+=( --distcc-hosts-file "${DISTCC_DIR:-${HOME}/.distcc}/hosts"
					--distcc-hosts-file "${EPREFIX}/etc/distcc/hosts" )
			fi
		fi
		[[ -n ${PHASEBOX_NETWORK_ALLOW//[[:space:]]} ]] && chain+=( --allow "${PHASEBOX_NETWORK_ALLOW}" )
		# Under Portage's own network-sandbox this phase (and so the proxy) is already in a
		# namespace with no way out but Portage's SOCKS5 proxy: go through it.
		[[ ${PORTAGE_SOCKS5_PROXY} == /* && -S ${PORTAGE_SOCKS5_PROXY} ]] &&
			chain+=( --upstream-socks "${PORTAGE_SOCKS5_PROXY}" )
		chain+=( -- )
		# The SOCKS clients (Gentoo's distcc, PORTAGE_SOCKS5_PROXY users) use the proxy;
		# Portage passes both variables to every phase, and never saves them.
		proxy_env=( DISTCC_SOCKS_PROXY="${sock}" PORTAGE_SOCKS5_PROXY="${sock}" )
	fi
	(( ${#phasebox_ns[@]} )) && chain+=(
		"${libexec}/phasebox-unshare" "${who[@]}" "${phasebox_ns[@]}"
		--userns "${PHASEBOX_USERNS:-auto}" --fallback "${PHASEBOX_FALLBACK:-fail}"
	)
	(( ${#phasebox_ns[@]} && phasebox_proxy )) && chain+=( --proxy-socket "${sock}" )
	(( ${#phasebox_ns[@]} )) && chain+=( -- )
	phasebox_origin
	if phasebox_builtin; then
		# This shell goes on as the isolated phase; ebuild.sh runs the phase in it.
		local master=${BASHPID}
		SANDBOX_ON=0 phasebox_isolate "${chain[@]}" "${libexec}/phasebox-reap" "${who[@]}" -- ||
			phasebox_fail "phasebox_isolate (${libexec}/phasebox-builtin.so) refused the chain, status $?"
		# die in a subshell signals the phase's master process: this one now.
		[[ ${EBUILD_MASTER_PID} == "${master}" ]] && export EBUILD_MASTER_PID=${BASHPID}
		return 0
	fi
	# The re-execution only: the original invocation, to run again.
	mapfile -d '' -t phasebox_environ < "/proc/$$/environ" ||
		phasebox_fail "cannot read /proc/$$/environ"
	mapfile -d '' -t phasebox_argv < "/proc/$$/cmdline" ||
		phasebox_fail "cannot read /proc/$$/cmdline"
	chain+=( "${libexec}/phasebox-reap" "${who[@]}" --exec "${BASH}" -- )
	exec env -i "${phasebox_environ[@]}" "${proxy_env[@]}" PHASEBOX_REEXEC="${EBUILD_PHASE}" \
		"${chain[@]}" "${phasebox_argv[@]}"
}

# @FUNCTION: phasebox_main
# @DESCRIPTION:
# Decide, for this phase, whether to isolate it, and if so re-execute it.
phasebox_main() {
	local phasebox_value phasebox_cgroup phasebox_proxy
	local -a phasebox_ns
	if [[ ${EBUILD_PHASE} == setup ]]; then
		[[ " ${FEATURES} " == *" phasebox-cgroup "* ]] || return 0
		phasebox_check_vars
		phasebox_register
		return 0
	fi
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
unset -f phasebox_main phasebox_reexec phasebox_builtin phasebox_origin phasebox_plan phasebox_networked phasebox_check_vars phasebox_check_allow \
	phasebox_fail phasebox_initial_env phasebox_is_size phasebox_is_cpus phasebox_limit_args phasebox_register
