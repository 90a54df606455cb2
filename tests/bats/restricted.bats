#!/usr/bin/env bats
# Containers and honest failure, in restricted environments built on this machine without
# a container engine (tests/restrict/restrict): a seccomp filter like Docker's default
# (Docker's own profile from ../shared/data when it is there, else the rules derived from
# it, see tests/restrict/docker-seccomp; also as Docker applies it on a kernel before 4.8),
# Docker's capability bounding set (with and without --cap-add), no_new_privs, user
# namespaces disabled by user.max_user_namespaces=0 (tests/restrict/no-userns), a
# read-only cgroupfs in a private mount namespace — alone and together.  In each, a
# phase is run the way Portage runs it (the bashrc snippet under helpers/fake-ebuild.sh,
# which execs the helper chain), once with PHASEBOX_FALLBACK=fail and once with warn, and
# `phasebox doctor --json` (schema-checked) is asked for its verdict in the same
# environment: the verdict must be what the phase actually did.  Every test checks its
# twin (the same phase where the restriction is absent, or the other policy) and the
# leak check: no process or cgroup with the test's marker, no doctor leaf, and the host's
# cgroup mounts still read-write.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup restricted
	FAKE="${BATS_TEST_DIRNAME}/helpers/fake-ebuild.sh"
	SNIPPET="${B}/test/phasebox.bashrc"
	R="${BATS_TEST_DIRNAME}/../restrict/restrict"
	CHECK="${BATS_TEST_DIRNAME}/../restrict/check-doctor-json"
	SCHEMA="${BATS_TEST_DIRNAME}/../restrict/doctor.schema.json"
	# Docker's current default profile, a data file next to the repository (../shared).
	# (PB_DOCKER_PROFILE overrides it; a missing file means the derived rules.)
	PROFILE=${PB_DOCKER_PROFILE:-"${BATS_TEST_DIRNAME}/../../../shared/data/docker-seccomp-default.json"}
	if [[ -r ${PROFILE} ]]; then
		SECCOMP=( --profile "$(readlink -f "${PROFILE}")" )
	else
		SECCOMP=( --seccomp )
	fi
	DOCKER=( --ro-cgroup "${SECCOMP[@]}" --docker-caps )
	HOST_NET=$(readlink /proc/self/ns/net)
	HOST_PID=$(readlink /proc/self/ns/pid)
	HOST_USER=$(readlink /proc/self/ns/user)
	findmnt -rn -t cgroup,cgroup2 -o TARGET,OPTIONS >"${SCRATCH}/mounts.before"
	LEAF_RE="^/phasebox/leaves/app-misc:${MARK}-1:src_compile\.pb[0-9]+$"
}

teardown() {
	local rc=0
	findmnt -rn -t cgroup,cgroup2 -o TARGET,OPTIONS >"${SCRATCH}/mounts.after" || true
	if ! diff "${SCRATCH}/mounts.before" "${SCRATCH}/mounts.after" >&2; then
		echo "the host's cgroup mounts changed" >&2
		rc=1
	fi
	if [[ -n ${CG2} && -d ${CG2}/phasebox/leaves ]] &&
		[[ -n $(find "${CG2}/phasebox/leaves" -maxdepth 1 -name 'phasebox-doctor.pb*') ]]; then
		echo "doctor left a leaf" >&2
		rc=1
	fi
	pb_teardown || rc=1
	return "${rc}"
}

# phase RESTRICT-OPTS... -- VAR=value...: the fake ebuild.sh's src_compile, in the
# restricted environment, with a clean environment.  Use it through `run`.
phase() {
	local -a opts=()
	while [[ $1 != -- ]]; do
		opts+=( "$1" )
		shift
	done
	shift
	O="${SCRATCH}/o"
	rm -rf "${O}"
	mkdir -m 777 "${O}"
	"${R}" "${opts[@]}" -- env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_SNIPPET="${SNIPPET}" PB_OUT="${O}" \
		EBUILD_PHASE=compile EBUILD_PHASE_FUNC=src_compile CATEGORY=app-misc PF="${MARK}-1" PHASEBOX_LOG="${PHASEBOX_LOG}" "$@" \
		/bin/bash "${FAKE}"
}

# After `run phase`: what the body saw (or that it never ran).
body() {
	O="${SCRATCH}/o"
	BODIES=$(cat "${O}/counter" 2>/dev/null | wc -l)
	BODY=$(cat "${O}/counter" 2>/dev/null || true)
	BODY_NET= BODY_PID= BODY_USER= BODY_CG=
	[[ ${BODY} =~ net=([^ ]*) ]] && BODY_NET=${BASH_REMATCH[1]}
	[[ ${BODY} =~ pidns=([^ ]*) ]] && BODY_PID=${BASH_REMATCH[1]}
	[[ ${BODY} =~ userns=([^ ]*) ]] && BODY_USER=${BASH_REMATCH[1]}
	[[ ${BODY} =~ 0::([^ ]*) ]] && BODY_CG=${BASH_REMATCH[1]}
	return 0
}

# doctor RESTRICT-OPTS... -- DOCTOR-ARGS...: doctor --json in the environment, validated
# against the schema; VERDICT[token] and CHECKS[name] filled, DOCTOR_RC its exit status.
doctor() {
	local -a opts=()
	while [[ $1 != -- ]]; do
		opts+=( "$1" )
		shift
	done
	shift
	DOCTOR_RC=0
	"${R}" "${opts[@]}" -- "${B}/phasebox" doctor --json "$@" >"${SCRATCH}/doctor.json" || DOCTOR_RC=$?
	"${R}" "${opts[@]}" -- "${B}/phasebox" doctor "$@" >"${SCRATCH}/doctor.txt" || true
	local out t v c rest
	out=$("${CHECK}" "${SCHEMA}" "${SCRATCH}/doctor.json" phasebox-cgroup phasebox-network-sandbox \
		phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox "check:user namespaces" \
		"check:cgroup writable" "check:sandbox ptrace")
	declare -gA VERDICT=() CAUSE=() WHY=()
	while IFS=$'\t' read -r t v c rest; do
		VERDICT[${t}]=${v}
		CAUSE[${t}]=${c}
		WHY[${t}]=${rest}
	done <<<"${out}"
}

# The one warning line of a warn-mode phase: exactly one, from the chain's last link.
one_warning() {
	[[ $(grep -c 'warning: PHASEBOX_FALLBACK=warn' <<<"${stderr}") -eq 1 ]]
	WARNING=$(grep 'warning: PHASEBOX_FALLBACK=warn' <<<"${stderr}")
	[[ ${WARNING} == "phasebox-reap: app-misc/${MARK}-1 src_compile: warning: "* ]]
}

# --- Docker-like: seccomp + bounding set + read-only cgroupfs ----------------------------

@test "docker-like, fail: 111 before the body, one message naming the read-only mount, EROFS, the cause and the remedy; doctor: fails" {
	local features="phasebox-cgroup phasebox-network-sandbox phasebox-pid-sandbox"
	run -111 --separate-stderr phase "${DOCKER[@]}" -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ -z ${output} ]]
	# One message: the failure and its hint, both from the first link.
	[[ $(wc -l <<<"${stderr}") -eq 2 ]]
	[[ ${stderr} == "phasebox-cgroup: app-misc/${MARK}-1 src_compile: the cgroup hierarchy at '"*"' is mounted read-only: Read-only file system"$'\n'* ]]
	[[ ${stderr} == *"hint: the cgroup file system is mounted read-only; remedy: "*"remount"*"PHASEBOX_FALLBACK=warn"* ]]
	doctor "${DOCKER[@]}" -- --features "${features}" --fallback fail
	[[ ${DOCTOR_RC} -eq 1 ]]
	[[ ${VERDICT[ok]} == false ]]
	[[ ${VERDICT[phasebox-cgroup]} == fails && ${WHY[phasebox-cgroup]} == *"Read-only file system"* ]]
	[[ ${CAUSE[phasebox-cgroup]} == read-only-cgroupfs && ${CAUSE[phasebox-network-sandbox]} == bounding-set ]]
	[[ ${VERDICT[phasebox-network-sandbox]} == fails && ${VERDICT[phasebox-pid-sandbox]} == fails ]]
	[[ ${VERDICT[check:user namespaces]} == failed && ${VERDICT[check:cgroup writable]} == failed ]]
	# Twin: without the restrictions the same phase runs isolated and doctor says so.
	run -0 --separate-stderr phase -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 1 && ${BODY_CG} =~ ${LEAF_RE} && ${BODY_NET} != "${HOST_NET}" && ${BODY_PID} != "${HOST_PID}" ]]
	doctor -- --features "${features}" --fallback fail
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[phasebox-cgroup]} == works && ${VERDICT[phasebox-network-sandbox]} == works ]]
}

@test "docker-like, fail, namespaces only: the seccomp filter and the bounding set named, docker's flags and BuildKit's route given" {
	run -111 --separate-stderr phase "${DOCKER[@]}" -- FEATURES="phasebox-network-sandbox"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ $(wc -l <<<"${stderr}") -eq 2 ]]
	[[ ${stderr} == "phasebox-unshare: app-misc/${MARK}-1 src_compile: unshare(network, uts namespaces): Operation not permitted"$'\n'* ]]
	[[ ${stderr} == *"not in the capability bounding set (14 capabilities), and a seccomp filter is active"* ]]
	[[ ${stderr} == *"docker run --security-opt seccomp=unconfined"*"--cap-add=SYS_ADMIN"* ]]
	[[ ${stderr} == *"RUN --security=insecure"*"--allow security.insecure"* ]]
	[[ ${stderr} == *"PHASEBOX_FALLBACK=warn"* ]]
}

@test "docker-like, warn: the body runs once in the host's network and pid namespaces; one warning names all three drops; doctor: degrades" {
	local features="phasebox-cgroup phasebox-network-sandbox phasebox-pid-sandbox"
	run -0 --separate-stderr phase "${DOCKER[@]}" -- FEATURES="${features}" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 ]]
	[[ ${BODY_NET} == "${HOST_NET}" && ${BODY_PID} == "${HOST_PID}" && ${BODY_USER} == "${HOST_USER}" ]]
	[[ ! ${BODY_CG} =~ ^/phasebox/ ]]
	one_warning
	[[ ${WARNING} == *"the phase's cgroup (the cgroup hierarchy at "*"is mounted read-only: Read-only file system"* ]]
	[[ ${WARNING} == *"the pid, mount namespaces (unshare"* ]]
	[[ ${WARNING} == *"the network, uts, pid, mount namespaces (unshare"* ]]
	[[ ${WARNING} == *"killed by the subreaper phasebox-reap only" ]]
	# Nothing else on stderr: the warning is the only word about it.
	[[ $(wc -l <<<"${stderr}") -eq 1 ]]
	doctor "${DOCKER[@]}" -- --features "${features}" --fallback warn
	[[ ${DOCTOR_RC} -eq 1 ]]
	[[ ${VERDICT[phasebox-cgroup]} == degrades && ${WHY[phasebox-cgroup]} == *"the subreaper phasebox-reap alone"* ]]
	[[ ${VERDICT[phasebox-network-sandbox]} == degrades && ${WHY[phasebox-network-sandbox]} == *"under warn: dropped" ]]
	[[ ${VERDICT[phasebox-pid-sandbox]} == degrades && ${WHY[phasebox-pid-sandbox]} == *"under warn: dropped" ]]
	# Twin: the policy fail in the same place dies (above); warn where nothing is missing
	# warns of nothing (the phase's accounting line is all it says).
	run -0 --separate-stderr phase -- FEATURES="${features}" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_CG} =~ ${LEAF_RE} && ${BODY_NET} != "${HOST_NET}" ]]
	pb_only_accounting_line compile
}

@test "docker run --cap-add=SYS_ADMIN: ipc, pid and mount work; the network needs CAP_NET_ADMIN too (named); warn: in a user namespace; doctor agrees" {
	local -a env=( "${SECCOMP[@]}" --docker-caps --cap-add sys_admin )
	run -0 --separate-stderr phase "${env[@]}" -- FEATURES="phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox"
	body
	[[ ${BODIES} -eq 1 && -z ${stderr} && ${BODY_PID} != "${HOST_PID}" && ${BODY_USER} == "${HOST_USER}" ]]
	run -111 --separate-stderr phase "${env[@]}" -- FEATURES="phasebox-network-sandbox"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ ${stderr} == *"bring lo up: Operation not permitted"*"hint: root without CAP_NET_ADMIN cannot configure the new network namespace's loopback"* ]]
	[[ ${stderr} == *"PHASEBOX_USERNS=always"* ]]
	doctor "${env[@]}" -- --features "phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox" --fallback fail
	[[ ${DOCTOR_RC} -eq 1 && ${VERDICT[phasebox-network-sandbox]} == fails ]]
	[[ ${VERDICT[phasebox-ipc-sandbox]} == works && ${VERDICT[phasebox-pid-sandbox]} == works && ${VERDICT[phasebox-mount-sandbox]} == works ]]
	run -0 --separate-stderr phase "${env[@]}" -- FEATURES="phasebox-network-sandbox" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_NET} != "${HOST_NET}" && ${BODY_USER} != "${HOST_USER}" ]]
	one_warning
	[[ ${WARNING} == *"made inside a user namespace instead"* ]]
	# Twin: with --cap-add=NET_ADMIN as well, the network sandbox works as on the host.
	run -0 --separate-stderr phase "${env[@]}" --cap-add net_admin -- FEATURES="phasebox-network-sandbox"
	body
	[[ ${BODIES} -eq 1 && -z ${stderr} && ${BODY_NET} != "${HOST_NET}" && ${BODY_USER} == "${HOST_USER}" ]]
	doctor "${env[@]}" --cap-add net_admin -- --features "phasebox-network-sandbox" --fallback fail
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[phasebox-network-sandbox]} == works ]]
}

# --- a seccomp filter alone (root keeps every capability) --------------------------------

@test "seccomp only: unshare refused by the filter (named as such), the cgroup still works; warn drops the namespaces; doctor agrees" {
	local features="phasebox-cgroup phasebox-network-sandbox"
	run -111 --separate-stderr phase "${SECCOMP[@]}" -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ ${stderr} == *"unshare(network, uts namespaces): Operation not permitted"* ]]
	[[ ${stderr} == *"hint: a seccomp filter refuses unshare(2)"* ]]
	doctor "${SECCOMP[@]}" -- --features "${features}" --fallback fail
	[[ ${VERDICT[phasebox-cgroup]} == works && ${VERDICT[phasebox-network-sandbox]} == fails ]]
	[[ ${WHY[phasebox-network-sandbox]} == *"a seccomp filter refuses"* && ${CAUSE[phasebox-network-sandbox]} == seccomp ]]
	[[ ${CAUSE[phasebox-cgroup]} == none ]]
	run -0 --separate-stderr phase "${SECCOMP[@]}" -- FEATURES="${features}" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_CG} =~ ${LEAF_RE} && ${BODY_NET} == "${HOST_NET}" ]]
	one_warning
	[[ ${WARNING} == *"the network, uts namespaces (unshare(network, uts namespaces): Operation not permitted (a seccomp filter refuses unshare(2)"* ]]
	[[ ${WARNING} != *"cgroup"* ]]
	doctor "${SECCOMP[@]}" -- --features "${features}" --fallback warn
	[[ ${VERDICT[phasebox-network-sandbox]} == degrades && ${VERDICT[phasebox-cgroup]} == works ]]
}

# --- Docker's bounding set alone ------------------------------------------------------

@test "bounding set only: root without CAP_SYS_ADMIN fails naming the bounding set; warn makes the namespaces in a user namespace; doctor agrees" {
	local features="phasebox-cgroup phasebox-network-sandbox"
	run -111 --separate-stderr phase --docker-caps -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ ${stderr} == *"hint: root without CAP_SYS_ADMIN: it is not in the capability bounding set (14 capabilities); remedy: "* ]]
	[[ ${stderr} == *"PHASEBOX_USERNS=always"* && ${stderr} != *"seccomp filter is active"* ]]
	doctor --docker-caps -- --features "${features}" --fallback fail
	[[ ${VERDICT[phasebox-network-sandbox]} == fails && ${VERDICT[check:user namespaces]} == ok ]]
	[[ ${VERDICT[phasebox-cgroup]} == works ]]
	run -0 --separate-stderr phase --docker-caps -- FEATURES="${features}" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_CG} =~ ${LEAF_RE} ]]
	# Isolated after all, but inside a user namespace of its own.
	[[ ${BODY_NET} != "${HOST_NET}" && ${BODY_USER} != "${HOST_USER}" ]]
	one_warning
	[[ ${WARNING} == *"the network, uts namespaces are made inside a user namespace instead"* ]]
	doctor --docker-caps -- --features "${features}" --fallback warn
	[[ ${VERDICT[phasebox-network-sandbox]} == degrades ]]
	[[ ${WHY[phasebox-network-sandbox]} == *"under warn: made inside a user namespace instead" ]]
}

# --- a read-only cgroupfs alone --------------------------------------------------------

@test "read-only cgroupfs only: fails with EROFS; warn puts the phase in a pid namespace instead; doctor agrees" {
	run -111 --separate-stderr phase --ro-cgroup -- FEATURES="phasebox-cgroup"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ ${stderr} == *"Read-only file system"*"hint: the cgroup file system is mounted read-only"* ]]
	doctor --ro-cgroup -- --features phasebox-cgroup --fallback fail
	[[ ${DOCTOR_RC} -eq 1 && ${VERDICT[phasebox-cgroup]} == fails ]]
	run -0 --separate-stderr phase --ro-cgroup -- FEATURES="phasebox-cgroup" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 ]]
	[[ ! ${BODY_CG} =~ ^/phasebox/ ]]
	[[ ${BODY_PID} != "${HOST_PID}" && ${BODY_NET} == "${HOST_NET}" ]]
	one_warning
	[[ ${WARNING} == *"the phase's cgroup (the cgroup hierarchy at "*"Read-only file system"*"a pid namespace is tried in its place; what the phase leaves is killed by its pid namespace" ]]
	doctor --ro-cgroup -- --features phasebox-cgroup --fallback warn
	[[ ${VERDICT[phasebox-cgroup]} == degrades && ${WHY[phasebox-cgroup]} == *"a pid namespace kills leftovers instead"* ]]
}

@test "nothing delegated (nobody, no adopt), warn: a pid namespace in a user namespace instead of the cgroup; fail names PORTAGE_IONICE_COMMAND" {
	run -111 --separate-stderr phase --nnp --nobody -- FEATURES="phasebox-cgroup"
	body
	[[ ${BODIES} -eq 0 && ${stderr} == *"hint: no phasebox cgroup is delegated to uid 65534; remedy: add PORTAGE_IONICE_COMMAND="* ]]
	run -0 --separate-stderr phase --nnp --nobody -- FEATURES="phasebox-cgroup" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_PID} != "${HOST_PID}" && ${BODY_USER} != "${HOST_USER}" ]]
	one_warning
	[[ ${WARNING} == *"the phase's cgroup (no delegated phasebox cgroup above"*"killed by its pid namespace" ]]
	doctor --nnp --nobody -- --features phasebox-cgroup --fallback warn
	[[ ${VERDICT[phasebox-cgroup]} == degrades && ${WHY[phasebox-cgroup]} == *"a pid namespace kills leftovers instead"* ]]
}

# --- user namespaces disabled by the sysctl ------------------------------------------

@test "user.max_user_namespaces=0 (nobody): fails naming the sysctl and its remedy; warn drops the namespaces; doctor agrees; root still gets them" {
	local features="phasebox-network-sandbox phasebox-pid-sandbox"
	run -111 --separate-stderr phase --no-userns --nobody -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 0 && $(wc -l <<<"${stderr}") -eq 2 ]]
	[[ ${stderr} == *"unshare(user namespace): No space left on device"$'\n'* ]]
	[[ ${stderr} == *"hint: user namespaces are disabled (user.max_user_namespaces = 0); remedy: sysctl -w user.max_user_namespaces="* ]]
	doctor --no-userns --nobody -- --features "${features}" --fallback fail
	[[ ${DOCTOR_RC} -eq 1 && ${VERDICT[check:user namespaces]} == failed && ${VERDICT[phasebox-network-sandbox]} == fails ]]
	[[ ${WHY[check:user namespaces]} == "user.max_user_namespaces=0;"* && ${CAUSE[phasebox-network-sandbox]} == userns-sysctl ]]
	run -0 --separate-stderr phase --no-userns --nobody -- FEATURES="${features}" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_NET} == "${HOST_NET}" && ${BODY_PID} == "${HOST_PID}" ]]
	one_warning
	[[ ${WARNING} == *"the network, uts, pid, mount namespaces (unshare(user namespace): No space left on device (user namespaces are disabled"* ]]
	doctor --no-userns --nobody -- --features "${features}" --fallback warn
	[[ ${VERDICT[phasebox-network-sandbox]} == degrades && ${VERDICT[phasebox-pid-sandbox]} == degrades ]]
	# Twin: root in the same place needs no user namespace and gets both.
	run -0 --separate-stderr phase --no-userns -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 1 && -z ${stderr} && ${BODY_NET} != "${HOST_NET}" && ${BODY_PID} != "${HOST_PID}" ]]
	doctor --no-userns -- --features "${features}" --fallback fail
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[phasebox-network-sandbox]} == works ]]
}

@test "warn keeps what works: no CAP_NET_ADMIN and no user namespaces: the ipc and pid namespaces stay, only the network is dropped" {
	local features="phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox"
	local -a env=( --no-userns --docker-caps --cap-add sys_admin )
	run -111 --separate-stderr phase "${env[@]}" -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 0 && ${stderr} == *"bring lo up: Operation not permitted"*"CAP_NET_ADMIN"* ]]
	run -0 --separate-stderr phase "${env[@]}" -- FEATURES="${features}" PHASEBOX_FALLBACK=warn
	body
	[[ ${BODIES} -eq 1 && ${BODY_NET} == "${HOST_NET}" && ${BODY_PID} != "${HOST_PID}" ]]
	one_warning
	[[ ${WARNING} == *"less isolation than asked: the network, uts namespaces (bring lo up: "* ]]
	[[ ${WARNING} != *"ipc"* && ${WARNING} == *"killed by its pid namespace" ]]
	doctor "${env[@]}" -- --features "${features}" --fallback warn
	[[ ${VERDICT[phasebox-network-sandbox]} == degrades && ${WHY[phasebox-network-sandbox]} == *"under warn: dropped" ]]
	[[ ${VERDICT[phasebox-ipc-sandbox]} == works && ${VERDICT[phasebox-pid-sandbox]} == works ]]
}

# --- no_new_privs (sys-apps/sandbox sets it on every phase) -----------------------------

@test "no_new_privs as nobody: network, ipc and pid namespaces work through a user namespace; doctor says works" {
	local features="phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox"
	run -0 --separate-stderr phase --nnp --nobody -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 1 && -z ${stderr} ]]
	[[ ${BODY_NET} != "${HOST_NET}" && ${BODY_PID} != "${HOST_PID}" && ${BODY_USER} != "${HOST_USER}" ]]
	doctor --nnp --nobody -- --features "${features}" --fallback fail
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[ok]} == true ]]
	[[ ${VERDICT[phasebox-network-sandbox]} == works && ${VERDICT[phasebox-pid-sandbox]} == works ]]
	grep -q '"no_new_privs":true' "${SCRATCH}/doctor.json"
	# Twin: no_new_privs under the Docker-like filter: the user namespace itself is refused.
	run -111 --separate-stderr phase "${SECCOMP[@]}" --nnp --nobody -- FEATURES="${features}"
	body
	[[ ${BODIES} -eq 0 ]]
	[[ ${stderr} == *"unshare(user namespace): Operation not permitted"*"hint: a seccomp filter refuses unshare(CLONE_NEWUSER)"* ]]
	doctor "${SECCOMP[@]}" --nnp --nobody -- --features "${features}" --fallback fail
	[[ ${DOCTOR_RC} -eq 1 && ${VERDICT[phasebox-network-sandbox]} == fails && ${VERDICT[check:user namespaces]} == failed ]]
}

# --- sys-apps/sandbox's ptrace (static binaries) ------------------------------------

# A static binary that creates the file $1 (sys-apps/sandbox must trace it to see that).
static_writer() {
	printf '%s\n' '#include <stdio.h>' \
		'int main(int c, char **v) { FILE *f = fopen(v[1], "w"); if (!f) { perror("fopen"); return 3; } return fclose(f) != 0; }' \
		>"${SCRATCH}/w.c"
	gcc -static -o "${SCRATCH}/static-writer" "${SCRATCH}/w.c"
	mkdir "${SCRATCH}/denied"
}

@test "old-kernel Docker profile: doctor says sandbox's ptrace fails, and sys-apps/sandbox really cannot trace a static binary; twin with SYS_PTRACE" {
	command -v sandbox >/dev/null || skip "sys-apps/sandbox is not installed"
	static_writer
	local -a env=( --profile "$(readlink -f "${PROFILE}")" --old-kernel )
	[[ -r ${PROFILE} ]] || skip "no ${PROFILE}: the minKernel rule is in Docker's profile only"
	local try="SANDBOX_DENY=${SCRATCH}/denied sandbox /bin/bash -c '${SCRATCH}/static-writer ${SCRATCH}/denied/x; echo inner=\$?'"
	doctor "${env[@]}" -- --features "sandbox" --fallback fail
	[[ ${DOCTOR_RC} -eq 1 && ${VERDICT[check:sandbox ptrace]} == failed ]]
	[[ ${WHY[check:sandbox ptrace]} == "ptrace(PTRACE_TRACEME): Operation not permitted"* ]]
	grep -q 'remedy: .*allow ptrace(2)' "${SCRATCH}/doctor.txt"
	run --separate-stderr "${R}" "${env[@]}" -- /bin/bash -c "${try}"
	[[ ${stderr} == *"ptrace(PTRACE_TRACEME"*"Operation not permitted"* ]]
	[[ ${output} != *"inner=3"* ]]
	# Twin: the same container with CAP_SYS_PTRACE traces it and denies the write.
	doctor "${env[@]}" --cap-add sys_ptrace -- --features "sandbox" --fallback fail
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[check:sandbox ptrace]} == ok ]]
	run --separate-stderr "${R}" "${env[@]}" --cap-add sys_ptrace -- /bin/bash -c "${try}"
	[[ ${output} == *"inner=3"* && ${stderr} == *"S: deny"*"P: ${SCRATCH}/denied/x"* ]]
	[[ ! -e ${SCRATCH}/denied/x ]]
}

# --- doctor itself ----------------------------------------------------------------------

@test "doctor on this machine: every check and every token works, exit 0, JSON schema-valid; the human table says the same" {
	doctor -- --features "phasebox-cgroup phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox sandbox"
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[ok]} == true ]]
	local t
	for t in phasebox-cgroup phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox; do
		[[ ${VERDICT[${t}]} == works ]]
	done
	# Every check passed: no ✘ and no remedy in the table.
	run -0 grep -c '✔' "${SCRATCH}/doctor.txt"
	[[ ${output} -ge 20 ]]
	run -1 grep -E '✘|remedy:' "${SCRATCH}/doctor.txt"
	grep -q '^everything the configuration asks for works here$' "${SCRATCH}/doctor.txt"
	# Negative twin of the schema check: a document without its verdicts is refused.
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["features"]; json.dump(d, open(sys.argv[2], "w"))' \
		"${SCRATCH}/doctor.json" "${SCRATCH}/broken.json"
	run -1 "${CHECK}" "${SCHEMA}" "${SCRATCH}/broken.json"
	[[ ${output} == *"does not conform"* ]]
}

@test "doctor: a token not asked for never fails the exit status; usage errors exit 100" {
	doctor --docker-caps -- --features "phasebox-cgroup" --fallback fail
	[[ ${DOCTOR_RC} -eq 0 && ${VERDICT[phasebox-network-sandbox]} == fails ]]
	run -100 "${B}/phasebox" doctor --bogus
	run -100 "${B}/phasebox" doctor --fallback maybe
	run -0 "${B}/phasebox" doctor --help
	[[ ${output} == *"--features"*"--json"* ]]
}

@test "doctor: FEATURES and PHASEBOX_FALLBACK from portageq, else from the environment, else every token" {
	# A portageq answering as Portage's does (envvar -v NAME*..., --version), for a
	# configuration whose bashrc sources the snippet first.
	mkdir -p "${SCRATCH}/bin" "${SCRATCH}/cfg/etc/portage"
	printf 'source %s\n' "${SNIPPET}" >"${SCRATCH}/cfg/etc/portage/bashrc"
	printf '%s\n' '#!/bin/sh' 'case $1 in' '--version) echo "Portage 3.0.82" ;;' \
		"envvar) printf '%s\\n' \"FEATURES='sandbox phasebox-cgroup'\" PHASEBOX_FALLBACK=warn PORTAGE_CONFIGROOT=${SCRATCH}/cfg/ ;;" \
		'*) exit 1 ;;' 'esac' >"${SCRATCH}/bin/portageq"
	chmod 755 "${SCRATCH}/bin/portageq"
	# No Portage configuration of the machine's own in the runs without portageq.
	local -a no_portage=( env PATH=/usr/bin:/bin PORTAGE_CONFIGROOT="${SCRATCH}/none" )
	run -0 env PATH="${SCRATCH}/bin:${PATH}" FEATURES=phasebox-network-sandbox "${B}/phasebox" doctor --json
	[[ ${output} == *'"fallback":"warn","features_source":"portageq"'* ]]
	[[ ${output} == *'{"token":"phasebox-cgroup","asked":true,'* && ${output} == *'{"token":"phasebox-network-sandbox","asked":false,'* ]]
	[[ ${output} == *'"portage":{"found":true,"version":"3.0.82","version_source":"portageq --version","config_root":"'"${SCRATCH}"'/cfg/","config_root_source":"portageq",'* ]]
	# Twin: no portageq: the environment's FEATURES; neither: every token is asked for.
	run -0 "${no_portage[@]}" FEATURES=phasebox-network-sandbox "${B}/phasebox" doctor --json
	[[ ${output} == *'"fallback":"fail","features_source":"the environment"'* ]]
	[[ ${output} == *'{"token":"phasebox-cgroup","asked":false,'* && ${output} == *'{"token":"phasebox-network-sandbox","asked":true,'* ]]
	[[ ${output} == *'"portage":{"found":false,'* ]]
	run -0 env -u FEATURES PATH=/usr/bin:/bin PORTAGE_CONFIGROOT="${SCRATCH}/none" "${B}/phasebox" doctor --json
	[[ ${output} == *'"features_source":"nowhere (every token counts as asked for)"'* && ${output} != *'"asked":false'* ]]
	[[ ${output} != *'"name":"delegated route"'* ]]
	# The delegated route: the hook of this installation in PORTAGE_IONICE_COMMAND, or not.
	run -0 "${no_portage[@]}" PORTAGE_IONICE_COMMAND="${B}/phasebox-cgroup adopt \${PID}" "${B}/phasebox" doctor --json
	[[ ${output} == *'{"name":"delegated route","ok":true,"detail":"PORTAGE_IONICE_COMMAND runs '"${B}"'/phasebox-cgroup adopt … ${PID} (from the environment)"'* ]]
	# ... another installation's adopt is not this one's hook ...
	run -1 "${no_portage[@]}" PORTAGE_IONICE_COMMAND='/x/phasebox-cgroup adopt ${PID}' "${B}/phasebox" doctor --json
	[[ ${output} == *'{"name":"delegated route","ok":false,"detail":"PORTAGE_IONICE_COMMAND runs /x/phasebox-cgroup adopt, not this installation'"'"'s '"${B}"'/phasebox-cgroup (from the environment)"'* ]]
	# ... nor one without the emerge's ${PID}, nor another command.
	run -1 "${no_portage[@]}" PORTAGE_IONICE_COMMAND="${B}/phasebox-cgroup adopt -- ionice -p \${PID}" "${B}/phasebox" doctor --json
	[[ ${output} == *'{"name":"delegated route","ok":false,"detail":"PORTAGE_IONICE_COMMAND runs '"${B}"'/phasebox-cgroup adopt without ${PID}'* ]]
	run -1 "${no_portage[@]}" PORTAGE_IONICE_COMMAND='ionice -c 3 -p ${PID}' "${B}/phasebox" doctor --json
	[[ ${output} == *'{"name":"delegated route","ok":false,'*'PORTAGE_IONICE_COMMAND='* ]]
	# It counts only where userpriv phases are to get a cgroup.
	run -0 "${no_portage[@]}" PORTAGE_IONICE_COMMAND='ionice -c 3 -p ${PID}' "${B}/phasebox" doctor --features "phasebox-cgroup"
	run -1 "${no_portage[@]}" PORTAGE_IONICE_COMMAND='ionice -c 3 -p ${PID}' "${B}/phasebox" doctor --features "userpriv phasebox-cgroup"
	# A bad PHASEBOX_FALLBACK from the configuration is a usage error naming it.
	run -100 --separate-stderr "${no_portage[@]}" PHASEBOX_FALLBACK=maybe "${B}/phasebox" doctor
	[[ ${stderr} == *"PHASEBOX_FALLBACK='maybe' is not valid: expected fail or warn"* ]]
}

@test "the derived seccomp rules agree with Docker's whole profile on every namespace probe" {
	[[ -r ${PROFILE} ]] || skip "no ${PROFILE}: Docker's profile is not next to the repository"
	local a b
	"${R}" --profile "$(readlink -f "${PROFILE}")" -- "${B}/phasebox" doctor --json >"${SCRATCH}/full.json" || true
	"${R}" --seccomp -- "${B}/phasebox" doctor --json >"${SCRATCH}/derived.json" || true
	a=$(/usr/bin/python3 -c 'import json,sys; print([(c["name"], c["ok"]) for c in json.load(open(sys.argv[1]))["checks"] if c["name"].startswith(("unshare", "user ns", "sandbox"))])' "${SCRATCH}/full.json")
	b=$(/usr/bin/python3 -c 'import json,sys; print([(c["name"], c["ok"]) for c in json.load(open(sys.argv[1]))["checks"] if c["name"].startswith(("unshare", "user ns", "sandbox"))])' "${SCRATCH}/derived.json")
	[[ ${a} == "${b}" ]]
	# And both refuse something: the comparison is not between two unfiltered runs.
	[[ ${a} == *"False"* ]]
}
