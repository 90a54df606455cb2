# tests/e2e/lib.sh — the harness shared by tests/e2e/run and tests/e2e/bench: preconditions,
# the scratch EPREFIX, phasebox's installation into it, make.conf, running emerge, clean-up.
# Sourced (not executed) after `here` (this directory) and `repo` (the checkout) are set.
# shellcheck shell=bash
passed=0
failed=0

ok() {
	echo "ok - $*"
	(( passed++ ))
}

not_ok() {
	echo "not ok - $*"
	(( failed++ ))
}

info() {
	echo "# $*"
}

# check <description> <command...>: one check, from a command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "${desc}"; else not_ok "${desc}"; fi
}

skip_suite() {
	local line
	line="SKIPPED: $* — real Portage was NOT tested"
	printf '\n%s\n%s\n%s\n\n' "${line//?/*}" "${line}" "${line//?/*}"
	if [[ ${CI:-} == true ]]; then
		echo "not ok - CI=true: the e2e suite may not be skipped (${*})"
		echo "0 passed, 1 failed"
		exit 1
	fi
	exit 77
}

# skip_scenario <what is missing>: a scenario (or part) that cannot run here says so, loudly;
# under CI=true that is a failure of the run, naming what was missing.
skip_scenario() {
	echo "SKIPPED: $*"
	[[ ${CI:-} == true ]] && not_ok "CI=true: nothing may be skipped: $*"
	return 0
}

die_harness() {
	echo "e2e: harness error: $*" >&2
	exit 2
}

# ---------------------------------------------------------------------------------------
# Preconditions: every one that fails means "nothing tested", never "passed".

# Portage, in this order: ${PHASEBOX_PORTAGE_SRC} (a source checkout named by the caller);
# the tree `make test-deps` unpacked from ../shared/vendor into the build tree
# (${PHASEBOX_BUILD:-<checkout>/build}/vendor/portage); the system's own `emerge`.
find_portage() {
	local vendored=${PHASEBOX_BUILD:-${repo}/build}/vendor/portage
	if [[ -n ${PHASEBOX_PORTAGE_SRC:-} || -f ${vendored}/bin/emerge ]]; then
		if [[ -n ${PHASEBOX_PORTAGE_SRC:-} ]]; then
			portage_src=$(realpath -e -- "${PHASEBOX_PORTAGE_SRC}") ||
				die_harness "PHASEBOX_PORTAGE_SRC='${PHASEBOX_PORTAGE_SRC}' does not exist"
			portage_from="PHASEBOX_PORTAGE_SRC"
		else
			portage_src=$(realpath -e -- "${vendored}") || die_harness "cannot resolve '${vendored}'"
			portage_from="unpacked by make test-deps from its snapshot"
		fi
		[[ -f ${portage_src}/bin/emerge && -f ${portage_src}/lib/portage/__init__.py ]] ||
			die_harness "'${portage_src}' (${portage_from}) is not a Portage checkout (no bin/emerge, lib/portage)"
		# A Python under /root (pyenv, …) is not reachable by the portage user.
		python=${E2E_PYTHON:-/usr/bin/python3}
		[[ -x ${python} ]] || python=$(command -v python3) ||
			die_harness "no python3 for Portage (set E2E_PYTHON)"
		emerge_cmd=(env "PYTHONPATH=${portage_src}/lib" "${python}" "${portage_src}/bin/emerge")
		portage_cnf=${portage_src}/cnf
		portage_desc="Portage source tree ${portage_src}, ${portage_from} ($(portage_version)), ${python}"
	elif command -v emerge >/dev/null; then
		portage_src=
		python=
		emerge_cmd=("$(command -v emerge)")
		portage_cnf=/usr/share/portage/config
		# shellcheck disable=SC2034 # portage_desc: printed by run and bench
		portage_desc="system emerge $(command -v emerge)"
	else
		skip_suite "no Portage found: no snapshot unpacked by 'make test-deps' (${vendored}: needs ../shared/vendor or PHASEBOX_VENDOR), no PHASEBOX_PORTAGE_SRC=<portage checkout>, no system emerge"
	fi
	[[ -f ${portage_cnf}/make.globals ]] || die_harness "no make.globals in '${portage_cnf}'"
}

# portage_version: the version of the Portage at ${portage_src}, as it says itself.
# A tree from a git archive has no git to ask ("HEAD"): then meson.build's version.
portage_version() {
	local v
	v=$(PYTHONPATH=${portage_src}/lib "${python}" -c 'import portage; print(portage.VERSION)' 2>/dev/null)
	if [[ -z ${v} || ${v} == HEAD ]]; then
		v=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "${portage_src}/meson.build" 2>/dev/null | head -n 1)
	fi
	echo "${v:-version unknown}"
}

check_machine() {
	[[ ${EUID} -eq 0 ]] || skip_suite "needs root (emerge with FEATURES=userpriv and the cgroup hook run as root)"
	{ getent passwd portage && getent group portage; } >/dev/null ||
		skip_suite "no 'portage' user and group (FEATURES=userpriv needs them; e.g. useradd --system -U portage)"
	# shellcheck disable=SC2034 # portage_uid: read by run
	portage_uid=$(id -u portage)
	as_portage=(setpriv --reuid=portage --regid=portage --init-groups --)
	if [[ -n ${portage_src} ]]; then
		"${as_portage[@]}" "${python}" -c 'import sys' 2>/dev/null ||
			skip_suite "the portage user cannot run '${python}' (set E2E_PYTHON to a Python it can reach)"
		if ! "${as_portage[@]}" test -r "${portage_src}/bin/ebuild.sh"; then
			# A checkout below a directory the portage user cannot enter (/root, a 0700
			# home): run a copy of the tree from a directory it can.
			portage_copy=$(mktemp -d /tmp/phasebox-e2e-portage.XXXXXX) || die_harness "mktemp failed"
			chmod 755 "${portage_copy}"
			{ cp -a "${portage_src}/." "${portage_copy}/" && chmod -R a+rX "${portage_copy}"; } ||
				die_harness "cannot copy '${portage_src}' to '${portage_copy}'"
			info "the portage user cannot read '${portage_src}': running a copy in ${portage_copy}"
			portage_src=${portage_copy}
			emerge_cmd=(env "PYTHONPATH=${portage_src}/lib" "${python}" "${portage_src}/bin/emerge")
			portage_cnf=${portage_src}/cnf
			"${as_portage[@]}" test -r "${portage_src}/bin/ebuild.sh" ||
				skip_suite "the portage user cannot read '${portage_src}/bin/ebuild.sh' even in a copy"
		fi
	fi
	cgroup2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
		/proc/self/mountinfo | head -n 1)
	[[ -n ${cgroup2} ]] || skip_suite "no cgroup2 mount (the checks read the phases' cgroup2 paths)"
	# shellcheck disable=SC2034 # have_sandbox: read by run and the scenarios
	if [[ -x /usr/bin/sandbox ]]; then have_sandbox=1; else have_sandbox=0; fi
}

# ---------------------------------------------------------------------------------------
# The scratch EPREFIX.

setup_scratch() {
	scratch=$(mktemp -d /tmp/phasebox-e2e.XXXXXX) || die_harness "mktemp failed"
	chmod 755 "${scratch}"
	run_id=${scratch##*.}
	marker="phasebox-e2e-marker-${run_id}"
	eprefix=${scratch}/eprefix
	results=${scratch}/results
	out=${scratch}/out
	overlay=${scratch}/overlay
	pb_prefix=${scratch}/phasebox
	logdir=${eprefix}/var/log/portage

	# A copy: the portage user reads the ebuilds, and the checkout may live under /root.
	# shellcheck disable=SC2154 # here: set by run and bench, which source this file
	cp -R "${here}/overlay" "${overlay}" || die_harness "cannot copy the overlay"
	chmod -R a+rX "${overlay}"
	mkdir -p "${eprefix}"/etc/portage "${eprefix}"/usr/share/portage \
		"${eprefix}"/var/{tmp,db/pkg,lib/portage,cache/distfiles,cache/binpkgs,log/portage} \
		"${results}" "${out}" || die_harness "cannot create '${eprefix}'"
	chmod 1777 "${results}"
	ln -s "${overlay}/profiles/phasebox-e2e" "${eprefix}/etc/portage/make.profile"
	ln -s "${portage_cnf}" "${eprefix}/usr/share/portage/config"
	cat > "${eprefix}/etc/portage/repos.conf" <<-EOF
		[DEFAULT]
		main-repo = phasebox-test

		[phasebox-test]
		location = ${overlay}
	EOF
	# Passed as PORTAGE_REPOSITORIES too, which replaces every repos.conf: a Portage run
	# from its checkout also reads the checkout's cnf/repos.conf, whose [gentoo] points at
	# the host's /var/db/repos/gentoo (ResolverPlayground does the same).
	repositories=$(< "${eprefix}/etc/portage/repos.conf")
}

install_phasebox() {
	local snippet
	# shellcheck disable=SC2154 # repo: set by run and bench, which source this file
	if ! make -s -C "${repo}" install DESTDIR= PREFIX="${pb_prefix}" > "${out}/make-install.log" 2>&1; then
		cat "${out}/make-install.log"
		not_ok "make install PREFIX=${pb_prefix} (phasebox does not build or install)"
		return 1
	fi
	pb_libexec=${pb_prefix}/libexec/phasebox
	snippet=${pb_prefix}/share/phasebox/phasebox.bashrc
	local missing=()
	for f in "${snippet}" "${pb_libexec}/phasebox-cgroup" "${pb_libexec}/phasebox-reap"; do
		[[ -e ${f} ]] || missing+=("${f}")
	done
	if (( ${#missing[@]} )); then
		not_ok "make install PREFIX=${pb_prefix} installs the snippet and the helpers (missing: ${missing[*]})"
		return 1
	fi
	if ! grep -qF "${pb_libexec}" "${snippet}"; then
		not_ok "the installed snippet names the installed helpers (${pb_libexec})"
		return 1
	fi
	ok "make install PREFIX=${pb_prefix} installs the snippet and the helpers"
	chmod -R a+rX "${pb_prefix}"

	# Before the snippet (which re-executes the phase, so this runs twice in an isolated
	# phase): keep the phase process's initial environment, as Portage passed it (first
	# run) and as phasebox passed it to the re-executed phase (re-run).
	cat > "${eprefix}/etc/portage/bashrc" <<-EOF
		# tests/e2e/run
		if [[ \${EBUILD_PHASE} == @(unpack|prepare|configure|compile|test|install) && -d \${E2E_RESULTS} ]]; then
		 	addwrite "\${E2E_RESULTS}"
		 	if grep -qz '^PHASEBOX_REEXEC=' "/proc/\$\$/environ"; then
		 		cp "/proc/\$\$/environ" "\${E2E_RESULTS}/\${PN}.\${EBUILD_PHASE_FUNC}.environ-rerun"
		 	else
		 		cp "/proc/\$\$/environ" "\${E2E_RESULTS}/\${PN}.\${EBUILD_PHASE_FUNC}.environ-first"
		 	fi
		fi
		source "${snippet}"
	EOF
}

# Portage's own namespace sandboxes, on and off.
# shellcheck disable=SC2034 # native_on, native_off: read by run, bench and the scenarios
native_on=(ipc-sandbox network-sandbox pid-sandbox)
# shellcheck disable=SC2034
native_off=(-ipc-sandbox -network-sandbox -pid-sandbox)

# write_make_conf <run name> <FEATURES...>: the configuration of one emerge (without the
# root hook `phasebox-cgroup adopt` when ${no_adopt} is set); lines in
# ${extra_conf} are appended.
write_make_conf() {
	local name=$1
	shift
	mkdir -p "${results}/${name}"
	chmod 1777 "${results}/${name}"
	cat > "${eprefix}/etc/portage/make.conf" <<-EOF
		# tests/e2e/run: ${name}
		FEATURES="userpriv test -sandbox -usersandbox -news -merge-wait ${*}"
		${no_adopt:+#}PORTAGE_IONICE_COMMAND="${pb_libexec}/phasebox-cgroup adopt --log ${eprefix}/var/log/phasebox/accounting.jsonl \\\${PID}"
		PHASEBOX_LOG="${eprefix}/var/log/phasebox/accounting.jsonl"
		PORTAGE_TMPDIR="${eprefix}/var/tmp"
		PORT_LOGDIR="${logdir}/${name}"
		DISTDIR="${eprefix}/var/cache/distfiles"
		PKGDIR="${eprefix}/var/cache/binpkgs"
		CLEAN_DELAY="0"
		EMERGE_WARNING_DELAY="0"
		NOCOLOR="true"
		E2E_RESULTS="${results}/${name}"
		E2E_MARKER="${marker}"
		E2E_SLOW_SECONDS="${slow_seconds:-300}"
		${extra_conf:-}
	EOF
	mkdir -p "${logdir}/${name}" "${eprefix}/var/log"
	# shellcheck disable=SC2034 # res: where the scenario (run, bench, scenarios/*.sh) reads its results
	res=${results}/${name}
}

# ---------------------------------------------------------------------------------------
# Running emerge.

# start_emerge <run name> <emerge args...>: start emerge in a session and process group
# of its own (pid = pgid = ${emerge_pid}), output into ${out}/<run name>.out.
start_emerge() {
	local name=$1
	shift
	setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LC_ALL=C.UTF-8 \
		PORTAGE_OVERRIDE_EPREFIX="${eprefix}" ROOT=/ PORTAGE_REPOSITORIES="${repositories}" \
		"${emerge_cmd[@]}" --oneshot --nodeps --quiet-build=n --color=n "$@" \
		> "${out}/${name}.out" 2>&1 < /dev/null &
	emerge_pid=$!
	emerge_pids+=("${emerge_pid}")
	emerge_out=${out}/${name}.out
}

# wait_emerge <timeout seconds>: wait for the emerge started last; its status in
# ${emerge_status} (124 and a not-ok line when it had to be killed).
wait_emerge() {
	local limit=$(( SECONDS + $1 )) state
	while (( SECONDS < limit )); do
		state=$(awk '{ print $3 }' "/proc/${emerge_pid}/stat" 2>/dev/null) || break
		[[ ${state} == Z ]] && break
		sleep 0.2
	done
	if [[ -e /proc/${emerge_pid} && ${state:-} != Z ]]; then
		kill -KILL -- "-${emerge_pid}" 2>/dev/null
		wait "${emerge_pid}"
		emerge_status=124
		not_ok "emerge (pid ${emerge_pid}) ended within $1 s (killed; see ${emerge_out})"
		return 1
	fi
	wait "${emerge_pid}"
	emerge_status=$?
	return 0
}

# emerge_run <run name> <timeout> <emerge args...>
emerge_run() {
	local name=$1 timeout=$2 t0=${SECONDS}
	shift 2
	start_emerge "${name}" "$@"
	wait_emerge "${timeout}"
	info "${name}: emerge $* exited ${emerge_status} after $(( SECONDS - t0 )) s"
}


marker_pids() { # <pn>: pids of the daemons this runner's packages left
	pgrep -f -- "^${marker}-${1}-" | tr '\n' ' '
}

# The phase-leaf cgroups of this run's packages still present: below the invocations this
# run's emerges were adopted into, and every leaf a phase of this run recorded (e2e_record).
# Only this run's: other runs of this suite may share the machine, and their leaves
# (phasebox-test:…) are not ours to judge.
leftover_leaves() {
	local pid f cg
	{
		for pid in "${emerge_pids[@]}"; do
			[[ -d ${cgroup2}/phasebox/inv-${pid} ]] &&
				find "${cgroup2}/phasebox/inv-${pid}" -mindepth 1 -type d -name '*phasebox-test*' 2>/dev/null
		done
		for f in "${results}"/*/*.cgroup; do
			cg=$(sed -n 's/^0:://p' "${f}")
			[[ ${cg} == /phasebox/*phasebox-test* && -d ${cgroup2}${cg} ]] && echo "${cgroup2}${cg}"
		done
	} | sort -u
	return 0
}

kill_markers() {
	pkill -KILL -f -- "^${marker}-" 2>/dev/null
	return 0
}

cleanup() {
	local pid inv
	for pid in "${emerge_pids[@]}"; do
		kill -KILL -- "-${pid}" 2>/dev/null
	done
	kill_markers
	# The invocations our emerges were adopted into: kill what is left, remove them.
	for pid in "${emerge_pids[@]}"; do
		inv=${cgroup2}/phasebox/inv-${pid}
		[[ -d ${inv} ]] || continue
		find "${inv}" -depth -type d | while read -r d; do
			[[ -e ${d}/cgroup.kill ]] && echo 1 > "${d}/cgroup.kill" 2>/dev/null
			rmdir "${d}" 2>/dev/null || sleep 0.2
			rmdir "${d}" 2>/dev/null
		done
		# Its keeper, killed above, had no chance to remove its socket, and with the
		# invocation gone no later adopt will (phasebox-cgroup reaps both together).
		rm -f "/run/phasebox/inv-${pid}.sock"
	done
	# What the caller set up besides (servers, IPC objects, …).
	if declare -F cleanup_local >/dev/null; then cleanup_local; fi
	[[ -n ${portage_copy:-} ]] && rm -rf "${portage_copy}"
	if [[ ${E2E_KEEP:-0} == 1 ]]; then
		echo "# kept ${scratch}"
	elif [[ -n ${scratch:-} ]]; then
		rm -rf "${scratch}"
	fi
}
