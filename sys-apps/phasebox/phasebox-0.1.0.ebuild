# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit toolchain-funcs

DESCRIPTION="Isolate every Portage src_* phase: own cgroup, namespaces, no setuid"
# The project's public home is not chosen yet (README.md, "Install", "Releasing"): the
# reserved .invalid domain never resolves, so nothing is ever fetched from a stranger.
HOMEPAGE="https://example.invalid/phasebox"

# The live ebuild (phasebox-9999.ebuild) is a copy of this file.
if [[ ${PV} == 9999 ]]; then
	inherit git-r3
	EGIT_REPO_URI="https://example.invalid/phasebox.git"
else
	# The release asset is `make dist`'s tarball (git archive of the tag v${PV}, top
	# directory ${P}/) uploaded as it is, not a forge's archive of the tag made on request:
	# the Manifest pins the bytes of one file.
	SRC_URI="https://example.invalid/phasebox/releases/download/v${PV}/${P}.tar.gz"
	KEYWORDS="~amd64"
fi

LICENSE="GPL-2"
SLOT="0"
IUSE="test"
RESTRICT="!test? ( test )"

# Linked: libmount (sys-apps/util-linux) and libcap.  Header-only, compiled in and never
# needed at run time: CLI11 and nlohmann-json.  GoogleTest is linked into the unit tests.
# Portage: the snippet works on the phases as Portage runs them, checked by the e2e tests
# against 3.0.49, 3.0.66, 3.0.77 and 3.0.82 (make check-e2e-releases); 3.0.49 is the lowest.
# python3 and pgrep (tests/eclass) are on every host that runs Portage.
COMMON_DEPEND="
	sys-apps/util-linux
	sys-libs/libcap
"
DEPEND="
	${COMMON_DEPEND}
	dev-cpp/cli11
	dev-cpp/nlohmann_json
	test? ( dev-cpp/gtest )
"
RDEPEND="
	${COMMON_DEPEND}
	>=sys-apps/portage-3.0.49
"
BDEPEND="
	virtual/pkgconfig
	test? ( >=dev-util/bats-1.5.0 )
"

DOCS=( README.md SECURITY.md )

src_configure() {
	tc-export CXX AR PKG_CONFIG
	# The same make variables for every emake: the paths are compiled in (LIBEXECDIR names
	# the helpers in messages and hints), so what src_compile builds must be what
	# src_install installs.
	# STATIC_LIBSTDCXX=0: the helpers link the toolchain's shared libstdc++, as Gentoo's
	# packages do, so that a sys-devel/gcc update reaches them.  It costs about 0.5 ms per
	# helper start (phasebox-reap -- /bin/true: 1.9 ms static, 2.4 ms shared).
	# phasebox-builtin.so keeps its own static copy whatever this says: it is loaded into
	# the phase's bash, where it must not bring libstdc++ along, and exports nothing else.
	myemakeargs=(
		PREFIX="${EPREFIX}/usr"
		LIBEXECDIR="${EPREFIX}/usr/libexec/phasebox"
		DATADIR="${EPREFIX}/usr/share/phasebox"
		MANDIR="${EPREFIX}/usr/share/man"
		SYSCONFDIR="${EPREFIX}/etc"
		STATIC_LIBSTDCXX=0
	)
}

src_compile() {
	emake "${myemakeargs[@]}" all
}

src_test() {
	# GoogleTest (parsers, layout policy) and tests/eclass (phasebox.eclass and
	# phasebox-service in a stubbed Portage environment) need no privilege and run under
	# sandbox as the portage user.  The bats kernel tests (make check-bats: cgroups,
	# namespaces, the root keeper) need root outside sys-apps/sandbox, and the e2e tests
	# need a Portage of their own: run them from a checkout with `make check`.
	emake "${myemakeargs[@]}" check-unit check-eclass
}

src_install() {
	# The Makefile never strips and never sets setuid bits or file capabilities; the
	# helpers need neither (phasebox(8), "Privileges"), so no fcaps here.
	emake "${myemakeargs[@]}" DESTDIR="${D}" install
	einstalldocs
}

pkg_postinst() {
	# The set-up is told once, on the first install (README.md and phasebox(8) keep it).
	# A version that needs the user to change it says so to the versions it replaces
	# (ver_test against REPLACING_VERSIONS).
	if [[ -z ${REPLACING_VERSIONS} ]]; then
		local snippet="${EPREFIX}/usr/share/phasebox/phasebox.bashrc"
		elog "phasebox does nothing until you turn it on:"
		elog
		elog "1. Make this the FIRST line of ${EROOT}/etc/portage/bashrc (anything sourced before"
		elog "   it runs twice in the phases phasebox isolates):"
		elog "       source ${snippet}"
		elog "   With a bashrc.d loader (app-portage/portage-bashrc-mv, or a loop over"
		elog "   /etc/portage/bashrc.d/*.sh), link it so that it sorts first instead:"
		elog "       ln -s ${snippet} ${EROOT}/etc/portage/bashrc.d/00-phasebox.sh"
		elog
		elog "2. In ${EROOT}/etc/portage/make.conf, the FEATURES you want and the root hook that"
		elog "   prepares the cgroup of each emerge (needed for FEATURES=userpriv phases):"
		elog "       FEATURES=\"\${FEATURES} phasebox-cgroup\""
		elog "       FEATURES=\"\${FEATURES} phasebox-network-sandbox phasebox-ipc-sandbox phasebox-pid-sandbox phasebox-mount-sandbox\""
		elog "       PORTAGE_IONICE_COMMAND=\"${EPREFIX}/usr/libexec/phasebox/phasebox-cgroup adopt \\\${PID}\""
		elog "   (keep an ionice of your own by chaining it: ... adopt \\\${PID} -- ionice -c 3 -p \\\${PID})"
		elog
		elog "Portage then warns 'FEATURES variable contains unknown value(s): phasebox-...'"
		elog "(unknown-features-warn): expected; see phasebox(8), FEATURES."
	fi
}
