# @ECLASS: phasebox-e2e.eclass
# @MAINTAINER:
# phasebox developers
# @SUPPORTED_EAPIS: 8
# @BLURB: probes for phasebox's end-to-end tests (tests/e2e/run)
# @DESCRIPTION:
# Test packages record what each phase saw into ${E2E_RESULTS} (a world-writable
# directory the runner names in make.conf), and start daemons whose command lines carry a
# marker unique to the runner's invocation (${E2E_MARKER}), so that the runner can tell
# whether they survived the phase.  Every phase a test looks at must be defined by the
# ebuild: Portage skips the undefined src phases of a package without SRC_URI.

case ${EAPI} in
	8) ;;
	*) die "${ECLASS}: EAPI ${EAPI:-0} not supported" ;;
esac

if [[ -z ${_PHASEBOX_E2E_ECLASS} ]]; then
_PHASEBOX_E2E_ECLASS=1

DESCRIPTION="phasebox end-to-end test package"
HOMEPAGE="https://example.invalid/phasebox"
LICENSE="public-domain"
SLOT="0"
KEYWORDS="amd64"
S=${WORKDIR}

# @FUNCTION: e2e_file
# @USAGE: <what>
# @DESCRIPTION:
# Print the name of the results file for <what> of this package's current phase.
e2e_file() {
	[[ -n ${E2E_RESULTS} && -d ${E2E_RESULTS} ]] ||
		die "${FUNCNAME[0]}: E2E_RESULTS='${E2E_RESULTS}' is not a directory"
	echo "${E2E_RESULTS}/${PN}.${EBUILD_PHASE_FUNC}.${1}"
}

# @FUNCTION: e2e_record
# @DESCRIPTION:
# Record this phase's cgroups, uid, capability and no_new_privs state (of the phase
# shell itself, not of a child) and its exported environment, sorted, NUL-separated.
e2e_record() {
	local self=${BASHPID}
	cat "/proc/${self}/cgroup" > "$(e2e_file cgroup)" || die
	id -u > "$(e2e_file uid)" || die
	grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "/proc/${self}/status" \
		> "$(e2e_file status)" || die
	env -0 | sort -z > "$(e2e_file env)" || die
}

# @FUNCTION: e2e_daemons
# @DESCRIPTION:
# Leave two daemons behind: a double-forked one (its parent exits at once, so it is
# re-parented away from the phase) and one in a session of its own (setsid).  Neither
# keeps the phase's stdout/stderr: Portage would otherwise wait for the log pipe.
e2e_daemons() {
	local marker="${E2E_MARKER:?}-${PN}-${EBUILD_PHASE}"
	( bash -c "exec -a '${marker}-fork' sleep 3600" </dev/null &>/dev/null & ) ||
		die "${FUNCNAME[0]}: cannot start the double-forked daemon"
	setsid bash -c "exec -a '${marker}-setsid' sleep 3600" </dev/null &>/dev/null &
	# Wait until both are in place (exec -a done), so the phase cannot end before them.
	local i
	for (( i = 0; i < 100; i++ )); do
		[[ $(pgrep -c -f -- "^${marker}-") == 2 ]] && break
		sleep 0.05
	done
	pgrep -a -f -- "^${marker}-" > "$(e2e_file daemons)"
	einfo "${FUNCNAME[0]}: started $(wc -l < "$(e2e_file daemons)") daemons marked '${marker}'"
}

# @FUNCTION: e2e_tcp
# @USAGE: <address> <port>
# @DESCRIPTION:
# Connect to <address>:<port> with bash's /dev/tcp (no ip, nc or ss needed) and print the
# first line the server sends, or "unreachable".
e2e_tcp() {
	local line
	# shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments
	line=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -n 1 <&3' e2e-tcp "$1" "$2" 2>/dev/null)
	echo "${line:-unreachable}"
}

# @FUNCTION: e2e_ns_probe
# @DESCRIPTION:
# Record what this phase sees of the network, IPC, pid and mount namespaces, one
# "<key> <value>" line each, into $(e2e_file ns), and its /proc (pid and command line) into
# $(e2e_file procs).  Reads /proc only: ip and ipcs may not be in PATH.  /sys/class/net is
# recorded for information: sysfs lists the interfaces of the network namespace that
# mounted it, not the reader's.  E2E_HOST_PORT names a server the runner started on the
# host's 127.0.0.1 (it answers ${E2E_MARKER}); E2E_IPC_KEY a queue it made on the host.
e2e_ns_probe() {
	local p
	{
		echo "netdev $(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev | sort | tr '\n' ' ')"
		# shellcheck disable=SC2012 # interface names hold no blanks or newlines (dev_valid_name())
		echo "sysnet $(ls /sys/class/net 2>/dev/null | sort | tr '\n' ' ')"
		echo "inet4 $(awk '/\/32 host LOCAL/ { print prev } { prev = $2 }' /proc/net/fib_trie | sort -u | tr '\n' ' ')"
		echo "inet6 $(awk '{ print $1 "@" $6 }' /proc/net/if_inet6 | sort | tr '\n' ' ')"
		echo "hostname $(< /proc/sys/kernel/hostname)"
		echo "ahosts $(getent ahosts localhost | awk '{ print $1 }' | sort -u | tr '\n' ' ')"
		echo "hostserver $(e2e_tcp 127.0.0.1 "${E2E_HOST_PORT:-1}")"
		echo "hostipc $(awk -v k="${E2E_IPC_KEY:--1}" 'NR > 1 && $1 == k { f = 1 } END { print f ? "visible" : "invisible" }' /proc/sysvipc/msg)"
		for p in mnt net ipc pid uts user; do
			echo "ns_${p} $(readlink "/proc/${BASHPID}/ns/${p}")"
		done
		echo "pid1 $(tr '\0' ' ' < /proc/1/cmdline)"
		echo "pid1comm $(< /proc/1/comm)"
		echo "self $$ ${BASHPID}"
	} > "$(e2e_file ns)" || die
	# Builtins only (no fork per process): without a pid namespace /proc lists the whole
	# host, and processes that end meanwhile are skipped.
	local -a argv
	for p in /proc/[0-9]*; do
		mapfile -d '' -t argv 2>/dev/null < "${p}/cmdline" || continue
		echo "${p#/proc/} ${argv[*]} "
	done > "$(e2e_file procs)" || die
}

# @FUNCTION: e2e_ipc_queue
# @DESCRIPTION:
# Make a System V message queue (ipcmk -Q) and record its key into $(e2e_file ipcmade):
# with an IPC namespace of its own it must vanish with the phase.
e2e_ipc_queue() {
	local id
	id=$(ipcmk -Q | awk '{ print $NF }') || die "${FUNCNAME[0]}: ipcmk -Q failed"
	awk -v id="${id}" 'NR > 1 && $2 == id { print $1 }' /proc/sysvipc/msg > "$(e2e_file ipcmade)" || die
	[[ -s $(e2e_file ipcmade) ]] || die "${FUNCNAME[0]}: queue ${id} not in /proc/sysvipc/msg"
}

# @FUNCTION: e2e_build_server
# @DESCRIPTION:
# Start a server on 127.0.0.1 and ::1 (python3, an ephemeral port each), connect to both
# with e2e_tcp and record what each answered into $(e2e_file buildserver).
e2e_build_server() {
	local ports p4 p6 i
	ports=$(e2e_file ports)
	/usr/bin/python3 -c '
import os, socket, sys
s4 = socket.socket(socket.AF_INET); s4.bind(("127.0.0.1", 0)); s4.listen()
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); s6.listen()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d\n" % (s4.getsockname()[1], s6.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
for s, name in ((s4, "v4"), (s6, "v6")):
    s.settimeout(20)
    c, _ = s.accept()
    c.sendall(("build-server-" + name + "\n").encode())
    c.close()
' "${ports}" </dev/null &
	local server=$!
	for (( i = 0; i < 100; i++ )); do
		[[ -s ${ports} ]] && break
		sleep 0.05
	done
	[[ -s ${ports} ]] || die "${FUNCNAME[0]}: the build's server did not start"
	read -r p4 p6 < "${ports}"
	{
		echo "v4 $(e2e_tcp 127.0.0.1 "${p4}")"
		echo "v6 $(e2e_tcp ::1 "${p6}")"
	} > "$(e2e_file buildserver)"
	kill "${server}" 2>/dev/null
	wait "${server}"
	return 0
}

# @FUNCTION: e2e_mount_probe
# @DESCRIPTION:
# Record this phase's mount namespace into $(e2e_file mntns); then, when the runner asks
# for it (E2E_HOST_MNTNS, its own namespace), mount a tmpfs whose source is marked
# (${E2E_MARKER}-tmpfs) under ${T}, record this phase's view of it from
# /proc/self/mountinfo into $(e2e_file mount), say so ($(e2e_file mounted)) and wait (at
# most 20 s) until the runner has looked at the host's mount table ($(e2e_file looked)).
# In a mount namespace of its own the tmpfs is left mounted, to vanish with the namespace;
# in the host's it is unmounted again, so that the negative twin leaves nothing behind.
e2e_mount_probe() {
	local mine i
	mine=$(readlink "/proc/${BASHPID}/ns/mnt")
	echo "${mine}" > "$(e2e_file mntns)" || die
	[[ -n ${E2E_HOST_MNTNS} ]] || return 0
	mkdir -p "${T}/e2e-mnt" || die
	mount -t tmpfs -o size=1m "${E2E_MARKER}-tmpfs" "${T}/e2e-mnt" ||
		die "${FUNCNAME[0]}: mount failed"
	grep -F -- "${E2E_MARKER}-tmpfs" /proc/self/mountinfo > "$(e2e_file mount)"
	: > "$(e2e_file mounted)" || die
	for (( i = 0; i < 400; i++ )); do
		[[ -e $(e2e_file looked) ]] && break
		sleep 0.05
	done
	[[ -e $(e2e_file looked) ]] || ewarn "${FUNCNAME[0]}: the runner did not look at the host's mounts"
	if [[ ${mine} == "${E2E_HOST_MNTNS}" ]]; then
		umount "${T}/e2e-mnt" || die "${FUNCNAME[0]}: umount failed"
	fi
}

fi
