#!/usr/bin/env bats
# A planted /run/phasebox: the keeper's run directory, or its socket, put there by someone
# other than root (a directory of another user's, a symbolic link in its place, a
# group/world-writable one, a socket bound by another user).  Neither adopt's keeper nor
# its clients (root's register, the build user's supervisor) may follow it or talk to it;
# each says which path is wrong and how.  The planted objects are made in a mount namespace
# of the holder's own, with a tmpfs on /run (the real /run/phasebox is shared by every
# test); adopt, the keeper and the clients run in it (nsenter).  Each refusal has its
# twin; teardown checks that no process, cgroup or mount namespace of the test is left.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup planted
	[[ -n ${CG2} ]] || skip "no cgroup2 mounted: the keeper is for cgroup v2 only"
	LOG=${SCRATCH}/log/accounting.jsonl
	CG=( "${B}/phasebox-cgroup" --package "cat/${MARK}-1" --log "${LOG}" )
	HOLDER=
	FAKE=
}

teardown() {
	[[ -z ${FAKE} ]] || pb_kill_wait "${FAKE}"
	[[ -z ${HOLDER} ]] || pb_drop_inv "${HOLDER}"
	pb_teardown
}

# The holder, in a mount namespace of its own whose /run is a fresh tmpfs; then the bash
# code $1 (the planting) runs there, as root.  The holder's command: `true`, held until
# pb_run_holder (--end).
start_planted() {
	pb_start_holder --end --ns "mount -t tmpfs -o mode=0755 ${MARK} /run && { ${1:-:}
}" "${SCRATCH}/go" true
	PB_NS=$(readlink "/proc/${HOLDER}/ns/mnt")
	[[ ${PB_NS} != $(readlink /proc/self/ns/mnt) ]]
}

# Run the rest in the holder's namespace, moved into its invocation's main cgroup first
# (as pkg_setup and the phases are).
in_main() {
	"${PB_IN_NS[@]}" bash -c 'echo $$ >"$0/main/cgroup.procs" && exec "$@"' "${INV}" "$@"
}

# The two clients of the keeper: root's register (pkg_setup), and nobody's phase.
register() {
	in_main "${B}/phasebox-cgroup" register --package "cat/${MARK}-1" --log "${LOG}" --memory-max 1G
}
phase() {
	in_main "${NOBODY[@]}" --no-new-privs "${CG[@]}" --phase src_compile -- "${P}" cgroup
}

# The end: the holder ends, so the keeper (if any) removes its socket and exits.
finish() {
	local k=
	[[ ! -e ${INV}/keeper/cgroup.procs ]] || k=$(<"${INV}/keeper/cgroup.procs")
	pb_run_holder "${SCRATCH}/go"
	[[ ${HOLDER_RC} -eq 0 ]]
	[[ -z ${k} ]] || pb_wait_gone "${k}"
	[[ -z $(find "${INV}/builds" -mindepth 1 -type d) ]]
}

# --- the directory ---------------------------------------------------------------------

# adopt with /run/phasebox planted by $1: refused (111) with the message $2; nothing is
# created in it (nor in /run/elsewhere, where a symlink points); the build user's phase
# is refused too (111, before the probe runs), naming the same path.
planted_dir() {
	start_planted "$1"
	run -111 --separate-stderr "${PB_IN_NS[@]}" "${B}/phasebox-cgroup" adopt --user nobody \
		--log "${LOG}" "${HOLDER}"
	INV=${CG2}/phasebox/inv-${HOLDER}
	[[ ${stderr} == "phasebox-cgroup: adopt ${HOLDER}: phasebox keeper: $2"* ]] || { echo "${stderr}" >&2; return 1; }
	run -0 "${PB_IN_NS[@]}" find /run/ -mindepth 1 -name 'inv-*'
	[[ -z ${output} ]]
	run -111 --separate-stderr phase
	[[ -z ${output} ]]
	[[ ${stderr} == *"connect to the phasebox keeper at '/run/phasebox/inv-${HOLDER}.sock': $2"* ]] ||
		{ echo "${stderr}" >&2; return 1; }
	finish
}

@test "planted: /run/phasebox made by another user: adopt and the phase refuse it, naming owner and path" {
	planted_dir 'mkdir /run/phasebox && chown nobody /run/phasebox' \
		"'/run/phasebox' belongs to uid 65534, not root: refusing to use it (remove it)"
}

@test "planted: /run/phasebox a symbolic link to another user's directory: refused, never followed" {
	planted_dir 'mkdir /run/elsewhere && chown nobody /run/elsewhere && ln -s elsewhere /run/phasebox' \
		"'/run/phasebox' is a symbolic link, not root's directory: refusing to follow it"
}

@test "planted: /run/phasebox root's but world-writable (1777): refused, naming the mode" {
	planted_dir 'mkdir -m 1777 /run/phasebox' \
		"'/run/phasebox' has mode 1777, writable by others than root: refusing to use it (chmod 755 it)"
}

@test "negative twin: a /run/phasebox root made 0755 beforehand is used: the keeper listens, register and the phase work" {
	start_planted 'mkdir -m 0755 /run/phasebox'
	pb_adopt
	run -0 "${PB_IN_NS[@]}" stat -c '%u %a %F' /run/phasebox "${SOCK}"
	[[ ${output} == $'0 755 directory\n0 666 socket' ]]
	# the real /run has no socket of this invocation: everything happened in the namespace
	[[ ! -e ${SOCK} ]]
	run -0 register
	run -0 --separate-stderr phase
	[[ ${output} =~ cgroup2=/phasebox/inv-${HOLDER}/builds/cat:${MARK}-1:src_compile\.pb[0-9]+$ ]]
	finish
}

# --- the socket --------------------------------------------------------------------------

# A fake keeper, as nobody: it logs what each connection sends (the first 40 bytes and the
# number of descriptors) and answers as the keeper would; sys.argv: socket, log, ready fifo,
# the marker.
FAKE_PY='
import os, socket, sys
path, log, ready = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
os.chmod(path, 0o666)
s.listen(8)
out = open(log, "a", buffering=1)
with open(ready, "w") as f:
    f.write("listening\n")
while True:
    c, _ = s.accept()
    try:
        msg, fds, _, _ = socket.recv_fds(c, 65536, 4)
    except OSError:
        msg, fds = b"", []
    out.write("got %r fds=%d\n" % (msg[:40], len(fds)))
    if msg:
        c.send(b"Ocat:x:src_compile.pb1")
    c.close()
'

# Replace the keeper's socket with the fake's (the keeper goes on listening on the unlinked
# one), bound by nobody in a /run/phasebox that is nobody's for the moment.
plant_fake() {
	mkfifo -m 666 "${SCRATCH}/w/fake.ready"
	"${PB_IN_NS[@]}" sh -c 'rm "$0" && chown nobody /run/phasebox' "${SOCK}"
	"${PB_IN_NS[@]}" "${NOBODY[@]}" "${PY}" -c "${FAKE_PY}" "${SOCK}" "${SCRATCH}/w/fake.log" \
		"${SCRATCH}/w/fake.ready" "${MARK}" 3>&- &
	FAKE=$!
	[[ $(pb_await "${SCRATCH}/w/fake.ready") == listening ]]
}

# Both clients refused (111) with the message $1; the fake got no request.
clients_refuse() {
	run -111 --separate-stderr register
	[[ ${stderr} == *"connect to the phasebox keeper at '${SOCK}': $1"* ]] || { echo "${stderr}" >&2; return 1; }
	run -111 --separate-stderr phase
	[[ -z ${output} ]]
	[[ ${stderr} == *"connect to the phasebox keeper at '${SOCK}': $1"* ]] || { echo "${stderr}" >&2; return 1; }
	[[ ! -s ${SCRATCH}/w/fake.log ]] || [[ -z $(grep -v "^got b'' fds=0$" "${SCRATCH}/w/fake.log") ]] ||
		{ cat "${SCRATCH}/w/fake.log" >&2; return 1; }
}

@test "planted: a socket another user bound is never spoken to: not in its directory, not owned by it, not when chowned to root" {
	start_planted
	pb_adopt
	plant_fake
	# the directory still nobody's
	clients_refuse "'/run/phasebox' belongs to uid 65534, not root: refusing to use it (remove it)"
	# the directory root's again, the socket file nobody's
	"${PB_IN_NS[@]}" chown root /run/phasebox
	clients_refuse "the socket belongs to uid 65534, not root: refusing to talk to it"
	# the socket file chowned to root as well: the listener is still nobody (SO_PEERCRED)
	"${PB_IN_NS[@]}" chown root "${SOCK}"
	clients_refuse "it is served by uid 65534 (pid ${FAKE}), not root: refusing to talk to it"
	# it was reached at all: the connection came, and left without a word
	[[ $(<"${SCRATCH}/w/fake.log") == $'got b\'\' fds=0\ngot b\'\' fds=0' ]]
	pb_kill_wait "${FAKE}"
	FAKE=
	finish
}

@test "negative twin: the same fake, spoken to directly, takes requests (the clients' refusal above is theirs)" {
	start_planted
	pb_adopt
	plant_fake
	"${PB_IN_NS[@]}" chown root /run/phasebox "${SOCK}"
	run -0 "${PB_IN_NS[@]}" "${PY}" "${BATS_TEST_DIRNAME}/helpers/keeper_client.py" "${SOCK}" register cat/x-1 pids_max=10
	[[ ${output} == Ocat:x:src_compile.pb1 ]]
	[[ $(<"${SCRATCH}/w/fake.log") == "got b'Rcat/x-1\\npids_max=10\\n' fds=0" ]]
	pb_kill_wait "${FAKE}"
	FAKE=
	finish
}
