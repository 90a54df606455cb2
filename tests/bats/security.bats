#!/usr/bin/env bats
# The defences of SECURITY.md that no other file proves: what a hostile build (nobody, in
# its leaf, or global-scope ebuild code in main) can try with the helpers and the delegated
# subtree.  As root, with real kernel effects; each has its negative twin, and teardown
# checks that no process or cgroup of the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup security
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --log "${LOG}" )
	HOLDER=
}

teardown() {
	[[ -z ${HOLDER} ]] || pb_drop_inv "${HOLDER}"
	pb_teardown
}

# Field $1 of the last record in the log.
last() {
	"${PY}" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "${LOG}" "$1"
}

# The holder standing in for emerge: pb_start_holder --adopt (helpers/phasebox.bash).

need_cg2() {
	[[ -n ${CG2} ]] || skip "no cgroup2 mounted: the keeper is for cgroup v2 only"
}

# --- cgroups elsewhere, symlinks ---------------------------------------------------------

# Run in a phase's leaf ($0: the cgroup2 mount): try to make a cgroup in every place above
# and beside the leaf, and a symlink in the leaf; then, the twin, a cgroup below the leaf.
ELSEWHERE_SH='leaf=$0$(sed -n "s/^0:://p" /proc/self/cgroup); inv=${leaf%/builds/*}
for d in "${leaf%/*}" "$inv" "$inv/main" "$inv/keeper" "$0/phasebox" "$0" "$0/phasebox/leaves"; do
	mkdir "$d/x-$1" 2>/dev/null; echo "mkdir $? ${d#"$0"}"
done
ln -s / "$leaf/link-$1" 2>/dev/null; echo "symlink $?"
mkdir "$leaf/sub-$1" && rmdir "$leaf/sub-$1"; echo "below $?"'

@test "security: a build in its leaf can make cgroups below its leaf only, and no symlink in cgroupfs" {
	need_cg2
	pb_start_holder --adopt "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- \
		bash -c 'exec >"$2"; '"${ELSEWHERE_SH}" "${CG2}" "${MARK}" "${SCRATCH}/w/out"
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	[[ ${#lines[@]} -eq 9 ]]
	local i
	for i in 0 1 2 3 4 5 6; do
		[[ ${lines[i]} == "mkdir 1 "* ]]
	done
	[[ ${lines[0]} == "mkdir 1 /phasebox/inv-${HOLDER}/builds" ]]
	[[ ${lines[7]} == "symlink 1" ]]
	# twin: below its own leaf the same mkdir works
	[[ ${lines[8]} == "below 0" ]]
	[[ -z $(find "${CG2}" -name "*${MARK}*") ]]
}

@test "negative twin: root makes the same cgroups (the places exist and take a mkdir)" {
	need_cg2
	pb_start_holder --adopt "${SCRATCH}/go" "${CG[@]}" --phase src_install -- \
		bash -c 'exec >"$2"; '"${ELSEWHERE_SH}"'
		for d in "${leaf%/*}" "$inv" "$inv/main" "$inv/keeper" "$0/phasebox" "$0" "$0/phasebox/leaves"; do rmdir "$d/x-$1"; done' \
		"${CG2}" "${MARK}" "${SCRATCH}/w/out"
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	local i
	for i in 0 1 2 3 4 5 6; do
		[[ ${lines[i]} == "mkdir 0 "* ]]
	done
	# cgroupfs itself has no symlinks, for root either
	[[ ${lines[7]} == "symlink 1" ]]
	[[ -z $(find "${CG2}" -name "*${MARK}*") ]]
}

# --- names -------------------------------------------------------------------------------

HOSTILE_PKG='../../../x-MARK/..'
HOSTILE_PHASE=$'../../y\n/z'

@test "security: '..', '/' and a newline in --package and --phase make one plain leaf name (root, outside)" {
	run -0 --separate-stderr "${B}/phasebox-cgroup" --package "${HOSTILE_PKG/MARK/${MARK}}" \
		--phase "${HOSTILE_PHASE}" --log "${LOG}" -- "${P}" cgroup
	[[ ${output} =~ cgroup2=/phasebox/leaves/([^/]+)$ ]]
	local name=${BASH_REMATCH[1]}
	[[ ${name} != .* && ${name} != *$'\n'* && ${name} == *x-${MARK}* ]]
	[[ -z $(find "${CG2}" -name "*${MARK}*") ]]
}

@test "security: the same names from nobody in main make one plain leaf name below builds/ (keeper)" {
	need_cg2
	pb_start_holder --adopt "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs "${B}/phasebox-cgroup" \
		--package "${HOSTILE_PKG/MARK/${MARK}}" --phase "${HOSTILE_PHASE}" --log "${LOG}" -- \
		bash -c '"$0" cgroup >"$1"' "${P}" "${SCRATCH}/w/out"
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(<"${SCRATCH}/w/out") =~ cgroup2=/phasebox/inv-${HOLDER}/builds/([^/]+)$ ]]
	local name=${BASH_REMATCH[1]}
	[[ ${name} != .* && ${name} == *x-${MARK}* ]]
	[[ -z $(find "${CG2}" -name "*${MARK}*") ]]
}

@test "negative twin: a plain package and phase are the leaf's name unchanged" {
	run -0 --separate-stderr "${CG[@]}" --phase src_compile -- "${P}" cgroup
	[[ ${output} =~ cgroup2=/phasebox/leaves/cat:${MARK}-1:src_compile\.pb[0-9]+$ ]]
}

# --- the keeper: denial of service ---------------------------------------------------------

# A hostile phase opens N connections to its keeper and holds them (python: socket, ready
# file, N, listen|ping, the marker); it writes the keeper's answer to the last one, then a second phase asks for
# its leaf.
HOG_PY='
import socket, sys
held = []
for _ in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    held.append(s)
# The keeper answers in order: the answer to the last connection comes after all the others
# were accepted (and kept) or refused.  The timeout only bounds a failure.
# A refused connection has its answer waiting ("listen"); a kept one answers a request
# ("ping").  Sending to a refused one would make its answer a reset (unread data).
last = held[-1]
if sys.argv[4] == "ping":
    last.send(b"?")
last.settimeout(30)
try:
    answer = last.recv(8192).decode()
except OSError as e:
    answer = "no answer: %s" % e
with open(sys.argv[2], "w") as f:
    f.write(answer + "\n")
sys.stdin.read()  # hold them all until the holder says it is done
'

@test "security: a build in its leaf cannot exhaust the keeper: its connections are refused, the next phase gets its leaf" {
	need_cg2
	mkfifo -m 666 "${SCRATCH}/w/hog.ready" "${SCRATCH}/w/hog.end"
	pb_start_holder --adopt "${SCRATCH}/go" bash -c '
		"${@:6}" "$0" --package "cat/$1-1" --phase src_unpack --log "$2" -- \
			"$3" -c "$4" "/run/phasebox/inv-$$.sock" "$5/hog.ready" 600 listen "$1" <"$5/hog.end" &
		hog=$!
		exec 8>"$5/hog.end"
		exec 7<>"$5/hog.ready"; read -r -t 60 -u 7 line; echo "${line:-nothing from the hog}" >"$5/out"
		"${@:6}" "$0" --package "cat/$1-1" --phase src_compile --log "$2" -- true 2>>"$5/out"; echo "second=$?" >>"$5/out"
		exec 8>&-; wait "$hog"' \
		"${B}/phasebox-cgroup" "${MARK}" "${LOG}" "${PY}" "${HOG_PY}" "${SCRATCH}/w" "${NOBODY[@]}" --no-new-privs
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	run -0 cat "${SCRATCH}/w/out"
	[[ ${lines[0]} == "E1:the supervisor is in '/phasebox/inv-${HOLDER}/builds/cat:${MARK}-1:src_unpack.pb"*"', not in '/phasebox/inv-${HOLDER}/main' nor in a build cgroup Portage made for emerge ${HOLDER}" ]]
	[[ ${output} == *second=0* ]]
	[[ $(grep -c '"phase":"src_compile"' "${LOG}") -eq 1 ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
}

@test "negative twin: connections from main are kept as clients (a bad request is refused by the protocol, not at accept)" {
	need_cg2
	mkfifo -m 666 "${SCRATCH}/w/hog.ready" "${SCRATCH}/w/hog.end"
	pb_start_holder --adopt "${SCRATCH}/go" bash -c '
		"${@:4}" "$0" -c "$1" "/run/phasebox/inv-$$.sock" "$2/hog.ready" 5 ping "$3" <"$2/hog.end" &
		hog=$!
		exec 8>"$2/hog.end"
		exec 7<>"$2/hog.ready"; read -r -t 60 -u 7 line; echo "${line:-nothing from the hog}" >"$2/out"
		exec 8>&-; wait "$hog"' \
		"${PY}" "${HOG_PY}" "${SCRATCH}/w" "${MARK}" "${NOBODY[@]}" --no-new-privs
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(<"${SCRATCH}/w/out") == "E71:unexpected request" ]]
}

# --- environment -------------------------------------------------------------------------

@test "security: a forged PHASEBOX_ORPHANS_FD from the caller counts nothing; the phase sees none" {
	local fd
	# a pipe of the caller's, with a big count waiting in it
	mkfifo "${SCRATCH}/forged"
	exec {fd}<>"${SCRATCH}/forged"
	echo 4000000 >&"${fd}"
	run -0 --separate-stderr env PHASEBOX_ORPHANS_FD="${fd}" "${CG[@]}" --phase src_compile -- \
		"${B}/phasebox-reap" -- bash -c 'printenv PHASEBOX_ORPHANS_FD; echo "set=$?"'
	[[ ${output} == set=1 ]]
	[[ $(last orphans) == 0 ]]
	# twin: the real channel still counts, under the same forged variable
	run -0 --separate-stderr env PHASEBOX_ORPHANS_FD="${fd}" "${CG[@]}" --phase src_compile -- \
		"${B}/phasebox-reap" -- "${P}" daemonize "${MARK}" "${SCRATCH}/ready"
	exec {fd}<&-
	[[ $(last orphans) == 2 ]]
}

# --- privilege -----------------------------------------------------------------------------

@test "security: a set-user-ID or file-capability copy of a helper refuses to run (111) as a non-root user" {
	command -v setcap >/dev/null || skip "setcap (libcap2-bin) not installed"
	install -m 4755 "${B}/phasebox-reap" "${SCRATCH}/suid-reap"
	install -m 0755 "${B}/phasebox-reap" "${SCRATCH}/fcap-reap"
	setcap cap_sys_admin+ep "${SCRATCH}/fcap-reap"
	run -111 "${NOBODY[@]}" "${SCRATCH}/suid-reap" -- true
	[[ ${output} == "phasebox-reap: "*"refusing to run set-user-ID or set-group-ID"* ]]
	run -111 "${NOBODY[@]}" "${SCRATCH}/fcap-reap" -- true
	[[ ${output} == "phasebox-reap: "*"refusing to run with capabilities as a non-root user"* ]]
}

@test "negative twin: the same copies without the bit or the capability run" {
	install -m 0755 "${B}/phasebox-reap" "${SCRATCH}/plain-reap"
	run -0 "${NOBODY[@]}" "${SCRATCH}/plain-reap" -- true
	# the bit was really honoured above: the set-user-ID copy does run as euid 0
	install -m 4755 "${B}/phasebox-probe" "${SCRATCH}/suid-probe"
	run -0 "${NOBODY[@]}" "${SCRATCH}/suid-probe" ids
	[[ ${lines[0]} == uid=65534,0,0 ]]
}

@test "security: make install puts no set-user-ID, set-group-ID or file capability anywhere" {
	command -v getcap >/dev/null || skip "getcap (libcap2-bin) not installed"
	local d=${SCRATCH}/dest
	run -0 make -C "${BATS_TEST_DIRNAME}/../.." -s B="${B}" DESTDIR="${d}" install
	[[ -n $(find "${d}" -type f -name 'phasebox-*') ]]
	[[ -z $(find "${d}" -perm /6000) ]]
	[[ -z $(getcap -r "${d}" 2>/dev/null) ]]
	# twin: the same two checks see a bit and a capability
	install -m 4755 /dev/null "${d}/suid"
	install -m 0755 "${B}/phasebox-reap" "${d}/fcap"
	setcap cap_sys_admin+ep "${d}/fcap"
	[[ $(find "${d}" -perm /6000) == "${d}/suid" ]]
	[[ $(getcap -r "${d}" 2>/dev/null) == "${d}/fcap"* ]]
}
