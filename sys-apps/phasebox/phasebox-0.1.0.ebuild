# Copyright 2026 phasebox developers
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit toolchain-funcs

DESCRIPTION="Isolate every Portage src_* phase: own cgroup, namespaces, no setuid"
HOMEPAGE="https://example.invalid/phasebox"
# The tarball `make dist` makes (git archive of the release commit).
SRC_URI="https://example.invalid/phasebox/releases/${P}.tar.gz"

LICENSE="GPL-2"
SLOT="0"
KEYWORDS="~amd64"
IUSE="test"
RESTRICT="!test? ( test )"

DEPEND="
	dev-cpp/nlohmann_json
	sys-apps/util-linux
	sys-libs/libcap
"
RDEPEND="${DEPEND}"
BDEPEND="
	dev-cpp/cli11
	virtual/pkgconfig
	test? (
		dev-cpp/gtest
		dev-util/bats
	)
"

DOCS=( README.md SECURITY.md )

src_compile() {
	tc-export CXX AR PKG_CONFIG
	emake all
}

src_test() {
	# GoogleTest (parsers, layout policy) and tests/eclass (phasebox.eclass and
	# phasebox-service in a stubbed Portage environment) need no privilege and run under
	# sandbox as the portage user.  The bats kernel tests (make check-bats: cgroups,
	# namespaces, the root keeper) need root outside sys-apps/sandbox, and the e2e tests
	# need a Portage of their own: run them from a checkout with `make check`.
	emake check-unit check-eclass
}

src_install() {
	# The Makefile never strips and never sets setuid bits or file capabilities; the
	# helpers need neither (phasebox(8), "Privileges"), so no fcaps here.
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" LIBEXECDIR="${EPREFIX}/usr/libexec/phasebox" \
		DATADIR="${EPREFIX}/usr/share/phasebox" MANDIR="${EPREFIX}/usr/share/man" \
		SYSCONFDIR="${EPREFIX}/etc" install
	einstalldocs
}

pkg_postinst() {
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
}
