#!/usr/bin/env bats
# phasebox-proxy with phasebox-unshare --net --proxy-socket, against Debian's real distcc:
# a distccd "remote host" in a network namespace of this test's own (anonymous: held by a
# process, never named, so `ip netns list` of concurrent test files is unchanged), joined
# to the host by a veth pair with addresses 10.213.N.1/30 (host) and 10.213.N.2/30
# (remote), and no route anywhere else.  The remote also runs a server on port 3633, which
# is not in DISTCC_HOSTS.  Each kernel effect has its twin: the same connection without the
# sandbox succeeds.  Nothing is synchronised on time: fifos say when a process is ready,
# listening sockets are polled as a condition, bounded.  teardown checks that no process
# with the marker, no veth and no socket file is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup proxy
	X="${B}/phasebox-proxy"
	U="${B}/phasebox-unshare"
	SOCK="${SCRATCH}/w/p.sock"
	WHO=(--package "cat/${MARK}" --phase src_compile)
	VETH="pbx${BATS_TEST_NUMBER}${RANDOM}"
	VETH=${VETH:0:12}
	REMOTE_PID=
	printf 'int f_%s(int x) { return x + 1; }\n' one two >"${SCRATCH}/w/one.c"
	printf 'int g(int x) { return x * 3; }\n' >"${SCRATCH}/w/two.c"
	chmod 666 "${SCRATCH}/w/"*.c
	mkdir -m 1777 "${SCRATCH}/w/.distcc"
}

teardown() {
	local rc=0
	[[ -n ${MARK:-} ]] || return 0
	# The remote goes (its servers, the holder of its namespace, the veth pair: deleting
	# one end deletes both), then nothing of it may be left.
	if [[ -n ${REMOTE_PID} ]]; then
		# shellcheck disable=SC2046 # one pid per word
		pb_kill_wait "${REMOTE_PID}" $(pgrep -f "${MARK}-remote")
		ip link del "${VETH}h" 2>/dev/null
	fi
	if ip link show "${VETH}h" &>/dev/null; then
		echo "leaked veth ${VETH}h" >&2
		rc=1
	fi
	if [[ -e ${SOCK} ]]; then
		echo "leaked socket ${SOCK}" >&2
		rc=1
	fi
	pb_teardown || rc=1
	return "${rc}"
}

# The remote host: a process holding a new network namespace (its argv[0] carries the
# marker), a veth pair into it, distccd and the other server inside.  Sets NET (10.213.N),
# REMOTE_PID, and IN (the nsenter prefix that runs a command in the remote).
remote_up() {
	local n i fifo="${SCRATCH}/remote.ready"
	for (( i = 0; i < 50; i++ )); do
		n=$(( 1 + RANDOM % 99 ))
		ip -4 -o addr show | grep -qF " 10.213.${n}." || break
	done
	NET=10.213.${n}
	mkfifo "${fifo}"
	unshare --net -- bash -c 'echo up >"$1"; exec -a "$2" sleep 3600' _ "${fifo}" "${MARK}-remote" 3>&- &
	REMOTE_PID=$!
	disown # teardown kills it; bash need not announce it
	pb_await "${fifo}" >/dev/null
	IN=(nsenter --net="/proc/${REMOTE_PID}/ns/net" --)
	ip link add "${VETH}h" type veth peer name "${VETH}r"
	ip link set "${VETH}r" netns "${REMOTE_PID}"
	ip addr add "${NET}.1/30" dev "${VETH}h"
	ip link set "${VETH}h" up
	"${IN[@]}" ip addr add "${NET}.2/30" dev "${VETH}r"
	"${IN[@]}" ip link set "${VETH}r" up
	"${IN[@]}" ip link set lo up
	: >"${SCRATCH}/distccd.log"
	chown nobody "${SCRATCH}/distccd.log"
	"${IN[@]}" bash -c 'exec -a "$1" distccd --daemon --no-detach --user nobody --allow "$2" --listen "$3" \
		--port 3632 --log-file "$4" --log-level info' _ "${MARK}-remote-distccd" "${NET}.1" "${NET}.2" \
		"${SCRATCH}/distccd.log" </dev/null &>"${SCRATCH}/distccd.out" 3>&- &
	disown
	"${IN[@]}" "${PY}" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 3633))
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"other\n")
    c.close()
' "${NET}.2" "${MARK}-remote-other" </dev/null &>/dev/null 3>&- &
	disown
	for (( i = 0; i < 100; i++ )); do
		[[ $("${IN[@]}" ss -Hltn 'sport = :3632 or sport = :3633' | wc -l) -ge 2 ]] && return 0
		sleep 0.1
	done
	echo "the remote's servers did not listen within 10 s" >&2
	return 1
}

# jobs FILE...: how many COMPILE_OK lines distccd logged for these source files.
# distccd logs a job's summary after it has sent the result, so the client can be done
# before the line is written (seen under load): a count short of the one the test asks for
# (JOBS_WANT) is read again, for at most 10 s.  A count of 0 that is asked for is read once.
jobs() {
	local f n tries=100
	while :; do
		n=0
		for f; do
			n=$(( n + $(grep -cE "COMPILE_OK .* ${f}\$" "${SCRATCH}/distccd.log") ))
		done
		(( n >= ${JOBS_WANT:-0} || --tries == 0 )) && break
		sleep 0.1
	done
	echo "${n}"
}

# The chain as a phase gets it: proxy outside, then the network namespace.  $1: who runs it
# (root or nobody); the rest: the command inside.
sandboxed() {
	local who=$1
	shift
	pb_as_prefix "${who}"
	"${AS[@]}" env -i PATH=/usr/bin:/bin HOME="${SCRATCH}/w" DISTCC_DIR="${SCRATCH}/w/.distcc" \
		DISTCC_HOSTS="${HOSTS}" DISTCC_FALLBACK=0 \
		"${X}" "${WHO[@]}" --socket "${SOCK}" --distcc-hosts "${HOSTS}" ${ALLOW:+--allow "${ALLOW}"} -- \
		"${U}" "${WHO[@]}" --net --uts --proxy-socket "${SOCK}" -- "$@"
}

pb_as_prefix() {
	case $1 in
	root) AS=() ;;
	nobody) AS=("${NOBODY[@]}") ;;
	esac
}

# A client for the proxy's unix socket: SOCKS5 CONNECT to HOST PORT (by name when HOST is
# not an address); prints the reply code, then the server's first line when it is 0.
SOCKS_PY='
import socket, sys
path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(path)
s.sendall(bytes([5, 1, 0]))
assert s.recv(2) == bytes([5, 0])
try:
    addr = bytes([1]) + socket.inet_aton(host)
except OSError:
    addr = bytes([3, len(host)]) + host.encode()
s.sendall(bytes([5, 1, 0]) + addr + port.to_bytes(2, "big"))
r = s.recv(10)
print("reply", r[1])
if r[1] == 0:
    print(s.makefile().readline().strip())
'

@test "contract: --help 0, usage errors 100, PROG's status, 127, 128+N, messages prefixed" {
	run -0 "${X}" --help
	[[ ${output} == *"--socket"* && ${output} == *"--distcc-hosts"* && ${output} == *"--allow"* ]]
	run -100 --separate-stderr "${X}" -- true
	[[ ${stderr} == "phasebox-proxy: "*"--socket"* ]]
	run -100 --separate-stderr "${X}" --socket "${SOCK}"
	[[ ${stderr} == *"missing '-- PROG"* ]]
	run -100 --separate-stderr "${X}" "${WHO[@]}" --socket "${SOCK}" --allow "farm1" -- true
	[[ ${stderr} == "phasebox-proxy: cat/${MARK} src_compile: PHASEBOX_NETWORK_ALLOW entry 'farm1': "* ]]
	run -100 --separate-stderr "${X}" "${WHO[@]}" --socket "${SOCK}" --distcc-hosts "a:99999" -- true
	[[ ${stderr} == *"DISTCC_HOSTS entry 'a:99999': the port must be 1-65535"* ]]
	run -0 "${X}" --socket "${SOCK}" -- true
	run -7 "${X}" --socket "${SOCK}" -- "${P}" exit 7
	run -127 --separate-stderr "${X}" --socket "${SOCK}" -- /nonexistent/"${MARK}"
	[[ ${stderr} == "phasebox-proxy: "*"/nonexistent/${MARK}"* ]]
	run -137 "${X}" --socket "${SOCK}" -- "${P}" kill-self KILL
	run -111 --separate-stderr "${X}" --socket "${SCRATCH}/$(printf 'd%.0s' {1..120})" -- true
	[[ ${stderr} == *"socket path"* ]]
	# stdout belongs to PROG
	run -0 --separate-stderr "${X}" --socket "${SOCK}" -- echo "${MARK}"
	[[ ${output} == "${MARK}" && -z ${stderr} ]]
	[[ ! -e ${SOCK} ]]
}

@test "an existing file at the socket path is refused; a stale socket of the same user is replaced" {
	: >"${SOCK}"
	run -111 --separate-stderr "${X}" --socket "${SOCK}" -- true
	[[ ${stderr} == *"exists and is not a socket of this user"* ]]
	[[ -f ${SOCK} ]] # left alone
	rm "${SOCK}"
	"${PY}" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "${SOCK}"
	[[ -S ${SOCK} ]]
	run -0 "${X}" --socket "${SOCK}" -- test -S "${SOCK}"
	[[ ! -e ${SOCK} ]]
}

@test "root: plain distcc in the network sandbox compiles on the remote; distccd logs the job" {
	remote_up
	HOSTS="${NET}.2/2"
	run -0 --separate-stderr sandboxed root sh -c 'cd "$1" && distcc gcc -c one.c -o one.o && distcc gcc -c two.c -o two.o' _ "${SCRATCH}/w"
	[[ -s ${SCRATCH}/w/one.o && -s ${SCRATCH}/w/two.o ]]
	[[ $(JOBS_WANT=2 jobs one.c two.c) == 2 ]]
	[[ ! -e ${SOCK} ]]
}

@test "twin: without the proxy, distcc in the network sandbox cannot reach the remote (no job logged)" {
	remote_up
	run --separate-stderr env -i PATH=/usr/bin:/bin HOME="${SCRATCH}/w" DISTCC_HOSTS="${NET}.2" DISTCC_FALLBACK=0 \
		"${U}" --net -- sh -c 'cd "$1" && distcc gcc -c one.c -o one.o' _ "${SCRATCH}/w"
	[[ ${status} -ne 0 ]]
	[[ ! -e ${SCRATCH}/w/one.o ]]
	[[ $(jobs one.c) == 0 ]]
}

@test "nobody (user namespace): plain distcc through the proxy compiles on the remote" {
	remote_up
	HOSTS="${NET}.2"
	run -0 --separate-stderr sandboxed nobody sh -c 'cd "$1" && distcc gcc -c one.c -o one.o' _ "${SCRATCH}/w"
	[[ -s ${SCRATCH}/w/one.o ]]
	[[ $(JOBS_WANT=1 jobs one.c) == 1 ]]
}

@test "pump mode (,lzo,cpp hosts, distcc-pump's include server inside the sandbox): the job reaches distccd" {
	remote_up
	HOSTS="${NET}.2,lzo,cpp"
	run -0 sandboxed root sh -c 'cd "$1" && distcc-pump distcc gcc -c two.c -o two.o' _ "${SCRATCH}/w"
	[[ -s ${SCRATCH}/w/two.o ]]
	[[ $(JOBS_WANT=1 jobs two.c) == 1 ]]
	[[ ${output} == *"Using 1 distcc server in pump mode"* ]]
}

@test "any other port or host is refused: directly, and by the proxy (logged once per destination)" {
	remote_up
	HOSTS="${NET}.2"
	run -0 --separate-stderr sandboxed root sh -c '
		"$1" -c "$2" "$3" "$4" 3633 ; echo "socks-again $("$1" -c "$2" "$3" "$4" 3633)"
		"$1" -c "$2" "$3" evil.example.invalid 80
		timeout 5 bash -c "exec 3<>/dev/tcp/$4/3633" 2>/dev/null && echo direct-connected || echo direct-refused
		timeout 5 bash -c "exec 3<>/dev/tcp/192.0.2.1/80" 2>/dev/null && echo outside-connected || echo outside-refused
	' _ "${PY}" "${SOCKS_PY}" "${SOCK}" "${NET}.2"
	[[ ${output} == *"reply 2"*"socks-again reply 2"*"reply 2"* ]]
	[[ ${output} == *direct-refused* && ${output} == *outside-refused* ]]
	[[ ${output} != *connected* && ${output} != *other* ]]
	[[ $(grep -c "refused a connection to ${NET}.2:3633: not in DISTCC_HOSTS or PHASEBOX_NETWORK_ALLOW" <<<"${stderr}") == 1 ]]
	[[ ${stderr} == *"phasebox-proxy: cat/${MARK} src_compile: refused a connection to evil.example.invalid:80"* ]]
}

@test "twin: without the sandbox the same port answers, and through an allowing proxy too" {
	remote_up
	run -0 timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/3633"; head -n 1 <&3' _ "${NET}.2"
	[[ ${output} == other ]]
	HOSTS="${NET}.2" ALLOW="${NET}.2:3633"
	run -0 --separate-stderr sandboxed root "${PY}" -c "${SOCKS_PY}" "${SOCK}" "${NET}.2" 3633
	[[ ${output} == $'reply 0\nother' ]]
	[[ ${stderr} != *refused* ]]
	# and PHASEBOX_NETWORK_ALLOW's ports get a listener inside too: a plain connect works
	run -0 --separate-stderr sandboxed nobody timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/3633"; head -n 1 <&3' _ "${NET}.2"
	[[ ${output} == other ]]
}

@test "a host allowed by name: SOCKS by that name reaches it, resolved outside the namespace" {
	remote_up
	HOSTS="localhost" ALLOW="${MARK}.test:3633"
	# Resolved through the host's /etc/hosts by the proxy before the namespace exists; the
	# name means nothing inside.  A bind mount keeps the host's file unchanged.
	cp /etc/hosts "${SCRATCH}/hosts"
	echo "${NET}.2 ${MARK}.test" >>"${SCRATCH}/hosts"
	run -0 --separate-stderr unshare --mount -- sh -c 'mount --bind "$1" /etc/hosts && shift && "$@"' _ "${SCRATCH}/hosts" \
		env -i PATH=/usr/bin:/bin "${X}" "${WHO[@]}" --socket "${SOCK}" --allow "${ALLOW}" -- \
		"${U}" --net -- "${PY}" -c "${SOCKS_PY}" "${SOCK}" "${MARK}.test" 3633
	[[ ${output} == $'reply 0\nother' ]]
}

@test "while the phase runs: the proxy holds no capability at all and has no_new_privs; PROG keeps root's (twin)" {
	remote_up
	HOSTS="${NET}.2"
	mkfifo "${SCRATCH}/ready" "${SCRATCH}/go"
	sandboxed root sh -c '"$1" caps >"$2/inner"; echo "$PPID" >"$2/ready"; read -r _ <"$2/go"' _ "${P}" "${SCRATCH}" 3>&- &
	local chain=$!
	pb_await "${SCRATCH}/ready" >/dev/null
	local proxy
	proxy=$(pgrep -f -- "--socket ${SOCK}" | head -n 1)
	[[ $(cat "/proc/${proxy}/comm") == phasebox-proxy ]]
	grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "/proc/${proxy}/status" >"${SCRATCH}/proxy.status"
	echo go >"${SCRATCH}/go"
	wait "${chain}"
	cat "${SCRATCH}/proxy.status"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -qE "^${c}:[[:space:]]+0{16}$" "${SCRATCH}/proxy.status"
	done
	grep -qE '^NoNewPrivs:[[:space:]]+1$' "${SCRATCH}/proxy.status"
	# twin: the phase itself (root) still has its capabilities
	grep -qE '^CapEff=0*[1-9a-f]' "${SCRATCH}/inner"
	pb_dead "${proxy}"
	[[ ! -e ${SOCK} ]]
}

@test "the hand-over is accepted only from the proxy's own child; garbage is dropped and the proxy goes on" {
	remote_up
	HOSTS="${NET}.2"
	run -0 --separate-stderr sandboxed root sh -c '
		"$1" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b\"PBXF1\n\")
print(\"handover-answer\", repr(s.recv(100)))
g = socket.socket(socket.AF_UNIX); g.connect(sys.argv[1]); g.sendall(b\"GET / HTTP/1.0\r\n\r\n\")
print(\"garbage-answer\", repr(g.recv(100)))
" "$2"
		cd "$3" && distcc gcc -c one.c -o one.o && echo compiled' _ "${PY}" "${SOCK}" "${SCRATCH}/w"
	[[ ${output} == *"handover-answer b''"* && ${output} == *"garbage-answer b''"* && ${output} == *compiled* ]]
	[[ ${stderr} == *"refused a hand-over of listening sockets from pid"* ]]
	[[ $(JOBS_WANT=1 jobs one.c) == 1 ]]
}

@test "SIGTERM to the proxy alone reaches PROG (143); the proxy removes its socket and leaves nothing" {
	HOSTS=localhost
	mkfifo "${SCRATCH}/ready"
	sandboxed root sh -c 'echo up >"$1"; exec sleep 3600' _ "${SCRATCH}/ready" 3>&- &
	local chain=$! proxy
	pb_await "${SCRATCH}/ready" >/dev/null
	[[ -S ${SOCK} ]]
	proxy=$(pgrep -f -- "--socket ${SOCK}")
	[[ $(cat "/proc/${proxy}/comm") == phasebox-proxy ]]
	kill -TERM "${proxy}"
	local rc=0
	wait "${chain}" || rc=$?
	[[ ${rc} == 143 ]]
	[[ ! -e ${SOCK} ]]
}

@test "bounded: past 128 connections at once new ones are closed (logged once); once they go, the proxy serves again" {
	remote_up
	HOSTS="${NET}.2" ALLOW="${NET}.2:3633"
	cat >"${SCRATCH}/again.py" <<-'PY'
		import time
		for attempt in range(100):
		    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(path)
		    s.sendall(bytes([5, 1, 0]))
		    if s.recv(2) == bytes([5, 0]):
		        break
		    time.sleep(0.05)  # the proxy closes the held ones as it reads their ends
		s.sendall(bytes([5, 1, 0, 1]) + socket.inet_aton(host) + (3633).to_bytes(2, "big"))
		print("reply", s.recv(10)[1])
		print(s.makefile().readline().strip())
	PY
	run -0 --separate-stderr sandboxed root "${PY}" -c '
import socket, sys
path, host = sys.argv[1], sys.argv[2]
held = []
for i in range(128):
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(bytes([5, 1, 0])); s.recv(2)
    held.append(s)
closed = 0
for i in range(3):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(path)
    try:
        s.sendall(bytes([5, 1, 0]))
        closed += s.recv(2) == b""
    except OSError:
        closed += 1
print("closed", closed)
for s in held:
    s.close()
exec(open(sys.argv[3]).read())
' "${SOCK}" "${NET}.2" "${SCRATCH}/again.py"
	[[ ${output} == *"closed 3"* && ${output} == *"reply 0"*other* ]]
	[[ $(grep -c "more than 128 connections at once: closing new ones" <<<"${stderr}") == 1 ]]
}
