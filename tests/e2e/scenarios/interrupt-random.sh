# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # the harness's variables (tests/e2e/run, lib.sh), read and set
# Scenario "interrupt-random": emerge interrupted at random points of a real emerge, with
# every phasebox token on, leaves nothing; the next emerge succeeds and reaps what the
# interrupted one left for it.
#
# `sigpoint` (overlay/phasebox-test/sigpoint): six src phases, each recording where it ran,
# leaving three daemons (one ignores SIGINT/SIGTERM/SIGHUP) and taking E2E_PHASE_SECONDS;
# src_install (root) mounts a marked tmpfs in its mount namespace.  First one uninterrupted
# emerge (the control, and the length T the signals are spread over); then E2E_INTERRUPTS
# (default 4) emerges, each sent SIGINT (to emerge's process group, as a terminal's ^C) or
# SIGTERM (to emerge) — the two alternate, and Portage's own ipc-/network-/pid-sandbox are
# off for two and on for the next two — after a delay drawn from E2E_SEED (printed; set it
# to repeat a run's delays): [0, 0.9 T), T the last uninterrupted emerge's length, is cut
# into as many strata as there are interrupts, and each interrupt lands at a random point
# of a stratum of its own, in a random order, so that the points are spread over the whole
# emerge (before the first phase, the chain's setup, mid-phase, between phases, the merge).
# Where each one landed (time, phase, what ran) is in its check lines.
#
# After each interrupt, once emerge has exited, it polls (bounded) until nothing of the
# build is left, then checks: no process (a marker in its command line or E2E_MARKER in its
# environment, phasebox's helpers, emerge's session), no leaf of sigpoint in cgroup2 or in
# any v1 hierarchy held by a live supervisor (a stale one — no supervisor — is listed; the
# next run must reap it), no mount (marked, or below the scratch directory), no namespace a
# phase recorded still held (by a process of this run, or by an nsfs mount).  Then the
# same package, uninterrupted: emerge succeeds, every src phase in a phasebox leaf, and the
# interrupted emerge's invocation cgroup, keeper socket and stale leaves are gone.
#
# The negative twin, first: a planted process (marker in its command line), another (the
# marker only in its environment) holding an IPC namespace of its own, a leaf in cgroup2's
# /phasebox/leaves and one in the v1 memory hierarchy (each locked as a live supervisor
# locks its leaf) and a marked tmpfs: the same checks must report each; then they are
# removed and the checks must report nothing.

e2e_more_scenarios+=(interrupt-random)

# The v1 hierarchies' directories of this runner's own cgroups, where the phases' v1
# mirrors go (common/cgroup_limits.hh): one per line.
irand_v1_bases() {
	local ctrls path c mnt root
	while IFS=: read -r _ ctrls path; do
		[[ -n ${ctrls} ]] || continue
		c=${ctrls%%,*}
		read -r root mnt < <(awk -v c="${c}" '{ for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" && ("," $(i+3) ",") ~ ("," c ",")) { print $4, $5; exit } }' /proc/self/mountinfo)
		[[ -n ${mnt} ]] || continue
		[[ ${root} != / ]] && path=${path#"${root}"}
		echo "${mnt}${path%/}"
	done < /proc/self/cgroup
}

# irand_lock_holder <cgroup dir>: the pid /proc/locks names for a flock on its
# cgroup.procs (how a live supervisor holds its leaf: common/cgroup_setup.hh), or nothing.
irand_lock_holder() {
	local st dev ino maj min
	st=$(stat -c '%d %i' "${1}/cgroup.procs" 2>/dev/null) || return 0
	read -r dev ino <<< "${st}"
	maj=$(( (dev >> 8) & 0xfff ))
	min=$(( (dev & 0xff) | ((dev >> 12) & 0xfff00) ))
	awk -v id="$(printf '%02x:%02x:%s' "${maj}" "${min}" "${ino}")" \
		'$2 == "FLOCK" && $6 == id { print $5; exit }' /proc/locks
}

# irand_leaves: every leaf of sigpoint, in cgroup2 (below /phasebox) and in each v1
# hierarchy (below this runner's cgroup), one per line: "<path> held:<pid>" or "<path> stale".
# sigpoint is this scenario's own package: no other scenario makes its leaves.
irand_leaves() {
	local d holder
	{
		find "${cgroup2}/phasebox" -mindepth 2 -type d -name 'phasebox-test:sigpoint-*' 2>/dev/null
		while read -r d; do
			find "${d}" -mindepth 1 -type d -name 'phasebox-test:sigpoint-*' 2>/dev/null
		done < <(irand_v1_bases)
	} | sort -u | while read -r d; do
		holder=$(irand_lock_holder "${d}")
		echo "${d} ${holder:+held:${holder}}${holder:-stale}"
	done
}

irand_live_leaves() { irand_leaves | grep ' held:'; return 0; }
irand_stale_leaves() { irand_leaves | grep ' stale$'; return 0; }

# irand_ours <pid>: whether a process belongs to this run's builds: this run's marker or
# phasebox installation in its command line, sigpoint's process title, or this run's
# E2E_MARKER in its environment (every phase process inherits it from make.conf).
irand_ours() {
	local cmd
	cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/${1}/cmdline")
	[[ ${cmd} == "${marker}-"* || ${cmd} == *"${pb_prefix}/"* || ${cmd} == *"phasebox-test/sigpoint-"* ]] && return 0
	grep -qzxF "E2E_MARKER=${marker}" "/proc/${1}/environ" 2>/dev/null
}

# irand_procs: this run's build processes still alive ("<pid>:<comm>" each): by command
# line, by environment, and whatever is left in the interrupted emerge's session.
irand_procs() {
	local p
	{
		pgrep -f -- "^${marker}-|${pb_prefix}/|phasebox-test/sigpoint-"
		grep -lzxF "E2E_MARKER=${marker}" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
		[[ -n ${irand_sid:-} ]] && pgrep -s "${irand_sid}"
	} | sort -un | while read -r p; do
		[[ ${p} == "$$" || ${p} == "${BASHPID}" ]] && continue
		[[ -e /proc/${p} ]] || continue
		echo "${p}:$(cat "/proc/${p}/comm" 2>/dev/null)"
	done | tr '\n' ' '
}

# irand_mounts: mounts of this run's builds on the host: a marked source, or a mount point
# below the scratch directory.
irand_mounts() {
	awk -v m="${marker}" -v s="${scratch}/" '{ for (i = 7; $i != "-"; i++); if (index($(i+2), m) || index($5 "/", s) == 1) print $5 "(" $(i+1) " " $(i+2) ")" }' \
		/proc/self/mountinfo | tr '\n' ' '
}

# irand_held_ns <dir>: namespaces the phases recorded in <dir>/*.ns (all but the runner's
# own) that are still held: by a process of this run (a namespace link or a descriptor),
# or by an nsfs mount.  nsfs numbers are reused as soon as a namespace is freed, so a
# holder that is not this run's (another build on this machine) is named but not counted.
irand_held_ns() {
	local -A mine=() host=()
	local n l what p
	for n in mnt net ipc pid uts user cgroup; do
		host[$(readlink "/proc/self/ns/${n}")]=1
	done
	for f in "${1}"/*.ns; do
		while read -r l; do
			[[ -n ${l} && -z ${host[${l}]:-} ]] && mine[${l}]=1
		done < "${f}"
	done
	(( ${#mine[@]} )) || return 0
	while read -r l what; do
		[[ -n ${mine[${l}]:-} ]] || continue
		p=${what#/proc/}
		p=${p%%/*}
		if irand_ours "${p}"; then
			echo "ours ${l} held by ${p}:$(cat "/proc/${p}/comm" 2>/dev/null)"
		else
			echo "foreign ${l}@${p}:$(cat "/proc/${p}/comm" 2>/dev/null)"
		fi
	done < <(find /proc/[0-9]*/ns /proc/[0-9]*/fd -maxdepth 1 -type l -printf '%l %p\n' 2>/dev/null)
	awk '{ for (i = 7; $i != "-"; i++); if ($(i+1) == "nsfs") print $4, $5 }' /proc/self/mountinfo |
		while read -r l what; do
			[[ -n ${mine[${l}]:-} ]] && echo "ours ${l} mounted at ${what}"
		done
	return 0
}

# irand_wait_clean <timeout>: bounded poll until nothing of the build is left.
irand_wait_clean() {
	local limit=$(( SECONDS + $1 ))
	while [[ -n $(irand_procs) || -n $(irand_live_leaves) || -n $(irand_mounts) ]]; do
		(( SECONDS < limit )) || return 1
		sleep 0.2
	done
}

# irand_check_nothing <label> <results dir>
irand_check_nothing() {
	local label=$1 dir=$2 v
	v=$(irand_procs)
	check "${label}: no process of the build is left (${v:-none})" test -z "${v}"
	v=$(irand_live_leaves | tr '\n' ' ')
	check "${label}: no leaf of sigpoint held by a live supervisor in cgroup2 or v1 (${v:-none})" test -z "${v}"
	v=$(irand_mounts)
	check "${label}: no mount of the build on the host (${v:-none})" test -z "${v}"
	local held foreign
	held=$(irand_held_ns "${dir}")
	v=$(sed -n 's/^ours //p' <<< "${held}" | tr '\n' ' ')
	foreign=$(sed -n 's/^foreign //p' <<< "${held}" | tr '\n' ' ')
	check "${label}: no namespace the phases were in is still held (${v:-none}${foreign:+; numbers reused by processes of others: ${foreign}})" test -z "${v}"
}

# irand_where <t ms> <process table>: where an interrupt lands, from the phases' stamps and
# the process table ("pid comm args", of phasebox's helpers, sigpoint's and ebuild.sh's
# processes) taken
# just before the signal: "<key>|<description>".
irand_where() {
	local t=$1 last="" open="" helpers phase="" ph pid args h key desc
	local -A running=()
	for ph in pkg_setup "${all_src[@]}" pkg_preinst pkg_postinst; do
		[[ -e ${res}/sigpoint.${ph}.started ]] || continue
		last=${ph}
		[[ ${ph} == src_* && ! -e ${res}/sigpoint.${ph}.finished ]] && open=${ph}
	done
	while read -r pid comm args; do
		[[ -n ${pid} ]] || continue
		if [[ ${args} == "${pb_libexec}/phasebox-"* ]]; then
			h=${args%% *}
			[[ ${args} == *" adopt "* ]] || running[${h##*/phasebox-}]=1
		elif [[ ${comm} == phasebox-* && ${comm} != phasebox-keeper && ${args} == *ebuild.sh* ]]; then
			# the builtin's links: copies of the phase shell, named after their link
			# (comm, at most 15 characters)
			running[${comm#phasebox-}]=1
		fi
		[[ ${args} =~ (ebuild|misc-functions)\.sh\ ([a-z_]+) ]] && phase=${BASH_REMATCH[2]}
	done <<< "${2}"
	helpers=${!running[*]}
	if [[ -n ${open} ]]; then
		key="in ${open}"
		desc="mid-phase: ${open} running"
	elif [[ ${phase} == @(unpack|prepare|configure|compile|test|install) && -e ${res}/sigpoint.src_${phase}.finished ]]; then
		key="end src_${phase}"
		desc="src_${phase} finished, its chain tearing down"
	elif [[ ${phase} == @(unpack|prepare|configure|compile|test|install) && -n ${helpers} ]]; then
		key="chain src_${phase}"
		desc="the chain of src_${phase} set up, its phase function not begun"
	elif [[ ${phase} == @(unpack|prepare|configure|compile|test|install) ]]; then
		key="bashrc src_${phase}"
		desc="ebuild.sh ${phase} before its chain (the builtin or the re-execution)"
	elif [[ -n ${phase} ]]; then
		key="ebuild.sh ${phase}"
		desc="ebuild.sh ${phase} (not isolated)"
	elif [[ -z ${last} ]]; then
		key="before phases"
		desc="before the first phase (emerge starting, resolving)"
	elif [[ ${last} == pkg_p* || -e ${res}/sigpoint.src_install.finished ]]; then
		key="merge"
		desc="install/merge (after src_install; last phase begun: ${last})"
	else
		key="between phases"
		desc="between phases (after ${last})"
	fi
	echo "${key}|t=$(( t / 1000 )).$(( t % 1000 / 100 )) s: ${desc}; helpers running: ${helpers:-none}"
}

# The negative twin: what a leak looks like, planted; the checks must report each part.
irand_twin() {
	local dir=${results}/irand-twin v v1mem fd2 fd1 leaf2 leaf1 pp pe mnt
	mkdir -p "${dir}"
	(exec -a "${marker}-sigpoint-planted" sleep 600) </dev/null &>/dev/null &
	pp=$!
	# Only the environment says it is this run's; it holds an IPC namespace of its own.
	E2E_MARKER=${marker} unshare --ipc -- sleep 600 </dev/null &>/dev/null &
	pe=$!
	leaf2=${cgroup2}/phasebox/leaves/phasebox-test:sigpoint-1:src_twin.pb$$
	v1mem=$(irand_v1_bases | grep -m1 '/memory')
	leaf1=${v1mem}/phasebox-test:sigpoint-1:src_twin.pb$$
	if ! mkdir -p "${cgroup2}/phasebox/leaves" || ! mkdir "${leaf2}" "${leaf1}"; then
		die_harness "irand twin: cannot plant the leaves ${leaf2} ${leaf1}"
	fi
	# Locked as a live supervisor locks its leaf, so that no phasebox run reaps them.
	exec {fd2}< "${leaf2}/cgroup.procs" {fd1}< "${leaf1}/cgroup.procs"
	if ! flock -x "${fd2}" || ! flock -x "${fd1}"; then
		die_harness "irand twin: flock"
	fi
	mnt=${scratch}/irand-twin-mnt
	if ! mkdir -p "${mnt}" || ! mount -t tmpfs -o size=1m "${marker}-sigpoint-tmpfs" "${mnt}"; then
		die_harness "irand twin: cannot mount a tmpfs on ${mnt}"
	fi
	# Wait (bounded) until both processes have exec'd (their command line is the sleep).
	local i
	for (( i = 0; i < 100; i++ )); do
		[[ $(tr '\0' ' ' 2>/dev/null < "/proc/${pp}/cmdline") == "${marker}-sigpoint-planted"* &&
			$(tr '\0' ' ' 2>/dev/null < "/proc/${pe}/cmdline") == "sleep 600 " ]] && break
		sleep 0.05
	done
	readlink "/proc/${pe}/ns/ipc" > "${dir}/planted.ns"

	v=$(irand_procs)
	check "irand-twin: the process check reports a planted process marked in its command line (${v:-nothing})" \
		grep -qw "${pp}" <<< "${v}"
	check "irand-twin: ... and one marked only by E2E_MARKER in its environment" grep -qw "${pe}" <<< "${v}"
	v=$(irand_live_leaves)
	check "irand-twin: the leaf check reports a held leaf in cgroup2 (${leaf2})" grep -qF "${leaf2} held:" <<< "${v}"
	check "irand-twin: ... and one in the v1 memory hierarchy (${leaf1})" grep -qF "${leaf1} held:" <<< "${v}"
	v=$(irand_mounts)
	check "irand-twin: the mount check reports a marked tmpfs (${v:-nothing})" grep -qF "${mnt}(" <<< "${v}"
	v=$(irand_held_ns "${dir}")
	check "irand-twin: the namespace check reports an IPC namespace held by a process of this run (${v:-nothing})" \
		grep -qF "ours $(< "${dir}/planted.ns") held by ${pe}:" <<< "${v}"

	kill "${pp}" "${pe}"
	wait "${pp}" "${pe}" 2>/dev/null
	umount "${mnt}"
	exec {fd2}<&- {fd1}<&-
	rmdir "${leaf2}" "${leaf1}"
	irand_check_nothing "irand-twin: once removed" "${dir}"
}

# irand_signal_at <delay ms> <signal>: wait for the delay (the stimulus, not a
# synchronisation: the point is to land anywhere), snapshot where emerge is, send the
# signal.  Sets irand_landing ("" when emerge had already ended).
irand_signal_at() {
	local delay=$1 sig=$2 now ps
	while :; do
		now=$(( ${EPOCHREALTIME/./} / 1000 - irand_t0 ))
		(( now >= delay )) && break
		if [[ $(awk '{ print $3 }' "/proc/${emerge_pid}/stat" 2>/dev/null) == @(Z|) ]]; then
			irand_landing=
			return
		fi
		if (( delay - now > 200 )); then
			sleep 0.2
		else
			sleep "0.$(printf '%03d' "$(( delay - now ))")"
		fi
	done
	# shellcheck disable=SC2009 # one snapshot of both kinds, in one read of the table
	ps=$(ps -eo pid=,comm=,args= 2>/dev/null | grep -F -e "${pb_prefix}/" -e 'phasebox-test/sigpoint-' -e '/ebuild.sh ')
	now=$(( ${EPOCHREALTIME/./} / 1000 - irand_t0 ))
	irand_landing=$(irand_where "${now}" "${ps}")
	printf '%s\n' "${ps}" > "${out}/${name}.ps"
	if [[ ${sig} == INT ]]; then
		kill -INT -- "-${emerge_pid}" 2>/dev/null
	else
		kill -TERM "${emerge_pid}" 2>/dev/null
	fi
}

scenario_interrupt-random() {
	local seed=${E2E_SEED:-$(( $(date +%s%N) % 32768 ))} count=${E2E_INTERRUPTS:-4}
	local i j u tmp name sig native t_ms delay stratum left v inv key where stale t1
	local -a order conf landings=()
	local -A keys=()
	[[ ${count} =~ ^[1-9][0-9]?$ ]] || die_harness "E2E_INTERRUPTS='${count}': expected 1 to 99"
	[[ ${seed} =~ ^[0-9]+$ ]] || die_harness "E2E_SEED='${seed}': expected a number"
	info "interrupt-random: E2E_SEED=${seed} E2E_INTERRUPTS=${count} (set both to repeat these delays)"
	RANDOM=${seed}
	# Two configurations: the phases isolated in their own shell by the builtin (the
	# default method), and re-executed with phasebox-proxy in the chain too
	# (PHASEBOX_NETWORK_ALLOW: the proxy link always re-executes).  Natives off runs the
	# first, natives on the second: each gets a SIGINT and a SIGTERM.
	local conf_builtin conf_proxy
	conf_builtin="E2E_HOST_MNTNS=\"$(readlink /proc/self/ns/mnt)\"
E2E_PHASE_SECONDS=\"${E2E_PHASE_SECONDS:-0.5}\""
	conf_proxy="${conf_builtin}
PHASEBOX_NETWORK_ALLOW=\"localhost:9\""
	extra_conf=${conf_builtin}
	conf=(phasebox-cgroup "${ns_tokens[@]}")

	irand_twin

	# The control: uninterrupted, and how long an emerge takes here, now.
	name=irand-control
	write_make_conf "${name}" "${conf[@]}" "${native_off[@]}"
	irand_t0=$(( ${EPOCHREALTIME/./} / 1000 ))
	emerge_run "${name}" 300 =phasebox-test/sigpoint-1
	t_ms=$(( ${EPOCHREALTIME/./} / 1000 - irand_t0 ))
	check_emerge_ok "${name}" sigpoint
	check_phases "${name}" sigpoint phasebox "${all_src[@]}"
	check "${name}: each src phase left its stubborn daemon to phasebox (QA notices name 6)" \
		test "$(grep -cE "${marker}-sigpoint-[a-z]+-stubborn" "$(build_log "${name}" sigpoint)" 2>/dev/null)" -ge 6
	check "${name}: sigpoint src_install mounted its marked tmpfs in a mount namespace of its own" \
		grep -qF "${marker}-sigpoint-tmpfs" "${res}/sigpoint.src_install.mount"
	irand_sid=${emerge_pid}
	irand_wait_clean 30
	irand_check_nothing "${name}" "${res}"
	info "${name}: the emerge took ${t_ms} ms; each interrupt lands in its stratum of the last uninterrupted emerge's length"

	# Strata in a random order.
	order=()
	for (( i = 0; i < count; i++ )); do order+=("${i}"); done
	for (( i = count - 1; i > 0; i-- )); do
		j=$(( RANDOM % (i + 1) ))
		tmp=${order[i]} order[i]=${order[j]} order[j]=${tmp}
	done

	for (( i = 0; i < count; i++ )); do
		(( i % 2 )) && sig=TERM || sig=INT
		(( (i / 2) % 2 )) && native=on || native=off
		stratum=${order[i]}
		# A point u of the stratum, the strata cutting 90% of the last uninterrupted
		# emerge's length (emerges vary by ±20% here: a signal after the end is wasted).
		u=$(( (RANDOM * 32768 + RANDOM) % 1000 ))
		delay=$(( t_ms * 9 * (stratum * 1000 + u) / (count * 10000) ))
		if [[ ${native} == on ]]; then
			name=irand-${i}-${sig,,}-native-on-reexec-proxy
			extra_conf=${conf_proxy}
			write_make_conf "${name}" "${conf[@]}" "${native_on[@]}"
		else
			name=irand-${i}-${sig,,}-native-off-builtin
			extra_conf=${conf_builtin}
			write_make_conf "${name}" "${conf[@]}" "${native_off[@]}"
		fi
		irand_t0=$(( ${EPOCHREALTIME/./} / 1000 ))
		start_emerge "${name}" =phasebox-test/sigpoint-1
		irand_sid=${emerge_pid}
		inv=${emerge_pid}
		irand_signal_at "${delay}" "${sig}"
		wait_emerge 240
		if [[ -z ${irand_landing} ]]; then
			key="after emerge"
			where="t>${delay} ms: emerge had ended before the signal (exit ${emerge_status})"
		else
			key=${irand_landing%%|*}
			where=${irand_landing#*|}
			check "${name}: emerge fails after SIG${sig} at ${delay} ms [${where}] (exit ${emerge_status})" \
				test "${emerge_status}" -ne 0
		fi
		landings+=("${name}: ${delay} ms (stratum ${stratum} of ${count} of ${t_ms} ms) -> ${where}")
		keys[${key}]=$(( ${keys[${key}]:-0} + 1 ))
		v=${SECONDS}
		irand_wait_clean 60
		info "${name}: SIG${sig} at ${delay} ms [${where}]; emerge exited ${emerge_status}; leftovers gone $(( SECONDS - v )) s after"
		irand_check_nothing "${name} [${key}]" "${res}"
		stale=$(irand_stale_leaves | cut -d' ' -f1 | tr '\n' ' ')
		info "${name}: stale leaves left for the next run: ${stale:-none}; invocation ${cgroup2}/phasebox/inv-${inv}: $([[ -d ${cgroup2}/phasebox/inv-${inv} ]] && echo present || echo gone)"
		kill_markers

		# The next emerge, uninterrupted, cleans what is stale.
		name=${name}-next
		write_make_conf "${name}" "${conf[@]}" "${native_off[@]}"
		t1=$(( ${EPOCHREALTIME/./} / 1000 ))
		emerge_run "${name}" 300 =phasebox-test/sigpoint-1
		(( emerge_status == 0 )) && t_ms=$(( ${EPOCHREALTIME/./} / 1000 - t1 ))
		check_emerge_ok "${name}" "sigpoint after the interrupt [${key}]"
		check_phases "${name}" sigpoint phasebox "${all_src[@]}"
		irand_sid=${emerge_pid}
		irand_wait_clean 30
		irand_check_nothing "${name}" "${res}"
		check "${name}: the interrupted emerge's invocation cgroup is gone (${cgroup2}/phasebox/inv-${inv})" \
			test ! -e "${cgroup2}/phasebox/inv-${inv}"
		check "${name}: ... and its keeper's socket (/run/phasebox/inv-${inv}.sock)" \
			test ! -e "/run/phasebox/inv-${inv}.sock"
		left=
		for v in ${stale}; do
			[[ -e ${v} ]] && left+="${v} "
		done
		check "${name}: the stale leaves the interrupt left are reaped (${stale:-none}${left:+; still there: ${left}})" \
			test -z "${left}"
		kill_markers
	done
	info "interrupt-random: E2E_SEED=${seed}: where the ${count} interrupts landed:"
	printf '#   %s\n' "${landings[@]}"
	for key in "${!keys[@]}"; do
		info "interrupt-random:   ${keys[${key}]} x ${key}"
	done
	extra_conf=
	irand_sid=
}
