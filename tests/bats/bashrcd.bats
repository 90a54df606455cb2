#!/usr/bin/env bats
# The snippet as users load it, with phasebox.eclass in the phase (tests/eclass's stubbed
# phase, helpers/fake-phase.sh, with PB_BASHRC as /etc/portage/bashrc): sourced directly,
# from a bashrc.d directory by a loop, and by a loader that sources bashrc.d/*.sh inside a
# function (as app-portage/portage-bashrc-mv does).  In each: the phase is isolated once
# into a leaf (in its own shell by the builtin, or re-executed); the user's own
# pre_src_compile/post_src_compile, defined in another file, run exactly once; with the
# re-execution what is sourced before the snippet runs twice, what comes after once.
# And phasebox_has against the real helper chain: what each FEATURES token gives, and
# nothing where phasebox did not re-execute the phase (stale origin and guard included).
# Runs as root (phasebox-cgroup makes its leaves below /phasebox/leaves).

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup bashrcd
	FAKE="${BATS_TEST_DIRNAME}/../eclass/helpers/fake-phase.sh"
	ECLASSDIR="${BATS_TEST_DIRNAME}/../../eclass"
	SNIPPET="${B}/test/phasebox.bashrc"
	mkdir -p "${SCRATCH}/T" "${SCRATCH}/etc/bashrc.d"
	chmod 1777 "${SCRATCH}/T"
	BODY="${SCRATCH}/body.sh"
	LEAF_RE="^0::/phasebox/leaves/app-misc:${MARK}-1:src_[a-z]+\.pb[0-9]+$"
	# Each user file counts how often it is sourced, in ${S}/sourced.<name>.
	for f in 10-early 50-user; do
		printf 'echo x >>"${S}/sourced.%s"\n' "${f}" >"${SCRATCH}/etc/bashrc.d/${f}.sh"
	done
	cat >>"${SCRATCH}/etc/bashrc.d/50-user.sh" <<-'EOF'
		pre_src_compile() { echo "pre ${BASHPID}" >>"${S}/hooks"; }
		post_src_compile() { echo "post ${BASHPID}" >>"${S}/hooks"; }
	EOF
}

teardown() {
	pb_teardown
}

# phase <bashrc> [VAR=value...]: the stubbed src_compile with /etc/portage/bashrc = <bashrc>.
phase() {
	local rc=$1
	shift
	env -i PATH=/usr/bin:/bin HOME=/ TERM=dumb PB_ECLASSDIR="${ECLASSDIR}" PB_BODY="${BODY}" \
		PB_BASHRC="${rc}" BROOT=/nonexistent T="${SCRATCH}/T" S="${SCRATCH}" EBUILD_PHASE=compile PHASEBOX_LOG="${PHASEBOX_LOG}" \
		PF="${MARK}-1" FEATURES="userpriv phasebox-cgroup" "$@" /bin/bash "${FAKE}"
}

# The three ways to load it.
bashrcs() {
	# 1. /etc/portage/bashrc sources it, then the user's own files.
	cat >"${SCRATCH}/direct" <<-EOF
		source "${SCRATCH}/etc/bashrc.d/10-early.sh"
		source "${SNIPPET}"
		source "${SCRATCH}/etc/bashrc.d/50-user.sh"
	EOF
	# 2. A loop over bashrc.d/*.sh, the snippet linked as 00-phasebox.sh (sorts first).
	ln -sf "${SNIPPET}" "${SCRATCH}/etc/bashrc.d/00-phasebox.sh"
	cat >"${SCRATCH}/loop" <<-EOF
		for f in "${SCRATCH}/etc/bashrc.d/"*.sh; do source "\${f}"; done
		unset f
	EOF
	# 3. A loader that sources them inside a function (local variables, return paths).
	cat >"${SCRATCH}/loader" <<-EOF
		LoaderMain() {
			local loader_file
			for loader_file in "${SCRATCH}/etc/bashrc.d/"*.sh; do
				[[ -r \${loader_file} ]] || continue
				. "\${loader_file}"
			done
		}
		LoaderMain
	EOF
}

@test "direct, bashrc.d loop, function loader: isolated once into a leaf (builtin and re-executed), user hooks run once" {
	bashrcs
	body_cg='mapfile -t cg <"/proc/${BASHPID}/cgroup"; echo "body ${cg[*]}" >>"${S}/body"'
	printf '%s\n' "${body_cg}" >"${BODY}"
	local how method
	for method in builtin reexec; do
		for how in direct loop loader; do
			rm -f "${SCRATCH}"/sourced.* "${SCRATCH}/hooks" "${SCRATCH}/body"
			run -0 phase "${SCRATCH}/${how}" PHASEBOX_METHOD="${method}"
			[[ $(wc -l <"${SCRATCH}/body") -eq 1 ]]
			[[ $(<"${SCRATCH}/body") =~ body\ .*0::/phasebox/leaves/app-misc:${MARK}-1:src_compile\.pb[0-9]+ ]]
			[[ $(grep -c '^pre ' "${SCRATCH}/hooks") -eq 1 && $(grep -c '^post ' "${SCRATCH}/hooks") -eq 1 ]]
			# after the snippet: once (the original run exec'd away before reaching it, or
			# is the isolated shell itself)
			[[ $(wc -l <"${SCRATCH}/sourced.50-user") -eq 1 ]]
			if [[ ${how} == direct && ${method} == reexec ]]; then
				# before the snippet: twice, once per run — why it must come first
				[[ $(wc -l <"${SCRATCH}/sourced.10-early") -eq 2 ]]
			else
				# the builtin runs nothing twice
				[[ $(wc -l <"${SCRATCH}/sourced.10-early") -eq 1 ]]
			fi
		done
	done
}

@test "negative twin: without a phasebox token the loaders change nothing: one run, no leaf, hooks once" {
	bashrcs
	printf '%s\n' 'mapfile -t cg <"/proc/${BASHPID}/cgroup"; echo "body ${cg[*]}" >>"${S}/body"' >"${BODY}"
	local how own
	own=$(sed -n 's/^0:://p' /proc/self/cgroup)
	for how in direct loop loader; do
		rm -f "${SCRATCH}"/sourced.* "${SCRATCH}/hooks" "${SCRATCH}/body"
		run -0 phase "${SCRATCH}/${how}" FEATURES="userpriv"
		[[ $(<"${SCRATCH}/body") == *"0::${own}"* ]]
		[[ $(grep -c '^pre ' "${SCRATCH}/hooks") -eq 1 ]]
		[[ $(wc -l <"${SCRATCH}/sourced.10-early") -eq 1 ]]
	done
}

# has_all: the body that records what phasebox_has answers, "<what>=<yes|no> ...".
has_body() {
	cat >"${BODY}" <<-'EOF'
		for w in cgroup network ipc pid mount; do
			if phasebox_has "${w}"; then a+=("${w}=yes"); else a+=("${w}=no"); fi
		done
		echo "${a[*]}" >"${S}/has"
	EOF
}

@test "phasebox_has answers what the chain really did, for each token (builtin and re-executed)" {
	has_body
	printf 'source "%s"\n' "${SNIPPET}" >"${SCRATCH}/direct"
	local f want method
	while read -r f want; do
		for method in builtin reexec; do
			rm -f "${SCRATCH}/has"
			run -0 phase "${SCRATCH}/direct" FEATURES="userpriv ${f//,/ }" PHASEBOX_METHOD="${method}"
			[[ $(<"${SCRATCH}/has") == "${want}" ]] || {
				echo "FEATURES=${f} PHASEBOX_METHOD=${method}: got '$(<"${SCRATCH}/has")', want '${want}'" >&2
				false
			}
		done
	done <<-'EOF'
		phasebox-cgroup cgroup=yes network=no ipc=no pid=no mount=no
		phasebox-network-sandbox cgroup=no network=yes ipc=no pid=no mount=no
		phasebox-ipc-sandbox cgroup=no network=no ipc=yes pid=no mount=no
		phasebox-pid-sandbox cgroup=no network=no ipc=no pid=yes mount=yes
		phasebox-mount-sandbox cgroup=no network=no ipc=no pid=no mount=yes
		phasebox-cgroup,phasebox-network-sandbox,phasebox-ipc-sandbox,phasebox-pid-sandbox,phasebox-mount-sandbox cgroup=yes network=yes ipc=yes pid=yes mount=yes
	EOF
}

@test "negative twin: phasebox_has says no where phasebox did not re-execute, stale origin and guard notwithstanding" {
	has_body
	printf 'source "%s"\n' "${SNIPPET}" >"${SCRATCH}/direct"
	# A run with every token leaves its origin file in ${T} ...
	run -0 phase "${SCRATCH}/direct" FEATURES="userpriv phasebox-cgroup phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox"
	[[ $(<"${SCRATCH}/has") == "cgroup=yes network=yes ipc=yes pid=yes mount=yes" ]]
	[[ -s ${SCRATCH}/T/phasebox.compile.origin ]]
	# ... and a later run of the phase without tokens, even with the guard exported in the
	# shell as a stale ${T}/environment would have it, is not isolated: no.
	printf 'export PHASEBOX_REEXEC=compile\n' >"${SCRATCH}/stale"
	printf 'source "%s"\nsource "%s"\n' "${SCRATCH}/stale" "${SNIPPET}" >"${SCRATCH}/direct2"
	run -0 phase "${SCRATCH}/direct2" FEATURES="userpriv"
	[[ $(<"${SCRATCH}/has") == "cgroup=no network=no ipc=no pid=no mount=no" ]]
	# and the snippet unset the guard: nothing stale reaches the phase's saved environment
	printf '%s\n' '[[ -v PHASEBOX_REEXEC ]] && echo set >"${S}/guard" || echo unset >"${S}/guard"' >"${BODY}"
	run -0 phase "${SCRATCH}/direct" FEATURES="userpriv phasebox-cgroup"
	[[ $(<"${SCRATCH}/guard") == unset ]]
}

@test "PHASEBOX_REQUIRED (phasebox.eclass's) is known to the snippet: a bad value dies naming it, a good one passes" {
	printf 'source "%s"\n' "${SNIPPET}" >"${SCRATCH}/direct"
	printf '%s\n' 'echo body >>"${S}/body"' >"${BODY}"
	run -1 --separate-stderr phase "${SCRATCH}/direct" PHASEBOX_REQUIRED=sometimes
	[[ ${stderr} == *"DIE: phasebox: app-misc/${MARK}-1 src_compile: PHASEBOX_REQUIRED='sometimes' is not valid: expected test, always or manual"* ]]
	[[ ! -e ${SCRATCH}/body ]]
	run -0 --separate-stderr phase "${SCRATCH}/direct" PHASEBOX_REQUIRED=manual
	[[ ${stderr} != *WARN* && ${stderr} != *DIE* ]]
	[[ $(<"${SCRATCH}/body") == body ]]
}
