# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit phasebox-e2e

DESCRIPTION="phasebox e2e: compiles a few C files with FEATURES=distcc (tests/e2e/scenarios/distcc.sh)"

# E2E_DISTCC_REMOTE: the runner's distccd host (an address in a network namespace of its
# own); E2E_DISTCC_OTHER: a port on that host that is not in DISTCC_HOSTS, where the
# runner's server answers ${E2E_MARKER}.

# @FUNCTION: e2e_distcc_probe
# @DESCRIPTION:
# Record what the phase reaches: the other port on the remote host directly and, twice,
# through ${DISTCC_SOCKS_PROXY} (the SOCKS5 reply codes, or "none"), the proxy's variables,
# phasebox-proxy among this phase's ancestors (pid, its capability sets), and which gcc runs.
e2e_distcc_probe() {
	local p=${BASHPID} comm pid=
	while [[ ${p} -gt 1 ]]; do
		comm=$(< "/proc/${p}/comm")
		[[ ${comm} == phasebox-proxy ]] && { pid=${p}; break; }
		p=$(awk '{ print $4 }' "/proc/${p}/stat")
	done
	{
		echo "direct $(e2e_tcp "${E2E_DISTCC_REMOTE}" "${E2E_DISTCC_OTHER}")"
		echo "socks_var ${DISTCC_SOCKS_PROXY:-unset} ${PORTAGE_SOCKS5_PROXY:-unset}"
		echo "socks $(python3 - "${DISTCC_SOCKS_PROXY:-}" "${E2E_DISTCC_REMOTE}" "${E2E_DISTCC_OTHER}" <<-'PY'
			import socket, sys
			path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
			codes = []
			for attempt in (1, 2):
			    try:
			        s = socket.socket(socket.AF_UNIX)
			        s.settimeout(5)
			        s.connect(path)
			        s.sendall(bytes([5, 1, 0]))
			        s.recv(2)
			        s.sendall(bytes([5, 1, 0, 1]) + socket.inet_aton(host) + port.to_bytes(2, "big"))
			        codes.append(str(s.recv(10)[1]))
			    except (OSError, IndexError):
			        codes.append("none")
			print(" ".join(codes))
			PY
		)"
		echo "proxy ${pid:-none}"
		[[ -n ${pid} ]] && echo "proxy_cmdline $(tr '\0' ' ' < "/proc/${pid}/cmdline")"
		[[ -n ${pid} ]] && grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "/proc/${pid}/status" | tr -s '\t' ' '
		echo "gcc $(type -P gcc)"
	} > "$(e2e_file distcc)"
}

src_unpack() {
	mkdir -p "${S}" || die
	local f
	for f in alpha beta gamma; do
		printf 'int e2e_distcc_%s(int x) { return x * %d; }\n' "${f}" "${#f}" > "${S}/e2e_distcc_${f}.c" || die
	done
}
src_prepare() { default; }
src_configure() { e2e_record; e2e_distcc_probe; }
src_compile() {
	e2e_record
	e2e_distcc_probe
	local f
	for f in alpha beta gamma; do
		gcc -c "e2e_distcc_${f}.c" -o "e2e_distcc_${f}.o" || die "compiling e2e_distcc_${f}.c failed"
	done
}
src_test() { e2e_record; e2e_distcc_probe; }
src_install() {
	e2e_record
	insinto /usr/share/phasebox-e2e-distcc
	doins e2e_distcc_*.o
}
