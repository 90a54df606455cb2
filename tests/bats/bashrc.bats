#!/usr/bin/env bats
# The bashrc snippet (build/test/phasebox.bashrc, helpers from the build tree), sourced
# by a fake ebuild.sh (helpers/fake-ebuild.sh) the way Portage sources bashrc: in
# __ebuild_main's subshell, before the phase body.  What it must do: nothing at all in
# the depend phase, in pkg_* phases and without a phasebox-* token; otherwise re-execute
# the phase exactly once through the helper chain, with the initial environment plus
# the guard PHASEBOX_REEXEC; refuse a guard for another phase; validate PHASEBOX_*; keep
# a user's own functions; and follow Portage's exceptions to network-sandbox.  Every
# start of the fake ebuild.sh and every run of its body is recorded in files.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup bashrc
	FAKE="${BATS_TEST_DIRNAME}/helpers/fake-ebuild.sh"
	SNIPPET="${B}/test/phasebox.bashrc"
	HOST_NET=$(readlink /proc/self/ns/net)
	OWN_CG=$(sed -n 's/^0:://p' /proc/self/cgroup)
	LEAF_RE="^/phasebox/leaves/app-misc:${MARK}-1:src_[a-z]+\.pb[0-9]+$"
}

teardown() {
	pb_teardown
}

# ebuild PHASE [VAR=value...]: run the fake ebuild.sh for PHASE with a clean environment
# (records in a fresh ${O}).  Use it through `run`.
ebuild() {
	local phase=$1 func
	shift
	case ${phase} in
		unpack | prepare | configure | compile | test | install) func=src_${phase} ;;
		depend | clean) func= ;;
		*) func=pkg_${phase} ;;
	esac
	O=$(printf '%s/o.%04d' "${SCRATCH}" "$(compgen -G "${SCRATCH}/o.*" | wc -l)")
	mkdir "${O}"
	env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_SNIPPET="${SNIPPET}" PB_OUT="${O}" \
		EBUILD_PHASE="${phase}" EBUILD_PHASE_FUNC="${func}" CATEGORY=app-misc PF="${MARK}-1" \
		FEATURES="sandbox userpriv phasebox-cgroup" PHASEBOX_LOG="${SCRATCH}/log/accounting.jsonl" \
		PHASEBOX_METHOD=reexec \
		"$@" /bin/bash "${FAKE}"
}

# After `run ebuild`: the records of the last run (ebuild ran in run's subshell, so ${O}
# is found again: the o.NNNN directories are numbered in order).
records() {
	O=$(compgen -G "${SCRATCH}/o.*" | LC_ALL=C sort | tail -n 1)
	STARTS=$(wc -l <"${O}/starts")
	BODIES=$(cat "${O}/counter" 2>/dev/null | wc -l)
	BODY=$(cat "${O}/counter" 2>/dev/null || true)
	BODY_CG=
	[[ ${BODY} =~ 0::([^ ]*) ]] && BODY_CG=${BASH_REMATCH[1]}
	BODY_NET=
	[[ ${BODY} =~ net=([^ ]*) ]] && BODY_NET=${BASH_REMATCH[1]}
	return 0
}

# The tests below run the re-execution (PHASEBOX_METHOD=reexec, ebuild's default here)
# unless they say PHASEBOX_METHOD=builtin; "builtin:" tests are the in-place method's.

# Not re-executed: one start, the body ran once in the caller's cgroup and network.
not_reexecuted() {
	records
	[[ ${STARTS} -eq 1 && ${BODIES} -eq 1 ]]
	[[ ${BODY_CG} == "${OWN_CG}" ]]
	[[ ${BODY_NET} == "${HOST_NET}" ]]
}

# Isolated in place (PHASEBOX_METHOD=builtin): one start, the body ran once, no guard.
in_place() {
	records
	[[ ${STARTS} -eq 1 && ${BODIES} -eq 1 ]]
	[[ ${BODY} == *" reexec=unset "* ]]
}

# Re-executed once: two starts, the body ran once, without the guard in its shell.
reexecuted() {
	records
	[[ ${STARTS} -eq 2 && ${BODIES} -eq 1 ]]
	[[ ${BODY} == *" reexec=unset "* ]]
}

@test "depend phase with PATH=/dev/null: no error, nothing new defined" {
	run -0 --separate-stderr ebuild depend PATH=/dev/null FEATURES="phasebox-cgroup phasebox-network-sandbox"
	[[ -z ${stderr} ]]
	not_reexecuted
	local pid
	pid=$(<"${O}/starts")
	diff "${O}/funcs.before.${pid}" "${O}/funcs.after.${pid}"
	diff "${O}/vars.before.${pid}" "${O}/vars.after.${pid}"
}

@test "negative twin: the before/after comparison sees a snippet that leaves a variable and a function" {
	printf 'leaky_var=1\nleaky_fn() { :; }\n' >"${SCRATCH}/leaky.bashrc"
	SNIPPET="${SCRATCH}/leaky.bashrc"
	run -0 ebuild depend PATH=/dev/null
	records
	local pid
	pid=$(<"${O}/starts")
	run -1 diff -q "${O}/funcs.before.${pid}" "${O}/funcs.after.${pid}"
	run -1 diff -q "${O}/vars.before.${pid}" "${O}/vars.after.${pid}"
}

@test "pkg_* phases, clean, and FEATURES without a phasebox token are not re-executed" {
	local phase
	for phase in setup pretend nofetch preinst postinst prerm postrm config info clean; do
		run -0 --separate-stderr ebuild "${phase}"
		[[ -z ${stderr} ]]
		not_reexecuted
		# phasebox isolates no pkg_* phase: the network sandbox neither
		run -0 --separate-stderr ebuild "${phase}" FEATURES="phasebox-network-sandbox phasebox-ipc-sandbox"
		[[ -z ${stderr} ]]
		not_reexecuted
	done
	for phase in unpack prepare configure compile test install; do
		run -0 --separate-stderr ebuild "${phase}" FEATURES="sandbox userpriv"
		[[ -z ${stderr} ]]
		not_reexecuted
		# a phasebox-something that plans nothing does not re-execute either
		run -0 ebuild "${phase}" FEATURES="phasebox-nothing-known"
		not_reexecuted
	done
}

@test "phasebox-cgroup: every src phase is re-executed once, in a leaf, without the guard in its shell" {
	local phase
	for phase in unpack prepare configure compile test install; do
		run -0 --separate-stderr ebuild "${phase}"
		pb_only_accounting_line "${phase}"
		reexecuted
		[[ ${BODY_CG} =~ ${LEAF_RE} ]]
		[[ ${BODY_CG} == *":src_${phase}.pb"* ]]
		[[ ! -e ${CG2}${BODY_CG} ]]
	done
}

@test "a stale exported PHASEBOX_REEXEC=compile in the shell does not stop re-execution" {
	run -0 ebuild compile PB_STALE=1
	reexecuted
	[[ ${BODY_CG} =~ ${LEAF_RE} ]]
}

@test "a guard in the initial environment naming another phase dies naming both, no re-exec" {
	run -1 --separate-stderr ebuild compile PHASEBOX_REEXEC=install
	records
	[[ ${STARTS} -eq 1 && ${BODIES} -eq 0 ]]
	[[ ${stderr} == "DIE: "*"app-misc/${MARK}-1 src_compile"*"'install'"*"'compile'"* ]]
	# twin: a guard naming this phase is the re-executed phase: the body runs, no re-exec
	run -0 ebuild compile PHASEBOX_REEXEC=compile
	not_reexecuted
}

@test "the phase's exit status passes through the re-execution: 0 1 42" {
	local s
	for s in 0 1 42; do
		run -"${s}" ebuild compile PB_STATUS="${s}"
		reexecuted
		[[ ${BODY_CG} =~ ${LEAF_RE} ]]
	done
}

@test "a bad PHASEBOX_* value dies naming the variable, the value, the package and the phase" {
	local v
	for v in PHASEBOX_KILL_TIMEOUT=0 PHASEBOX_KILL_TIMEOUT=601 PHASEBOX_KILL_TIMEOUT=010 \
		PHASEBOX_KILL_TIMEOUT=abc PHASEBOX_CGROUP_HIERARCHY=v3 PHASEBOX_CGROUP_HIERARCHY= \
		PHASEBOX_USERNS=sometimes PHASEBOX_FALLBACK=allow PHASEBOX_FALLBACK=; do
		run -1 --separate-stderr ebuild compile "${v}"
		records
		[[ ${STARTS} -eq 1 && ${BODIES} -eq 0 ]]
		[[ ${stderr} == "DIE: phasebox: app-misc/${MARK}-1 src_compile: ${v%%=*}='${v#*=}' is not valid"* ]]
	done
	# twin: good values are accepted and used
	run -0 --separate-stderr ebuild compile PHASEBOX_KILL_TIMEOUT=600 PHASEBOX_CGROUP_HIERARCHY=v1 PHASEBOX_USERNS=never PHASEBOX_FALLBACK=warn
	pb_only_accounting_line compile
	reexecuted
	[[ ${BODY} =~ freezer:/phasebox/leaves/app-misc:${MARK}-1:src_compile\.pb ]]
}

@test "an unknown PHASEBOX_FOO is named in a warning; the phase still runs isolated" {
	run -0 --separate-stderr ebuild compile PHASEBOX_FOO=1
	[[ ${stderr} == "WARN: "*"app-misc/${MARK}-1 src_compile"*"PHASEBOX_FOO"* ]]
	[[ $(grep -c PHASEBOX_FOO <<<"${stderr}") -eq 1 ]]
	reexecuted
	[[ ${BODY_CG} =~ ${LEAF_RE} ]]
}

@test "a user's own pre_src_compile defined before the snippet is unchanged after it" {
	local pid
	run -0 ebuild compile PB_USERFN=1
	reexecuted
	pid=$(sed -n 2p "${O}/starts")
	[[ -s ${O}/userfn.before.${pid} ]]
	cmp "${O}/userfn.before.${pid}" "${O}/userfn.after.${pid}"
	run -0 ebuild depend PB_USERFN=1 PATH=/dev/null
	records
	pid=$(<"${O}/starts")
	cmp "${O}/userfn.before.${pid}" "${O}/userfn.after.${pid}"
}

@test "network sandbox: compile gets its own net namespace, and so does unpack" {
	run -0 ebuild compile FEATURES=phasebox-network-sandbox
	reexecuted
	[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
	[[ ${BODY_CG} == "${OWN_CG}" ]] # no phasebox-cgroup here
	# Portage sandboxes src_unpack unless the ebuild is PROPERTIES=live: so does phasebox.
	run -0 ebuild unpack FEATURES=phasebox-network-sandbox
	reexecuted
	[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
	run -0 ebuild unpack FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="test_network"
	reexecuted
	[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
	# a token is a whole word: "live" inside another one is not PROPERTIES=live
	run -0 ebuild unpack FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="alive live_ebuild"
	reexecuted
	[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
}

@test "network sandbox: unpack of a PROPERTIES=live ebuild keeps the host's network, and only unpack" {
	local phase
	run -0 ebuild unpack FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="live"
	not_reexecuted
	# Portage splits PROPERTIES on any whitespace
	run -0 ebuild unpack FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES=$'interactive\tlive\n'
	not_reexecuted
	# with phasebox-cgroup too it is re-executed, into a leaf, but on the host's network
	run -0 ebuild unpack FEATURES="phasebox-cgroup phasebox-network-sandbox" PORTAGE_PROPERTIES="live"
	reexecuted
	[[ ${BODY_NET} == "${HOST_NET}" ]]
	[[ ${BODY_CG} =~ ${LEAF_RE} ]]
	# twins: every other phase of a live ebuild is sandboxed
	for phase in prepare configure compile test install; do
		run -0 ebuild "${phase}" FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="live"
		reexecuted
		[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
	done
}

@test "network sandbox: test with PROPERTIES=test_network and RESTRICT=network-sandbox keep the host's network" {
	local phase
	run -0 ebuild test FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="live test_network"
	not_reexecuted
	# twin: test without test_network is isolated
	run -0 ebuild test FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="live"
	reexecuted
	[[ ${BODY_NET} != "${HOST_NET}" ]]
	# test_network is for src_test alone
	for phase in unpack compile install; do
		run -0 ebuild "${phase}" FEATURES=phasebox-network-sandbox PORTAGE_PROPERTIES="test_network"
		reexecuted
		[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
	done
	# twin: a RESTRICT without network-sandbox (nor a word containing it) isolates
	run -0 ebuild compile FEATURES=phasebox-network-sandbox PORTAGE_RESTRICT="mirror test no-network-sandbox"
	reexecuted
	[[ -n ${BODY_NET} && ${BODY_NET} != "${HOST_NET}" ]]
	for phase in unpack prepare configure compile test install; do
		run -0 ebuild "${phase}" FEATURES=phasebox-network-sandbox PORTAGE_RESTRICT="mirror network-sandbox"
		not_reexecuted
		# with phasebox-cgroup too it is re-executed, into a leaf, but on the host's network
		run -0 ebuild "${phase}" FEATURES="phasebox-cgroup phasebox-network-sandbox" PORTAGE_RESTRICT="network-sandbox"
		reexecuted
		[[ ${BODY_NET} == "${HOST_NET}" ]]
		[[ ${BODY_CG} =~ ${LEAF_RE} ]]
	done
}

@test "the re-run's initial environment is the original's plus exactly PHASEBOX_REEXEC=<phase>" {
	local orig rerun
	run -0 ebuild install PHASEBOX_KILL_TIMEOUT=5 SANDBOX_ON=1 $'ODD=a\nb=c' EMPTY=
	reexecuted
	orig=$(sed -n 1p "${O}/starts")
	rerun=$(sed -n 2p "${O}/starts")
	{ cat "${O}/environ.${orig}"; printf 'PHASEBOX_REEXEC=install\0'; } | LC_ALL=C sort -z >"${O}/expected"
	LC_ALL=C sort -z "${O}/environ.${rerun}" >"${O}/actual"
	cmp "${O}/expected" "${O}/actual"
	# twin: the comparison sees the one entry
	LC_ALL=C sort -z "${O}/environ.${orig}" >"${O}/original"
	run -1 cmp -s "${O}/original" "${O}/actual"
}

@test "builtin: every src phase runs once, in its leaf, in the same shell (no second start)" {
	local phase
	for phase in unpack prepare configure compile test install; do
		run -0 --separate-stderr ebuild "${phase}" PHASEBOX_METHOD=builtin
		pb_only_accounting_line "${phase}"
		in_place
		[[ ${BODY_CG} =~ ${LEAF_RE} ]]
		[[ ${BODY_CG} == *":src_${phase}.pb"* ]]
		[[ ! -e ${CG2}${BODY_CG} ]]
	done
	# twin: the same phase re-executed starts twice
	run -0 ebuild compile PHASEBOX_METHOD=reexec
	reexecuted
	[[ ${BODY_CG} =~ ${LEAF_RE} ]]
}

@test "builtin: auto is the builtin; the phase's exit status passes through: 0 1 42" {
	local s
	for s in 0 1 42; do
		run -"${s}" ebuild compile PB_STATUS="${s}" PHASEBOX_METHOD=auto
		in_place
		[[ ${BODY_CG} =~ ${LEAF_RE} ]]
	done
}

@test "builtin: all namespace tokens: the body has its own net and pid namespaces" {
	run -0 --separate-stderr ebuild compile PHASEBOX_METHOD=builtin \
		FEATURES="phasebox-cgroup phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox"
	in_place
	[[ ${BODY_NET} != "${HOST_NET}" ]]
	[[ ${BODY} =~ pidns=([^ ]*) && ${BASH_REMATCH[1]} != "$(readlink /proc/self/ns/pid)" ]]
	[[ ${BODY_CG} =~ ${LEAF_RE} ]]
	# twin: without the tokens the body shares the host's
	run -0 ebuild compile PHASEBOX_METHOD=builtin FEATURES="phasebox-cgroup"
	in_place
	[[ ${BODY_NET} == "${HOST_NET}" ]]
}

@test "builtin: the snippet leaves the shell's functions and the user's own unchanged" {
	local pid
	run -0 ebuild compile PB_USERFN=1 PHASEBOX_METHOD=builtin FEATURES="phasebox-cgroup phasebox-pid-sandbox"
	in_place
	pid=$(<"${O}/starts")
	cmp "${O}/userfn.before.${pid}" "${O}/userfn.after.${pid}"
	diff "${O}/funcs.before.${pid}" "${O}/funcs.after.${pid}"
}

@test "builtin: die in a subshell ends the phase (EBUILD_MASTER_PID is the isolated shell)" {
	run -1 ebuild compile PB_DIE=1 PHASEBOX_METHOD=builtin FEATURES="phasebox-cgroup phasebox-pid-sandbox"
	in_place
	[[ ${BODY_CG} =~ ${LEAF_RE} ]]
	run ! grep -q 'after die' "${O}/counter"
	# twin: without phasebox the same die ends it too (the harness's own check)
	run -1 ebuild compile PB_DIE=1 FEATURES="sandbox userpriv"
	not_reexecuted
	run ! grep -q 'after die' "${O}/counter"
}

@test "builtin: a bad PHASEBOX_METHOD dies naming it, the package and the phase" {
	run -1 --separate-stderr ebuild compile PHASEBOX_METHOD=fork
	records
	[[ ${STARTS} -eq 1 && ${BODIES} -eq 0 ]]
	[[ ${stderr} == "DIE: phasebox: app-misc/${MARK}-1 src_compile: PHASEBOX_METHOD='fork' is not valid: expected auto, builtin or reexec"* ]]
}
