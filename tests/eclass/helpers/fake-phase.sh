#!/bin/bash
# A stubbed Portage phase for tests/eclass (in the style of ::gentoo's eclass/tests): the
# message functions, die (with -n and nonfatal, and die's SIGTERM to EBUILD_MASTER_PID from
# a subshell), inherit, and ebuild.sh's shape — the phase runs in a subshell that is
# EBUILD_MASTER_PID, with `trap 'exit 1' SIGTERM` — then the test's body.
#
#   PB_ECLASSDIR  where phasebox.eclass is
#   PB_BODY       a file sourced as the phase function's body
#   PB_BASHRC     a file sourced first, as Portage sources /etc/portage/bashrc (optional);
#                 then pre_<phase func>, the body and post_<phase func> run, as
#                 __ebuild_phase_with_hooks runs a user's hooks
#   EAPI, EBUILD_PHASE, BROOT, T, ...  as a test sets them
# shellcheck disable=SC2317 # called by the eclass and the bodies
die() {
	if [[ ${1} == -n ]]; then
		shift
		if [[ -n ${PORTAGE_NONFATAL} ]]; then
			echo "ERROR: $*" >&2
			return 1
		fi
	fi
	echo "DIE: $*" >&2
	[[ -n ${EBUILD_MASTER_PID} && ${BASHPID} != "${EBUILD_MASTER_PID}" ]] && kill -s TERM "${EBUILD_MASTER_PID}"
	exit 1
}
# shellcheck disable=SC2317
nonfatal() { PORTAGE_NONFATAL=1 "$@"; }
# shellcheck disable=SC2317
einfo() { echo "INFO: $*" >&2; }
# shellcheck disable=SC2317
ewarn() { echo "WARN: $*" >&2; }
# shellcheck disable=SC2317
eerror() { echo "ERROR: $*" >&2; }
# shellcheck disable=SC2317
eqawarn() { echo "QA: $*" >&2; }
inherit() {
	local e
	for e; do
		# shellcheck disable=SC2034 # read by the eclass
		ECLASS=${e}
		# shellcheck disable=SC1090
		source "${PB_ECLASSDIR}/${e}.eclass" || die "inherit ${e} failed"
	done
	unset ECLASS
}
export EAPI=${EAPI:-8} EBUILD_PHASE=${EBUILD_PHASE:-test} CATEGORY=${CATEGORY:-app-misc} PF=${PF:-fake-1}
export EBUILD_PHASE_FUNC=${EBUILD_PHASE_FUNC:-src_${EBUILD_PHASE}}

__ebuild_main() {
	export EBUILD_MASTER_PID=${BASHPID}
	trap 'exit 1' SIGTERM
	# shellcheck disable=SC1090
	[[ -n ${PB_BASHRC} ]] && source "${PB_BASHRC}"
	inherit phasebox
	if declare -F "pre_${EBUILD_PHASE_FUNC}" >/dev/null; then "pre_${EBUILD_PHASE_FUNC}"; fi
	# shellcheck disable=SC1090
	source "${PB_BODY}"
	local rc=$?
	if declare -F "post_${EBUILD_PHASE_FUNC}" >/dev/null; then "post_${EBUILD_PHASE_FUNC}"; fi
	return "${rc}"
}
( __ebuild_main ); exit $?
