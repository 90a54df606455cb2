# tests/e2e/scenarios/package.sh — sys-apps/phasebox itself, with real Portage (sourced by
# tests/e2e/run).
#
# `make dist` (git archive of HEAD: commit first) → the tarball in the scratch DISTDIR → a
# scratch copy of the repository's overlay (profiles, metadata, eclass, sys-apps) →
# `ebuild …/phasebox-0.1.0.ebuild manifest`, `fetch`, then `clean install` with
# FEATURES="userpriv test" (and "sandbox usersandbox" where sys-apps/sandbox is installed),
# then `qmerge` into the scratch EPREFIX, twice.  Checks: the Manifest is thin, one DIST line
# with the size, BLAKE2B and SHA512 of make dist's tarball (computed here with coreutils),
# and `ebuild fetch` verifies the distfile against it (twin: a wrong BLAKE2B fails; nothing
# is ever downloaded: no mirrors, FETCHCOMMAND=false); src_test ran the unit and eclass tests
# and they passed; the image has the helpers, the user command, the snippet (naming the
# installed helpers), the man pages of sections 5 and 8 and the docs; the binaries carry the
# installed LIBEXECDIR (not the Makefile's /usr/local default) and the helpers link the
# shared libstdc++ (the ebuild's STATIC_LIBSTDCXX=0); no file is setuid or setgid, none has
# file capabilities; pkg_postinst prints the bashrc and make.conf lines on the first
# install, and nothing when it replaces the same version.
#
# The ebuild inherits toolchain-funcs from ::gentoo (masters = gentoo).  Where no ::gentoo
# repository is on the machine, the scenario makes a STUB ::gentoo with a toolchain-funcs
# whose tc-export only defaults CXX, AR and PKG_CONFIG, and says so in its output.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the harness's variables (tests/e2e/run, lib.sh)

e2e_more_scenarios+=(package)

package_gentoo_repo() { # print the location of a real ::gentoo, or nothing
	local d
	for d in /var/db/repos/gentoo /usr/portage; do
		[[ -f ${d}/profiles/repo_name && $(< "${d}/profiles/repo_name") == gentoo && -f ${d}/eclass/toolchain-funcs.eclass ]] &&
			{ echo "${d}"; return 0; }
	done
	return 0
}

package_stub_gentoo() { # <dir>: a stub ::gentoo with the one eclass the ebuild inherits
	mkdir -p "${1}/profiles" "${1}/metadata" "${1}/eclass"
	echo gentoo > "${1}/profiles/repo_name"
	printf 'masters =\nthin-manifests = true\n' > "${1}/metadata/layout.conf"
	cat > "${1}/eclass/toolchain-funcs.eclass" <<-'EOF'
		# STUB written by phasebox's tests/e2e/scenarios/package.sh: ::gentoo is not on this
		# machine.  Only what sys-apps/phasebox uses: tc-export with host defaults.
		if [[ -z ${_TOOLCHAIN_FUNCS_ECLASS} ]]; then
		_TOOLCHAIN_FUNCS_ECLASS=1
		tc-export() {
			local v d
			for v in "$@"; do
				case ${v} in
					CXX) d=g++ ;; CC) d=gcc ;; AR) d=ar ;; PKG_CONFIG) d=pkg-config ;;
					*) die "stub toolchain-funcs: tc-export ${v} not stubbed" ;;
				esac
				[[ -n ${!v} ]] || export "${v}=${d}"
			done
		}
		fi
	EOF
	chmod -R a+rX "${1}"
}

# package_ebuild <run name> <timeout> <ebuild commands...>: run Portage's `ebuild` on the
# scratch overlay's release ebuild; output into ${out}/<run name>.out, status in ${emerge_status}.
package_ebuild() {
	local name=$1 limit=$2 t0=${SECONDS}
	shift 2
	local -a cmd
	if [[ -n ${portage_src} ]]; then
		cmd=(env "PYTHONPATH=${portage_src}/lib" "${python}" "${portage_src}/bin/ebuild")
	else
		cmd=("$(command -v ebuild)")
	fi
	emerge_out=${out}/${name}.out
	timeout -k 10 "${limit}" setsid env -i PATH="${package_path}" HOME=/root TERM=dumb LC_ALL=C.UTF-8 \
		PORTAGE_OVERRIDE_EPREFIX="${eprefix}" ROOT=/ PORTAGE_REPOSITORIES="${package_repos}" \
		"${cmd[@]}" "${package_ebuild_file}" "$@" > "${emerge_out}" 2>&1 < /dev/null
	emerge_status=$?
	info "${name}: ebuild $* exited ${emerge_status} after $(( SECONDS - t0 )) s"
}

scenario_package() {
	local name=package gentoo tarball image v f bad list
	local version
	version=$(sed -n 's/^VERSION *:= *//p' "${repo}/Makefile")
	if ! make -s -C "${repo}" dist > "${out}/make-dist.log" 2>&1; then
		cat "${out}/make-dist.log"
		not_ok "${name}: make dist makes phasebox-${version}.tar.gz"
		return
	fi
	tarball=${repo}/phasebox-${version}.tar.gz
	ok "${name}: make dist makes phasebox-${version}.tar.gz (git archive of HEAD $(git -C "${repo}" rev-parse --short HEAD))"
	cp "${tarball}" "${eprefix}/var/cache/distfiles/" || die_harness "cannot copy ${tarball}"
	chmod a+r "${eprefix}/var/cache/distfiles/${tarball##*/}"

	# Portage's unpack runs `gtar` (Gentoo's app-arch/tar installs that name); Debian has
	# only `tar`.
	package_path=/usr/sbin:/usr/bin:/sbin:/bin
	if ! command -v gtar > /dev/null; then
		mkdir -p "${scratch}/bin"
		ln -s "$(command -v tar)" "${scratch}/bin/gtar"
		package_path=${scratch}/bin:${package_path}
		info "${name}: no gtar on this machine (Portage's unpack calls it): ${scratch}/bin/gtar -> $(command -v tar)"
	fi

	local pbrepo=${scratch}/pbrepo
	mkdir -p "${pbrepo}"
	cp -R "${repo}/profiles" "${repo}/metadata" "${repo}/eclass" "${repo}/sys-apps" "${pbrepo}/" ||
		die_harness "cannot copy the overlay"
	# The live ebuild needs git-r3 (::gentoo) and the network: not tested here.  Its
	# Manifest entry would be none anyway; `ebuild manifest` reads every ebuild of the
	# package, so it leaves the scratch copy.
	rm -f "${pbrepo}"/sys-apps/phasebox/phasebox-9999.ebuild
	info "${name}: phasebox-9999.ebuild (live, git-r3) is not tested: removed from the scratch copy"
	gentoo=$(package_gentoo_repo)
	if [[ -z ${gentoo} ]]; then
		gentoo=${scratch}/gentoo-stub
		package_stub_gentoo "${gentoo}"
		echo "# ***********************************************************************************"
		echo "# STUB: no ::gentoo repository on this machine: sys-apps/phasebox's 'inherit"
		echo "# toolchain-funcs' gets a STUB eclass (${gentoo}/eclass/toolchain-funcs.eclass,"
		echo "# tc-export only). The real ::gentoo eclass was NOT exercised."
		echo "# ***********************************************************************************"
	else
		info "${name}: ::gentoo at ${gentoo} (its real toolchain-funcs.eclass)"
	fi
	chmod -R a+rX "${pbrepo}"
	package_repos="[DEFAULT]
main-repo = gentoo

[gentoo]
location = ${gentoo}

[phasebox]
location = ${pbrepo}

[phasebox-test]
location = ${overlay}"
	package_ebuild_file=${pbrepo}/sys-apps/phasebox/phasebox-${version}.ebuild

	if (( have_sandbox )); then
		write_make_conf "${name}" sandbox usersandbox "${native_off[@]}"
	else
		skip_scenario "(part) ${name}: /usr/bin/sandbox does not exist: src_test runs without sys-apps/sandbox"
		write_make_conf "${name}" "${native_off[@]}"
	fi
	echo 'MAKEOPTS="-j2"' >> "${eprefix}/etc/portage/make.conf"
	# Nothing is downloaded: the distfile is make dist's, already in DISTDIR, and a fetch
	# that would download fails at once (no mirrors; FETCHCOMMAND is false).
	# shellcheck disable=SC2016 # Portage expands ${URI} and ${FILE}
	printf '%s\n' 'GENTOO_MIRRORS=""' 'FETCHCOMMAND="false \${URI} \${FILE}"' \
		'RESUMECOMMAND="false \${URI} \${FILE}"' >> "${eprefix}/etc/portage/make.conf"

	# Before the Manifest: Portage refuses the distfile it cannot verify.
	package_ebuild "${name}-fetch-nomanifest" 120 fetch
	check "${name}: without a Manifest, ebuild fetch fails (exit ${emerge_status}: 'Insufficient data for checksum verification')" \
		eval "[[ ${emerge_status} -ne 0 ]] && grep -qF 'Insufficient data for checksum verification' '${emerge_out}'"
	package_ebuild "${name}-manifest" 120 manifest
	local manifest=${pbrepo}/sys-apps/phasebox/Manifest dist size b2 sha
	dist=${eprefix}/var/cache/distfiles/${tarball##*/}
	size=$(stat -c %s "${tarball}")
	b2=$(b2sum "${tarball}" | cut -d' ' -f1)
	sha=$(sha512sum "${tarball}" | cut -d' ' -f1)
	check "${name}: ebuild manifest writes a thin Manifest, one line: DIST ${tarball##*/} ${size} BLAKE2B ${b2:0:16}… SHA512 ${sha:0:16}… (make dist's tarball, by b2sum and sha512sum)" \
		test "$(cat "${manifest}" 2>/dev/null)" = "DIST ${tarball##*/} ${size} BLAKE2B ${b2} SHA512 ${sha}"
	[[ $(cat "${manifest}" 2>/dev/null) == "DIST ${tarball##*/} ${size} BLAKE2B ${b2} SHA512 ${sha}" ]] ||
		sed 's/^/#   Manifest: /' "${manifest}"

	package_ebuild "${name}-fetch" 120 fetch
	check "${name}: ebuild fetch verifies ${tarball##*/} against the Manifest (exit ${emerge_status}: '${tarball##*/} BLAKE2B SHA512 size ;-)')" \
		eval "[[ ${emerge_status} -eq 0 ]] && grep -qF '${tarball##*/} BLAKE2B SHA512 size ;-)' '${emerge_out}'"
	# Twin: a Manifest whose BLAKE2B is not the tarball's.  Portage renames the distfile
	# aside and cannot fetch another: both are put back afterwards.
	cp "${manifest}" "${scratch}/Manifest.good"
	sed -i "s/ BLAKE2B ${b2} / BLAKE2B $(printf '0%.0s' {1..128}) /" "${manifest}"
	package_ebuild "${name}-fetch-twin" 120 fetch
	check "${name}: negative twin: a Manifest with a wrong BLAKE2B fails ebuild fetch (exit ${emerge_status}: 'Failed on BLAKE2B verification')" \
		eval "[[ ${emerge_status} -ne 0 ]] && grep -qF 'Failed on BLAKE2B verification' '${emerge_out}'"
	rm -f "${dist}"._checksum_failure_.* "${dist}"
	cp "${scratch}/Manifest.good" "${manifest}"
	cp "${tarball}" "${dist}" && chmod a+r "${dist}"

	package_ebuild "${name}" 1200 clean install
	check "${name}: ebuild phasebox-${version}.ebuild clean install succeeds (exit ${emerge_status})" \
		test "${emerge_status}" -eq 0
	if (( emerge_status != 0 )); then
		tail -n 40 "${emerge_out}" | sed 's/^/#   /'
		return
	fi
	check "${name}: src_test ran GoogleTest and it passed" grep -q '\[  PASSED  \] [0-9]* tests' "${emerge_out}"
	v=$(grep -c '^ok [0-9]' "${emerge_out}")
	check "${name}: src_test ran tests/eclass (${v} ok lines) and none failed" \
		eval "[[ ${v} -gt 0 ]] && ! grep -q '^not ok' '${emerge_out}'"
	(( have_sandbox )) && check "${name}: no sandbox violation in src_test (FEATURES=sandbox usersandbox)" \
		not grep -q 'ACCESS VIOLATION SUMMARY' "${emerge_out}"

	image=${eprefix}/var/tmp/portage/sys-apps/phasebox-${version}/image
	list=$(cd "${image}" && find . -mindepth 1 \( -type f -o -type l \) -printf '%M %04m %u:%g %p\n' | sort -k4)
	info "${name}: the image (${image}), files with modes:"
	# shellcheck disable=SC2001 # a prefix on every line of a multi-line text
	sed 's/^/#   /' <<< "${list}"
	local p=${image}${eprefix}
	for f in usr/bin/phasebox usr/libexec/phasebox/phasebox-cgroup usr/libexec/phasebox/phasebox-unshare \
		usr/libexec/phasebox/phasebox-reap usr/libexec/phasebox/phasebox-proxy \
		usr/libexec/phasebox/phasebox-service usr/libexec/phasebox/phasebox-builtin.so; do
		v=$(stat -c '%a %U:%G' "${p}/${f}" 2>/dev/null)
		check "${name}: image has ${f}, mode 755 root:root (${v:-missing})" test "${v}" = "755 root:root"
	done
	v=$(stat -c '%a' "${p}/usr/share/phasebox/phasebox.bashrc" 2>/dev/null)
	check "${name}: image has usr/share/phasebox/phasebox.bashrc, mode 644 (${v:-missing})" test "${v}" = 644
	check "${name}: the installed snippet names the installed helpers (${eprefix}/usr/libexec/phasebox)" \
		grep -qF "libexec=\"${eprefix}/usr/libexec/phasebox\"" "${p}/usr/share/phasebox/phasebox.bashrc"
	for f in man1/phasebox.1 man8/phasebox.8 man8/phasebox-cgroup.8 man8/phasebox-unshare.8 man8/phasebox-reap.8 \
		man8/phasebox-proxy.8 man8/phasebox-doctor.8 man8/phasebox-service.8 man5/phasebox.eclass.5; do
		v=$(compgen -G "${p}/usr/share/man/${f}*")
		check "${name}: image has usr/share/man/${f} (${v##*/})" test -n "${v}"
	done
	v=$(compgen -G "${p}/usr/share/doc/phasebox-${version}/README.md*")
	check "${name}: image has the docs (usr/share/doc/phasebox-${version}/${v##*/})" test -n "${v}"
	# Nothing else: the list of files, compression suffixes (Portage's ecompress) removed.
	local want got
	want="usr/bin/phasebox usr/libexec/phasebox/phasebox-builtin.so usr/libexec/phasebox/phasebox-cgroup usr/libexec/phasebox/phasebox-proxy usr/libexec/phasebox/phasebox-reap usr/libexec/phasebox/phasebox-service usr/libexec/phasebox/phasebox-unshare usr/share/doc/phasebox-${version}/README.md usr/share/doc/phasebox-${version}/SECURITY.md usr/share/man/man1/phasebox.1 usr/share/man/man5/phasebox.eclass.5 usr/share/man/man8/phasebox-cgroup.8 usr/share/man/man8/phasebox-doctor.8 usr/share/man/man8/phasebox-proxy.8 usr/share/man/man8/phasebox-reap.8 usr/share/man/man8/phasebox-service.8 usr/share/man/man8/phasebox-unshare.8 usr/share/man/man8/phasebox.8 usr/share/phasebox/doctor.schema.json usr/share/phasebox/phasebox.bashrc"
	got=$(cd "${p}" && find . \( -type f -o -type l \) -printf '%P\n' | sed -E 's/\.(bz2|gz|xz|zst)$//' | LC_ALL=C sort | tr '\n' ' ')
	check "${name}: the image has exactly the expected files (got: ${got})" test "${got% }" = "${want}"
	# The paths are compiled in: src_compile must have had src_install's LIBEXECDIR.
	bad=$(cd "${p}" && grep -laF /usr/local/libexec/phasebox usr/bin/phasebox usr/libexec/phasebox/* | tr '\n' ' ')
	check "${name}: no installed binary names the Makefile's default /usr/local/libexec/phasebox (${bad:-none})" test -z "${bad}"
	check "${name}: usr/bin/phasebox names the installed helpers, ${eprefix}/usr/libexec/phasebox" \
		grep -qaF "${eprefix}/usr/libexec/phasebox" "${p}/usr/bin/phasebox"
	# STATIC_LIBSTDCXX=0 from the ebuild: the helpers link the toolchain's libstdc++; the
	# builtin keeps its own static copy (the Makefile's, whatever STATIC_LIBSTDCXX says).
	bad=
	for f in phasebox-cgroup phasebox-unshare phasebox-reap phasebox-proxy phasebox-service; do
		readelf -d "${p}/usr/libexec/phasebox/${f}" 2>/dev/null | grep -q 'NEEDED.*\[libstdc++\.so' || bad+="${f} "
	done
	check "${name}: the helpers link the shared libstdc++ (STATIC_LIBSTDCXX=0; static: ${bad:-none})" test -z "${bad}"
	check "${name}: phasebox-builtin.so has libstdc++ linked in (no NEEDED libstdc++)" \
		not eval "readelf -d '${p}/usr/libexec/phasebox/phasebox-builtin.so' | grep -q 'NEEDED.*\[libstdc++\.so'"
	bad=$(find "${image}" -perm /6000 -printf '%p ')
	check "${name}: no setuid or setgid file in the image (${bad:-none})" test -z "${bad}"
	if command -v getcap > /dev/null; then
		bad=$(getcap -r "${image}" 2>/dev/null | tr '\n' ' ')
		check "${name}: no file capabilities in the image (getcap -r: ${bad:-none})" test -z "${bad}"
	else
		bad=$(find "${image}" -type f -exec sh -c 'getfattr -n security.capability "$1" >/dev/null 2>&1 && echo "$1"' _ {} \; | tr '\n' ' ')
		check "${name}: no file capabilities in the image (security.capability: ${bad:-none})" test -z "${bad}"
	fi

	package_ebuild "${name}-qmerge" 300 qmerge
	check "${name}: ebuild qmerge into the scratch EPREFIX succeeds (exit ${emerge_status})" test "${emerge_status}" -eq 0
	check "${name}: pkg_postinst gives the bashrc line" \
		grep -qF "source ${eprefix}/usr/share/phasebox/phasebox.bashrc" "${emerge_out}"
	check "${name}: pkg_postinst gives the bashrc.d link" \
		grep -qF "/etc/portage/bashrc.d/00-phasebox.sh" "${emerge_out}"
	check "${name}: pkg_postinst gives the make.conf root hook" \
		grep -qF "PORTAGE_IONICE_COMMAND=\"${eprefix}/usr/libexec/phasebox/phasebox-cgroup adopt \\\${PID}\"" "${emerge_out}"
	# shellcheck disable=SC2016 # the literal line pkg_postinst prints
	check "${name}: pkg_postinst gives the FEATURES line" grep -qF 'FEATURES="${FEATURES} phasebox-cgroup"' "${emerge_out}"
	# The same version again (qmerge took the image: src_install once more, the build is
	# kept): Portage passes REPLACING_VERSIONS=${version}, as in an upgrade.
	package_ebuild "${name}-qmerge-again" 300 install qmerge
	check "${name}: ebuild install qmerge again, replacing ${version}, succeeds (exit ${emerge_status})" \
		eval "[[ ${emerge_status} -eq 0 ]] && grep -qF '>>> sys-apps/phasebox-${version} merged.' '${emerge_out}'"
	check "${name}: pkg_postinst says nothing when it replaces a version (twin: the first qmerge above)" \
		not grep -qF 'phasebox does nothing until you turn it on' "${emerge_out}"
	package_ebuild "${name}-clean" 120 clean
}
