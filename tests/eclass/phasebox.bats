#!/usr/bin/env bats
# phasebox.eclass in a stubbed Portage environment (helpers/fake-phase.sh: die, nonfatal,
# inherit, the phase in a subshell that is EBUILD_MASTER_PID), in the style of ::gentoo's
# eclass/tests.  Needs no root and no cgroup: the ebuild's src_test runs it.  The services
# are small bash/python programs whose command lines carry the test's marker; every test
# checks that none of them is left (teardown's leak check).

bats_require_minimum_version 1.5.0

load ../bats/helpers/phasebox

setup() {
	pb_setup eclass
	ECLASSDIR="${BATS_TEST_DIRNAME}/../../eclass"
	FAKE="${BATS_TEST_DIRNAME}/helpers/fake-phase.sh"
	# BROOT as the eclass sees it: the helper at ${BROOT}/usr/libexec/phasebox/.
	mkdir -p "${SCRATCH}/broot/usr/libexec/phasebox" "${SCRATCH}/T"
	ln -s "${B}/phasebox-service" "${SCRATCH}/broot/usr/libexec/phasebox/phasebox-service"
	BODY="${SCRATCH}/body.sh"
}

teardown() {
	pb_teardown
}

# phase [VAR=value...]: run the stubbed phase with ${BODY} as its body, clean environment.
phase() {
	env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_ECLASSDIR="${ECLASSDIR}" PB_BODY="${BODY}" \
		BROOT="${SCRATCH}/broot" T="${SCRATCH}/T" MARK="${MARK}" S="${SCRATCH}" "$@" /bin/bash "${FAKE}"
}

# body <text>: the phase body.
body() {
	printf '%s\n' "$1" >"${BODY}"
}

# A service: a bash process marked with ${MARK}-<name> that leaves a double-forked daemon
# marked ${MARK}-<name>-daemon, writes both pids to ${S}/<name>.pids and then touches
# ${S}/<name>.ready.  Used as: phasebox_start_service --file "${S}/x.ready" x "${S}/svc" x
svc_script() {
	cat >"${SCRATCH}/svc" <<-'EOF'
		#!/bin/bash
		name=$1
		( setsid bash -c 'exec -a "$0" sleep 3600' "${MARK}-${name}-daemon" </dev/null &>/dev/null & echo $! >"${S}/${name}.daemon" )
		echo "$$" >"${S}/${name}.main"
		: >"${S}/${name}.ready"
		exec -a "${MARK}-${name}" sleep 3600
	EOF
	chmod +x "${SCRATCH}/svc"
}

pids_of() { # <name>: the service's main pid and its daemon's
	cat "${SCRATCH}/${1}.main" "${SCRATCH}/${1}.daemon"
}

@test "depend phase: sourcing defines only phasebox names and the metadata, runs nothing" {
	body 'compgen -v | LC_ALL=C /usr/bin/sort >"${S}/vars.after"; declare -F | LC_ALL=C /usr/bin/sort >"${S}/funcs.after"'
	# The same shell state before the inherit: the stub's own names.
	cat >"${SCRATCH}/before.sh" <<-'EOF'
		compgen -v | LC_ALL=C /usr/bin/sort >"${S}/vars.before"; declare -F | LC_ALL=C /usr/bin/sort >"${S}/funcs.before"
		source "${PB_ECLASSDIR}/phasebox.eclass"
		compgen -v | LC_ALL=C /usr/bin/sort >"${S}/vars.after"; declare -F | LC_ALL=C /usr/bin/sort >"${S}/funcs.after"
	EOF
	BODY="${SCRATCH}/before.sh"
	local before
	before=$(ls -A "${SCRATCH}/T")
	# inherit in the stub already sourced it once: source again in a fresh shell instead.
	run -0 --separate-stderr env -i PATH=/dev/null S="${SCRATCH}" PB_ECLASSDIR="${ECLASSDIR}" EAPI=8 \
		EBUILD_PHASE=depend ECLASS=phasebox /bin/bash "${SCRATCH}/before.sh"
	[[ -z ${stderr} ]]
	[[ -z ${output} ]]
	[[ $(ls -A "${SCRATCH}/T") == "${before}" ]]
	local new
	new=$(LC_ALL=C comm -13 "${SCRATCH}/vars.before" "${SCRATCH}/vars.after" | grep -vxE 'BDEPEND|IUSE|BASH_REMATCH|PIPESTATUS|_' || true)
	[[ -n ${new} ]]
	run -0 grep -vxE '_?(phasebox|PHASEBOX)_[A-Za-z0-9_]+' <<<"${new}" || true
	[[ -z ${output} ]] || { echo "outside the namespace: ${output}" >&2; false; }
	new=$(LC_ALL=C comm -13 "${SCRATCH}/funcs.before" "${SCRATCH}/funcs.after" | sed 's/^declare -f //')
	[[ ${new} == *phasebox_start_service* && ${new} == *phasebox_has* ]]
	run -0 grep -vxE '_?phasebox_[a-z_]+' <<<"${new}" || true
	[[ -z ${output} ]] || { echo "outside the namespace: ${output}" >&2; false; }
}

@test "negative twin: the namespace audit sees a name outside phasebox's" {
	printf 'leaky_fn() { :; }\nLEAKY=1\n' >"${SCRATCH}/leaky.eclass"
	local out
	out=$(env -i PATH=/dev/null /bin/bash -c 'compgen -v | /usr/bin/sort > "$1.b"; declare -F | /usr/bin/sort > "$1.fb"; source "$2"; compgen -v | /usr/bin/sort > "$1.a"; declare -F | /usr/bin/sort > "$1.fa"' x "${SCRATCH}/l" "${SCRATCH}/leaky.eclass")
	[[ -z ${out} ]]
	run -0 bash -c 'comm -13 "$1.b" "$1.a" | grep -vxE "_?(phasebox|PHASEBOX)_[A-Za-z0-9_]+|_|PIPESTATUS"' x "${SCRATCH}/l"
	[[ ${output} == LEAKY ]]
	run -0 bash -c 'comm -13 "$1.fb" "$1.fa" | sed "s/^declare -f //" | grep -vxE "_?phasebox_[a-z_]+"' x "${SCRATCH}/l"
	[[ ${output} == leaky_fn ]]
}

@test "EAPI guard: EAPI 7 dies naming the eclass and the EAPI; EAPI 8 is fine" {
	body ':'
	run -1 --separate-stderr phase EAPI=7
	[[ ${stderr} == *"DIE: phasebox: EAPI 7 not supported"* ]]
	run -0 phase EAPI=8
}

@test "inherit guard: a second inherit changes nothing (the registry of services stays)" {
	body '_PHASEBOX_SERVICES[x]="1 2 3"; inherit phasebox; [[ ${_PHASEBOX_SERVICES[x]} == "1 2 3" ]] && echo kept'
	run -0 phase
	[[ ${output} == kept ]]
	# twin: without the guard the registry would be reset
	body '_PHASEBOX_SERVICES[x]="1 2 3"; unset _PHASEBOX_ECLASS; inherit phasebox; echo "[${_PHASEBOX_SERVICES[x]}]"'
	run -0 phase
	[[ ${output} == "[]" ]]
}

@test "PHASEBOX_REQUIRED: test, always, manual set the dependencies; anything else dies" {
	body 'echo "IUSE=${IUSE} BDEPEND=${BDEPEND}"'
	run -0 phase
	[[ ${output} == "IUSE=test BDEPEND=test? ( sys-apps/phasebox )" ]]
	run -0 phase PHASEBOX_REQUIRED=always
	[[ ${output} == "IUSE= BDEPEND=sys-apps/phasebox" ]]
	run -0 phase PHASEBOX_REQUIRED=manual
	[[ ${output} == "IUSE= BDEPEND=" ]]
	run -1 --separate-stderr phase PHASEBOX_REQUIRED=sometimes
	[[ ${stderr} == *"DIE: phasebox: PHASEBOX_REQUIRED='sometimes' is not valid: expected test, always or manual"* ]]
}

@test "start_service --file: ready, runs; stop_service stops it and its double-forked daemon" {
	svc_script
	body 'phasebox_start_service --file "${S}/a.ready" a "${S}/../svc" a || exit 9
		[[ -e /proc/$(<"${S}/a.main") ]] && echo running
		cat "${S}/a.main" "${S}/a.daemon" >"${S}/a.pids"
		phasebox_stop_service a && echo stopped
		for p in $(<"${S}/a.pids"); do [[ -e /proc/${p} ]] && echo "alive ${p}"; done; true'
	sed -i 's|"${S}/../svc"|"${S}/svc"|' "${BODY}"
	run -0 --separate-stderr phase
	[[ ${output} == $'running\nstopped' ]]
	[[ ${stderr} == *"INFO: phasebox_start_service: service 'a' is ready (file ${SCRATCH}/a.ready)"* ]]
}

@test "the phase dies: the service and its daemon are gone; twin: a plain 'daemon &' survives" {
	svc_script
	body 'phasebox_start_service --file "${S}/d.ready" d "${S}/svc" d
		die "deliberate"'
	run -1 --separate-stderr phase
	[[ ${stderr} == *"DIE: deliberate"* ]]
	local pids
	pids=$(pids_of d)
	[[ $(wc -w <<<"${pids}") -eq 2 ]]
	# shellcheck disable=SC2086
	pb_wait_gone ${pids}
	for p in ${pids}; do pb_dead "${p}"; done

	# The negative twin: the same service started with '&' survives the phase's death.
	body '"${S}/svc" n </dev/null &>/dev/null 3>&- &
		while [[ ! -e ${S}/n.ready ]]; do sleep 0.05; done
		die "deliberate"'
	run -1 phase
	pids=$(pids_of n)
	[[ $(wc -w <<<"${pids}") -eq 2 ]]
	for p in ${pids}; do pb_alive "${p}"; done
	# shellcheck disable=SC2086
	pb_kill_wait ${pids}
}

@test "die in a subshell of the phase (SIGTERM to EBUILD_MASTER_PID): the service is gone" {
	svc_script
	body 'phasebox_start_service --file "${S}/s.ready" s "${S}/svc" s
		( die "from a subshell" )
		echo "not reached"'
	run -1 --separate-stderr phase
	[[ ${stderr} == *"DIE: from a subshell"* ]]
	[[ ${output} != *"not reached"* ]]
	# shellcheck disable=SC2046
	pb_wait_gone $(pids_of s)
	for p in $(pids_of s); do pb_dead "${p}"; done
}

@test "the phase shell is SIGKILLed (no trap runs): the supervisor stops the service; twin survives" {
	svc_script
	body 'phasebox_start_service --file "${S}/k.ready" k "${S}/svc" k
		echo "${BASHPID}" >"${S}/master"
		kill -KILL "${BASHPID}"'
	run -137 phase
	local pids
	pids=$(pids_of k)
	[[ $(wc -w <<<"${pids}") -eq 2 ]]
	# shellcheck disable=SC2086
	pb_wait_gone ${pids}
	for p in ${pids}; do pb_dead "${p}"; done

	body '"${S}/svc" m </dev/null &>/dev/null 3>&- &
		while [[ ! -e ${S}/m.ready ]]; do sleep 0.05; done
		kill -KILL "${BASHPID}"'
	run -137 phase
	pids=$(pids_of m)
	for p in ${pids}; do pb_alive "${p}"; done
	# shellcheck disable=SC2086
	pb_kill_wait ${pids}
}

@test "the phase ends normally without phasebox_stop_service: the EXIT trap stops it, status kept" {
	svc_script
	body 'trap "echo portage-own-trap" EXIT
		phasebox_start_service --file "${S}/e.ready" e "${S}/svc" e
		exit 3'
	run -3 --separate-stderr phase
	[[ ${output} == portage-own-trap ]]
	# Stopped before the phase shell ended (the trap waits): already gone, no waiting.
	for p in $(pids_of e); do pb_dead "${p}"; done
}

@test "start_service --port: waits for the listener (IPv4 and [::1]); the server is stopped" {
	# The server binds at once but listens only once it is told to (a fifo): the eclass must
	# wait for a connection to be accepted, not for the port to be bound.
	cat >"${SCRATCH}/tcp.py" <<-'EOF'
		import os, socket, sys
		fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
		s = socket.socket(fam)
		s.bind((sys.argv[1], 0))
		with open(sys.argv[2] + ".tmp", "w") as f:
		    f.write(str(s.getsockname()[1]))
		os.rename(sys.argv[2] + ".tmp", sys.argv[2])
		open(sys.argv[3]).read()
		s.listen()
		while True:
		    c, _ = s.accept()
		    c.close()
	EOF
	local fam addr
	for fam in 4 6; do
		addr=127.0.0.1
		[[ ${fam} == 6 ]] && addr=::1
		rm -f "${SCRATCH}/port" "${SCRATCH}/go"
		mkfifo "${SCRATCH}/go"
		# The port is the kernel's choice: the server writes it, the test hands it over.
		bash -c 'exec -a "$0" python3 "$@"' "${MARK}-tcp${fam}" "${SCRATCH}/tcp.py" "${addr}" "${SCRATCH}/port" "${SCRATCH}/go" </dev/null &>/dev/null 3>&- &
		local server=$!
		while [[ ! -e ${SCRATCH}/port ]]; do sleep 0.05; done
		# the eclass starts a "service" that lets the server listen, then waits for the port
		body "phasebox_start_service --port '$([[ ${fam} == 6 ]] && echo "[::1]" || echo 127.0.0.1):$(<"${SCRATCH}/port")' tcp${fam} bash -c 'echo go >\"\${S}/go\"; exec -a ${MARK}-svc${fam} sleep 3600'
			(exec 3<>/dev/tcp/${addr}/$(<"${SCRATCH}/port")) && echo connected
			phasebox_stop_service tcp${fam} && echo stopped"
		run -0 --separate-stderr phase
		[[ ${output} == $'connected\nstopped' ]]
		[[ ${stderr} == *"service 'tcp${fam}' is ready (tcp "*":$(<"${SCRATCH}/port"))"* ]]
		run -1 pgrep -f "${MARK}-svc${fam}"
		kill "${server}"
		wait "${server}" || true
	done
	# twin: nothing ever listens: not ready, dies
	body "phasebox_start_service --port 127.0.0.1:1 --timeout 1 none bash -c 'exec -a ${MARK}-none sleep 3600'"
	run -1 --separate-stderr phase
	[[ ${stderr} == *"service 'none' "*"was not ready within 1 s: tcp 127.0.0.1:1 did not appear"* ]]
}

@test "start_service --socket waits for the socket; --timeout: never ready dies, service stopped" {
	body 'phasebox_start_service --socket "${S}/u.sock" --timeout 20 u bash -c "exec -a ${MARK}-u python3 -c \"import socket,time; s=socket.socket(socket.AF_UNIX); s.bind(\\\"${S}/u.sock\\\"); s.listen(); time.sleep(3600)\""
		[[ -S ${S}/u.sock ]] && echo socket
		phasebox_stop_service u && echo stopped'
	run -0 --separate-stderr phase
	[[ ${output} == $'socket\nstopped' ]]
	run -1 pgrep -f "${MARK}-u"

	body 'phasebox_start_service --file "${S}/never" --timeout 1 slow bash -c "exec -a ${MARK}-slow sleep 3600"'
	run -1 --separate-stderr phase
	[[ ${stderr} == *"DIE: phasebox_start_service: service 'slow' (bash -c exec -a ${MARK}-slow sleep 3600) was not ready within 1 s: file ${SCRATCH}/never did not appear; stopped it"* ]]
	run -1 pgrep -f "${MARK}-slow"
}

@test "a service that ends before it is ready dies with its status; one that ends later: stop_service dies, nonfatal returns 1" {
	body 'phasebox_start_service --file "${S}/x" early bash -c "exit 7"'
	run -1 --separate-stderr phase
	[[ ${stderr} == *"DIE: phasebox_start_service: service 'early' (bash -c exit 7) ended with status 7 before it was ready"* ]]

	body 'phasebox_start_service --file "${S}/late.ready" late bash -c ": >\"${S}/late.ready\"; read -r _ <\"${S}/late.fifo\"; exit 5"
		echo go >"${S}/late.fifo"
		while [[ -e /proc/${_PHASEBOX_SERVICES[late]%% *} ]] && [[ $(</proc/${_PHASEBOX_SERVICES[late]%% *}/stat) != *") Z "* ]]; do sleep 0.05; done
		nonfatal phasebox_stop_service late; echo "nonfatal=$?"
		phasebox_stop_service late; echo "again=$?"'
	mkfifo "${SCRATCH}/late.fifo"
	run -1 --separate-stderr phase
	[[ ${output} == "nonfatal=1" ]]
	[[ ${stderr} == *"phasebox-service: app-misc/fake-1 src_test: service 'late' ended by itself (exit status 5) before it was stopped"* ]]
	[[ ${stderr} == *"ERROR: phasebox_stop_service: service 'late' had ended by itself (status 5) before it was stopped"* ]]
	# the second stop: no such service any more, and without nonfatal that dies
	[[ ${stderr} == *"DIE: phasebox_stop_service: no service 'late' runs in this phase"* ]]
}

@test "a service that ignores SIGTERM is killed after --stop-timeout; so is all it forked" {
	body 'phasebox_start_service --file "${S}/t.ready" --stop-timeout 1 stubborn bash -c "trap \"\" TERM; (exec -a ${MARK}-child sleep 3600) & : >\"${S}/t.ready\"; exec -a ${MARK}-stubborn sleep 3600"
		phasebox_stop_service stubborn && echo stopped'
	run -0 --separate-stderr phase
	[[ ${output} == stopped ]]
	run -1 pgrep -f "${MARK}-"
}

@test "bad arguments die naming the function and what is accepted" {
	local a
	for a in '--port 99999 x true' '--port abc x true' '--timeout 0 x true' '--frob 1 x true' 'bad/name true' 'x'; do
		body "phasebox_start_service ${a}"
		run -1 --separate-stderr phase
		[[ ${stderr} == *"DIE: phasebox_start_service: "* ]]
	done
	body 'phasebox_has network'
	run -1 phase
	body 'phasebox_has nonsense'
	run -1 --separate-stderr phase
	[[ ${stderr} == *"DIE: phasebox_has: 'nonsense' is not an isolation: expected cgroup, network, ipc, pid or mount"* ]]
	body 'phasebox_start_service x true'
	run -1 --separate-stderr phase BROOT=/nonexistent
	[[ ${stderr} == *"DIE: phasebox_start_service: /nonexistent/usr/libexec/phasebox/phasebox-service is missing or not executable"* ]]
}

@test "phasebox_has: no for everything in a phase phasebox did not re-execute, even with a stale origin" {
	body 'for w in cgroup network ipc pid mount; do phasebox_has "${w}" && echo "yes ${w}"; done; echo done'
	printf 'ns net net:[1]\nns ipc ipc:[1]\nns pid pid:[1]\nns mnt mnt:[1]\ncg 0::/\n' >"${SCRATCH}/T/phasebox.test.origin"
	# a stale guard in the shell (as ${T}/environment could carry) is not the initial environment
	run -0 phase
	[[ ${output} == done ]]
}

@test "phasebox-service: refuses a watched pid whose start time differs; twin: the right one runs" {
	local start
	start=$(awk '{ sub(/.*\) /, ""); print $20 }' /proc/$$/stat)
	run -111 --separate-stderr "${B}/phasebox-service" --watch $$ --watch-start "$(( start + 1 ))" -- true
	[[ ${stderr} == "phasebox-service: unknown phase: watch process $$: started at ${start}, not at $(( start + 1 )) (it is not the phase): No such process" ]]
	run -0 --separate-stderr "${B}/phasebox-service" --watch $$ --watch-start "${start}" -- bash -c 'echo ran'
	[[ ${output} == "ran" ]]
}

@test "phasebox-service: exit status table: the service's own status, 128+N, 127, 126, 100" {
	run -0 --separate-stderr "${B}/phasebox-service" --watch $$ -- true
	[[ ${stderr} == *"service 'true' ended by itself (exit status 0)"* ]]
	run -42 "${B}/phasebox-service" --watch $$ -- bash -c 'exit 42'
	run -137 "${B}/phasebox-service" --watch $$ -- bash -c 'kill -KILL $$'
	run -127 "${B}/phasebox-service" --watch $$ -- "${MARK}-does-not-exist"
	run -126 "${B}/phasebox-service" --watch $$ -- "${SCRATCH}"
	run -100 "${B}/phasebox-service" -- true
	run -100 "${B}/phasebox-service" --watch $$ true
	run -100 "${B}/phasebox-service" --watch $$ --stop-signal FOO -- true
}

@test "phasebox.eclass(5) agrees with the eclassdoc: blurb, every public function with its @USAGE, every variable" {
	local eclass="${ECLASSDIR}/phasebox.eclass" man="${BATS_TEST_DIRNAME}/../../man/phasebox.eclass.5"
	local text blurb
	text=$(sed 's/\\-/-/g; s/\\e/\\/g' "${man}")
	blurb=$(sed -n 's/^# @BLURB: //p' "${eclass}")
	[[ ${text} == *"phasebox.eclass - ${blurb}"* ]]
	# "<name> <usage>" of each public function, "<name>" of each public variable.
	local -a funcs vars
	mapfile -t funcs < <(awk '
		function flush() { if (fn != "" && !internal) print fn (usage != "" ? " " usage : ""); fn = ""; usage = ""; internal = 0 }
		/^# @FUNCTION: / { flush(); fn = $3 }
		/^# @ECLASS_VARIABLE: / { flush() }
		/^# @USAGE: / { sub(/^# @USAGE: /, ""); usage = $0 }
		/^# @INTERNAL/ { internal = 1 }
		END { flush() }' "${eclass}")
	mapfile -t vars < <(awk '/^# @ECLASS_VARIABLE: / { v = $3; internal = 0; next } v != "" && /^# @INTERNAL/ { v = "" } v != "" && /^# @DESCRIPTION/ { print v; v = "" }' "${eclass}")
	[[ ${#funcs[@]} -eq 3 && ${#vars[@]} -eq 1 ]]
	local f
	for f in "${funcs[@]}"; do
		[[ ${text} == *".B \"${f}\""* ]] || { echo "not in the man page: ${f}" >&2; false; }
	done
	for f in "${vars[@]}"; do
		[[ ${text} == *".B \"${f}\""* ]] || { echo "not in the man page: ${f}" >&2; false; }
	done
	# twin: a usage that differs is noticed
	[[ ${text} != *".B \"phasebox_stop_service <name> <extra>\""* ]]
}
