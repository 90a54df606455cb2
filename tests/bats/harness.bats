#!/usr/bin/env bats
# The test set-up itself (tests/test-deps, tests/run-bats, the e2e harness's preconditions):
# snapshots are used only when their sha256 matches the vendor README, `undo` removes only
# what was recorded, and under CI=true a skip is a failure — each with its twin.  Everything
# here happens in a scratch directory; nothing of the machine is touched.

bats_require_minimum_version 1.5.0

setup() {
	REPO=$(cd "${BATS_TEST_DIRNAME}/../.." && pwd)
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pbharness.XXXXXX")
	V=${SCRATCH}/vendor
	mkdir -p "${V}" "${SCRATCH}/src/portage-9.9.9/bin" "${SCRATCH}/src/portage-9.9.9/lib/portage"
	: >"${SCRATCH}/src/portage-9.9.9/bin/emerge"
	: >"${SCRATCH}/src/portage-9.9.9/lib/portage/__init__.py"
	tar -czf "${V}/portage-9.9.9.tar.gz" -C "${SCRATCH}/src" portage-9.9.9
	SUM=$(sha256sum "${V}/portage-9.9.9.tar.gz" | cut -d' ' -f1)
	TD=( env -u PHASEBOX_PORTAGE_SRC PHASEBOX_VENDOR="${V}" B="${SCRATCH}/build" PHASEBOX_TEST_DEPS_STATE="${SCRATCH}/state"
		"${REPO}/tests/test-deps" )
}

teardown() {
	rm -rf "${SCRATCH}"
}

readme() { # <sha256>: the vendor README with one row for the snapshot
	printf '| file | upstream | ref | date | sha256 |\n|---|---|---|---|---|\n| portage-9.9.9.tar.gz | gentoo/portage | main | 2026 | %s |\n' "$1" >"${V}/README.md"
}

@test "test-deps: a Portage snapshot whose sha256 matches the README is unpacked into the build tree and linked" {
	readme "${SUM}"
	run -0 "${TD[@]}" install portage
	[[ ${output} == *"unpacked portage-9.9.9.tar.gz into ${SCRATCH}/build/vendor/portage-9.9.9"* ]]
	[[ $(readlink "${SCRATCH}/build/vendor/portage") == portage-9.9.9 ]]
	[[ -f ${SCRATCH}/build/vendor/portage/bin/emerge ]]
	# again: nothing to do
	run -0 "${TD[@]}" install portage
	[[ ${output} == *"unpacked before"* ]]
}

@test "test-deps: a Portage snapshot whose sha256 differs from the README is refused, nothing unpacked" {
	readme "$(printf '0%.0s' {1..64})"
	run -1 "${TD[@]}" install portage
	[[ ${output} == *"${V}/portage-9.9.9.tar.gz: sha256 ${SUM} is not the 0000"*"refusing to use it"* ]]
	[[ ! -e ${SCRATCH}/build/vendor/portage-9.9.9 && ! -e ${SCRATCH}/build/vendor/portage ]]
}

@test "test-deps: a snapshot the README does not list is refused" {
	printf '| file | sha256 |\n|---|---|\n' >"${V}/README.md"
	run -1 "${TD[@]}" install portage
	[[ ${output} == *"lists no sha256 for portage-9.9.9.tar.gz: refusing to use it"* ]]
	[[ ! -e ${SCRATCH}/build/vendor/portage ]]
}

@test "test-deps: without any snapshot it names what is missing and how to provide it" {
	rm -f "${V}"/*
	run -0 env PATH=/usr/bin:/bin "${TD[@]}" install portage
	if command -v emerge >/dev/null; then
		[[ ${output} == *"uses the system's"* ]]
	else
		[[ ${output} == *"Portage: MISSING: no portage-*.tar.gz snapshot in ${V}"*"PHASEBOX_VENDOR"*"PHASEBOX_PORTAGE_SRC"* ]]
	fi
	[[ ! -e ${SCRATCH}/build/vendor/portage ]]
}

@test "test-deps undo removes exactly the files it recorded, and no path outside them" {
	[[ ${EUID} -eq 0 ]] || skip "undo needs root"
	mkdir -p "${SCRATCH}/state" "${SCRATCH}/root"
	touch "${SCRATCH}/root/installed" "${SCRATCH}/root/theirs"
	printf '%s\n' "${SCRATCH}/root/installed" "${SCRATCH}/root/../root/theirs" "relative/path" \
		>"${SCRATCH}/state/sandbox.files"
	run -0 "${TD[@]}" undo
	[[ ${output} == *"removed sys-apps/sandbox's 1 files"* ]]
	[[ ! -e ${SCRATCH}/root/installed ]]
	# twin: a file it did not install (here named through '..') stays
	[[ -e ${SCRATCH}/root/theirs ]]
	[[ ! -e ${SCRATCH}/state ]]
}

@test "run-bats: a skipped test fails the run under CI=true, naming it; allowed and loud without" {
	printf '%s\n' '@test "runs" { true; }' '@test "cannot run here" { skip "no such feature"; }' \
		>"${SCRATCH}/one.bats"
	run -1 env CI=true "${REPO}/tests/run-bats" "${SCRATCH}/one.bats"
	[[ ${output} == *"run-bats: 1 passed, 0 failed, 1 skipped"* ]]
	[[ ${output} == *"ok 2 cannot run here # skip no such feature"* ]]
	[[ ${output} == *"CI=true: a skipped test is a failure of the run"* ]]
	run -0 env -u CI "${REPO}/tests/run-bats" "${SCRATCH}/one.bats"
	[[ ${output} == *"SKIPPED: 1 bats test(s) did not run here"* ]]
	# twin: nothing skipped, CI=true passes
	printf '%s\n' '@test "runs" { true; }' >"${SCRATCH}/one.bats"
	run -0 env CI=true "${REPO}/tests/run-bats" "${SCRATCH}/one.bats"
	[[ ${output} == *"run-bats: 1 passed, 0 failed, 0 skipped"* ]]
}

@test "run-bats: a failing test fails the run whatever CI says" {
	printf '%s\n' '@test "fails" { false; }' >"${SCRATCH}/one.bats"
	run -1 env -u CI "${REPO}/tests/run-bats" "${SCRATCH}/one.bats"
	[[ ${output} == *"run-bats: 0 passed, 1 failed, 0 skipped"* ]]
}

@test "e2e: no Portage at all is SKIPPED (77) outside CI, and a failure under CI=true" {
	# No PHASEBOX_PORTAGE_SRC, an empty build tree, no emerge on PATH (a PATH of links to
	# every program of /usr/bin but emerge).
	local f
	mkdir -p "${SCRATCH}/bin"
	for f in /usr/bin/*; do
		[[ ${f##*/} == emerge ]] || ln -s "${f}" "${SCRATCH}/bin/"
	done
	run -77 env -u PHASEBOX_PORTAGE_SRC -u CI PATH="${SCRATCH}/bin" \
		PHASEBOX_BUILD="${SCRATCH}/build" /bin/bash "${REPO}/tests/e2e/run"
	[[ ${output} == *"SKIPPED: no Portage found"*"real Portage was NOT tested"* ]]
	run -1 env -u PHASEBOX_PORTAGE_SRC CI=true PATH="${SCRATCH}/bin" \
		PHASEBOX_BUILD="${SCRATCH}/build" /bin/bash "${REPO}/tests/e2e/run"
	[[ ${output} == *"not ok - CI=true: the e2e suite may not be skipped (no Portage found"* ]]
	[[ ${output} == *"0 passed, 1 failed"* ]]
}
