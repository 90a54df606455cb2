#!/usr/bin/env bats
# What the helpers say about a phase reaches Portage's elog: with --elog
# ${T}/logging/${EBUILD_PHASE} (the bashrc snippet passes it), the leftover-process QA
# notice goes there as QA lines, a PHASEBOX_FALLBACK=warn downgrade and a dropped limit as
# WARN, a failure and an OOM kill of a failed phase as ERROR — byte for byte what
# Portage's own eqawarn, ewarn and eerror (__elog_base) would append — while stderr (the
# terminal and the build log) stays as it was.  The per-phase accounting line stays on
# stderr only (PHASEBOX_SUMMARY=quiet takes it off).  Twins: without --elog (or without
# ${T}/logging) no file is written.  As root, a symbolic link, a hard link or another
# user's file planted at the path is refused and nothing is written through it.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup elog
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --phase src_compile --log "${LOG}" )
	RP=( "${B}/phasebox-reap" --package "cat/${MARK}-1" --phase src_compile )
	# ${T} as Portage makes it: the build user's (here nobody's) logging directory, 0755.
	T=${SCRATCH}/t
	mkdir -p "${T}/logging"
	chmod 755 "${T}" "${T}/logging"
	chown 65534:65534 "${T}" "${T}/logging"
	EL=${T}/logging/compile
	FAKE="${BATS_TEST_DIRNAME}/helpers/fake-ebuild.sh"
	SNIPPET="${B}/test/phasebox.bashrc"
	R="${BATS_TEST_DIRNAME}/../restrict/restrict"
}

teardown() {
	pb_teardown
}

# portage_elog FUNC DIR MESSAGE: what Portage's own FUNC (eqawarn, ewarn, eerror) appends
# to DIR/logging/compile for MESSAGE (bin/isolated-functions.sh of the Portage the e2e
# suite runs: PHASEBOX_PORTAGE_SRC, or the snapshot make test-deps unpacked).
portage_elog() {
	local portage=${PHASEBOX_PORTAGE_SRC:-${B}/vendor/portage}
	[[ -r ${portage}/bin/isolated-functions.sh ]] ||
		skip "no Portage to compare with (make test-deps unpacks it into ${B}/vendor/portage)"
	env -i PATH=/usr/bin:/bin PORTAGE_BIN_PATH="${portage}/bin" bash -c '
		source "${PORTAGE_BIN_PATH}/isolated-functions.sh" || exit 1
		T=$1 EBUILD_PHASE=compile
		"$2" "$3"' portage-elog "$2" "$1" "$3" >/dev/null 2>&1
}

# What the IO weight needs here, as tests/bats/limits.bats's io_weight_file sees it: 0 when
# the kernel weighs I/O per cgroup (BFQ, or blk-iocost on cgroup2), 1 when it cannot.
io_weight_droppable() {
	local bfq=0
	grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null && bfq=1
	if [[ -n ${CG2} && $(<"${CG2}/cgroup.controllers") == *io* ]]; then
		[[ ! -e ${CG2}/io.cost.qos ]] && (( ! bfq ))
	elif grep -Eq "^[0-9]+:([^:]*,)?blkio(,[^:]*)?:" /proc/self/cgroup; then
		(( ! bfq ))
	else
		return 0
	fi
}

# The QA notice of the daemons in $1, as lines of the elog file $2.
qa_in_elog() {
	local d
	grep -qxF "QA QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed:" "$2"
	for d in $1; do
		grep -qxF "QA   pid ${d} (sleep): ${MARK} 3600" "$2"
	done
}

# --- the messages, and their class -----------------------------------------------------

@test "phasebox-cgroup --elog: the leftover processes' QA notice is in \${T}/logging/compile as QA lines; stderr as before" {
	local daemons d
	run -0 --separate-stderr "${CG[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	daemons=$(pb_daemons "${output}")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	qa_in_elog "${daemons}" "${EL}"
	# the notice and nothing else: 3 lines, no accounting line
	[[ $(wc -l <"${EL}") -eq 3 ]]
	[[ $(<"${EL}") != *"phasebox: src_compile of cat/${MARK}-1: "* ]]
	# stderr: the notice in its " * " form, then the accounting line, as before
	[[ ${stderr} == *"* QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed:"* ]]
	for d in ${daemons}; do [[ ${stderr} == *" *   pid ${d} (sleep): ${MARK} 3600"* ]]; done
	[[ ${stderr} =~ \ \*\ phasebox:\ src_compile\ of\ cat/${MARK}-1:\ [^$'\n']*no\ limits ]]
}

@test "negative twin: without --elog nothing is written to \${T}/logging; stderr has the same notice" {
	local daemons
	run -0 --separate-stderr "${CG[@]}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	daemons=$(pb_daemons "${output}")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	[[ -z $(ls -A "${T}/logging") ]]
	[[ ${stderr} == *"* QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed:"* ]]
}

@test "phasebox-reap --elog: the same QA lines from the subreaper (no cgroup)" {
	local daemons d
	"${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready" >"${SCRATCH}/out" 2>"${SCRATCH}/err"
	daemons=$(pb_daemons "$(<"${SCRATCH}/out")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	for d in ${daemons}; do pb_dead "${d}"; done
	qa_in_elog "${daemons}" "${EL}"
	[[ $(wc -l <"${EL}") -eq 3 ]]
	grep -qxF " * QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed:" "${SCRATCH}/err"
}

@test "a failure (no cgroup delegated to nobody) is ERROR, hint included; a warn downgrade is WARN; stderr unchanged" {
	run -111 --separate-stderr "${NOBODY[@]}" "${CG[@]}" --elog "${EL}" -- touch "${SCRATCH}/w/ran"
	[[ ! -e ${SCRATCH}/w/ran ]]
	[[ $(grep -c '' "${EL}") -eq 2 ]]
	[[ $(sed -n 1p "${EL}") == "ERROR phasebox-cgroup: cat/${MARK}-1 src_compile: no delegated phasebox cgroup above "*": Permission denied" ]]
	[[ $(sed -n 2p "${EL}") == "ERROR phasebox-cgroup: cat/${MARK}-1 src_compile: hint: no phasebox cgroup is delegated to uid 65534; "*PORTAGE_IONICE_COMMAND* ]]
	# stderr: the same two lines, without the class
	[[ ${stderr} == "$(sed 's/^ERROR //' "${EL}")" ]]
	# the file is nobody's (it wrote it), in nobody's directory
	[[ $(stat -c %u "${EL}") == 65534 ]]
	# warn: phasebox-cgroup hands the drop to the pid namespace's link (--elog with it),
	# and the chain's last link says it, once, as WARN
	rm -f "${EL}"
	run -0 --separate-stderr "${NOBODY[@]}" "${CG[@]}" --fallback warn --elog "${EL}" -- touch "${SCRATCH}/w/ran"
	[[ -e ${SCRATCH}/w/ran ]]
	[[ $(grep -c '' "${EL}") -eq 1 ]]
	[[ $(<"${EL}") == "WARN phasebox-unshare: cat/${MARK}-1 src_compile: warning: PHASEBOX_FALLBACK=warn: this phase runs with less isolation than asked: the phase's cgroup (no delegated phasebox cgroup above "* ]]
	[[ ${stderr} == "$(sed 's/^WARN //' "${EL}")" ]]
}

@test "byte for byte what Portage's own eqawarn, ewarn and eerror append for the same messages" {
	local daemons line
	mkdir -m 755 "${SCRATCH}/portage" "${SCRATCH}/portage/logging"
	# WARN and ERROR as nobody (its own file in its own directory) ...
	run -0 --separate-stderr "${NOBODY[@]}" "${B}/phasebox-unshare" --package "cat/${MARK}-1" --phase src_compile \
		--userns never --net --fallback warn --elog "${EL}" -- true
	[[ $(grep -c '' <<<"${stderr}") -eq 1 ]]
	portage_elog ewarn "${SCRATCH}/portage" "${stderr}"
	run -111 --separate-stderr "${NOBODY[@]}" "${CG[@]}" --elog "${EL}" -- true
	[[ $(grep -c '' <<<"${stderr}") -eq 2 ]]
	while IFS= read -r line; do portage_elog eerror "${SCRATCH}/portage" "${line}"; done <<<"${stderr}"
	# ... and QA as root, appending to nobody's file (the directory owner's)
	"${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready" >"${SCRATCH}/out" 2>"${SCRATCH}/err"
	daemons=$(pb_daemons "$(<"${SCRATCH}/out")")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	portage_elog eqawarn "${SCRATCH}/portage" "$(sed 's/^ \* //' "${SCRATCH}/err")"
	cat "${EL}" >&2
	cmp "${SCRATCH}/portage/logging/compile" "${EL}"
	[[ $(grep -c '' "${EL}") -eq 6 ]]
	# twin: the comparison sees a difference of one byte
	printf 'QA x\n' >>"${SCRATCH}/portage/logging/compile"
	run -1 cmp -s "${SCRATCH}/portage/logging/compile" "${EL}"
}

@test "an OOM kill of a failed phase is ERROR (with its hint), the dropped PHASEBOX_IO_WEIGHT of a warn phase WARN, each with its twin" {
	run -137 --separate-stderr "${CG[@]}" --elog "${EL}" --memory-max 64M --makeopts -j8 -- "${P}" alloc 256
	[[ $(sed -n 1p "${EL}") == "ERROR phasebox: src_compile of cat/${MARK}-1 hit PHASEBOX_MEMORY_MAX=64M (peak "*" MiB, 1 process OOM-killed)" ]]
	[[ $(sed -n 2p "${EL}") == "ERROR phasebox: hint: lower the make jobs for this package (MAKEOPTS=-j8) or raise PHASEBOX_MEMORY_MAX, in package.env" ]]
	[[ $(grep -c '' "${EL}") -eq 2 ]]
	# twin: under a limit above what it touches, nothing in elog
	rm -f "${EL}"
	run -0 --separate-stderr "${CG[@]}" --elog "${EL}" --memory-max 512M -- "${P}" alloc 96
	[[ ! -e ${EL} ]]
	# PHASEBOX_IO_WEIGHT, where this kernel cannot weigh I/O (detected, as in limits.bats)
	run -0 --separate-stderr "${CG[@]}" --elog "${EL}" --io-weight 50 --fallback warn -- true
	if io_weight_droppable; then
		[[ $(grep -c '' "${EL}") -eq 1 ]]
		[[ $(<"${EL}") == "WARN phasebox-cgroup: cat/${MARK}-1 src_compile: PHASEBOX_IO_WEIGHT=50 cannot be applied: "*"; running without it (PHASEBOX_FALLBACK=warn)" ]]
		[[ ${stderr} == *"$(sed 's/^WARN //' "${EL}")"* ]]
	else
		# applied: nothing dropped, nothing said
		[[ ! -e ${EL} && ${stderr} != *"cannot be applied"* ]]
	fi
}

@test "keeper: a limit the keeper dropped for nobody's phase (warn) is said after the phase, on stderr and as WARN" {
	[[ -n ${CG2} ]] || skip "no cgroup2: the keeper is for cgroup v2"
	pb_start_holder --adopt "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs bash -c '
		"$@" >"$0/out" 2>"$0/err"; echo "rc=$?" >>"$0/out"' "${SCRATCH}/w" \
		"${CG[@]}" --elog "${EL}" --io-weight 50 --fallback warn -- true
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 && $(<"${SCRATCH}/w/out") == rc=0 ]]
	[[ $("${PY}" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["writer"])' "${LOG}") == phasebox-keeper ]]
	if io_weight_droppable; then
		[[ $(grep -c '' "${EL}") -eq 1 ]]
		[[ $(<"${EL}") == "WARN phasebox-cgroup: cat/${MARK}-1 src_compile: PHASEBOX_IO_WEIGHT=50 cannot be applied: "*"; the phase ran without it (PHASEBOX_FALLBACK=warn)" ]]
		grep -qxF "$(sed 's/^WARN //' "${EL}")" "${SCRATCH}/w/err"
	else
		[[ ! -e ${EL} ]]
		! grep -q 'cannot be applied' "${SCRATCH}/w/err"
	fi
	pb_drop_inv "${HOLDER}"
}

@test "phasebox-proxy (root, which drops every capability before the phase): a refused connection is WARN in the build user's \${T}/logging" {
	local sock=${SCRATCH}/p.sock
	local socks='import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"\x05\x01\x00")
s.recv(2)
host = sys.argv[2].encode()
s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host + (80).to_bytes(2, "big"))
print("reply", s.recv(10)[1])'
	run -0 --separate-stderr "${B}/phasebox-proxy" --package "cat/${MARK}-1" --phase src_compile --socket "${sock}" \
		--allow 127.0.0.1:9 --elog "${EL}" -- "${B}/phasebox-unshare" --package "cat/${MARK}-1" --phase src_compile \
		--net --uts --proxy-socket "${sock}" -- "${PY}" -c "${socks}" "${sock}" "${MARK}.invalid"
	[[ ${output} == "reply 2" ]]
	[[ $(<"${EL}") == "WARN phasebox-proxy: cat/${MARK}-1 src_compile: refused a connection to ${MARK}.invalid:80: not in DISTCC_HOSTS or PHASEBOX_NETWORK_ALLOW" ]]
	[[ ${stderr} == "$(sed 's/^WARN //' "${EL}")" ]]
	# negative twin: root without capabilities cannot make a file in nobody's directory
	# (why the proxy opens it at start), and without --elog nothing is written
	run -1 setpriv --bounding-set -all --inh-caps -all -- touch "${T}/logging/test"
	rm -f "${EL}"
	run -0 --separate-stderr "${B}/phasebox-proxy" --package "cat/${MARK}-1" --phase src_compile --socket "${sock}" \
		--allow 127.0.0.1:9 -- "${B}/phasebox-unshare" --package "cat/${MARK}-1" --phase src_compile \
		--net --uts --proxy-socket "${sock}" -- "${PY}" -c "${socks}" "${sock}" "${MARK}.invalid"
	[[ ${output} == "reply 2" && ${stderr} == *"refused a connection to ${MARK}.invalid:80"* ]]
	[[ -z $(ls -A "${T}/logging") ]]
}

# --- the path is hostile -----------------------------------------------------------------

@test "security: as root, a symbolic link planted at the elog file, or in its path, is refused; nothing is written through it" {
	local daemons
	mkdir -m 755 "${SCRATCH}/etc"
	printf 'precious\n' >"${SCRATCH}/etc/shadow"
	ln -s "${SCRATCH}/etc/shadow" "${EL}"
	run -0 --separate-stderr "${CG[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	daemons=$(pb_daemons "${output}")
	[[ $(wc -w <<<"${daemons}") -eq 2 ]]
	[[ $(<"${SCRATCH}/etc/shadow") == precious ]]
	[[ -L ${EL} ]]
	# said once, on stderr; the notice itself is still there
	[[ $(grep -c 'elog: ' <<<"${stderr}") -eq 1 ]]
	[[ ${stderr} == *"phasebox-cgroup: cat/${MARK}-1 src_compile: elog: '${EL}' is a symbolic link (refused, never followed), ignoring: "* ]]
	[[ ${stderr} == *"* QA Notice: phasebox: src_compile of cat/${MARK}-1 left 2 processes running; killed:"* ]]
	# ${T}/logging itself a link to a root directory (a bash_completion.d, say): nothing made there
	rm -f "${EL}"
	mv "${T}/logging" "${T}/logging.real"
	ln -s "${SCRATCH}/etc" "${T}/logging"
	run -0 --separate-stderr "${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	[[ ! -e ${SCRATCH}/etc/compile ]]
	[[ ${stderr} == *"elog: '${T}/logging' is a symbolic link (refused: the elog file's path may have none), ignoring: "* ]]
}

@test "negative twin: a plain append (bash's >>, as __elog_base does) writes through the planted link; the real path is written by the helper" {
	mkdir -m 755 "${SCRATCH}/etc"
	printf 'precious\n' >"${SCRATCH}/etc/shadow"
	ln -s "${SCRATCH}/etc/shadow" "${EL}"
	echo "QA x" >>"${EL}"
	[[ $(<"${SCRATCH}/etc/shadow") == precious$'\n'"QA x" ]]
	rm -f "${EL}"
	run -0 --separate-stderr "${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	[[ ! -L ${EL} && $(grep -c '^QA ' "${EL}") -eq 3 ]]
	[[ ${stderr} != *"elog: "* ]]
}

@test "security: as root, a hard link to another file and a third user's file at the path are refused; the directory owner's file is written" {
	printf 'precious\n' >"${SCRATCH}/other"
	ln "${SCRATCH}/other" "${EL}"
	run -0 --separate-stderr "${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	[[ $(<"${SCRATCH}/other") == precious ]]
	[[ ${stderr} == *"elog: '${EL}' has 2 links (refused), ignoring"* ]]
	rm -f "${EL}"
	printf '' >"${EL}"
	chown 1234:1234 "${EL}"
	run -0 --separate-stderr "${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	[[ ! -s ${EL} ]]
	[[ ${stderr} == *"elog: '${EL}' belongs to uid 1234, neither this process's (0) nor its directory's owner (65534) (refused), ignoring"* ]]
	# twin: the directory owner's (nobody's) file takes root's lines
	chown 65534:65534 "${EL}"
	run -0 --separate-stderr "${RP[@]}" --elog "${EL}" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	[[ $(grep -c '^QA ' "${EL}") -eq 3 && ${stderr} != *"elog: "* ]]
}

@test "--elog that is not \${T}/logging/<a Portage phase> is a usage error (100), nothing runs" {
	local bad
	for bad in relative/logging/compile "${T}/logging/src_compile" "${T}/compile" "${T}/logging/../logging/compile" /etc/shadow; do
		run -100 --separate-stderr "${CG[@]}" --elog "${bad}" -- touch "${SCRATCH}/ran"
		[[ ${stderr} == *"--elog: the elog file '${bad}' "* ]]
		run -100 --separate-stderr "${RP[@]}" --elog "${bad}" -- touch "${SCRATCH}/ran"
	done
	[[ ! -e ${SCRATCH}/ran && ! -e /etc/logging ]]
}

# --- the snippet ---------------------------------------------------------------------------

# ebuild METHOD VAR=value...: the fake ebuild.sh's src_compile as nobody (no_new_privs, as
# under sys-apps/sandbox), with ${T} the test's and FEATURES=phasebox-cgroup.
ebuild() {
	local method=$1
	shift
	mkdir -p -m 777 "${SCRATCH}/o"
	"${R}" --nnp --nobody -- env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_SNIPPET="${SNIPPET}" \
		PB_OUT="${SCRATCH}/o" EBUILD_PHASE=compile EBUILD_PHASE_FUNC=src_compile CATEGORY=app-misc \
		PF="${MARK}-1" FEATURES=phasebox-cgroup PHASEBOX_LOG="${PHASEBOX_LOG}" PHASEBOX_METHOD="${method}" \
		T="${T}" "$@" /bin/bash "${FAKE}"
}

@test "the snippet passes --elog \${T}/logging/\${EBUILD_PHASE} to the links (builtin and re-executed): the failure and the downgrade land there" {
	local method
	for method in builtin reexec; do
		rm -f "${EL}"
		run -111 --separate-stderr ebuild "${method}"
		[[ $(sed -n 1p "${EL}") == "ERROR phasebox-cgroup: app-misc/${MARK}-1 src_compile: no delegated phasebox cgroup above "* ]]
		[[ $(grep -c '' "${EL}") -eq 2 ]]
		rm -f "${EL}"
		run -0 --separate-stderr ebuild "${method}" PHASEBOX_FALLBACK=warn
		[[ $(grep -c '' "${EL}") -eq 1 ]]
		[[ $(<"${EL}") == "WARN phasebox-reap: app-misc/${MARK}-1 src_compile: warning: PHASEBOX_FALLBACK=warn: this phase runs with less isolation than asked: the phase's cgroup (no delegated phasebox cgroup above "*"; what the phase leaves is killed by its pid namespace" ]]
		[[ ${stderr} == *"$(sed 's/^WARN //' "${EL}")"* ]]
	done
}

@test "negative twin: no \${T}/logging, no elog file and no complaint (as __elog_base); the same messages on stderr" {
	rm -rf "${T}/logging"
	run -111 --separate-stderr ebuild reexec
	[[ ${stderr} == "phasebox-cgroup: app-misc/${MARK}-1 src_compile: no delegated phasebox cgroup above "* ]]
	[[ ${stderr} != *"elog: "* && ! -e ${T}/logging ]]
	run -0 --separate-stderr ebuild builtin PHASEBOX_FALLBACK=warn
	[[ ${stderr} == *"warning: PHASEBOX_FALLBACK=warn"* && ${stderr} != *"elog: "* && ! -e ${T}/logging ]]
}

# As root (no restrict), the way bashrc.bats runs the fake ebuild.sh.
root_ebuild() {
	mkdir -p -m 777 "${SCRATCH}/o"
	env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_SNIPPET="${SNIPPET}" PB_OUT="${SCRATCH}/o" \
		EBUILD_PHASE=compile EBUILD_PHASE_FUNC=src_compile CATEGORY=app-misc PF="${MARK}-1" \
		FEATURES=phasebox-cgroup PHASEBOX_LOG="${PHASEBOX_LOG}" T="${T}" "$@" /bin/bash "${FAKE}"
}

@test "PHASEBOX_SUMMARY=quiet takes the accounting line off stderr (both methods); show, the default, keeps it; neither puts it in elog" {
	local method
	for method in builtin reexec; do
		run -0 --separate-stderr root_ebuild PHASEBOX_METHOD="${method}" PHASEBOX_SUMMARY=quiet
		[[ -z ${stderr} ]]
		[[ $(grep -c '' "${SCRATCH}/o/counter") -ge 1 ]]
		run -0 --separate-stderr root_ebuild PHASEBOX_METHOD="${method}" PHASEBOX_SUMMARY=show
		pb_only_accounting_line compile
		run -0 --separate-stderr root_ebuild PHASEBOX_METHOD="${method}"
		pb_only_accounting_line compile
	done
	[[ ! -e ${EL} ]]
	# the record is written either way
	[[ $(grep -c '"phase":"src_compile"' "${PHASEBOX_LOG}") -eq 6 ]]
}

@test "a bad PHASEBOX_SUMMARY dies naming the variable, the value, the package and the phase" {
	local v
	for v in loud "" Quiet; do
		run -1 --separate-stderr root_ebuild PHASEBOX_METHOD=reexec PHASEBOX_SUMMARY="${v}"
		[[ ${stderr} == "DIE: phasebox: app-misc/${MARK}-1 src_compile: PHASEBOX_SUMMARY='${v}' is not valid: expected show or quiet"* ]]
	done
	[[ ! -e ${SCRATCH}/o/counter ]]
}
