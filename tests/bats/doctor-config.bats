#!/usr/bin/env bats
# `phasebox doctor --config-root DIR` against scratch Portage configurations, with real
# Portage's portageq (${PHASEBOX_PORTAGE_SRC}, else the one `make test-deps` unpacked into
# the build tree, else an installed portageq; only where there is none, as in make
# check-dist's tarball, helpers/portageq-standin) reading them: the snippet second, twice and
# missing; the hook missing while userpriv and phasebox-cgroup are on; unknown-features-
# filter on; Portage's own cgroup where cgroup2 is at /sys/fs/cgroup (a private mount
# namespace) — each with its twin, the configuration that passes the same rows.  As nobody
# and as portage outside an emerge, the delegated cgroup is predicted from the hook, never
# failed for want of an emerge.  And a /proc with a masked path (bound over in a private
# mount namespace, as Docker masks /proc/kcore) names the remedy of the proc mount in a
# user namespace.  Every --json output is checked against tests/restrict/doctor.schema.json.
# Runs as root.

bats_require_minimum_version 1.5.0

load helpers/phasebox

setup() {
	pb_setup doctorcfg
	CHECK="${BATS_TEST_DIRNAME}/../restrict/check-doctor-json"
	SCHEMA="${BATS_TEST_DIRNAME}/../restrict/doctor.schema.json"
	SNIPPET="${B}/test/phasebox.bashrc"
	HOOK="${B}/phasebox-cgroup adopt \\\${PID}"
	# A portageq on PATH for Portage run from its source tree.
	local src=${PHASEBOX_PORTAGE_SRC:-${B}/vendor/portage}
	mkdir -p "${SCRATCH}/bin"
	if [[ -f ${src}/bin/portageq ]]; then
		printf '#!/bin/sh\nexec env PYTHONPATH=%s /usr/bin/python3 %s "$@"\n' \
			"$(realpath "${src}")/lib" "$(realpath "${src}")/bin/portageq" >"${SCRATCH}/bin/portageq"
		chmod 755 "${SCRATCH}/bin/portageq"
	elif command -v portageq >/dev/null; then
		ln -s "$(command -v portageq)" "${SCRATCH}/bin/portageq"
	else
		# No Portage here (make check-dist's unpacked tarball): a stand-in that reads the
		# make.conf these tests write, as Portage would.
		ln -s "${BATS_TEST_DIRNAME}/helpers/portageq-standin" "${SCRATCH}/bin/portageq"
	fi
	PQ_PATH="${SCRATCH}/bin:/usr/bin:/bin"
}

teardown() {
	pb_teardown
}

# config NAME FEATURES [make.conf lines...]: ${SCRATCH}/NAME/etc/portage with this
# make.conf; CFG is its root.  The bashrc is the test's to write.
config() {
	CFG="${SCRATCH}/$1"
	mkdir -p "${CFG}/etc/portage"
	printf 'FEATURES="%s"\n' "$2" >"${CFG}/etc/portage/make.conf"
	shift 2
	(( $# )) && printf '%s\n' "$@" >>"${CFG}/etc/portage/make.conf"
	return 0
}

# doctor [AS...] -- [ARGS...]: doctor --json --config-root ${CFG} (run by AS, e.g.
# setpriv ...), schema-checked; DOCTOR_RC, OK, and ROW[name] = "ok|failed|missing<TAB>detail".
doctor() {
	local -a as=()
	while [[ $1 != -- ]]; do
		as+=( "$1" )
		shift
	done
	shift
	DOCTOR_RC=0
	"${as[@]}" env PATH="${PQ_PATH}" "${B}/phasebox" doctor --json --config-root "${CFG}" "$@" \
		>"${SCRATCH}/doctor.json" 2>"${SCRATCH}/doctor.err" || DOCTOR_RC=$?
	"${as[@]}" env PATH="${PQ_PATH}" "${B}/phasebox" doctor --config-root "${CFG}" "$@" \
		>"${SCRATCH}/doctor.txt" 2>&1 || true
	local out name state rest
	out=$("${CHECK}" "${SCHEMA}" "${SCRATCH}/doctor.json" "check:portage" "check:bashrc snippet" \
		"check:snippet first" "check:delegated route" "check:unknown-features-filter" \
		"check:native cgroup" "check:cgroup delegated" "check:unshare pid+/proc in userns" \
		phasebox-cgroup phasebox-pid-sandbox) || { echo "${out}" >&2; return 1; }
	declare -gA ROW=()
	OK=$(head -n 1 <<<"${out}" | cut -f 2)
	while IFS=$'\t' read -r name state _ rest; do
		ROW[${name#check:}]="${state}"$'\t'"${rest}"
	done < <(tail -n +2 <<<"${out}")
}

row_ok() { [[ ${ROW[$1]} == ok$'\t'* ]] || { echo "row $1: ${ROW[$1]}" >&2; return 1; }; }
row_failed() { [[ ${ROW[$1]} == failed$'\t'* ]] || { echo "row $1: ${ROW[$1]}" >&2; return 1; }; }
detail() { printf '%s\n' "${ROW[$1]#*$'\t'}"; }
# The value of a field of the "portage" object, or of a row's remedy/known.
json() { "${PY}" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "${SCRATCH}/doctor.json" "$1"; }

@test "the snippet second: snippet first fails naming the line that runs before it; twin: first passes" {
	config second "userpriv phasebox-cgroup" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	printf '%s\n' '# site bashrc' 'export CCACHE_DIR=/var/cache/ccache' 'ccache -M 5G >/dev/null' \
		"source ${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 1 && ${OK} == false ]]
	row_ok "bashrc snippet"
	[[ $(detail "bashrc snippet") == "sourced once: ${CFG}/etc/portage/bashrc:4, ${SNIPPET} (this installation's)" ]]
	row_failed "snippet first"
	[[ $(detail "snippet first") == "${CFG}/etc/portage/bashrc:3 runs 'ccache -M 5G >/dev/null' before the snippet (${CFG}/etc/portage/bashrc:4): "* ]]
	[[ $(json 'd["portage"]["before"]["line"]') == 3 ]]
	grep -qF "remedy: [1] move the snippet's line (${CFG}/etc/portage/bashrc:4) above everything else: the first line of ${CFG}/etc/portage/bashrc" "${SCRATCH}/doctor.txt"
	# Portage itself answered: its version (a git archive says HEAD: from meson.build) and
	# the configuration root doctor handed it.
	row_ok portage
	[[ $(json 'd["portage"]["found"]') == True && $(json 'd["portage"]["version"]') =~ ^[0-9]+\.[0-9]+ ]]
	[[ $(json 'd["portage"]["config_root"]') == "${CFG}/" ]]
	[[ $(json 'd["features_source"]') == portageq ]]
	# A relative --config-root is made absolute, for doctor and for portageq alike.
	(cd "${CFG}/etc" && env PATH="${PQ_PATH}" "${B}/phasebox" doctor --json --config-root .. >"${SCRATCH}/doctor.json") || true
	[[ $(json 'd["portage"]["config_root"] + " " + d["portage"]["bashrc"]') == "${CFG}/ ${CFG}/etc/portage/bashrc" ]]

	# Twin: the snippet first (comments and assignments may come before it).
	printf '%s\n' '# site bashrc' 'export CCACHE_DIR=/var/cache/ccache' "source ${SNIPPET}" \
		'ccache -M 5G >/dev/null' >"${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 0 && ${OK} == true ]]
	row_ok "bashrc snippet"
	row_ok "snippet first"
	[[ $(detail "snippet first") == "nothing runs before it" ]]
	[[ $(json 'd["portage"]["before"]') == None ]]
	run -1 grep -E '✘|remedy:' "${SCRATCH}/doctor.txt"
}

@test "the snippet twice, sourced and linked into bashrc.d: fails naming both; twin: the link alone" {
	config twice "userpriv phasebox-cgroup" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	mkdir -p "${CFG}/etc/portage/bashrc.d"
	ln -s "${SNIPPET}" "${CFG}/etc/portage/bashrc.d/00-phasebox.sh"
	printf 'echo user\n' >"${CFG}/etc/portage/bashrc.d/50-user.sh"
	printf '%s\n' "source ${SNIPPET}" \
		'for f in "${PORTAGE_CONFIGROOT%/}/etc/portage/bashrc.d/"*.sh; do source "${f}"; done' 'unset f' \
		>"${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 1 ]]
	row_failed "bashrc snippet"
	[[ $(detail "bashrc snippet") == "sourced 2 times: ${CFG}/etc/portage/bashrc:1, ${CFG}/etc/portage/bashrc.d/00-phasebox.sh (the loop at ${CFG}/etc/portage/bashrc:2)" ]]
	[[ $(json 'len(d["portage"]["snippet"])') == 2 ]]
	grep -qF "remedy: [1] keep one: ${CFG}/etc/portage/bashrc:1 (remove the others)" "${SCRATCH}/doctor.txt"

	# Twin: the loader alone; the link sorts before the user's file.
	sed -i 1d "${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_ok "bashrc snippet"
	[[ $(detail "bashrc snippet") == "sourced once: ${CFG}/etc/portage/bashrc.d/00-phasebox.sh (the loop at ${CFG}/etc/portage/bashrc:1), ${CFG}/etc/portage/bashrc.d/00-phasebox.sh (this installation's)" ]]
	row_ok "snippet first"
	# ... and a file that sorts before the link runs first.
	printf 'ccache -M 5G\n' >"${CFG}/etc/portage/bashrc.d/00-ccache.sh"
	doctor --
	[[ ${DOCTOR_RC} -eq 1 ]]
	row_failed "snippet first"
	[[ $(detail "snippet first") == "${CFG}/etc/portage/bashrc.d/00-ccache.sh:1 runs 'ccache -M 5G' before the snippet"* ]]
}

@test "the snippet missing, commented out or sourced only per package: fails; twin: sourced" {
	config missing "userpriv phasebox-cgroup" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	doctor --
	[[ ${DOCTOR_RC} -eq 1 ]]
	row_failed "bashrc snippet"
	[[ $(detail "bashrc snippet") == "not sourced by ${CFG}/etc/portage/bashrc (there is no such file): phasebox does nothing" ]]
	[[ ${ROW[snippet first]} == missing* ]] # nothing to be first
	grep -qF "remedy: [1] make 'source ${SNIPPET}' the first line of ${CFG}/etc/portage/bashrc" "${SCRATCH}/doctor.txt"
	printf '%s\n' "# source ${SNIPPET}" "true # . ${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	mkdir -p "${CFG}/etc/portage/env/dev-lang"
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/env/dev-lang/rust"
	doctor --
	[[ ${DOCTOR_RC} -eq 1 ]]
	row_failed "bashrc snippet"
	[[ $(detail "bashrc snippet") == "not sourced by ${CFG}/etc/portage/bashrc, only for the packages of ${CFG}/etc/portage/env/dev-lang/rust: phasebox does nothing" ]]
	# A snippet that is not there.
	printf 'source /nonexistent/phasebox.bashrc\n' >"${CFG}/etc/portage/bashrc"
	rm -r "${CFG}/etc/portage/env"
	doctor --
	row_failed "bashrc snippet"
	[[ $(detail "bashrc snippet") == "${CFG}/etc/portage/bashrc:1 sources /nonexistent/phasebox.bashrc, which is not there" ]]

	# Twin: sourced (and no phasebox token asked for: the rows inform, they do not count).
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_ok "bashrc snippet"
	config unasked "userpriv"
	doctor --
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_failed "bashrc snippet"
}

@test "the hook missing while userpriv and phasebox-cgroup are on: the delegated route fails; twins: the hook, and no userpriv" {
	config nohook "userpriv phasebox-cgroup"
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 1 && ${OK} == false ]]
	row_failed "delegated route"
	[[ $(detail "delegated route") == "PORTAGE_IONICE_COMMAND is not set (from portageq): the userpriv phases get no cgroup" ]]
	grep -qF "remedy: [1] add PORTAGE_IONICE_COMMAND=\"${B}/phasebox-cgroup adopt \\\${PID}\" to make.conf" "${SCRATCH}/doctor.txt"
	# Another installation's helper, or ionice alone, is not the hook either.
	config nohook "userpriv phasebox-cgroup" 'PORTAGE_IONICE_COMMAND="/usr/libexec/phasebox/phasebox-cgroup adopt \${PID}"'
	doctor --
	row_failed "delegated route"
	[[ $(detail "delegated route") == "PORTAGE_IONICE_COMMAND runs /usr/libexec/phasebox/phasebox-cgroup adopt, not this installation's ${B}/phasebox-cgroup (from portageq)" ]]
	config nohook "userpriv phasebox-cgroup" 'PORTAGE_IONICE_COMMAND="ionice -c 3 -p \${PID}"'
	doctor --
	row_failed "delegated route"

	# Twin: this installation's hook.
	config nohook "userpriv phasebox-cgroup" "PORTAGE_IONICE_COMMAND=\"${B}/phasebox-cgroup adopt --log /var/log/x.jsonl \\\${PID} -- ionice -c 3 -p \\\${PID}\""
	doctor --
	[[ ${DOCTOR_RC} -eq 0 && ${OK} == true ]]
	row_ok "delegated route"
	[[ $(detail "delegated route") == "PORTAGE_IONICE_COMMAND runs ${B}/phasebox-cgroup adopt … \${PID} (from portageq)" ]]
	# Twin: without userpriv the hook is not needed (the row says so, and does not count).
	config nohook "-userpriv phasebox-cgroup"
	doctor --
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_ok "delegated route"
	[[ $(detail "delegated route") == *"; not needed: FEATURES asks for no cgroup for userpriv phases" ]]
}

@test "unknown-features-filter on: fails naming the phasebox tokens Portage removed; twin: off" {
	config filter "userpriv phasebox-cgroup phasebox-network-sandbox unknown-features-filter" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	doctor --
	[[ ${DOCTOR_RC} -eq 1 && ${OK} == false ]]
	row_failed "unknown-features-filter"
	[[ $(detail "unknown-features-filter") == *"phasebox then does nothing (removed here: phasebox-cgroup, phasebox-network-sandbox)" ]]
	[[ $(json 'd["portage"]["filtered"]') == "['phasebox-cgroup', 'phasebox-network-sandbox']" ]]
	# The removed tokens still count as asked for.
	[[ $(json '[f["asked"] for f in d["features"] if f["token"] == "phasebox-network-sandbox"][0]') == True ]]
	grep -qF 'remedy: [1] FEATURES="-unknown-features-filter" in make.conf' "${SCRATCH}/doctor.txt"
	# Twin: off (Portage's default).
	config filter "userpriv phasebox-cgroup phasebox-network-sandbox" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	doctor --
	[[ ${DOCTOR_RC} -eq 0 && ${OK} == true ]]
	row_ok "unknown-features-filter"
	[[ $(json 'd["portage"]["filtered"]') == "[]" ]]
}

@test "as nobody and as portage outside an emerge: the delegated cgroup is predicted from the hook; twin: no hook fails with the remedy" {
	config users "userpriv phasebox-cgroup" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	local who
	local -a as
	for who in nobody portage; do
		if [[ ${who} == nobody ]]; then as=( "${NOBODY[@]}" ); else
			id portage >/dev/null 2>&1 || skip "no portage user (make test-deps)"
			as=( setpriv --reuid=portage --regid=portage --init-groups )
		fi
		doctor "${as[@]}" --
		[[ ${DOCTOR_RC} -eq 0 && ${OK} == true ]] || { cat "${SCRATCH}/doctor.txt" >&2; false; }
		[[ $(json 'd["uid"]') -ne 0 ]]
		row_ok "cgroup delegated"
		[[ $(json '[c["known"] for c in d["checks"] if c["name"] == "cgroup delegated"][0]') == False ]]
		[[ $(detail "cgroup delegated") == "cannot know outside an emerge (none runs above this process); when emerge runs, its hook (PORTAGE_IONICE_COMMAND, from portageq) adopts it and each phase of uid "*" gets a leaf of its own" ]]
		grep -qE '^  \? cgroup delegated +cannot know outside an emerge' "${SCRATCH}/doctor.txt"
		[[ $(json '[f["verdict"] + " " + f["detail"] for f in d["features"] if f["token"] == "phasebox-cgroup"][0]') == "works predicted, not probed (no emerge runs above this process): "* ]]
		run -1 grep -E '✘|remedy:' "${SCRATCH}/doctor.txt"
	done

	# Twin: no hook: the row fails and asks for it, and so does the verdict.
	config users "userpriv phasebox-cgroup"
	doctor "${NOBODY[@]}" --
	[[ ${DOCTOR_RC} -eq 1 ]]
	row_failed "cgroup delegated"
	[[ $(detail "cgroup delegated") == "no adopted invocation above this process (outside an emerge), and PORTAGE_IONICE_COMMAND is not set (from portageq): nothing says emerge will delegate a cgroup to uid 65534" ]]
	[[ $(json '[c["remedy"] for c in d["checks"] if c["name"] == "cgroup delegated"][0]') == "add PORTAGE_IONICE_COMMAND=\"${B}/phasebox-cgroup adopt \\\${PID}\" to make.conf"* ]]
	[[ $(json '[f["verdict"] + " " + f["cause"] for f in d["features"] if f["token"] == "phasebox-cgroup"][0]') == "fails not-delegated" ]]
}

# doctor where cgroup2 is at /sys/fs/cgroup: here already, or in a private mount namespace
# of this test (a hybrid host).
doctor_v2_root() {
	if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
		doctor --
	else
		doctor unshare -m --propagation private sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh --
	fi
}

@test "Portage's cgroup with phasebox-cgroup and userpriv where cgroup2 is at /sys/fs/cgroup: both apply, phasebox nests below Portage's build cgroup; twins: on this host, without userpriv, without the hook" {
	config native "userpriv phasebox-cgroup cgroup" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
		# Pure cgroup2 here already.
		doctor --
	else
		# Twin first: here Portage's cgroup does nothing.
		doctor --
		[[ ${DOCTOR_RC} -eq 0 ]]
		row_ok "native cgroup"
		[[ $(detail "native cgroup") == "Portage's cgroup does nothing here: cgroup2 is not mounted at /sys/fs/cgroup; phasebox-cgroup alone gives each phase its cgroup" ]]
		[[ -n ${CG2} ]] || skip "no cgroup2 on this host"
		doctor_v2_root
	fi
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_ok "native cgroup"
	[[ $(detail "native cgroup") == "both apply where emerge runs as root: "*"nests each src_* phase's leaf below it"*"the userpriv phases get their leaves from the keeper of 'phasebox-cgroup adopt' (the delegated route)" ]]
	# Twin: without userpriv both apply, and no keeper is needed.
	config native "-userpriv phasebox-cgroup cgroup"
	doctor_v2_root
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_ok "native cgroup"
	[[ $(detail "native cgroup") == "both apply where emerge runs as root: "*"orphan kill hold" ]]
	# Twin: userpriv without the hook: the delegated route fails, and says how to fix it.
	config native "userpriv phasebox-cgroup cgroup"
	doctor_v2_root
	[[ ${DOCTOR_RC} -eq 1 ]]
	row_ok "native cgroup"
	row_failed "delegated route"
}

@test "a masked /proc path: the proc mount in a user namespace fails naming it and the remedy; twin: unmasked" {
	config masked "userpriv phasebox-pid-sandbox" "PORTAGE_IONICE_COMMAND=\"${HOOK}\""
	printf 'source %s\n' "${SNIPPET}" >"${CFG}/etc/portage/bashrc"
	# A file of /proc bound over with /dev/null, as Docker masks /proc/kcore, /proc/keys, ...
	local mask f
	for f in /proc/kcore /proc/keys /proc/timer_list; do
		[[ -e ${f} ]] && { mask=${f}; break; }
	done
	[[ -n ${mask} ]]
	local -a masked=( unshare -m --propagation private sh -c 'mount --bind /dev/null "$0" && exec "$@"' "${mask}" )
	doctor "${masked[@]}" --
	[[ ${DOCTOR_RC} -eq 0 ]] # root's pid namespace needs no user namespace: it works
	row_failed "unshare pid+/proc in userns"
	[[ $(detail "unshare pid+/proc in userns") == "mount a new /proc for the pid namespace: Operation not permitted (a new /proc cannot be mounted in a user namespace while parts of this one are covered (${mask}))" ]]
	[[ $(json '[c["remedy"] for c in d["checks"] if c["name"] == "unshare pid+/proc in userns"][0]') == *"(umount ${mask})"* ]]
	if [[ -e /.dockerenv ]]; then # a marker alone: Docker's remedy as a conditional
		[[ $(json '[c["remedy"] for c in d["checks"] if c["name"] == "unshare pid+/proc in userns"][0]') == *"docker run --security-opt systempaths=unconfined"* ]]
	fi
	# As nobody the phase needs the user namespace: the verdict fails with the cause.
	doctor "${masked[@]}" "${NOBODY[@]}" --
	[[ ${DOCTOR_RC} -eq 1 ]]
	[[ $(json '[f["verdict"] + " " + f["cause"] for f in d["features"] if f["token"] == "phasebox-pid-sandbox"][0]') == "fails masked-proc" ]]
	# Twin: the same without the mask.
	doctor "${NOBODY[@]}" --
	[[ ${DOCTOR_RC} -eq 0 ]]
	row_ok "unshare pid+/proc in userns"
	[[ $(json '[f["verdict"] for f in d["features"] if f["token"] == "phasebox-pid-sandbox"][0]') == works ]]
}
