#!/usr/bin/env bats
# The bashrc snippet's plan for phasebox-proxy, under the fake ebuild.sh of bashrc.bats:
# the proxy joins the chain exactly when the phase is network-sandboxed and FEATURES has
# distcc or PHASEBOX_NETWORK_ALLOW is set; the phase then sees DISTCC_SOCKS_PROXY and
# PORTAGE_SOCKS5_PROXY naming a live socket in ${T}; a bad PHASEBOX_NETWORK_ALLOW dies
# naming the variable, the value, the package, the phase and the grammar.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup bashrcproxy
	FAKE="${BATS_TEST_DIRNAME}/helpers/fake-ebuild.sh"
	SNIPPET="${B}/test/phasebox.bashrc"
	HOST_NET=$(readlink /proc/self/ns/net)
	T="${SCRATCH}/w/temp"
	mkdir -p "${T}"
}

teardown() {
	[[ ! -e ${T}/phasebox-proxy.sock ]] || { echo "leaked ${T}/phasebox-proxy.sock" >&2; return 1; }
	pb_teardown
}

# ebuild PHASE [VAR=value...], as in bashrc.bats; the body's record in ${BODY}.
ebuild() {
	local phase=$1
	shift
	O="${SCRATCH}/o.$(compgen -G "${SCRATCH}/o.*" | wc -l)"
	mkdir "${O}"
	env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_SNIPPET="${SNIPPET}" PB_OUT="${O}" T="${T}" \
		PHASEBOX_LOG="${PHASEBOX_LOG}" EBUILD_PHASE="${phase}" EBUILD_PHASE_FUNC="src_${phase}" CATEGORY=app-misc PF="${MARK}-1" \
		"$@" /bin/bash "${FAKE}"
}

body() {
	O=$(compgen -G "${SCRATCH}/o.*" | LC_ALL=C sort -V | tail -n 1)
	BODY=$(cat "${O}/counter")
}

with_proxy() {
	body
	[[ ${BODY} == *" socks=${T}/phasebox-proxy.sock socks5=${T}/phasebox-proxy.sock sock=yes"* ]]
	[[ ${BODY} != *"net=${HOST_NET} "* ]]
}

without_proxy() {
	body
	[[ ${BODY} == *" socks=unset socks5=unset sock=no"* ]]
}

@test "distcc + phasebox-network-sandbox: compile runs with the proxy's socket in DISTCC_SOCKS_PROXY" {
	run -0 ebuild compile FEATURES="distcc phasebox-network-sandbox" DISTCC_HOSTS="localhost 10.213.0.2/4,lzo"
	with_proxy
	run -0 ebuild configure FEATURES="phasebox-network-sandbox distcc"
	with_proxy
}

@test "unpack is network-sandboxed unless PROPERTIES=live, so it gets the proxy too" {
	run -0 ebuild unpack FEATURES="phasebox-network-sandbox distcc" DISTCC_HOSTS="10.213.0.2/4"
	with_proxy
}

@test "PHASEBOX_NETWORK_ALLOW alone brings the proxy too" {
	run -0 ebuild test FEATURES="phasebox-network-sandbox" PHASEBOX_NETWORK_ALLOW="farm1:10245 [fd00::1]:3632"
	with_proxy
}

@test "twins: no proxy without the network sandbox, without distcc or an allow-list, or where the phase keeps the network" {
	run -0 ebuild compile FEATURES="phasebox-network-sandbox"
	without_proxy
	run -0 ebuild compile FEATURES="phasebox-cgroup distcc"
	without_proxy
	run -0 ebuild compile FEATURES="phasebox-network-sandbox distcc" PORTAGE_RESTRICT="network-sandbox"
	without_proxy
	run -0 ebuild unpack FEATURES="phasebox-network-sandbox distcc" PORTAGE_PROPERTIES="live"
	without_proxy
	run -0 ebuild compile FEATURES="phasebox-network-sandbox" PHASEBOX_NETWORK_ALLOW=" "
	without_proxy
}

@test "a bad PHASEBOX_NETWORK_ALLOW dies naming the variable, the value, the package, the phase and the grammar" {
	local bad
	for bad in "farm1" "farm1:" ":22" "farm1:0" "farm1:65536" "fd00::1:22" "[fd00::1:22" "a/b:1" "*:1" "ok:1 x;y:2"; do
		run -1 --separate-stderr ebuild compile FEATURES="phasebox-network-sandbox" PHASEBOX_NETWORK_ALLOW="${bad}"
		[[ ${stderr} == *"DIE: phasebox: app-misc/${MARK}-1 src_compile: PHASEBOX_NETWORK_ALLOW='${bad}' is not valid: "* ]]
		[[ ${stderr} == *"expected whitespace-separated HOST:PORT"* ]]
		[[ ! -e ${O}/counter ]] # the body never ran
	done
	# twin: good values pass
	run -0 ebuild compile FEATURES="phasebox-network-sandbox" PHASEBOX_NETWORK_ALLOW="a:1 10.1.2.3:65535 [::1]:2 x_y.example:3"
	with_proxy
}

@test "a bad DISTCC_HOSTS fails the phase before the body, naming the entry" {
	run -100 --separate-stderr ebuild compile FEATURES="phasebox-network-sandbox distcc" DISTCC_HOSTS="farm1:99999"
	[[ ${stderr} == *"phasebox-proxy: app-misc/${MARK}-1 src_compile: DISTCC_HOSTS entry 'farm1:99999': the port must be 1-65535"* ]]
	[[ ! -e ${O}/counter ]]
	# ssh and zeroconf hosts are named, and the phase runs
	run -0 --separate-stderr ebuild compile FEATURES="phasebox-network-sandbox distcc" DISTCC_HOSTS="@far +zeroconf"
	[[ ${stderr} == *"ssh host '@far' in DISTCC_HOSTS is not supported"* && ${stderr} == *"+zeroconf"* ]]
	with_proxy
}
