#!/usr/bin/env bats
# Malformed and hostile messages on the keeper's socket (helpers/common/keeper.cc, the
# SOCK_SEQPACKET protocol L/K/R): a request larger than the keeper's buffer (cut by the
# kernel: MSG_TRUNC), an empty one, a NUL inside, many fields, more than one descriptor,
# and a client that never reads its answers.  Each is refused whole with an answer that
# says why, and the connection closed; the keeper goes on serving the next phase.  The
# twins: the same requests made well (at the size limit, with many valid fields, read
# answer by answer) are served.  As root on cgroup2; teardown checks that no process or
# cgroup of the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup wire
	[[ -n ${CG2} ]] || skip "no cgroup2 mounted: the keeper is for cgroup v2 only"
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --log "${LOG}" --phase src_compile )
	HOLDER=
}

teardown() {
	[[ -z ${HOLDER} ]] || pb_drop_inv "${HOLDER}"
	pb_teardown
}

# A client of the keeper of the invocation it runs in (as nobody, in main): one connection
# per case, each with a fresh child of its own (held on a pipe) whose pidfd goes with the
# request.  Prints "<case>: <answer, cut to 60 bytes> closed=<yes|no>"; a granted lease is
# released (K) and the record's first bytes printed as "<case> released: …".
# sys.argv: the output file, the marker, the directory of keeper_client.py.
WIRE_PY='
import os, socket, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[3])
from keeper_client import held_child
out = open(sys.argv[1], "w", buffering=1)
with open("/proc/self/cgroup") as f:
    cg = [l.split("::", 1)[1].strip() for l in f if l.startswith("0::")][0]
path = "/run/phasebox/%s.sock" % cg.split("/")[2]
label = ("Lcat/%s-1:src_compile\n" % sys.argv[2]).encode()

def pad(body, size):
    return body + b"\n" * (size - len(body))

def case(name, msg, nfds=1):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.settimeout(30)  # bounds a failure only
    pid, w = held_child()
    pfd = os.pidfd_open(pid)
    if nfds:
        socket.send_fds(s, [msg], [pfd] * nfds)
    else:
        s.send(msg)
    answer = s.recv(16384).decode(errors="replace")
    closed = "no"
    if answer.startswith("E"):
        closed = "yes" if s.recv(16384) == b"" else "no"
    out.write("%s: %s closed=%s\n" % (name, answer[:60], closed))
    if answer.startswith("O"):
        s.send(b"K0:0")
        out.write("%s released: %s\n" % (name, s.recv(16384).decode()[:40]))
    os.close(w)
    os.waitpid(pid, 0)
    s.close()

case("over", pad(label, 8193))
case("huge", pad(label, 60000))
case("empty", b"", 0)
case("nul", b"Lcat/x\0y:src_compile\n")
case("unknown-fields", label + b"foo=1\n" * 1000)
case("two-fds", label, 2)
case("many-fds", label, 64)
# the twins: at the limit exactly, and many valid fields
case("limit", pad(label, 8192))
case("fields", label + b"pids_max=64\n" * 600)
'

@test "wire: oversized (MSG_TRUNC), empty, NUL, unknown fields, extra descriptors: each refused with its reason, the connection closed, no descriptor kept; the next phase gets its leaf" {
	mkfifo "${SCRATCH}/done"
	pb_start_holder --adopt --end "${SCRATCH}/go" "${NOBODY[@]}" --no-new-privs bash -c '
		"$0" -c "$1" "$2" "$3" "$6" && "${@:7}" -- "$4" cgroup >>"$2"; rc=$?; echo done >"$5"; exit "${rc}"' \
		"${PY}" "${WIRE_PY}" "${SCRATCH}/w/out" "${MARK}" "${P}" "${SCRATCH}/done" "${BATS_TEST_DIRNAME}/helpers" "${CG[@]}"
	chmod 666 "${SCRATCH}/done"
	local keeper fds
	keeper=$(<"${INV}/keeper/cgroup.procs")
	fds=$(ls "/proc/${keeper}/fd" | wc -l)
	pb_go "${SCRATCH}/go"
	[[ $(pb_await "${SCRATCH}/done") == done ]]
	# the keeper holds as many descriptors as before the 73 that came with the requests
	[[ $(ls "/proc/${keeper}/fd" | wc -l) -eq ${fds} ]]
	pb_run_holder "${SCRATCH}/go"
	run -0 cat "${SCRATCH}/w/out"
	[[ ${HOLDER_RC} -eq 0 ]] || { echo "${output}" >&2; false; }
	[[ ${lines[0]} == "over: E90:a request of more than 8192 bytes closed=yes" ]]
	[[ ${lines[1]} == "huge: E90:a request of more than 8192 bytes closed=yes" ]]
	[[ ${lines[2]} == "empty: E71:an empty request closed=yes" ]]
	[[ ${lines[3]} == "nul: E22:a NUL in the request closed=yes" ]]
	[[ ${lines[4]} == "unknown-fields: E22:unknown limit 'foo' closed=yes" ]]
	[[ ${lines[5]} == "two-fds: E71:more than one file descriptor passed with a request closed=yes" ]]
	[[ ${lines[6]} == "many-fds: E71:more than one file descriptor passed with a request closed=yes" ]]
	# twins: a request of 8192 bytes exactly, and one of 600 valid fields, are served
	[[ ${lines[7]} =~ ^limit:\ Ocat:${MARK}-1:src_compile\.pb[0-9]+\ closed=no$ ]]
	[[ ${lines[8]} == 'limit released: O{'* ]]
	[[ ${lines[9]} =~ ^fields:\ Ocat:${MARK}-1:src_compile\.pb[0-9]+\ closed=no$ ]]
	[[ ${lines[10]} == 'fields released: O{'* ]]
	[[ $(grep -c '"pids_max":"64"' "${LOG}") -eq 1 ]]
	# the keeper went on serving: the real phase after all that got its leaf
	[[ ${output} =~ $'\n'cgroup2=/phasebox/inv-${HOLDER}/builds/cat:${MARK}-1:src_compile\.pb[0-9]+($'\n'|$) ]]
	[[ $(grep -c '"writer":"phasebox-keeper"' "${LOG}") -eq 3 ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
}

# A client in main (root, as pkg_setup is) that registers N times; with "read" it reads
# every answer, with "noread" it never does.  Prints "answered N", or "dropped after N"
# (the keeper closed the connection), or "blocked after N" (a send did not go through in
# 30 s: the keeper has stopped reading).  sys.argv: socket, read|noread, N.
SPAM_PY='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(30)  # bounds a failure only
n = int(sys.argv[3])
for i in range(n):
    try:
        s.send(b"Rcat/spam-1\npids_max=64\n")
        if sys.argv[2] == "read" and s.recv(64) != b"O":
            sys.exit("not answered O")
    except (BrokenPipeError, ConnectionResetError):
        print("dropped after %d" % i)
        sys.exit(0)
    except socket.timeout:
        print("blocked after %d" % i)
        sys.exit(0)
print("answered %d" % n)
'

spam() {
	bash -c 'echo $$ >"$0/main/cgroup.procs" && exec "$@"' "${INV}" "${PY}" -c "${SPAM_PY}" "${SOCK}" "$@"
}

@test "wire: a client that never reads its answers is dropped; the keeper does not block on it and serves the next phase" {
	pb_start_holder --adopt --end "${SCRATCH}/go" bash -c '"$@" >"$0"' "${SCRATCH}/phase" \
		"${NOBODY[@]}" --no-new-privs "${CG[@]}" -- "${P}" cgroup
	run -0 spam noread 100000
	[[ ${output} =~ ^dropped\ after\ [0-9]+$ ]]
	# the keeper is still serving: registrations are answered, the phase gets its leaf
	run -0 spam read 10
	[[ ${output} == "answered 10" ]]
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ $(<"${SCRATCH}/phase") =~ (^|$'\n')cgroup2=/phasebox/inv-${HOLDER}/builds/cat:${MARK}-1:src_compile\.pb[0-9]+($'\n'|$) ]]
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
}

@test "negative twin: a client that reads every answer is served for as many requests" {
	pb_start_holder --adopt --end "${SCRATCH}/go" true
	run -0 spam read 5000
	[[ ${output} == "answered 5000" ]]
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
}
