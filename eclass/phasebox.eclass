# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

# @ECLASS: phasebox.eclass
# @MAINTAINER:
# phasebox developers <phasebox@example.invalid>
# @SUPPORTED_EAPIS: 8
# @BLURB: test services that never outlive their phase; what isolation a phase runs with
# @DESCRIPTION:
# For ebuilds whose test suite needs a server (a database, an X server, a daemon):
# phasebox_start_service starts it, waits until it is ready (a TCP port accepts, a unix
# socket or a file appears) and guarantees that it is stopped, and everything it forked
# killed and reaped, when the phase ends — however the phase ends (success, die, a
# signal, SIGKILL) and whether or not the user turned on any phasebox FEATURES.  The
# service runs under phasebox-service(8), a supervisor that watches the phase shell
# (EBUILD_MASTER_PID) through a pidfd and is the child subreaper of everything the
# service starts; the phase's EXIT trap stops it first, in order, so its output ends up in
# the build log and phasebox-cgroup(8) never reports it as a leftover.
#
# phasebox_has tells whether this phase runs with an isolation phasebox(8) provides
# (cgroup, network, ipc, pid, mount), from the kernel's own state: the phase's namespaces
# and cgroup now against those of the process Portage started, which phasebox's bashrc
# snippet recorded before it re-executed the phase.  An ebuild can skip or adapt the tests
# that need what the sandbox removes.
#
# Everything this eclass defines is named phasebox_*, _phasebox_*, PHASEBOX_* or
# _PHASEBOX_*.  See phasebox.eclass(5).
# @EXAMPLE:
#
# @CODE
# EAPI=8
# inherit phasebox
#
# src_test() {
# 	phasebox_start_service --port 127.0.0.1:5433 --timeout 30 postgres \
# 		postgres -D "${T}/pgdata" -k "${T}" -p 5433
# 	if phasebox_has network; then
# 		einfo "no network: skipping the tests that fetch"
# 		export SKIP_ONLINE_TESTS=1
# 	fi
# 	emake check
# 	phasebox_stop_service postgres
# }
# @CODE

case ${EAPI} in
	8) ;;
	*) die "${ECLASS}: EAPI ${EAPI:-0} not supported" ;;
esac

if [[ -z ${_PHASEBOX_ECLASS} ]]; then
_PHASEBOX_ECLASS=1

# @ECLASS_VARIABLE: PHASEBOX_REQUIRED
# @PRE_INHERIT
# @DESCRIPTION:
# When the ebuild needs sys-apps/phasebox (for phasebox-service(8)):
#  - test: with USE=test (adds IUSE=test and BDEPEND="test? ( sys-apps/phasebox )");
#  - always: always (BDEPEND="sys-apps/phasebox");
#  - manual: the ebuild writes the dependency itself.
: "${PHASEBOX_REQUIRED:=test}"

# shellcheck disable=SC2034 # metadata variables, read by Portage
case ${PHASEBOX_REQUIRED} in
	test)
		IUSE="test"
		BDEPEND="test? ( sys-apps/phasebox )"
		;;
	always)
		BDEPEND="sys-apps/phasebox"
		;;
	manual) ;;
	*)
		die "${ECLASS}: PHASEBOX_REQUIRED='${PHASEBOX_REQUIRED}' is not valid: expected test, always or manual"
		;;
esac

# @ECLASS_VARIABLE: _PHASEBOX_SERVICES
# @INTERNAL
# @DESCRIPTION:
# The services started in this phase: name → "<supervisor pid> <starter> <owner>": the
# shell that started it ($BASHPID, the one that can wait(1) for it) and _phasebox_owner's
# value.  Like every variable it is saved into ${T}/environment; a later
# phase sees another owner and ignores the entry.
declare -gA _PHASEBOX_SERVICES=()

# @FUNCTION: _phasebox_start_time
# @USAGE: <pid>
# @INTERNAL
# @DESCRIPTION:
# Print field 22 (starttime) of /proc/<pid>/stat; return 1 when the process is gone.
_phasebox_start_time() {
	local stat
	stat=$(< "/proc/${1}/stat") 2>/dev/null || return 1
	stat=${stat##*) }
	local -a f
	read -r -a f <<< "${stat}"
	# f[0] is field 3 (state); field 22 is f[19].
	[[ -n ${f[19]} ]] || return 1
	echo "${f[19]}"
}

# @FUNCTION: _phasebox_owner
# @INTERNAL
# @DESCRIPTION:
# Print "<EBUILD_MASTER_PID>:<its start time>": the phase process, exactly.
_phasebox_owner() {
	local t
	t=$(_phasebox_start_time "${EBUILD_MASTER_PID}") || return 1
	echo "${EBUILD_MASTER_PID}:${t}"
}

# @FUNCTION: _phasebox_alive
# @USAGE: <pid>
# @INTERNAL
# @DESCRIPTION:
# Succeed when <pid> runs and is no zombie (a supervisor that ended is a zombie until its
# shell waits for it).
_phasebox_alive() {
	local stat
	stat=$(< "/proc/${1}/stat") 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != [ZX] ]]
}

# @FUNCTION: _phasebox_ready
# @USAGE: <tcp|socket|file|none> <what>
# @INTERNAL
# @DESCRIPTION:
# Succeed when the readiness condition holds: a TCP connection to <what> ([HOST:]PORT,
# HOST 127.0.0.1 by default; [v6addr]:PORT for IPv6) is accepted, or <what> is a unix
# socket, or <what> exists.
_phasebox_ready() {
	local host port
	case ${1} in
		tcp)
			if [[ ${2} == *:* ]]; then
				host=${2%:*} port=${2##*:}
				host=${host#[}
				host=${host%]}
			else
				host=127.0.0.1 port=${2}
			fi
			( exec 3<>"/dev/tcp/${host}/${port}" ) 2>/dev/null
			;;
		socket) [[ -S ${2} ]] ;;
		file) [[ -e ${2} ]] ;;
		none) return 0 ;;
	esac
}

# @FUNCTION: phasebox_start_service
# @USAGE: [--port [HOST:]PORT | --socket PATH | --file PATH] [--timeout SECONDS] [--stop-signal SIG] [--stop-timeout SECONDS] [--log FILE] <name> <command> [<args>...]
# @DESCRIPTION:
# Start <command> as the service <name> under phasebox-service(8) and wait until it is
# ready: a TCP connection to --port is accepted (HOST defaults to 127.0.0.1; [::1]:PORT
# for IPv6), the unix socket --socket exists, or the file --file exists.  Without one of
# them it returns as soon as the service runs.  It dies, naming the service, when the
# service ends before it is ready, or is not ready within --timeout seconds (default 60;
# the service is stopped first).
#
# The service is stopped (--stop-signal, default TERM; after --stop-timeout seconds,
# default 10, SIGKILL) and everything it started is killed and reaped: by
# phasebox_stop_service, or by the phase's EXIT trap, or — should the phase shell end
# without running its traps (SIGKILL) — by the supervisor itself, which watches the phase
# shell.  Its stdin is /dev/null; its stdout and stderr go to --log FILE, or to the build
# log.  Call it from the phase function itself, not from a subshell: a service started in
# a subshell is still stopped when the phase ends, but phasebox_stop_service cannot reach
# it.  Needs sys-apps/phasebox (see PHASEBOX_REQUIRED).
# @EXAMPLE:
#
# @CODE
# src_test() {
# 	phasebox_start_service --socket "${T}/redis.sock" redis \
# 		redis-server --port 0 --unixsocket "${T}/redis.sock"
# 	emake test REDIS_SOCKET="${T}/redis.sock"
# 	phasebox_stop_service redis
# }
# @CODE
phasebox_start_service() {
	local ready=none what='' timeout=60 log='' name owner helper pid i
	local -a svc=()
	while [[ ${1} == --* ]]; do
		case ${1} in
			--port) ready=tcp what=${2} ;;
			--socket) ready=socket what=${2} ;;
			--file) ready=file what=${2} ;;
			--timeout) timeout=${2} ;;
			--stop-signal) svc+=( --stop-signal "${2#SIG}" ) ;;
			--stop-timeout) svc+=( --stop-timeout "${2}" ) ;;
			--log) log=${2} ;;
			--) shift; break ;;
			*) die "${FUNCNAME[0]}: unknown option '${1}'" ;;
		esac
		[[ $# -ge 2 ]] || die "${FUNCNAME[0]}: ${1} needs a value"
		shift 2
	done
	[[ $# -ge 2 ]] || die "${FUNCNAME[0]}: usage: ${FUNCNAME[0]} [options] <name> <command> [<args>...]"
	name=${1}
	shift
	[[ ${name} =~ ^[A-Za-z0-9_.+-]+$ ]] ||
		die "${FUNCNAME[0]}: service name '${name}' is not valid: expected letters, digits and _.+-"
	[[ ${timeout} =~ ^[1-9][0-9]*$ ]] ||
		die "${FUNCNAME[0]}: --timeout '${timeout}' is not valid: expected whole seconds (1 or more)"
	case ${ready} in
		tcp) [[ ${what} =~ ^(.+:)?[1-9][0-9]{0,4}$ && ${what##*:} -le 65535 ]] ||
			die "${FUNCNAME[0]}: --port '${what}' is not valid: expected [HOST:]PORT" ;;
		socket | file) [[ -n ${what} ]] || die "${FUNCNAME[0]}: --${ready} needs a path" ;;
	esac
	[[ -n ${EBUILD_MASTER_PID} ]] || die "${FUNCNAME[0]}: EBUILD_MASTER_PID is not set (not in an ebuild phase?)"
	owner=$(_phasebox_owner) || die "${FUNCNAME[0]}: cannot read the phase process ${EBUILD_MASTER_PID}"
	if [[ -n ${_PHASEBOX_SERVICES[${name}]} && ${_PHASEBOX_SERVICES[${name}]##* } == "${owner}" ]]; then
		die "${FUNCNAME[0]}: service '${name}' is already running in this phase"
	fi
	helper=${BROOT}/usr/libexec/phasebox/phasebox-service
	[[ -x ${helper} ]] ||
		die "${FUNCNAME[0]}: ${helper} is missing or not executable (the ebuild needs sys-apps/phasebox; see PHASEBOX_REQUIRED in phasebox.eclass(5))"

	if [[ -n ${log} ]]; then
		"${helper}" --watch "${EBUILD_MASTER_PID}" --watch-start "${owner#*:}" --name "${name}" \
			--package "${CATEGORY}/${PF}" --phase "${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}}" "${svc[@]}" \
			-- "$@" < /dev/null &> "${log}" &
	else
		"${helper}" --watch "${EBUILD_MASTER_PID}" --watch-start "${owner#*:}" --name "${name}" \
			--package "${CATEGORY}/${PF}" --phase "${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}}" "${svc[@]}" \
			-- "$@" < /dev/null &
	fi
	pid=$!
	_PHASEBOX_SERVICES[${name}]="${pid} ${BASHPID} ${owner}"
	# Stop it in order when the phase shell exits (die included: it exits, and die in a
	# subshell SIGTERMs the phase shell, whose trap exits).
	[[ ${BASHPID} == "${EBUILD_MASTER_PID}" ]] && _phasebox_exit_trap

	local deadline=$(( SECONDS + timeout ))
	for (( i = 0; ; i++ )); do
		_phasebox_ready "${ready}" "${what}" && break
		if ! _phasebox_alive "${pid}"; then
			local st=0
			wait "${pid}" 2>/dev/null || st=$?
			unset "_PHASEBOX_SERVICES[${name}]"
			die "${FUNCNAME[0]}: service '${name}' ($*) ended with status ${st} before it was ready${log:+ (its output: ${log})}"
		fi
		if (( SECONDS >= deadline )); then
			_phasebox_stop "${name}" >/dev/null
			die "${FUNCNAME[0]}: service '${name}' ($*) was not ready within ${timeout} s: ${ready} ${what} did not appear; stopped it${log:+ (its output: ${log})}"
		fi
		sleep 0.1
	done
	einfo "${FUNCNAME[0]}: service '${name}' is ready${what:+ (${ready} ${what})}"
}

# @FUNCTION: _phasebox_stop
# @USAGE: <name>
# @INTERNAL
# @DESCRIPTION:
# Stop the service <name> of this phase and wait for its supervisor.  Returns 0 when it was
# stopped, the supervisor's status when the service had ended by itself (it says so on
# stderr), 2 when there is no such service in this phase.
_phasebox_stop() {
	local owner pid starter was st=0
	owner=$(_phasebox_owner) || return 2
	read -r pid starter was <<< "${_PHASEBOX_SERVICES[${1}]}"
	[[ -n ${pid} && ${was} == "${owner}" ]] || return 2
	unset "_PHASEBOX_SERVICES[${1}]"
	kill -s TERM "${pid}" 2>/dev/null
	if [[ ${starter} == "${BASHPID}" ]]; then
		wait "${pid}" 2>/dev/null || st=$?
	else
		# Not this shell's child: its status cannot be had; wait until it has gone.
		while _phasebox_alive "${pid}"; do sleep 0.1; done
	fi
	return "${st}"
}

# @FUNCTION: phasebox_stop_service
# @USAGE: <name>
# @DESCRIPTION:
# Stop the service <name> that phasebox_start_service started in this phase: send it its
# stop signal, wait for it (at most its stop timeout, then SIGKILL), kill and reap
# whatever it left.  Dies (die -n: nonfatal returns 1) when the service had already ended
# by itself — the tests that used it may have failed for that reason — or when no such
# service runs in this phase.
# @EXAMPLE:
#
# @CODE
# phasebox_start_service --socket /tmp/.X11-unix/X97 xvfb Xvfb :97 -nolisten tcp
# emake check DISPLAY=:97
# phasebox_stop_service xvfb
# @CODE
phasebox_stop_service() {
	[[ $# -eq 1 ]] || die "${FUNCNAME[0]}: usage: ${FUNCNAME[0]} <name>"
	local st=0
	_phasebox_stop "${1}" || st=$?
	case ${st} in
		0) return 0 ;;
		2) die -n "${FUNCNAME[0]}: no service '${1}' runs in this phase" ;;
		*) die -n "${FUNCNAME[0]}: service '${1}' had ended by itself (status ${st}) before it was stopped" ;;
	esac
}

# @FUNCTION: _phasebox_on_exit
# @INTERNAL
# @DESCRIPTION:
# The phase shell's EXIT trap: stop every service this phase started, keep $?.
_phasebox_on_exit() {
	local r=$? n
	for n in "${!_PHASEBOX_SERVICES[@]}"; do
		_phasebox_stop "${n}" >/dev/null 2>&1
	done
	return "${r}"
}

# @FUNCTION: _phasebox_exit_trap
# @INTERNAL
# @DESCRIPTION:
# Install _phasebox_on_exit as the phase shell's EXIT trap, once per phase, before what
# was there (Portage's own __portage_ebuild_exit, an ebuild's).
_phasebox_exit_trap() {
	local prev
	prev=$(trap -p EXIT)
	[[ ${prev} == *_phasebox_on_exit* ]] && return 0
	if [[ -n ${prev} ]]; then
		local -a t
		eval "t=( ${prev} )"
		# shellcheck disable=SC2064 # the previous trap's text, fixed now
		trap "_phasebox_on_exit; ${t[2]}" EXIT
	else
		trap _phasebox_on_exit EXIT
	fi
}

# @FUNCTION: _phasebox_reexecuted
# @INTERNAL
# @DESCRIPTION:
# Succeed when phasebox isolated this phase: in place, where the builtin phasebox_isolate
# (loaded only by the snippet, never saved into ${T}/environment) answers --isolated; or
# re-executed, where the phase process's initial environment (/proc/$$/environ, not the
# shell's variables, which ${T}/environment may have filled) has PHASEBOX_REEXEC naming
# this phase.
_phasebox_reexecuted() {
	local e
	local -a env
	# Isolated in place by the builtin (PHASEBOX_METHOD=auto/builtin): it says so itself.
	[[ $(type -t phasebox_isolate) == builtin ]] && phasebox_isolate --isolated && return 0
	mapfile -d '' -t env < "/proc/$$/environ" 2>/dev/null || return 1
	for e in "${env[@]}"; do
		[[ ${e} == "PHASEBOX_REEXEC=${EBUILD_PHASE}" ]] && return 0
	done
	return 1
}

# @FUNCTION: phasebox_has
# @USAGE: <cgroup|network|ipc|pid|mount>
# @DESCRIPTION:
# Succeed when this phase runs with that isolation from phasebox(8): in a phasebox leaf
# cgroup (cgroup), or in a network, IPC, pid or mount namespace that is not the one of the
# process Portage started for this phase (recorded in ${T}/phasebox.<phase>.origin by the
# bashrc snippet before it isolated or re-executed the phase).  It reads the kernel's state
# (/proc/self/ns/*, /proc/self/cgroup); it does not trust FEATURES.  It answers for
# phasebox's isolation only: Portage's own network-sandbox, ipc-sandbox and pid-sandbox
# happen before the phase process starts and are not counted.  Fails (status 1) where
# phasebox did not isolate the phase (no phasebox FEATURES, a pkg_* phase, depend).
# @EXAMPLE:
#
# @CODE
# src_test() {
# 	local skip=()
# 	phasebox_has network && skip+=( test_download )
# 	phasebox_has pid && skip+=( test_ps_lists_init )
# 	epytest ${skip[@]/#/--deselect }
# }
# @CODE
phasebox_has() {
	[[ $# -eq 1 ]] || die "${FUNCNAME[0]}: usage: ${FUNCNAME[0]} <cgroup|network|ipc|pid|mount>"
	local ns
	case ${1} in
		cgroup) ;;
		network) ns=net ;;
		ipc) ns=ipc ;;
		pid) ns=pid ;;
		mount) ns=mnt ;;
		*) die "${FUNCNAME[0]}: '${1}' is not an isolation: expected cgroup, network, ipc, pid or mount" ;;
	esac
	_phasebox_reexecuted || return 1
	local origin="${T}/phasebox.${EBUILD_PHASE}.origin" line
	[[ -r ${origin} ]] || return 1
	if [[ -n ${ns} ]]; then
		local now
		now=$(readlink "/proc/${BASHPID}/ns/${ns}") || return 1
		while read -r line; do
			[[ ${line} == "ns ${ns} "* ]] || continue
			[[ ${line#ns "${ns}" } != "${now}" ]]
			return
		done < "${origin}"
		return 1
	fi
	# cgroup: a line of /proc/self/cgroup that is a phasebox leaf (…/phasebox/…/<name>.pb<pid>)
	# and was not the origin's.
	local -a was
	mapfile -t was < <(sed -n 's/^cg //p' "${origin}")
	while read -r line; do
		[[ ${line#*:*:} =~ /phasebox/.*\.pb[0-9]+(-[0-9]+)?$ ]] || continue
		[[ " ${was[*]} " == *" ${line} "* ]] && continue
		return 0
	done < "/proc/${BASHPID}/cgroup"
	return 1
}

fi
