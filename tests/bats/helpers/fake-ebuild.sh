#!/bin/bash
# A stand-in for Portage's ebuild.sh, for bashrc.bats: Portage's messaging functions,
# the phase variables exported, bashrc (the snippet) sourced inside __ebuild_main's
# subshell, then a phase body that appends one line to ${PB_OUT}/counter.  Only builtins
# and absolute paths: the depend phase runs with PATH=/dev/null.
#
#   PB_SNIPPET  the file to source (build/test/phasebox.bashrc)
#   PB_OUT      where to record: starts (one pid per start of this script), environ.PID
#               (its initial environment), funcs/vars.{before,after}.PID (declare -F and
#               compgen -v around the source), userfn.{before,after}.PID, counter
#   PB_STATUS   the body's exit status
#   PB_STALE    export a stale PHASEBOX_REEXEC=compile first (as ${T}/environment would)
#   PB_USERFN   define the user's own pre_src_compile first
#   PB_DIE      the body dies in a subshell the way Portage's die does (SIGTERM to
#               EBUILD_MASTER_PID, which __ebuild_main sets), then would go on

# shellcheck disable=SC2317 # called by the snippet this script sources
die() { echo "DIE: $*" >&2; exit 1; }
# shellcheck disable=SC2317 # called by the snippet this script sources
ewarn() { echo "WARN: $*" >&2; }
# shellcheck disable=SC2317 # called by the snippet this script sources
eerror() { echo "ERROR: $*" >&2; }
export EBUILD_PHASE EBUILD_PHASE_FUNC CATEGORY PF FEATURES PORTAGE_PROPERTIES PORTAGE_RESTRICT

echo "$$" >>"${PB_OUT}/starts"
mapfile -d '' -t pb_env <"/proc/$$/environ"
printf '%s\0' "${pb_env[@]}" >"${PB_OUT}/environ.$$"
unset pb_env

__ebuild_main() {
	export EBUILD_MASTER_PID=${BASHPID}
	trap 'exit 1' SIGTERM
	if [[ -n ${PB_USERFN} ]]; then
		# shellcheck disable=SC2317 # the snippet's hooks call it
		pre_src_compile() { echo "the user's own pre_src_compile"; }
		declare -f pre_src_compile >"${PB_OUT}/userfn.before.$$"
	fi
	[[ -n ${PB_STALE} ]] && export PHASEBOX_REEXEC=compile
	declare -F >"${PB_OUT}/funcs.before.$$"
	compgen -v >"${PB_OUT}/vars.before.$$"
	# shellcheck disable=SC1090
	source "${PB_SNIPPET}"
	compgen -v >"${PB_OUT}/vars.after.$$"
	declare -F >"${PB_OUT}/funcs.after.$$"
	[[ -n ${PB_USERFN} ]] && declare -f pre_src_compile >"${PB_OUT}/userfn.after.$$"

	# the phase body
	local cg
	# BASHPID, as a real phase would: after the builtin phasebox_isolate the phase is
	# this shell (another process, maybe in a new pid namespace), $$ still the original.
	mapfile -t cg <"/proc/${BASHPID}/cgroup"
	local sock=no
	[[ -S ${DISTCC_SOCKS_PROXY} ]] && sock=yes
	echo "body pid=$$ reexec=${PHASEBOX_REEXEC-unset} net=$(/bin/readlink "/proc/${BASHPID}/ns/net") pidns=$(/bin/readlink "/proc/${BASHPID}/ns/pid") userns=$(/bin/readlink "/proc/${BASHPID}/ns/user") ${cg[*]}" \
		"socks=${DISTCC_SOCKS_PROXY-unset} socks5=${PORTAGE_SOCKS5_PROXY-unset} sock=${sock}" \
		>>"${PB_OUT}/counter"
	if [[ -n ${PB_DIE} ]]; then
		( kill -s SIGTERM "${EBUILD_MASTER_PID}"; exit 1 )
		echo "after die" >>"${PB_OUT}/counter"
	fi
	(( PB_STATUS )) && exit "${PB_STATUS}"
}

( __ebuild_main; exit 0 ); exit $?
