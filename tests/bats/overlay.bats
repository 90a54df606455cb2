#!/usr/bin/env bats
# The overlay (profiles/, metadata/, eclass/, sys-apps/, LICENSE) as ::gentoo's policies want
# it, checked by tests/overlay/check: this checkout passes every check, and a copy broken
# in one rule fails that check and no other — each check with its twin.  Needs no root
# and no Portage; everything happens in a scratch copy.

bats_require_minimum_version 1.5.0

setup() {
	REPO=$(cd "${BATS_TEST_DIRNAME}/../.." && pwd)
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pboverlay.XXXXXX")
	O=${SCRATCH}/overlay
	mkdir -p "${O}"
	cp -R "${REPO}/profiles" "${REPO}/metadata" "${REPO}/eclass" "${REPO}/sys-apps" "${REPO}/LICENSE" \
		"${REPO}/README.md" "${O}/"
	PKG=${O}/sys-apps/phasebox
	LIVE=${PKG}/phasebox-9999.ebuild
	REL=$(find "${PKG}" -name 'phasebox-[0-9]*.ebuild' ! -name '*-9999.ebuild' | sort -V | tail -n 1)
	ECLASS=${O}/eclass/phasebox.eclass
}

teardown() {
	rm -rf "${SCRATCH}"
}

# fails_only <id>...: the check of the copy exits 1, and exactly these checks failed.
fails_only() {
	run -1 "${REPO}/tests/overlay/check" "${O}"
	local got want
	got=$(sed -n 's/^not ok [0-9]* - \([a-z-]*\):.*/\1/p' <<<"${output}" | sort -u | paste -sd' ')
	want=$(printf '%s\n' "$@" | sort -u | paste -sd' ')
	if [[ ${got} != "${want}" ]]; then
		echo "failed: '${got}'; expected: '${want}'" >&2
		return 1
	fi
}

# both <sed script>: the same edit in the release and the live ebuild (one file, two names).
both() {
	sed -i -e "$1" "${REL}" "${LIVE}"
}

@test "overlay: the checkout and its scratch copy pass every check (the twin of each test below)" {
	run -0 "${REPO}/tests/overlay/check" "${REPO}"
	[[ ${output} != *"not ok"* ]]
	[[ ${output} =~ all\ ([0-9]+)\ checks\ passed ]]
	(( BASH_REMATCH[1] >= 30 ))
	run -0 "${REPO}/tests/overlay/check" "${O}"
	[[ ${output} == *"ok "*" - ebuild-keywords: phasebox-9999.ebuild: live, no KEYWORDS at all"* ]]
	[[ ${output} == *"ok "*" - ebuild-postinst: "* ]]
}

@test "overlay: not an overlay is a harness error (exit 2)" {
	run -2 "${REPO}/tests/overlay/check" "${SCRATCH}"
	[[ ${output} == *"no profiles/repo_name"* ]]
}

# ------------------------------------------------------------------- keywords, EAPI, licence

@test "ebuild-keywords: KEYWORDS=\"\" added to the live branch fails (a live ebuild has none at all)" {
	both 's/^\tinherit git-r3$/&\n\tKEYWORDS=""/'
	fails_only ebuild-keywords
	[[ ${output} == *'KEYWORDS assigned empty (line '*'): leave it out'* ]]
}

@test "ebuild-keywords: ~amd64 in the live branch fails" {
	both 's/^\tinherit git-r3$/&\n\tKEYWORDS="~amd64"/'
	fails_only ebuild-keywords
	[[ ${output} == *"a live ebuild has no KEYWORDS (it has KEYWORDS='~amd64')"* ]]
}

@test "ebuild-keywords: the release ebuild with a stable or an empty KEYWORDS fails" {
	both 's/^\tKEYWORDS="~amd64"$/\tKEYWORDS="amd64"/'
	fails_only ebuild-keywords
	[[ ${output} == *"keyword 'amd64' is not ~arch"* ]]
	both 's/^\tKEYWORDS="amd64"$/\tKEYWORDS=""/'
	fails_only ebuild-keywords
	[[ ${output} == *"a release ebuild has keywords"* ]]
}

@test "ebuild-eapi: EAPI=7, or EAPI=8 after the inherit, fails" {
	both 's/^EAPI=8$/EAPI=7/'
	fails_only ebuild-eapi
	both 's/^EAPI=7$//; s/^inherit toolchain-funcs$/&\nEAPI=8/'
	fails_only ebuild-eapi
	[[ ${output} == *"the first statement is 'inherit toolchain-funcs', not EAPI=8"* ]]
}

@test "ebuild-license, license-file: LICENSE=\"MIT\", no LICENSE file, or a GPL-3 text fail" {
	both 's/^LICENSE="GPL-2"$/LICENSE="MIT"/'
	fails_only ebuild-license
	[[ ${output} == *"LICENSE 'MIT': no file of this repository carries that licence"* ]]
	both 's/^LICENSE="MIT"$/LICENSE="GPL-2"/'
	mv "${O}/LICENSE" "${SCRATCH}/LICENSE"
	fails_only license-file ebuild-license
	sed 's/Version 2, June 1991/Version 3, 29 June 2007/' "${SCRATCH}/LICENSE" >"${O}/LICENSE"
	fails_only license-file ebuild-license
	[[ ${output} == *"LICENSE is not version 2 (June 1991)"* ]]
}

@test "ebuild-header, ebuild-description: no copyright line, an http HOMEPAGE or an 81-character DESCRIPTION fail" {
	both '1d'
	fails_only ebuild-header
	cp "${REPO}/sys-apps/phasebox/${REL##*/}" "${REL}"
	cp "${REL}" "${LIVE}"
	both 's|^HOMEPAGE="https://|HOMEPAGE="http://|'
	fails_only ebuild-description
	both 's|^HOMEPAGE="http://|HOMEPAGE="https://|; s|^DESCRIPTION=.*|DESCRIPTION="'"$(printf 'x%.0s' {1..81})"'"|'
	fails_only ebuild-description
	[[ ${output} == *"DESCRIPTION is 81 characters (at most 80)"* ]]
}

# ---------------------------------------------------------------------------- dependencies

@test "deps-header-only: nlohmann_json in RDEPEND, or CLI11 in BDEPEND, fails" {
	both 's|^\t>=sys-apps/portage-.*|&\n\tdev-cpp/nlohmann_json|'
	fails_only deps-header-only
	[[ ${output} == *"dev-cpp/nlohmann_json is header-only: not in RDEPEND"* ]]
	cp "${REPO}/sys-apps/phasebox/${REL##*/}" "${REL}"
	cp "${REL}" "${LIVE}"
	both '/^\tdev-cpp\/cli11$/d; s|^\tvirtual/pkgconfig$|&\n\tdev-cpp/cli11|'
	fails_only deps-header-only
	[[ ${output} == *"dev-cpp/cli11 (header-only) is not in DEPEND (unconditional)"* ]]
	[[ ${output} == *"dev-cpp/cli11 is header-only: not in BDEPEND"* ]]
}

@test "deps-header-only, deps-test: RDEPEND=\"\${DEPEND}\" fails (header-only and test libraries at run time)" {
	# shellcheck disable=SC2016 # the ebuild's own text
	both '/^RDEPEND="$/,/^"$/c RDEPEND="${DEPEND} >=sys-apps/portage-3.0.82"'
	fails_only deps-header-only deps-test
}

@test "deps-linked: util-linux in DEPEND only fails" {
	both '/^\tsys-apps\/util-linux$/d; s|^\tdev-cpp/cli11$|&\n\tsys-apps/util-linux|'
	fails_only deps-linked
	[[ ${output} == *"sys-apps/util-linux (linked) is not in RDEPEND (unconditional)"* ]]
}

@test "deps-test: GoogleTest unconditional, or bats in DEPEND, fails" {
	both 's|^\ttest? ( dev-cpp/gtest )$|\tdev-cpp/gtest|'
	fails_only deps-test
	[[ ${output} == *"dev-cpp/gtest (linked into the tests) is not in DEPEND under test?"* ]]
	cp "${REPO}/sys-apps/phasebox/${REL##*/}" "${REL}"
	cp "${REL}" "${LIVE}"
	both 's|^\ttest? ( >=dev-util/bats-1.5.0 )$|\tvirtual/pkgconfig|; s|^\ttest? ( dev-cpp/gtest )$|&\n\ttest? ( dev-util/bats )|'
	fails_only deps-test
	[[ ${output} == *"dev-util/bats runs on the build host, for the tests only: not in DEPEND"* ]]
}

@test "deps-tools: pkg-config in DEPEND fails" {
	both 's|^\tdev-cpp/cli11$|&\n\tvirtual/pkgconfig|'
	fails_only deps-tools
}

@test "deps-portage: no sys-apps/portage, or one with no lowest version, in RDEPEND fails" {
	both 's|^\t>=sys-apps/portage-[0-9.]*$|\tsys-apps/portage|'
	fails_only deps-portage
	[[ ${output} == *"RDEPEND has no '>=sys-apps/portage-<lowest tested>' (has: 'sys-apps/portage')"* ]]
	both '/^\tsys-apps\/portage$/d'
	fails_only deps-portage
}

@test "deps-classified: a dependency of no known class fails" {
	both 's|^\tdev-cpp/cli11$|&\n\tdev-libs/libfoo|'
	fails_only deps-classified
	[[ ${output} == *"DEPEND: dev-libs/libfoo is in no class of tests/overlay/check"* ]]
}

# ------------------------------------------------------------------------- the phases

@test "ebuild-makeargs: src_compile's 'emake all' without the paths src_install gets fails (the LIBEXECDIR bug)" {
	# shellcheck disable=SC2016 # the ebuild's own text
	both 's|^\temake "${myemakeargs\[@\]}" all$|\temake all|'
	fails_only ebuild-makeargs
	[[ ${output} == *"src_compile passes '', src_install 'PREFIX=/probe-eprefix/usr LIBEXECDIR=/probe-eprefix/usr/libexec/phasebox "*"what is built must be what is installed"* ]]
}

@test "ebuild-makeargs: no STATIC_LIBSTDCXX=0 fails" {
	both '/^\t\tSTATIC_LIBSTDCXX=0$/d'
	fails_only ebuild-makeargs
	[[ ${output} == *"emake gets no STATIC_LIBSTDCXX"* ]]
}

@test "ebuild-postinst: pkg_postinst that speaks on every upgrade, or never, fails" {
	# shellcheck disable=SC2016 # the ebuild's own text
	both 's|^\tif \[\[ -z ${REPLACING_VERSIONS} \]\]; then$|\tif true; then|'
	fails_only ebuild-postinst
	[[ ${output} == *"an upgrade (REPLACING_VERSIONS=0.0.1) prints 18 lines: elog phasebox does nothing until you turn it on:"* ]]
	# and one that never speaks
	both 's|^\tif true; then$|\tif false; then|'
	fails_only ebuild-postinst
	[[ ${output} == *"the first install is not told the bashrc line"* ]]
}

@test "ebuild-src-uri: a forge's tag archive renamed with '->' fails" {
	# shellcheck disable=SC2016 # the ebuild's own text
	both 's|^\tSRC_URI=.*|\tSRC_URI="https://github.com/x/phasebox/archive/refs/tags/v${PV}.tar.gz -> ${P}.tar.gz"|'
	fails_only ebuild-src-uri
	[[ ${output} == *"SRC_URI renames ('->')"* && ${output} == *"is a forge's archive made on request"* ]]
}

@test "live-release-same: a live ebuild that drifted from the release fails" {
	echo '# drift' >>"${LIVE}"
	fails_only live-release-same
	[[ ${output} == *"+# drift"* ]]
}

# ------------------------------------------------------------------ metadata and layout

@test "metadata-xml: a maintainer with no <email>, a malformed file, or no type fail" {
	sed -i '/<email>/d' "${PKG}/metadata.xml"
	fails_only metadata-xml
	[[ ${output} == *"<maintainer> (phasebox developers) has no valid <email> (GLEP 68: required)"* ]]
	cp "${REPO}/sys-apps/phasebox/metadata.xml" "${PKG}/metadata.xml"
	sed -i '/<\/pkgmetadata>/d' "${PKG}/metadata.xml"
	fails_only metadata-xml
	[[ ${output} == *"does not parse: "* ]]
	cp "${REPO}/sys-apps/phasebox/metadata.xml" "${PKG}/metadata.xml"
	sed -i 's/<maintainer type="project">/<maintainer>/' "${PKG}/metadata.xml"
	fails_only metadata-xml
}

@test "layout-conf: no masters, thick or signed Manifests, or an unknown key fail" {
	local l=${O}/metadata/layout.conf
	sed -i '/^masters = /d' "${l}"
	fails_only layout-conf
	[[ ${output} == *"masters does not name gentoo"* ]]
	cp "${REPO}/metadata/layout.conf" "${l}"
	sed -i 's/^thin-manifests = true$/thin-manifests = false/' "${l}"
	fails_only layout-conf
	cp "${REPO}/metadata/layout.conf" "${l}"
	sed -i '/^sign-manifests = /d' "${l}"
	fails_only layout-conf
	[[ ${output} == *"sign-manifests is not false"* ]]
	cp "${REPO}/metadata/layout.conf" "${l}"
	sed -i 's/^thin-manifests = /thin-manifest = /' "${l}"
	fails_only layout-conf
	[[ ${output} == *"unknown key 'thin-manifest'"* ]]
}

@test "repo-name, categories: another repository name, or a category not listed, fail" {
	echo phasebox-overlay >"${O}/profiles/repo_name"
	fails_only repo-name
	echo phasebox >"${O}/profiles/repo_name"
	: >"${O}/profiles/categories"
	fails_only categories
}

@test "manifest: a thick line, a DIST without SHA512 or for no distfile fail; a thin DIST of the tarball passes" {
	local p b s
	p=$(basename "${REL}" .ebuild)
	b=$(printf 'b%.0s' {1..128} | tr b 0)
	s=$(printf 'a%.0s' {1..128})
	echo "DIST ${p}.tar.gz 1234 BLAKE2B ${b} SHA512 ${s}" >"${PKG}/Manifest"
	run -0 "${REPO}/tests/overlay/check" "${O}"
	echo "EBUILD ${p}.ebuild 1234 BLAKE2B ${b} SHA512 ${s}" >>"${PKG}/Manifest"
	fails_only manifest
	echo "DIST ${p}.tar.gz 1234 BLAKE2B ${b}" >"${PKG}/Manifest"
	fails_only manifest
	echo "DIST other-1.tar.gz 1234 BLAKE2B ${b} SHA512 ${s}" >"${PKG}/Manifest"
	fails_only manifest
	[[ ${output} == *"DIST other-1.tar.gz: no ebuild fetches it"* ]]
}

# ------------------------------------------------------------------------------ eclass

@test "eclass-doc: @MAINTAINER with no e-mail, no @BLURB or no @SUPPORTED_EAPIS fail" {
	sed -i 's/^# phasebox developers <.*>$/# phasebox developers/' "${ECLASS}"
	fails_only eclass-doc
	[[ ${output} == *"@MAINTAINER 'phasebox developers' has no <e-mail>"* ]]
	cp "${REPO}/eclass/phasebox.eclass" "${ECLASS}"
	sed -i '/^# @BLURB: /d' "${ECLASS}"
	fails_only eclass-doc
	cp "${REPO}/eclass/phasebox.eclass" "${ECLASS}"
	sed -i '/^# @SUPPORTED_EAPIS: /d' "${ECLASS}"
	fails_only eclass-doc
}

@test "eclass-guards: an EAPI guard that lets EAPI 7 in, or no inherit guard, fail" {
	sed -i 's/^\t8) ;;$/\t7|8) ;;/' "${ECLASS}"
	fails_only eclass-guards
	[[ ${output} == *"EAPI 7 (not supported) inherits without dying"* ]]
	cp "${REPO}/eclass/phasebox.eclass" "${ECLASS}"
	sed -i 's/^if \[\[ -z ${_PHASEBOX_ECLASS} \]\]; then$/if true; then/' "${ECLASS}"
	fails_only eclass-guards
}
