# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

# phasebox.eclass is copied into this overlay's eclass/ by tests/e2e/scenarios/eclass.sh.
PHASEBOX_REQUIRED=manual
inherit phasebox-e2e phasebox

DESCRIPTION="phasebox e2e: src_test starts a service with phasebox.eclass, then ends"

src_unpack() { mkdir -p "${S}" || die; }
src_compile() { :; }

# E2E_SERVICE_END: stop (phasebox_stop_service), die, kill (SIGKILL of the phase shell: no
# trap runs), or plain (the negative twin: the same service started with '&', then die).
src_test() {
	e2e_record
	local m="${E2E_MARKER:?}-${PN}" svc
	# The service: a double-forked daemon of its own, then the server itself; it writes
	# both pids and says it is ready with a file.
	svc="( setsid bash -c 'exec -a \"\$0\" sleep 3600' '${m}-daemon' </dev/null &>/dev/null & echo \$! >'$(e2e_file daemon)' )
		echo \$\$ >'$(e2e_file main)'
		: >'${T}/service.ready'
		exec -a '${m}-server' sleep 3600"
	if [[ ${E2E_SERVICE_END} == plain ]]; then
		bash -c "${svc}" </dev/null &>/dev/null &
		while [[ ! -e ${T}/service.ready ]]; do sleep 0.05; done
	else
		phasebox_start_service --file "${T}/service.ready" --timeout 30 e2e-server bash -c "${svc}"
	fi
	einfo "service pids: $(cat "$(e2e_file main)" "$(e2e_file daemon)" | tr '\n' ' ')"
	case ${E2E_SERVICE_END} in
		stop) phasebox_stop_service e2e-server ;;
		kill) kill -KILL "${EBUILD_MASTER_PID}" ;;
		*) die "phasebox-e2e deliberate failure with a service running" ;;
	esac
}

src_install() { :; }
