# tests/e2e/scenarios/distcc.sh — FEATURES="distcc phasebox-network-sandbox" with real
# Portage and Debian's distcc: a distccd "remote host" in a network namespace of this run's
# own, joined to the host by a veth pair (10.213.N.1/30 on the host, 10.213.N.2/30 inside;
# no route anywhere else), and the `distcc` package compiling three C files.
#   distcc           phasebox-network-sandbox + distcc: emerge succeeds, distccd logs the
#                    three jobs; from inside each sandboxed phase, another port of the same
#                    host is unreachable directly and refused by the proxy (logged once per
#                    phase); the proxy runs with no capabilities and is gone afterwards.
#   distcc-native    the same with Portage's own ipc-/network-/pid-sandbox on: the phase is
#                    already in Portage's network namespace, and the proxy connects through
#                    Portage's SOCKS5 proxy (PORTAGE_SOCKS5_PROXY); the same checks.
#   distcc-all       natives on, and every phasebox token (phasebox-cgroup's keeper puts the
#                    proxy into the leaf; pid, ipc and mount sandboxes): jobs and refusals.
#   distcc-twin      distcc alone, natives off: the same jobs reach distccd, and that other
#                    port answers (the checks above can see the opposite).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)

e2e_more_scenarios+=(distcc)

# The remote host: a network namespace held by a process of its own (anonymous: `ip netns
# list`, which concurrent test suites compare, never shows it), a veth pair into it,
# distccd and a second server inside.
e2e_distcc_up() {
	local n i
	for (( i = 0; i < 50; i++ )); do
		n=$(( 100 + RANDOM % 100 ))
		ip -4 -o addr show | grep -qF " 10.213.${n}." || break
	done
	distcc_net=10.213.${n}
	distcc_veth=pbe${run_id: -6}
	distcc_dir=${scratch}/distcc
	mkdir -p "${distcc_dir}" && chmod 755 "${distcc_dir}" && mkfifo "${distcc_dir}/up" || return 1
	# shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments
	setsid unshare --net -- bash -c 'echo up >"$1"; exec -a "$2" sleep 3600' _ "${distcc_dir}/up" \
		"${marker}-distcc-remote" </dev/null &>/dev/null &
	distcc_holder=$!
	read -r -t 30 _ <>"${distcc_dir}/up" || return 1
	distcc_in=(nsenter --net="/proc/${distcc_holder}/ns/net" --)
	ip link add "${distcc_veth}h" type veth peer name "${distcc_veth}r" || return 1
	ip link set "${distcc_veth}r" netns "${distcc_holder}" &&
		ip addr add "${distcc_net}.1/30" dev "${distcc_veth}h" &&
		ip link set "${distcc_veth}h" up &&
		"${distcc_in[@]}" ip addr add "${distcc_net}.2/30" dev "${distcc_veth}r" &&
		"${distcc_in[@]}" ip link set "${distcc_veth}r" up &&
		"${distcc_in[@]}" ip link set lo up || return 1
	: > "${distcc_dir}/distccd.log"
	chown nobody "${distcc_dir}/distccd.log"
	# shellcheck disable=SC2016 # $1 to $4 are the inner bash's arguments
	setsid "${distcc_in[@]}" bash -c 'exec -a "$1" distccd --daemon --no-detach --user nobody \
		--allow "$2" --listen "$3" --port 3632 --log-file "$4" --log-level info' _ "${marker}-distcc-distccd" \
		"${distcc_net}.1" "${distcc_net}.2" "${distcc_dir}/distccd.log" </dev/null &>"${distcc_dir}/distccd.out" &
	distcc_pid=$!
	# The port that is not in DISTCC_HOSTS: answers the marker to every client.
	# shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments
	setsid "${distcc_in[@]}" bash -c 'exec -a "$1" python3 -c "$2"' _ "${marker}-distcc-other" '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'"${distcc_net}.2"'", 3633))
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"'"${marker}"'\n")
    c.close()
' </dev/null &>/dev/null &
	distcc_other_pid=$!
	# Both listening (a condition, polled; bounded).
	for (( i = 0; i < 100; i++ )); do
		[[ $("${distcc_in[@]}" ss -Hltn 'sport = :3632 or sport = :3633' | wc -l) -ge 2 ]] && return 0
		sleep 0.1
	done
	echo "# distccd or the other server did not listen within 10 s" >&2
	return 1
}

e2e_distcc_down() {
	local p
	for p in ${distcc_pid:-} ${distcc_other_pid:-} ${distcc_holder:-}; do
		kill -KILL -- "-${p}" 2>/dev/null
		wait "${p}" 2>/dev/null
	done
	distcc_pid="" distcc_other_pid="" distcc_holder=""
	# Deleting one end deletes both (the namespace itself goes with its last process).
	[[ -n ${distcc_veth:-} ]] && ip link del "${distcc_veth}h" 2>/dev/null
	return 0
}

# The jobs distccd completed for this package's files, as logged.
e2e_distcc_jobs() {
	grep -E 'COMPILE_OK .* e2e_distcc_(alpha|beta|gamma)\.c$' "${distcc_dir}/distccd.log"
}

# <run name> <key>: the value of <key> in src_compile's probe.
e2e_distcc_probe_value() {
	sed -n "s/^${2} //p" "${results}/${1}/distcc.src_compile.distcc"
}

scenario_distcc() {
	local name proxies p jobs before log refused bad sock
	# Portage's own clean-up, then this scenario's (cleanup_local is run's).
	if ! declare -F e2e_distcc_prev_cleanup_local >/dev/null; then
		eval "$(declare -f cleanup_local | sed '1s/^cleanup_local/e2e_distcc_prev_cleanup_local/')"
		# shellcheck disable=SC2317 # run's cleanup (its EXIT trap) calls cleanup_local
		cleanup_local() { e2e_distcc_down; e2e_distcc_prev_cleanup_local; }
	fi
	if ! command -v distccd >/dev/null || [[ ! -d /usr/lib/distcc ]]; then
		not_ok "distcc: Debian's distcc is installed (distccd, /usr/lib/distcc; make deps)"
		return
	fi
	if ! e2e_distcc_up; then
		not_ok "distcc: the remote distccd host in its own network namespace is set up"
		e2e_distcc_down
		return
	fi
	ok "distcc: distccd listens on ${distcc_net}.2:3632 in a network namespace of its own"
	# Portage puts ${EPREFIX}/usr/lib/distcc (the masquerade directory) first in PATH.
	mkdir -p "${eprefix}/usr/lib"
	ln -sfn /usr/lib/distcc "${eprefix}/usr/lib/distcc"

	for name in distcc distcc-native distcc-all distcc-twin; do
		extra_conf="DISTCC_HOSTS=\"${distcc_net}.2/2\"
E2E_DISTCC_REMOTE=\"${distcc_net}.2\"
E2E_DISTCC_OTHER=3633"
		if [[ ${name} == distcc ]]; then
			write_make_conf "${name}" "${native_off[@]}" distcc phasebox-network-sandbox
		elif [[ ${name} == distcc-native ]]; then
			write_make_conf "${name}" "${native_on[@]}" distcc phasebox-network-sandbox
		elif [[ ${name} == distcc-all ]]; then
			write_make_conf "${name}" "${native_on[@]}" distcc phasebox-cgroup phasebox-network-sandbox \
				phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox
		else
			write_make_conf "${name}" "${native_off[@]}" distcc
		fi
		before=$(e2e_distcc_jobs | wc -l)
		emerge_run "${name}" 300 phasebox-test/distcc
		check_emerge_ok "${name}" phasebox-test/distcc
		jobs=$(( $(e2e_distcc_jobs | wc -l) - before ))
		check "${name}: distccd on ${distcc_net}.2 compiled the package's 3 C files (${jobs} jobs logged)" \
			test "${jobs}" -eq 3
		info "${name}: distccd log lines of this run:"
		e2e_distcc_jobs | tail -n "${jobs#-}" | sed 's/^/#   /'
		p=$(pgrep -f -- "phasebox-proxy .*--socket ${eprefix}/" | tr '\n' ' ')
		check "${name}: no phasebox-proxy of this run is left after the emerge (${p:-none})" test -z "${p}"
		p=$(e2e_distcc_probe_value "${name}" gcc)
		check "${name}: src_compile's gcc is distcc's masquerade (${p})" test "${p}" = "${eprefix}/usr/lib/distcc/gcc"
		log=$(build_log "${name}" distcc)
		if [[ ${name} != distcc-twin ]]; then
			for p in src_configure src_compile src_test; do
				check "${name}: ${p}: ${distcc_net}.2:3633 (not in DISTCC_HOSTS) unreachable directly" \
					test "$(sed -n 's/^direct //p' "${res}/distcc.${p}.distcc")" = unreachable
				check "${name}: ${p}: the proxy refuses ${distcc_net}.2:3633 over SOCKS (reply 2)" \
					test "$(sed -n 's/^socks //p' "${res}/distcc.${p}.distcc")" = "2 2"
				refused=$(grep -cF "phasebox-proxy: phasebox-test/distcc-1 ${p}: refused a connection to ${distcc_net}.2:3633" "${log}")
				check "${name}: ${p}: the build log names the refusal once (${refused} times)" test "${refused}" -eq 1
			done
		fi
		# In a pid namespace of its own (distcc-all) the phase cannot see the proxy, an
		# ancestor: the proxy's own checks are the other runs'.
		if [[ ${name} == distcc || ${name} == distcc-native ]]; then
			p=$(e2e_distcc_probe_value "${name}" socks_var)
			sock=${eprefix}/var/tmp/portage/phasebox-test/distcc-1/temp/phasebox-proxy.sock
			check "${name}: DISTCC_SOCKS_PROXY and PORTAGE_SOCKS5_PROXY name the proxy's socket in \${T} (${p})" \
				test "${p}" = "${sock} ${sock}"
			bad=$(grep -E '^Cap(Inh|Prm|Eff|Amb):' "${res}/distcc.src_compile.distcc" | grep -v ': 0\{16\}$' | tr '\n' ' ')
			# shellcheck disable=SC2016 # check's eval expands it
			check "${name}: src_compile's phasebox-proxy holds no capability (${bad:-all zero})" \
				eval 'test -z "${bad}" && grep -q "^CapEff: 0\{16\}$" "${res}/distcc.src_compile.distcc"'
			check "${name}: src_compile's phasebox-proxy has no_new_privs" \
				grep -q '^NoNewPrivs: 1$' "${res}/distcc.src_compile.distcc"
			p=$(e2e_distcc_probe_value "${name}" proxy_cmdline)
			if [[ ${name} == distcc-native ]]; then
				# shellcheck disable=SC2016 # check's eval expands it
				check "${name}: the proxy connects through Portage's own SOCKS5 proxy (--upstream-socks …/.portage.<pid>.net.sock)" \
					eval '[[ ${p} == *" --upstream-socks "*/.portage.*.net.sock" "* ]]'
			else
				# shellcheck disable=SC2016 # check's eval expands it
				check "${name}: the proxy connects directly (no --upstream-socks) with Portage's network-sandbox off" \
					eval '[[ ${p} == *phasebox-proxy* && ${p} != *--upstream-socks* ]]'
			fi
			proxies=$(cat "${res}"/distcc.src_*.distcc | sed -n 's/^proxy //p' | tr '\n' ' ')
			check "${name}: a phasebox-proxy ran in src_configure, src_compile and src_test (${proxies})" \
				test "$(wc -w <<<"${proxies}")" -eq 3 -a "${proxies//none/}" = "${proxies}"
			bad=
			for p in ${proxies}; do
				[[ $(cat "/proc/${p}/comm" 2>/dev/null) == phasebox-proxy ]] && bad+=" ${p}"
			done
			check "${name}: every phase's phasebox-proxy is gone after the emerge (${bad:-none left})" test -z "${bad}"
		elif [[ ${name} == distcc-twin ]]; then
			p=$(e2e_distcc_probe_value "${name}" direct)
			check "${name}: src_compile reaches ${distcc_net}.2:3633 without the sandbox (${p})" test "${p}" = "${marker}"
			p=$(e2e_distcc_probe_value "${name}" proxy)
			check "${name}: no phasebox-proxy without phasebox-network-sandbox (${p})" test "${p}" = none
		fi
	done
	# shellcheck disable=SC2034 # lib.sh's write_make_conf reads it
	extra_conf=
	cp "${distcc_dir}/distccd.log" "${out}/distccd.log" 2>/dev/null
	local holder=${distcc_holder}
	e2e_distcc_down
	check "distcc: the process holding the remote's network namespace is gone" not test -e "/proc/${holder}"
	# shellcheck disable=SC2016 # check's eval expands it
	check "distcc: the veth pair is gone" not eval 'ip link show "${distcc_veth}h" &>/dev/null'
	p=$(pgrep -f -- "^${marker}-distcc" | tr '\n' ' ')
	check "distcc: the remote's servers are gone (${p:-none})" test -z "${p}"
}
