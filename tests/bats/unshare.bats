#!/usr/bin/env bats
# phasebox-unshare: its contract (exit statuses, usage errors) and the kernel effects of
# each namespace, as root and as an unprivileged user (setpriv to nobody, with and without
# no_new_privs, where the helper creates the namespaces in a user namespace).  Every
# kernel effect has a negative twin that shows the check can see the opposite.  Nothing is
# synchronised on time: servers print "listening PORT" before a client connects, a daemon
# prints UP before its starter returns, a fifo says when a process is ready to be
# signalled, and a pidfd says when a killed process is gone.  teardown checks that no
# process with the test's marker and no message queue the test made is left, and compares
# snapshots taken in setup and teardown: the host's mounts, named network namespaces, and
# cgroups with the test's marker.

bats_require_minimum_version 1.5.0

# A TCP server that prints "listening PORT", answers one client, and exits; and a client
# that prints the server's greeting (exit 0) or why it could not connect (exit 1).  Both
# with timeouts, so that a failing test never hangs.  Extra arguments (the test's marker)
# are ignored: they only make the process findable.
TCP_PY='
import socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
if mode == "serve":
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, port))
    s.listen(1)
    print("listening", s.getsockname()[1], flush=True)
    s.settimeout(30)
    c, _ = s.accept()
    c.sendall(("hello from " + host + "\n").encode())
    c.close()
    print("served", flush=True)
else:
    try:
        c = socket.create_connection((host, port), timeout=5)
        print(c.recv(100).decode().strip())
    except OSError as e:
        print("connect failed:", e, file=sys.stderr)
        sys.exit(1)
'

# A daemon that leaves its session: its starter returns once it has printed UP; from its
# fork on, its command line carries the marker ($1).
DAEMON_SH='( setsid bash -c "echo UP; exec -a \"\$0\" sleep 3600" "$1" </dev/null 2>/dev/null 3>&- & ) | { read -r l; echo "daemon ${l}"; }'

setup() {
	B=${PHASEBOX_BUILD:?run through make check-bats}
	U="${B}/phasebox-unshare"
	PY=/usr/bin/python3 # not the pyenv shim: nobody cannot read /root
	MARK="pbunshare-${BATS_TEST_NUMBER}-$$-${RANDOM}"
	SCRATCH=$(mktemp -d /tmp/pbunshare.XXXXXX)
	chmod 755 "${SCRATCH}"
	mkdir -m 1777 "${SCRATCH}/w"
	mkdir "${SCRATCH}/mnt" "${SCRATCH}/snap"
	CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	HOST_NET=$(readlink /proc/self/ns/net)
	HOST_MNT=$(readlink /proc/self/ns/mnt)
	ulimit -c 0 # the SIGSEGV tests leave no core file behind
	pb_snapshot "${SCRATCH}/snap/before"
}

teardown() {
	local rc=0 left id key what inv
	# setup stopped before the marker was made (PHASEBOX_BUILD unset): nothing to check,
	# and an empty marker would match, and kill, every process on the machine.
	[[ -n ${MARK:-} ]] || return 0
	left=$(pgrep -f "${MARK}" || true)
	if [[ -n ${left} ]]; then
		pkill -9 -f "${MARK}" || true
		echo "leaked processes: ${left}" >&2
		rc=1
	fi
	# The host queues the test made on purpose go; then no queue the test made (every one
	# is in ipc-keys) may be left.  (Not a snapshot of all IPC objects: other test suites
	# on the same host make and remove their own at any time.)
	if [[ -f ${SCRATCH}/ipc-ids ]]; then
		while read -r id; do ipcrm -q "${id}" || rc=1; done <"${SCRATCH}/ipc-ids"
	fi
	if [[ -f ${SCRATCH}/ipc-keys ]]; then
		while read -r key; do
			if ipcs -q | awk '{ print $1 }' | grep -qxF -- "${key}"; then
				echo "leaked message queue ${key}" >&2
				ipcrm -Q "${key}" || true
				rc=1
			fi
		done <"${SCRATCH}/ipc-keys"
	fi
	pb_snapshot "${SCRATCH}/snap/after"
	for what in mounts netns cgroups; do
		if ! diff -u "${SCRATCH}/snap/before/${what}" "${SCRATCH}/snap/after/${what}" >&2; then
			echo "leaked ${what} (see the diff above)" >&2
			rc=1
		fi
	done
	umount -R "${SCRATCH}/mnt" 2>/dev/null || true
	# An invocation is removed here, unless a concurrent "phasebox-cgroup adopt" (another
	# test file's) has reaped it already, as it may once its processes are gone.
	if [[ -f ${SCRATCH}/invocations ]]; then
		while read -r inv; do
			# Its keeper ends with its holder; kill it if it has not yet (clean-up, no check).
			if [[ -e ${inv}/cgroup.kill ]]; then
				echo 1 >"${inv}/cgroup.kill"
				for _ in {1..50}; do grep -qx 'populated 0' "${inv}/cgroup.events" && break; sleep 0.1; done
			fi
			rm -f "/run/phasebox/${inv##*/}.sock"
			rmdir "${inv}/main" "${inv}/builds" "${inv}/keeper" "${inv}" 2>/dev/null || true
			[[ ! -e ${inv} ]] || { echo "cannot remove ${inv}" >&2; rc=1; }
		done <"${SCRATCH}/invocations"
	fi
	rm -rf "${SCRATCH}"
	return "${rc}"
}

# What a test could leak into the host, into the directory $1: its mounts (id, mount
# point, type, source; mounts below other directories in /tmp are left out: they are other
# test files' running at the same time), its named network namespaces, and the cgroups
# that carry the marker.
pb_snapshot() {
	mkdir "$1"
	awk -v s="${SCRATCH}" '!($5 ~ /^\/tmp\// && index($5, s) != 1) { print $1, $5, $(NF-2), $(NF-1) }' \
		/proc/self/mountinfo | LC_ALL=C sort >"$1/mounts"
	ip netns list | LC_ALL=C sort >"$1/netns"
	if [[ -n ${CG2} && -d ${CG2}/phasebox ]]; then
		find "${CG2}/phasebox" -type d -name "*${MARK}*" | LC_ALL=C sort
	fi >"$1/cgroups"
}

# AS=( the command prefix that runs as $1: root, nobody, nnp (nobody with no_new_privs) )
pb_as() {
	case $1 in
	root) AS=() ;;
	nobody) AS=(setpriv --reuid=65534 --regid=65534 --clear-groups) ;;
	nnp) AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs) ;;
	*) return 1 ;;
	esac
}

# Start a TCP server on the host's 127.0.0.1 (root); sets SRV_FD, SRV_PID, SRV_PORT.
pb_host_server() {
	exec {SRV_FD}< <(exec "${PY}" -c "${TCP_PY}" serve 127.0.0.1 0 "${MARK}" 3>&-)
	SRV_PID=$!
	read -r -t 10 _ SRV_PORT <&"${SRV_FD}"
	[[ ${SRV_PORT} =~ ^[0-9]+$ ]]
}

# SIGKILL the processes and wait, through pidfds, until they are gone.
pb_kill_wait() {
	"${PY}" - "$@" <<-'EOF'
		import os, select, signal, sys
		fds = []
		for pid in map(int, sys.argv[1:]):
		    try:
		        fds.append(os.pidfd_open(pid))
		        os.kill(pid, signal.SIGKILL)
		    except ProcessLookupError:
		        pass
		for fd in fds:
		    if not select.select([fd], [], [], 10)[0]:
		        sys.exit("still alive")
	EOF
}

# Wait, through a pidfd, at most 10 s for process $1 to end; if it does not, SIGKILL it and
# fail (so that a signal that is not delivered fails the test instead of hanging it).
pb_wait_exit() {
	"${PY}" - "$1" <<-'EOF'
		import os, select, signal, sys
		try:
		    fd = os.pidfd_open(int(sys.argv[1]))
		except ProcessLookupError:
		    sys.exit(0) # gone already (and reaped by the shell)
		if not select.select([fd], [], [], 10)[0]:
		    os.kill(int(sys.argv[1]), signal.SIGKILL)
		    sys.exit("process %s still running after 10 s: killed" % sys.argv[1])
	EOF
}

# The key of the host's message queue with id $1.
pb_queue_key() {
	ipcs -q | awk -v id="$1" '$2 == id { print $1 }'
}

# --- --net ----------------------------------------------------------------------------

check_net_inode() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --net -- readlink /proc/self/ns/net
	[[ ${output} == net:\[* && ${output} != "${HOST_NET}" ]]
}
@test "--net: a new network namespace (root)" { check_net_inode root; }
@test "--net: a new network namespace (nobody)" { check_net_inode nobody; }
@test "--net: a new network namespace (nobody, no_new_privs)" { check_net_inode nnp; }

check_net_inode_twin() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --ipc -- readlink /proc/self/ns/net
	[[ ${output} == "${HOST_NET}" ]]
}
@test "negative twin: without --net the network namespace is the host's (root)" { check_net_inode_twin root; }
@test "negative twin: without --net the network namespace is the host's (nobody)" { check_net_inode_twin nobody; }
@test "negative twin: without --net the network namespace is the host's (nobody, no_new_privs)" { check_net_inode_twin nnp; }

check_lo() {
	local expected
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --net -- bash -c 'ip -o link show; echo ---; ip -o addr show | awk "{ print \$2, \$4 }" | LC_ALL=C sort'
	expected=$(printf '%s\n' "lo 10.0.0.1/8" "lo 127.0.0.1/8" "lo ::1/128" "lo fd::1/8")
	[[ ${lines[0]} =~ ^1:\ lo:\ \<[A-Z_,]*[\<,]UP[,\>] ]]
	[[ ${lines[1]} == --- ]] # one interface, no other
	[[ ${output#*---$'\n'} == "${expected}" ]]
}
@test "--net: lo is UP with 127.0.0.1/8 10.0.0.1/8 ::1/128 fd::1/8 and no other interface (root)" { check_lo root; }
@test "--net: lo is UP with 127.0.0.1/8 10.0.0.1/8 ::1/128 fd::1/8 and no other interface (nobody)" { check_lo nobody; }
@test "--net: lo is UP with 127.0.0.1/8 10.0.0.1/8 ::1/128 fd::1/8 and no other interface (nobody, no_new_privs)" { check_lo nnp; }

@test "negative twin: a bare new network namespace has lo down without addresses" {
	run -0 unshare --net bash -c 'ip -o link show; echo ---; ip -o addr show'
	[[ ${lines[0]} == "1: lo: <LOOPBACK> "* ]]
	[[ ${output} == *---  || ${#lines[@]} -eq 2 ]]
	[[ ${output} != *inet* ]]
}

check_host_server_unreachable() {
	pb_as "$1"
	pb_host_server
	run -1 "${AS[@]}" "${U}" --net -- "${PY}" -c "${TCP_PY}" connect 127.0.0.1 "${SRV_PORT}" "${MARK}"
	# Refused at once by the namespace's own lo (nobody listens there), not a timeout.
	[[ ${output} == *"connect failed: [Errno 111] Connection refused"* ]]
	# The server was there all along: the host reaches it.
	run -0 "${PY}" -c "${TCP_PY}" connect 127.0.0.1 "${SRV_PORT}"
	[[ ${output} == "hello from 127.0.0.1" ]]
	read -r -t 10 line <&"${SRV_FD}"
	[[ ${line} == served ]]
	wait "${SRV_PID}"
	exec {SRV_FD}<&-
}
@test "--net: a server on the host's 127.0.0.1 is not reachable inside (root)" { check_host_server_unreachable root; }
@test "--net: a server on the host's 127.0.0.1 is not reachable inside (nobody)" { check_host_server_unreachable nobody; }
@test "--net: a server on the host's 127.0.0.1 is not reachable inside (nobody, no_new_privs)" { check_host_server_unreachable nnp; }

check_host_server_reachable_twin() {
	pb_as "$1"
	pb_host_server
	run -0 "${AS[@]}" "${PY}" -c "${TCP_PY}" connect 127.0.0.1 "${SRV_PORT}" "${MARK}"
	[[ ${output} == "hello from 127.0.0.1" ]]
	wait "${SRV_PID}"
	exec {SRV_FD}<&-
}
@test "negative twin: without the helper the host's server is reachable (root)" { check_host_server_reachable_twin root; }
@test "negative twin: without the helper the host's server is reachable (nobody)" { check_host_server_reachable_twin nobody; }
@test "negative twin: without the helper the host's server is reachable (nobody, no_new_privs)" { check_host_server_reachable_twin nnp; }

# Inside: for each address, a server in the background, the client once it listens.
INSIDE_SERVERS_SH='
for a in 127.0.0.1 10.0.0.1 ::1 fd::1; do
	exec {fd}< <(exec "$1" -c "$2" serve "${a}" 0 "$3")
	pid=$!
	read -r -t 10 _ port <&"${fd}" || { echo "no server on ${a}"; exit 3; }
	"$1" -c "$2" connect "${a}" "${port}" || exit 4
	wait "${pid}" || exit 5
	exec {fd}<&-
done'
check_inside_servers() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --net -- bash -c "${INSIDE_SERVERS_SH}" x "${PY}" "${TCP_PY}" "${MARK}"
	[[ ${output} == "hello from 127.0.0.1"$'\n'"hello from 10.0.0.1"$'\n'"hello from ::1"$'\n'"hello from fd::1" ]]
}
@test "--net: servers inside on 127.0.0.1, 10.0.0.1, ::1, fd::1 answer a client inside (root)" { check_inside_servers root; }
@test "--net: servers inside on 127.0.0.1, 10.0.0.1, ::1, fd::1 answer a client inside (nobody)" { check_inside_servers nobody; }
@test "--net: servers inside on 127.0.0.1, 10.0.0.1, ::1, fd::1 answer a client inside (nobody, no_new_privs)" { check_inside_servers nnp; }

@test "negative twin: without --net 10.0.0.1 and fd::1 are no local addresses (no server can bind)" {
	local a
	# In this host's network namespace, unless the host has one of them itself ...
	if ! ip -o addr show | grep -qE ' (10\.0\.0\.1|fd::1)/'; then
		run -1 "${U}" --ipc -- "${PY}" -c "${TCP_PY}" serve 10.0.0.1 0 "${MARK}"
		[[ ${output} == *"Cannot assign requested address"* ]]
		run -1 "${U}" --ipc -- "${PY}" -c "${TCP_PY}" serve fd::1 0 "${MARK}"
		[[ ${output} == *"Cannot assign requested address"* ]]
	fi
	# ... and on any host in a new network namespace made without phasebox (util-linux
	# unshare, its loopback up): the addresses are what --net adds
	for a in 10.0.0.1 fd::1; do
		run -1 unshare --net bash -c 'ip link set lo up && exec "$@"' x \
			"${U}" --ipc -- "${PY}" -c "${TCP_PY}" serve "${a}" 0 "${MARK}"
		[[ ${output} == *"Cannot assign requested address"* ]]
	done
}

check_getent() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --net -- getent ahosts localhost
	[[ ${lines[0]} =~ ^(127\.0\.0\.1|::1)\ +STREAM\ localhost ]]
	# Twin: the same lookup machinery answers 2 (not found) for a name that is not there.
	run -2 "${AS[@]}" "${U}" --net -- getent ahosts "${MARK}.invalid"
}
@test "--net: getent ahosts localhost works inside (root)" { check_getent root; }
@test "--net: getent ahosts localhost works inside (nobody)" { check_getent nobody; }
@test "--net: getent ahosts localhost works inside (nobody, no_new_privs)" { check_getent nnp; }

# --- --uts ----------------------------------------------------------------------------

check_uts() {
	local host
	host=$(hostname)
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --uts --net -- hostname
	[[ ${output} == localhost ]]
	run -0 "${AS[@]}" "${U}" --uts --net --hostname "${MARK}" -- hostname
	[[ ${output} == "${MARK}" ]]
	[[ $(hostname) == "${host}" ]]
}
@test "--uts --net: hostname is localhost (or --hostname) inside, the host's is unchanged (root)" { check_uts root; }
@test "--uts --net: hostname is localhost (or --hostname) inside, the host's is unchanged (nobody)" { check_uts nobody; }
@test "--uts --net: hostname is localhost (or --hostname) inside, the host's is unchanged (nobody, no_new_privs)" { check_uts nnp; }

check_uts_twin() {
	local host
	host=$(hostname)
	pb_as "$1"
	# In this host's UTS namespace, where its name is not localhost itself ...
	if [[ ${host} != localhost ]]; then
		run -0 "${AS[@]}" "${U}" --net --hostname "${MARK}" -- hostname
		[[ ${output} == "${host}" ]]
	fi
	# ... and on any host in a UTS namespace of the test's own, named after the marker
	run -0 unshare --uts bash -c 'hostname "$1-host" && shift && exec "$@"' x "${MARK}" \
		"${AS[@]}" "${U}" --net --hostname "${MARK}" -- hostname
	[[ ${output} == "${MARK}-host" ]]
	[[ $(hostname) == "${host}" ]]
}
@test "negative twin: without --uts the hostname inside is the host's (root)" { check_uts_twin root; }
@test "negative twin: without --uts the hostname inside is the host's (nobody)" { check_uts_twin nobody; }
@test "negative twin: without --uts the hostname inside is the host's (nobody, no_new_privs)" { check_uts_twin nnp; }

# --- --ipc ----------------------------------------------------------------------------

# A queue on the host, removed in teardown; sets QKEY.
pb_host_queue() {
	local id
	id=$(ipcmk -Q | awk '{ print $NF }')
	echo "${id}" >>"${SCRATCH}/ipc-ids"
	QKEY=$(pb_queue_key "${id}")
	echo "${QKEY}" >>"${SCRATCH}/ipc-keys"
	[[ ${QKEY} == 0x* ]]
}

check_ipc_host_queue() {
	pb_as "$1"
	pb_host_queue
	run -0 "${AS[@]}" "${U}" --ipc -- ipcs -q
	[[ ${output} == *"Message Queues"* && ${output} != *"${QKEY}"* ]]
}
@test "--ipc: a host message queue is invisible inside (root)" { check_ipc_host_queue root; }
@test "--ipc: a host message queue is invisible inside (nobody)" { check_ipc_host_queue nobody; }
@test "--ipc: a host message queue is invisible inside (nobody, no_new_privs)" { check_ipc_host_queue nnp; }

check_ipc_host_queue_twin() {
	pb_as "$1"
	pb_host_queue
	run -0 "${AS[@]}" "${U}" --uts -- ipcs -q
	[[ ${output} == *"${QKEY}"* ]]
}
@test "negative twin: without --ipc the host's queue is visible inside (root)" { check_ipc_host_queue_twin root; }
@test "negative twin: without --ipc the host's queue is visible inside (nobody)" { check_ipc_host_queue_twin nobody; }
@test "negative twin: without --ipc the host's queue is visible inside (nobody, no_new_privs)" { check_ipc_host_queue_twin nnp; }

# Make a queue, print its key; the key goes to ipc-keys for teardown's leak check.
MAKE_QUEUE_SH='id=$(ipcmk -Q | awk "{ print \$NF }") && ipcs -q | awk -v id="${id}" "\$2 == id { print \"KEY=\" \$1 }"'
check_ipc_inside_queue() {
	local key
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --ipc -- bash -c "${MAKE_QUEUE_SH}"
	[[ ${output} =~ ^KEY=(0x[0-9a-f]+)$ ]]
	key=${BASH_REMATCH[1]}
	echo "${key}" >>"${SCRATCH}/ipc-keys"
	run -0 ipcs -q
	[[ ${output} != *"${key}"* ]]
}
@test "--ipc: a queue created inside is gone afterwards (root)" { check_ipc_inside_queue root; }
@test "--ipc: a queue created inside is gone afterwards (nobody)" { check_ipc_inside_queue nobody; }
@test "--ipc: a queue created inside is gone afterwards (nobody, no_new_privs)" { check_ipc_inside_queue nnp; }

check_ipc_inside_queue_twin() {
	local key
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --uts -- bash -c "${MAKE_QUEUE_SH}"
	[[ ${output} =~ ^KEY=(0x[0-9a-f]+)$ ]]
	key=${BASH_REMATCH[1]}
	echo "${key}" >>"${SCRATCH}/ipc-keys"
	ipcs -q | awk -v k="${key}" '$1 == k { print $2 }' >>"${SCRATCH}/ipc-ids" # teardown removes it
	run -0 ipcs -q
	[[ ${output} == *"${key}"* ]]
}
@test "negative twin: without --ipc a queue created through the helper outlives it (root)" { check_ipc_inside_queue_twin root; }
@test "negative twin: without --ipc a queue created through the helper outlives it (nobody)" { check_ipc_inside_queue_twin nobody; }
@test "negative twin: without --ipc a queue created through the helper outlives it (nobody, no_new_privs)" { check_ipc_inside_queue_twin nnp; }

# --- --pid ----------------------------------------------------------------------------

check_pid_ps() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --pid -- bash -c 'echo "PID1=$(tr "\0" " " </proc/1/cmdline)"; ps -e -o pid=,args=; exit 0' x "${MARK}"
	[[ ${lines[0]} == "PID1=bash -c "*"; exit 0 x ${MARK} " ]]
	[[ ${#lines[@]} -eq 3 ]] # pid 1 and ps, nothing else
	[[ ${lines[1]} =~ ^\ *1\ bash\ -c ]]
	[[ ${lines[2]} =~ ^\ *[0-9]+\ ps\ -e ]]
}
@test "--pid: ps -e lists only the namespace's processes, pid 1 is PROG (root)" { check_pid_ps root; }
@test "--pid: ps -e lists only the namespace's processes, pid 1 is PROG (nobody)" { check_pid_ps nobody; }
@test "--pid: ps -e lists only the namespace's processes, pid 1 is PROG (nobody, no_new_privs)" { check_pid_ps nnp; }

check_pid_ps_twin() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --ipc -- ps -e -o pid=
	[[ ${#lines[@]} -gt 3 ]]
	printf '%s\n' "${lines[@]}" | grep -qx " *$$" # the bats process itself
}
@test "negative twin: without --pid ps -e lists the host's processes (root)" { check_pid_ps_twin root; }
@test "negative twin: without --pid ps -e lists the host's processes (nobody)" { check_pid_ps_twin nobody; }
@test "negative twin: without --pid ps -e lists the host's processes (nobody, no_new_privs)" { check_pid_ps_twin nnp; }

check_pid_status() {
	local s
	pb_as "$1"
	for s in 0 1 42 255; do
		run -"${s}" "${AS[@]}" "${U}" --pid -- bash -c "exit ${s}"
		run -"${s}" "${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- bash -c "exit ${s}"
	done
	# pid 1 ignores the signals it has no handler for, even its own: the chain puts
	# phasebox-reap there, which reports 128+N for a child killed by signal N.
	run -143 "${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- bash -c 'kill -TERM $$'
	run -137 "${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- bash -c 'kill -KILL $$'
	run -139 "${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- bash -c 'kill -SEGV $$'
	# A real fault kills even pid 1 (the kernel forces SIGSEGV).
	run -139 "${AS[@]}" "${U}" --pid -- "${PY}" -c 'import ctypes; ctypes.string_at(0)'
}
@test "--pid: exit status through pid 1: 0 1 42 255, 128+N for TERM KILL SEGV (root)" { check_pid_status root; }
@test "--pid: exit status through pid 1: 0 1 42 255, 128+N for TERM KILL SEGV (nobody)" { check_pid_status nobody; }
@test "--pid: exit status through pid 1: 0 1 42 255, 128+N for TERM KILL SEGV (nobody, no_new_privs)" { check_pid_status nnp; }

check_pid_forward() {
	local pid line rc=0
	pb_as "$1"
	mkfifo -m 666 "${SCRATCH}/w/ready"
	"${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- \
		bash -c 'echo up >"$1"; exec -a "$0" sleep 3600' "${MARK}" "${SCRATCH}/w/ready" 3>&- &
	pid=$!
	read -r -t 10 line <>"${SCRATCH}/w/ready"
	[[ ${line} == up ]]
	kill -TERM "${pid}"
	pb_wait_exit "${pid}"
	wait "${pid}" || rc=$?
	[[ ${rc} -eq 143 ]]
}
@test "--pid: SIGTERM to phasebox-unshare reaches PROG, status 143 (root)" { check_pid_forward root; }
@test "--pid: SIGTERM to phasebox-unshare reaches PROG, status 143 (nobody)" { check_pid_forward nobody; }
@test "--pid: SIGTERM to phasebox-unshare reaches PROG, status 143 (nobody, no_new_privs)" { check_pid_forward nnp; }

# The tree seen from both sides: outside, phasebox-unshare has one child, which is pid 1
# of the new namespace (NSpid) and the next program (phasebox-reap); inside, PROG under
# phasebox-reap is pid 1's child.
check_pid_tree() {
	local pid line child
	pb_as "$1"
	mkfifo -m 666 "${SCRATCH}/w/ready"
	"${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- \
		bash -c 'echo "$$ ${PPID} $(readlink /proc/self/ns/pid) $(tr "\0" " " </proc/1/cmdline)" >"$1"; exec -a "$0" sleep 3600' \
		"${MARK}" "${SCRATCH}/w/ready" 3>&- &
	pid=$!
	read -r -t 10 line <>"${SCRATCH}/w/ready"
	# pid 1 is phasebox-reap, told the phase's signal mask by phasebox-unshare
	[[ ${line} =~ ^([0-9]+)\ 1\ (pid:\[[0-9]+\])\ ${B}/phasebox-reap\ --sigmask\ [0-9a-f]{16}\ --\ bash\ -c\  ]] || { echo "inside: ${line}"; false; }
	[[ ${BASH_REMATCH[1]} != 1 && ${BASH_REMATCH[2]} != "$(readlink /proc/self/ns/pid)" ]]
	child=$(pgrep -P "${pid}")
	[[ ${child} =~ ^[0-9]+$ ]] # exactly one
	[[ $(readlink "/proc/${child}/exe") == "${B}/phasebox-reap" ]]
	grep -qxE "NSpid:[[:space:]]+${child}[[:space:]]+1" "/proc/${child}/status"
	kill -TERM "${pid}"
	pb_wait_exit "${pid}"
	wait "${pid}" || true
}
@test "--pid: pid 1 is phasebox-unshare's child and the next program, PROG is pid 1's child (root)" { check_pid_tree root; }
@test "--pid: pid 1 is phasebox-unshare's child and the next program, PROG is pid 1's child (nobody)" { check_pid_tree nobody; }
@test "--pid: pid 1 is phasebox-unshare's child and the next program, PROG is pid 1's child (nobody, no_new_privs)" { check_pid_tree nnp; }

check_pid_tree_twin() {
	local pid line
	pb_as "$1"
	mkfifo -m 666 "${SCRATCH}/w/ready"
	"${AS[@]}" "${U}" --ipc -- \
		bash -c 'echo "$$ $(readlink /proc/self/ns/pid)" >"$1"; exec -a "$0" sleep 3600' \
		"${MARK}" "${SCRATCH}/w/ready" 3>&- &
	pid=$!
	read -r -t 10 line <>"${SCRATCH}/w/ready"
	# No fork: PROG is the helper's own process, in the host's pid namespace.
	[[ ${line} == "${pid} $(readlink /proc/self/ns/pid)" ]] || { echo "inside: ${line}"; false; }
	run -1 pgrep -P "${pid}"
	grep -qxE "NSpid:[[:space:]]+${pid}" "/proc/${pid}/status"
	pb_kill_wait "${pid}"
	wait "${pid}" || true
}
@test "negative twin: without --pid PROG is the helper's own process in the host's pid namespace (root)" { check_pid_tree_twin root; }
@test "negative twin: without --pid PROG is the helper's own process in the host's pid namespace (nobody)" { check_pid_tree_twin nobody; }
@test "negative twin: without --pid PROG is the helper's own process in the host's pid namespace (nobody, no_new_privs)" { check_pid_tree_twin nnp; }

# pid 1 signalled from the host (as the OOM killer or an admin would): SIGKILL kills a
# bare PROG (other signals reach pid 1 only through a handler: pid_namespaces(7)), and
# SIGTERM or SIGHUP sent to phasebox-reap as pid 1 is passed on to its child; the helper
# reports 128+N either way.  (A real fault kills even pid 1: see the exit status test.)
check_pid1_signalled() {
	local case sig want reap pid pid1 line rc
	pb_as "$1"
	mkfifo -m 666 "${SCRATCH}/w/ready"
	for case in KILL:137: TERM:143:reap HUP:129:reap; do
		IFS=: read -r sig want reap <<<"${case}"
		# PROG gets default dispositions: a test run under nohup would pass SIGHUP ignored.
		"${AS[@]}" "${U}" --pid -- ${reap:+"${B}/phasebox-reap" --} env --default-signal=HUP,TERM \
			bash -c 'echo up >"$1"; exec -a "$0" sleep 3600' "${MARK}" "${SCRATCH}/w/ready" 3>&- &
		pid=$!
		read -r -t 10 line <>"${SCRATCH}/w/ready"
		[[ ${line} == up ]]
		pid1=$(pgrep -P "${pid}")
		[[ ${pid1} =~ ^[0-9]+$ ]]
		kill -"${sig}" "${pid1}"
		pb_wait_exit "${pid}"
		rc=0
		wait "${pid}" || rc=$?
		[[ ${rc} -eq ${want} ]] || { echo "SIG${sig} to pid 1 ${reap:-PROG}: ${rc}"; false; }
	done
}
@test "--pid: SIGKILL to pid 1, SIGTERM/SIGHUP to pid 1 phasebox-reap, from the host: 137 143 129 (root)" { check_pid1_signalled root; }
@test "--pid: SIGKILL to pid 1, SIGTERM/SIGHUP to pid 1 phasebox-reap, from the host: 137 143 129 (nobody)" { check_pid1_signalled nobody; }
@test "--pid: SIGKILL to pid 1, SIGTERM/SIGHUP to pid 1 phasebox-reap, from the host: 137 143 129 (nobody, no_new_privs)" { check_pid1_signalled nnp; }

@test "negative twin: SIGTERM from the host to a bare PROG as pid 1 is not delivered" {
	local pid pid1 line rc
	mkfifo -m 666 "${SCRATCH}/w/ready"
	"${U}" --pid -- bash -c 'echo up >"$1"; exec -a "$0" sleep 3600' "${MARK}" "${SCRATCH}/w/ready" 3>&- &
	pid=$!
	read -r -t 10 line <>"${SCRATCH}/w/ready"
	[[ ${line} == up ]]
	pid1=$(pgrep -P "${pid}")
	[[ ${pid1} =~ ^[0-9]+$ ]]
	kill -TERM "${pid1}"
	# The kernel drops a signal that pid 1 ignores when it is sent; a delivered fatal one
	# stays pending (as SIGTERM, or as the SIGKILL it becomes) until the process is gone.
	run -0 grep -E '^(State|SigPnd|ShdPnd):' "/proc/${pid1}/status"
	[[ ${lines[0]} == State:$'\t'S* ]]
	[[ ${lines[1]} == SigPnd:$'\t'0000000000000000 && ${lines[2]} == ShdPnd:$'\t'0000000000000000 ]]
	kill -KILL "${pid1}"
	pb_wait_exit "${pid}"
	rc=0
	wait "${pid}" || rc=$?
	[[ ${rc} -eq 137 ]]
}

check_pid_parent_killed() {
	local pid pid1 line
	pb_as "$1"
	mkfifo -m 666 "${SCRATCH}/w/ready"
	"${AS[@]}" "${U}" --pid -- "${B}/phasebox-reap" -- \
		bash -c 'echo up >"$1"; exec -a "$0" sleep 3600' "${MARK}" "${SCRATCH}/w/ready" 3>&- &
	pid=$!
	read -r -t 10 line <>"${SCRATCH}/w/ready"
	[[ ${line} == up ]]
	pid1=$(pgrep -P "${pid}")
	[[ ${pid1} =~ ^[0-9]+$ ]]
	pb_kill_wait "${pid}"
	wait "${pid}" || true
	# pid 1 follows its parent (PR_SET_PDEATHSIG), and takes the namespace with it.
	"${PY}" -c 'import os, select, sys; fd = os.pidfd_open(int(sys.argv[1])); sys.exit(not select.select([fd], [], [], 10)[0])' "${pid1}" || true
	run -1 pgrep -f "${MARK}"
}
@test "--pid: SIGKILL to phasebox-unshare takes pid 1 and the namespace with it (root)" { check_pid_parent_killed root; }
@test "--pid: SIGKILL to phasebox-unshare takes pid 1 and the namespace with it (nobody)" { check_pid_parent_killed nobody; }
@test "--pid: SIGKILL to phasebox-unshare takes pid 1 and the namespace with it (nobody, no_new_privs)" { check_pid_parent_killed nnp; }

@test "negative twin: util-linux unshare --fork without --kill-child leaves pid 1 running when killed" {
	local pid line
	mkfifo -m 666 "${SCRATCH}/w/ready"
	unshare --pid --fork --mount-proc \
		bash -c 'echo up >"$1"; exec -a "$0" sleep 3600' "${MARK}" "${SCRATCH}/w/ready" 3>&- &
	pid=$!
	read -r -t 10 line <>"${SCRATCH}/w/ready"
	[[ ${line} == up ]]
	pb_kill_wait "${pid}"
	wait "${pid}" || true
	run -0 pgrep -f "${MARK}"
	pb_kill_wait ${output}
}

check_pid_daemon() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --pid -- bash -c "${DAEMON_SH}" x "${MARK}"
	[[ ${output} == "daemon UP" ]]
	run -1 pgrep -f "${MARK}"
}
@test "--pid: a setsid daemon is dead after the run (root)" { check_pid_daemon root; }
@test "--pid: a setsid daemon is dead after the run (nobody)" { check_pid_daemon nobody; }
@test "--pid: a setsid daemon is dead after the run (nobody, no_new_privs)" { check_pid_daemon nnp; }

check_pid_daemon_twin() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --ipc -- bash -c "${DAEMON_SH}" x "${MARK}"
	[[ ${output} == "daemon UP" ]]
	run -0 pgrep -f "${MARK}"
	pb_kill_wait ${output}
}
@test "negative twin: without --pid a setsid daemon survives the run (root)" { check_pid_daemon_twin root; }
@test "negative twin: without --pid a setsid daemon survives the run (nobody)" { check_pid_daemon_twin nobody; }
@test "negative twin: without --pid a setsid daemon survives the run (nobody, no_new_privs)" { check_pid_daemon_twin nnp; }

check_pid_host_proc() {
	local init
	init=$(tr '\0' ' ' </proc/1/cmdline)
	pb_as "$1"
	# Inside, a /proc of the namespace: pid 1 alone (the glob is expanded before ls runs).
	run -0 "${AS[@]}" "${U}" --pid -- bash -c 'ls -d /proc/[0-9]*; exit 0'
	[[ ${output} == /proc/1 ]]
	# The host's /proc still shows the host's pids (its mount is checked in teardown).
	[[ $(tr '\0' ' ' </proc/1/cmdline) == "${init}" ]]
	[[ -d /proc/$$ ]]
	[[ $(readlink /proc/self) != 1 ]]
}
@test "--pid: the host's /proc is unaffected (root)" { check_pid_host_proc root; }
@test "--pid: the host's /proc is unaffected (nobody)" { check_pid_host_proc nobody; }
@test "--pid: the host's /proc is unaffected (nobody, no_new_privs)" { check_pid_host_proc nnp; }

# --- --mount --------------------------------------------------------------------------

# Mount a tmpfs on $1 named $2, then print what is mounted there seen from inside and seen
# from outside (the test's own process, $3) while the tmpfs is still mounted; unmount.
MOUNT_SH='mount -t tmpfs "$2" "$1" || exit 3
echo "inside $(findmnt -n -o SOURCE "$1")"
echo "outside $(findmnt -n -o SOURCE --task "$3" "$1")"
umount "$1"'

@test "--mount: a tmpfs mounted inside is invisible outside, during and after the run (root)" {
	run -0 "${U}" --mount -- bash -c "${MOUNT_SH}" x "${SCRATCH}/mnt" "${MARK}" "${BASHPID}"
	[[ ${lines[0]} == "inside ${MARK}" ]]
	[[ ${lines[1]} == "outside " ]]
	# Left mounted, it goes with the namespace.
	run -0 "${U}" --mount -- mount -t tmpfs "${MARK}" "${SCRATCH}/mnt"
	run -1 findmnt -n "${SCRATCH}/mnt"
}

@test "negative twin: without --mount a tmpfs mounted through the helper is visible outside (root)" {
	run -0 "${U}" --ipc -- bash -c "${MOUNT_SH}" x "${SCRATCH}/mnt" "${MARK}" "${BASHPID}"
	[[ ${lines[0]} == "inside ${MARK}" ]]
	[[ ${lines[1]} == "outside ${MARK}" ]]
}

@test "negative twin: a tmpfs mounted on the host is seen by the same check (root)" {
	mount -t tmpfs "${MARK}" "${SCRATCH}/mnt"
	run -0 findmnt -n -o SOURCE "${SCRATCH}/mnt"
	umount "${SCRATCH}/mnt"
	[[ ${output} == "${MARK}" ]]
	run -1 findmnt -n "${SCRATCH}/mnt"
}

check_mount_unprivileged() {
	pb_as "$1"
	run -0 "${AS[@]}" "${U}" --mount -- readlink /proc/self/ns/mnt
	[[ ${output} == mnt:\[* && ${output} != "${HOST_MNT}" ]]
	run -0 "${AS[@]}" "${U}" --pid -- readlink /proc/self/ns/mnt # --pid implies --mount
	[[ ${output} != "${HOST_MNT}" ]]
	# PROG has no capability left: it cannot mount, even in its own mount namespace.
	run -32 "${AS[@]}" "${U}" --mount -- mount -t tmpfs "${MARK}" "${SCRATCH}/mnt"
	run -0 "${AS[@]}" "${U}" --net -- readlink /proc/self/ns/mnt # twin
	[[ ${output} == "${HOST_MNT}" ]]
}
@test "--mount: a new mount namespace, PROG cannot mount (nobody)" { check_mount_unprivileged nobody; }
@test "--mount: a new mount namespace, PROG cannot mount (nobody, no_new_privs)" { check_mount_unprivileged nnp; }

# --- capabilities ---------------------------------------------------------------------

CAPS_SH='grep -E "^Cap(Inh|Prm|Eff|Amb):" /proc/self/status'

check_caps_unprivileged() {
	local flags
	pb_as "$1"
	for flags in "--net" "--pid" "--uts --ipc" "--net --uts --ipc --pid --mount" "--userns always --net"; do
		# shellcheck disable=SC2086 # the flags are words
		run -0 "${AS[@]}" "${U}" ${flags} -- bash -c "${CAPS_SH}"
		[[ ${#lines[@]} -eq 4 ]]
		[[ $(cut -f2 <<<"${output}" | sort -u) == 0000000000000000 ]] || { echo "with ${flags}: ${output}"; false; }
	done
}
@test "capabilities: unprivileged PROG has CapInh/CapPrm/CapEff/CapAmb 0 (nobody)" { check_caps_unprivileged nobody; }
@test "capabilities: unprivileged PROG has CapInh/CapPrm/CapEff/CapAmb 0 (nobody, no_new_privs)" { check_caps_unprivileged nnp; }

@test "negative twin: an unprivileged process in a user namespace holds capabilities unless dropped" {
	pb_as nnp
	run -0 "${AS[@]}" unshare --user --map-root-user --net bash -c "${CAPS_SH}"
	[[ ${output} =~ CapEff:.0*[1-9a-f] ]]
}

@test "capabilities: root without a user namespace keeps exactly the caller's sets" {
	local caller
	caller=$(bash -c "${CAPS_SH}")
	run -0 "${U}" --net --uts --ipc --pid --mount -- bash -c "${CAPS_SH}"
	[[ ${output} == "${caller}" ]]
	[[ ${output} =~ CapEff:.0*[1-9a-f] ]]
	# A reduced caller stays reduced, and gets nothing back.
	caller=$(setpriv --bounding-set -net_raw,-sys_ptrace bash -c "${CAPS_SH}")
	run -0 setpriv --bounding-set -net_raw,-sys_ptrace "${U}" --net --pid -- bash -c "${CAPS_SH}"
	[[ ${output} == "${caller}" ]]
	[[ ${output} != "$(bash -c "${CAPS_SH}")" ]]
}

@test "root with --userns always works, also without CAP_SYS_ADMIN" {
	run -0 "${U}" --userns always --net --uts --ipc --pid --mount -- bash -c 'id -u; readlink /proc/self/ns/user /proc/self/ns/net; hostname'
	[[ ${lines[0]} == 0 ]]
	[[ ${lines[1]} != "$(readlink /proc/self/ns/user)" ]]
	[[ ${lines[2]} != "${HOST_NET}" ]]
	[[ ${lines[3]} == localhost ]]
	# Root of its own user namespace: every capability there (and only there).
	run -0 "${U}" --userns always --net --pid -- bash -c "${CAPS_SH}"
	[[ ${output} =~ CapEff:.0*[1-9a-f] && ${output} =~ CapPrm:.0*[1-9a-f] ]]
	run -0 setpriv --bounding-set -sys_admin "${U}" --userns always --net --pid -- touch "${SCRATCH}/w/ran"
	[[ -e ${SCRATCH}/w/ran ]]
}

@test "negative twin: root without CAP_SYS_ADMIN and no user namespace fails with 111 and a hint" {
	run -111 setpriv --bounding-set -sys_admin "${U}" --net -- touch "${SCRATCH}/w/ran"
	[[ ${output} == *"phasebox-unshare: "*"unshare(network namespace): Operation not permitted"* ]]
	[[ ${output} == *"hint: root without CAP_SYS_ADMIN"* ]]
	[[ ! -e ${SCRATCH}/w/ran ]]
}

check_userns_never() {
	pb_as "$1"
	run -111 "${AS[@]}" "${U}" --userns never --net --ipc -- touch "${SCRATCH}/w/ran"
	[[ ${lines[0]} == "phasebox-unshare: "*"unshare(network, ipc namespaces): Operation not permitted" ]]
	[[ ${lines[1]} == "phasebox-unshare: "*"hint: "* ]]
	[[ ! -e ${SCRATCH}/w/ran ]]
	# Twin: the same run with a user namespace (the default, auto) runs PROG.
	run -0 "${AS[@]}" "${U}" --net --ipc -- touch "${SCRATCH}/w/ran"
	[[ -e ${SCRATCH}/w/ran ]]
}
@test "--userns never as unprivileged: 111, namespace and EPERM named, a hint, PROG did not run (nobody)" { check_userns_never nobody; }
@test "--userns never as unprivileged: 111, namespace and EPERM named, a hint, PROG did not run (nobody, no_new_privs)" { check_userns_never nnp; }

# user.max_user_namespaces is a limit of each user namespace: set to 0 in a throw-away one
# (never on the host), it makes the next user namespace fail as a disabled sysctl would.
@test "user namespaces disabled (max_user_namespaces=0): 111 naming the sysctl, PROG did not run" {
	run -111 unshare --user --map-root-user bash -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"' \
		_ "${U}" --userns always --net -- touch "${SCRATCH}/w/ran"
	[[ ${output} == *"phasebox-unshare: "*"unshare(user namespace): No space left on device"* ]]
	[[ ${output} == *"hint: user namespaces are disabled (user.max_user_namespaces = 0); remedy: sysctl -w user.max_user_namespaces="* ]]
	[[ ! -e ${SCRATCH}/w/ran ]]
}

@test "negative twin: the same throw-away user namespace with the limit left alone runs PROG" {
	run -0 unshare --user --map-root-user bash -c 'exec "$@"' \
		_ "${U}" --userns always --net -- touch "${SCRATCH}/w/ran"
	[[ -e ${SCRATCH}/w/ran ]]
}

# --- contract -------------------------------------------------------------------------

@test "contract: --help exits 0 with the usage on stdout" {
	run -0 --separate-stderr "${U}" --help
	[[ ${output} == *"phasebox-unshare"*"--net"*"--userns"* ]]
}

@test "contract: usage errors exit 100 with a prefixed message, PROG did not run" {
	local args
	for args in "--bogus --" "--userns maybe --" "--userns --" "--hostname --" "--hostname a_b --" \
		"--hostname a.b/c --" "--hostname $(printf 'x%.0s' {1..65}) --" "--net"; do
		# shellcheck disable=SC2086 # the arguments are words
		run -100 "${U}" ${args} touch "${SCRATCH}/w/ran"
		[[ ${lines[0]} == "phasebox-unshare: "* ]] || { echo "args: ${args}"; false; }
		[[ ! -e ${SCRATCH}/w/ran ]]
	done
	run -100 "${U}" --hostname "" -- true
	run -100 "${U}" --net
	run -100 "${U}" --net --
	[[ ${output} == *"missing '-- PROG"* ]]
	run -100 "${U}" --
	run -0 "${U}" --hostname "$(printf 'x%.0s' {1..64})" --uts -- true
}

@test "contract: PROG not found 127, not executable 126" {
	run -127 "${U}" --net -- "${SCRATCH}/${MARK}-absent"
	[[ ${output} == "phasebox-unshare: "*"No such file or directory" ]]
	run -127 "${U}" --pid -- "${MARK}-not-in-path"
	printf '#!/bin/sh\ntouch "%s"\n' "${SCRATCH}/w/ran" >"${SCRATCH}/noexec"
	run -126 "${U}" --net -- "${SCRATCH}/noexec"
	[[ ${output} == "phasebox-unshare: "*"Permission denied" ]]
	run -126 "${U}" --pid -- "${SCRATCH}/noexec"
	run -126 "${U}" --net -- "${SCRATCH}"
	[[ ! -e ${SCRATCH}/w/ran ]]
	pb_as nnp
	run -127 "${AS[@]}" "${U}" --net --pid -- "${SCRATCH}/${MARK}-absent"
	run -126 "${AS[@]}" "${U}" --net --pid -- "${SCRATCH}/noexec"
}

@test "contract: exit status 0-255 passes through (no --pid)" {
	local s
	for s in {0..255}; do
		run -"${s}" "${U}" --net --uts --ipc -- bash -c "exit ${s}"
	done
}

@test "contract: exit status 0-255 passes through (--pid)" {
	local s
	for s in {0..255}; do
		run -"${s}" "${U}" --pid -- bash -c "exit ${s}"
	done
}

@test "contract: PROG killed by signal N gives 128+N, never 127 (with and without --pid)" {
	local sig
	for sig in TERM:143 KILL:137 SEGV:139; do
		run -"${sig#*:}" "${U}" --net --ipc -- bash -c "kill -${sig%:*} \$\$"
		run -"${sig#*:}" "${U}" --pid -- "${B}/phasebox-reap" -- bash -c "kill -${sig%:*} \$\$"
	done
}

# --- combined -------------------------------------------------------------------------

# Everything at once; $1 python, $2 TCP_PY, $3 marker, $4 host queue key, $5 mount point
# (empty: do not mount).
ALL_SH='
set -e
echo "net $(readlink /proc/self/ns/net)"
echo "links $(ip -o link show | wc -l)"
echo "addrs $(ip -o addr show | awk "{ print \$4 }" | LC_ALL=C sort | tr "\n" " ")"
echo "host $(hostname)"
ipcs -q | grep -q -- "$4" && echo "queue visible" || echo "queue invisible"
mapfile -t procs < <(ps -e -o pid=,comm=)
echo "procs" ${procs[*]}
exec {fd}< <(exec "$1" -c "$2" serve 10.0.0.1 0 "$3")
read -r -t 10 _ port <&"${fd}"
"$1" -c "$2" connect 10.0.0.1 "${port}"
if [[ -n $5 ]]; then mount -t tmpfs "$3" "$5"; echo "mounted $(findmnt -n -o SOURCE "$5")"; fi
grep -E "^Cap(Inh|Prm|Eff|Amb):" /proc/self/status | tr -s "\t" " "
'
check_all() {
	local mnt=$2
	pb_as "$1"
	pb_host_queue
	run -0 "${AS[@]}" "${U}" --net --uts --ipc --pid --mount -- bash -c "${ALL_SH}" x "${PY}" "${TCP_PY}" "${MARK}" "${QKEY}" "${mnt}"
	[[ ${lines[0]} == "net net:["* && ${lines[0]} != "net ${HOST_NET}" ]]
	[[ ${lines[1]} == "links 1" ]]
	[[ ${lines[2]} == "addrs 10.0.0.1/8 127.0.0.1/8 ::1/128 fd::1/8 " ]]
	[[ ${lines[3]} == "host localhost" ]]
	[[ ${lines[4]} == "queue invisible" ]]
	[[ ${lines[5]} =~ ^procs\ 1\ bash\ [0-9]+\ ps$ ]] # nothing but PROG and its own child
	[[ ${lines[6]} == "hello from 10.0.0.1" ]]
	if [[ -n ${mnt} ]]; then
		[[ ${lines[7]} == "mounted ${MARK}" ]]
		run -1 findmnt -n "${mnt}"
	else
		[[ ${output} == *"CapEff: 0000000000000000"* && ${output} == *"CapPrm: 0000000000000000"* ]]
	fi
	[[ $(hostname) != localhost ]]
}
@test "combined: --net --uts --ipc --pid --mount, all effects in one run (root)" { check_all root "${SCRATCH}/mnt"; }
@test "combined: --net --uts --ipc --pid --mount, all effects in one run (nobody)" { check_all nobody ""; }
@test "combined: --net --uts --ipc --pid --mount, all effects in one run (nobody, no_new_privs)" { check_all nnp ""; }

# Inside the whole chain: the leaf, the namespaces, a daemon left behind, status 42.
CHAIN_SH='
echo "cgroup $(grep "^0::" /proc/self/cgroup | cut -d: -f3-)"
echo "net $(readlink /proc/self/ns/net)"
echo "host $(hostname)"
mapfile -t procs < <(ps -e -o pid=,comm=)
echo "procs" ${procs[*]}
'"${DAEMON_SH}"'
exit 42'

check_chain_result() {
	local leaf
	[[ ${output} =~ cgroup\ (/[^$'\n']*) ]]
	leaf=${BASH_REMATCH[1]}
	[[ ${leaf} == */*.pb[0-9]* ]]
	[[ ${output} == *"net net:["* && ${output} != *"net ${HOST_NET}"* ]]
	[[ ${output} == *"host localhost"* ]]
	printf '%s\n' "${lines[@]}" | grep -qxE 'procs 1 phasebox-reap [0-9]+ bash [0-9]+ ps' # nothing but the chain
	[[ ${output} == *"daemon UP"* ]]
	[[ ! -e ${CG2}${leaf} ]] # the leaf is gone
	run -1 pgrep -f "${MARK}" # and so is the daemon
}

# Wait, at most 10 s, until signal $2 is pending for process $1 (thread or process
# directed), without taking it; fails if it never is.
pb_wait_pending() {
	"${PY}" - "$1" "$2" <<-'EOF'
		import sys, time
		pid, bit = sys.argv[1], 1 << (int(sys.argv[2]) - 1)
		for _ in range(1000):
		    with open("/proc/%s/status" % pid) as f:
		        st = dict(l.split(":", 1) for l in f if ":" in l)
		    if (int(st["SigPnd"], 16) | int(st["ShdPnd"], 16)) & bit:
		        sys.exit(0)
		    time.sleep(0.01)
		sys.exit("signal %s never pending for %s" % (sys.argv[2], pid))
	EOF
}

# phasebox-reap as pid 1 is held (tests/probe/stall.c) after its exec and before it has any
# handler: a SIGTERM to the supervisor then, forwarded down to pid 1, would be dropped by
# the kernel (a pid namespace's init with the default disposition; the negative twin above,
# "SIGTERM from the host to a bare PROG as pid 1 is not delivered", shows the kernel's rule).
# phasebox-unshare execs it with the signal blocked, so the signal stays pending, and once
# reap goes on the phase ends with 143.
@test "chain: a SIGTERM forwarded to pid 1 before phasebox-reap has handlers is not lost (143, nothing left)" {
	mkfifo "${SCRATCH}/stalled" "${SCRATCH}/go"
	local -a who=(--package "cat/${MARK}" --phase src_compile)
	PB_STALL_DIR="${SCRATCH}" LD_PRELOAD="${B}/phasebox-stall.so" \
		"${B}/phasebox-cgroup" "${who[@]}" --log "${SCRATCH}/acct.jsonl" -- \
		"${U}" "${who[@]}" --pid --mount -- "${B}/phasebox-reap" "${who[@]}" -- \
		"${B}/phasebox-probe" wait-forever "${SCRATCH}/w/ready" 2>"${SCRATCH}/err" 3>&- &
	local sup=$! reap rc=0 fd line blk
	exec {fd}<>"${SCRATCH}/stalled" # read-write: the open never blocks, the read's timeout holds
	read -r -t 30 -u "${fd}" line
	exec {fd}<&-
	reap=$(pgrep -f -- "^${B}/phasebox-reap .*--package cat/${MARK} ")
	[[ ${reap} =~ ^[0-9]+$ ]]
	blk=$(awk '/^SigBlk:/ { print $2 }' "/proc/${reap}/status")
	kill -TERM "${sup}"
	pb_wait_pending "${reap}" 15 || rc=1
	echo go >"${SCRATCH}/go"
	pb_wait_exit "${sup}"
	wait "${sup}" || rc=$((rc == 1 ? 1 : $?))
	[[ ${rc} -eq 143 ]] || { cat "${SCRATCH}/err" >&2; false; }
	run -1 pgrep -f -- "${MARK}"
	# how: held before its handlers, pid 1 had the forwarded signals blocked (SIGTERM: bit 15)
	[[ $(( 0x${blk} & (1 << 14) )) -ne 0 ]]
}

@test "chain: the phase gets the mask phasebox-unshare was started with, not the blocked one pid 1 had" {
	# SIGUSR1 blocked by the caller (bit 10), SIGTERM not: exactly that reaches PROG
	run -0 "${PY}" -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
os.execv(sys.argv[1], sys.argv[1:])' "${U}" --pid --mount -- "${B}/phasebox-reap" -- \
		bash -c 'awk "/^SigBlk:/ { print \$2 }" /proc/self/status'
	[[ $(( 0x${output} & (1 << 9) )) -ne 0 ]]
	[[ $(( 0x${output} & (1 << 14) )) -eq 0 ]]
	# twin: without the caller's block, nothing is blocked in PROG
	run -0 "${U}" --pid --mount -- "${B}/phasebox-reap" -- bash -c 'awk "/^SigBlk:/ { print \$2 }" /proc/self/status'
	[[ $(( 0x${output} & (1 << 9) )) -eq 0 && $(( 0x${output} & (1 << 14) )) -eq 0 ]]
}

@test "chain: phasebox-cgroup -- phasebox-unshare -- phasebox-reap (root)" {
	[[ -n ${CG2} ]] || skip "no cgroup2 hierarchy"
	run -42 "${B}/phasebox-cgroup" --package "test/${MARK}" --log "${SCRATCH}/log/accounting.jsonl" -- "${U}" --net --uts --ipc --pid -- "${B}/phasebox-reap" -- \
		bash -c "${CHAIN_SH}" x "${MARK}"
	[[ ${output} =~ cgroup\ /phasebox/leaves/test:${MARK}:phase\.pb[0-9]+$'\n' ]]
	check_chain_result
	run -0 find "${CG2}/phasebox/leaves" -mindepth 1 -maxdepth 1 -name "*${MARK}*"
	[[ -z ${output} ]] # no leaf dir left
}

check_chain_adopted() {
	local inv
	[[ -n ${CG2} ]] || skip "no cgroup2 hierarchy"
	pb_as "$1"
	# The holder is adopted as an emerge would be, then becomes the unprivileged chain.
	run -42 bash -c '"$1/phasebox-cgroup" adopt --user nobody --log "$2" $$ || exit 99
		echo "holder $(grep "^0::" /proc/self/cgroup | cut -d: -f3-)"
		shift 2; exec "$@"' x "${B}" "${SCRATCH}/log/accounting.jsonl" \
		"${AS[@]}" "${B}/phasebox-cgroup" --package "test/${MARK}" --log "${SCRATCH}/log/accounting.jsonl" -- "${U}" --net --uts --ipc --pid -- "${B}/phasebox-reap" -- \
		bash -c "${CHAIN_SH}" x "${MARK}"
	[[ ${lines[0]} =~ ^holder\ (/phasebox/inv-[0-9]+)/main$ ]]
	inv=${CG2}${BASH_REMATCH[1]}
	echo "${inv}" >>"${SCRATCH}/invocations"
	[[ ${output} == *"cgroup ${BASH_REMATCH[1]}/builds/"* ]]
	check_chain_result
	# No leaf left (a concurrent adopt may have reaped the whole invocation already).
	[[ ! -e ${inv}/builds || -z $(find "${inv}/builds" -mindepth 1 -type d) ]]
}
@test "chain: adopted, phasebox-cgroup -- phasebox-unshare -- phasebox-reap (nobody)" { check_chain_adopted nobody; }
@test "chain: adopted, phasebox-cgroup -- phasebox-unshare -- phasebox-reap (nobody, no_new_privs)" { check_chain_adopted nnp; }
