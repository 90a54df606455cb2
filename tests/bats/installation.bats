#!/usr/bin/env bats
# Each program finds its own installation from its own path (helpers/common/install.hh):
# `phasebox` at BINDIR/../libexec/phasebox (else beside itself, the build tree), a helper
# in its own directory, the bash builtin where phasebox-builtin.so was loaded from; the
# LIBEXECDIR it was built with only when nothing is there.  The installations are copies
# of the build in scratch PREFIXes; the decoy at the built-in LIBEXECDIR (what another
# `make install` left there) exists only in a private mount namespace, on a tmpfs: nothing
# is ever made under the machine's own PREFIX (tests/state/guard checks that too).
# Runs as root.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup install
	# A = an installation with another PREFIX than the build's; LONE = phasebox alone.
	install_copy "${SCRATCH}/a"
	mkdir -p "${SCRATCH}/lone/bin"
	cp "${B}/phasebox" "${SCRATCH}/lone/bin/"
}

teardown() {
	pb_teardown
}

# What `make install PREFIX=$1` puts in BINDIR and LIBEXECDIR, copied from the build.
install_copy() {
	mkdir -p "$1/bin" "$1/libexec/phasebox"
	cp "${B}/phasebox" "$1/bin/"
	cp "${B}"/phasebox-{cgroup,unshare,reap,proxy,service} "${B}/phasebox-builtin.so" "$1/libexec/phasebox/"
}

# The value of doctor's row $2 in the JSON $1 (name<TAB>detail<TAB>remedy).
row() {
	"${PY}" -c 'import json, sys
for c in json.loads(sys.argv[1])["checks"]:
    if c["name"] == sys.argv[2]:
        print(c["detail"] + "\t" + c["remedy"])' "$1" "$2"
}

# in_decoy_ns BUILT CMD...: CMD in a private mount namespace where LIBEXECDIR as built
# (BUILT) holds a decoy installation (a phasebox-cgroup, and a phasebox-builtin.so that
# bash cannot load), made on a tmpfs over BUILT's deepest existing ancestor.
in_decoy_ns() {
	local built=$1 top
	shift
	top=${built}
	while [[ ! -d ${top} ]]; do top=${top%/*}; done
	case ${top} in
	'' | / | /usr | /usr/lib | /usr/lib64 | /usr/bin | /bin | /lib | /lib64)
		echo "no tmpfs over ${top:-/} for the decoy at ${built}" >&2
		return 99
		;;
	esac
	unshare -m --propagation private bash -c '
		built=$1 top=$2; shift 2
		if [[ -e ${built} ]]; then mount -t tmpfs decoy "${built}"; else mount -t tmpfs decoy "${top}"; fi || exit 98
		mkdir -p "${built}" && printf "#!/bin/sh\n" >"${built}/phasebox-cgroup" && chmod 755 "${built}/phasebox-cgroup" &&
			echo "not a shared object" >"${built}/phasebox-builtin.so" || exit 98
		exec "$@"' bash "${built}" "${top}" "$@"
}

@test "phasebox alone: doctor names LIBEXECDIR as built (the fallback)" {
	run -0 env PATH=/usr/bin:/bin "${SCRATCH}/lone/bin/phasebox" doctor --json --features ''
	IFS=$'\t' read -r detail _ < <(row "${output}" helpers)
	[[ ${detail} == /*" (LIBEXECDIR as built; none next to ${SCRATCH}/lone/bin/phasebox)"* ]]
}

@test "doctor in an install with another PREFIX names its own helpers, not a decoy at LIBEXECDIR as built" {
	local built json detail remedy
	# LIBEXECDIR as built, as doctor names it where nothing is next to it.
	json=$(env PATH=/usr/bin:/bin "${SCRATCH}/lone/bin/phasebox" doctor --json --features '')
	IFS=$'\t' read -r detail _ < <(row "${json}" helpers)
	built=${detail%% (*}
	[[ ${built} == /* ]]
	# The machine's own LIBEXECDIR as built, and where the tmpfs goes, are left alone.
	"${BATS_TEST_DIRNAME}/../state/guard" save "${SCRATCH}/machine-state" "${built}" "${built%/*}"

	# The delegated route's remedy names the helpers: a hook that is not adopt fails it.
	local -a doctor=( env PATH=/usr/bin:/bin 'PORTAGE_IONICE_COMMAND=ionice -c 3 -p ${PID}' )
	run -1 in_decoy_ns "${built}" "${doctor[@]}" "${SCRATCH}/a/bin/phasebox" doctor --json
	IFS=$'\t' read -r detail _ < <(row "${output}" helpers)
	[[ ${detail} == "${SCRATCH}/a/libexec/phasebox (next to ${SCRATCH}/a/bin/phasebox)" ]]
	IFS=$'\t' read -r detail _ < <(row "${output}" "phase method")
	[[ ${detail} == "in the phase's own shell (bash loads ${SCRATCH}/a/libexec/phasebox/phasebox-builtin.so)" ]]
	IFS=$'\t' read -r _ remedy < <(row "${output}" "delegated route")
	[[ ${remedy} == *"PORTAGE_IONICE_COMMAND=\"${SCRATCH}/a/libexec/phasebox/phasebox-cgroup adopt "* ]]
	[[ ${output} != *"${built}"* ]]
	run -1 in_decoy_ns "${built}" "${doctor[@]}" "${SCRATCH}/a/bin/phasebox" doctor
	[[ ${output} == *"remedy: [1] add PORTAGE_IONICE_COMMAND=\"${SCRATCH}/a/libexec/phasebox/phasebox-cgroup adopt "* ]]
	[[ ${output} != *"${built}"* ]]

	# Negative twin: phasebox alone, in the same namespace, finds the decoy.
	run -1 in_decoy_ns "${built}" "${doctor[@]}" "${SCRATCH}/lone/bin/phasebox" doctor --json
	IFS=$'\t' read -r detail _ < <(row "${output}" helpers)
	[[ ${detail} == "${built} (LIBEXECDIR as built; none next to ${SCRATCH}/lone/bin/phasebox)" ]] # the decoy counts
	IFS=$'\t' read -r detail _ < <(row "${output}" "phase method")
	[[ ${detail} == "re-executed (bash cannot load ${built}/phasebox-builtin.so"* ]]
	IFS=$'\t' read -r _ remedy < <(row "${output}" "delegated route")
	[[ ${remedy} == *"PORTAGE_IONICE_COMMAND=\"${built}/phasebox-cgroup adopt "* ]]
	# ... and the decoy was only ever in that namespace.
	"${BATS_TEST_DIRNAME}/../state/guard" check "${SCRATCH}/machine-state"
}

@test "the build tree: doctor names the helpers beside it" {
	run -0 env PATH=/usr/bin:/bin "${B}/phasebox" doctor --json --features ''
	IFS=$'\t' read -r detail _ < <(row "${output}" helpers)
	[[ ${detail} == "${B} (next to ${B}/phasebox)" ]]
}

@test "phasebox-cgroup's hint names its own installation, from the helper and from the bash builtin (where /proc/self/exe is bash)" {
	local lx=${SCRATCH}/a/libexec/phasebox
	local want="PORTAGE_IONICE_COMMAND=\"${lx}/phasebox-cgroup adopt \\\${PID}\""
	# nobody, outside an adopted invocation: no cgroup to be had, the hint says how
	run -111 --separate-stderr "${NOBODY[@]}" "${lx}/phasebox-cgroup" --package "cat/${MARK}" -- true
	[[ ${stderr} == *"${want}"* ]] || { echo "${stderr}" >&2; false; }
	run -111 --separate-stderr "${NOBODY[@]}" bash -c 'enable -f "$0/phasebox-builtin.so" phasebox_isolate || exit 99
		SANDBOX_ON=0 phasebox_isolate "$0/phasebox-cgroup" --package "cat/$1" -- ; exit $?' "${lx}" "${MARK}"
	[[ ${stderr} == *"${want}"* ]] || { echo "${stderr}" >&2; false; }
	[[ ${stderr} != *bash\ adopt* ]]
}
