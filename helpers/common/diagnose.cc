#include "diagnose.hh"

#include "file.hh"

#include <cerrno>
#include <cstdlib>
#include <linux/capability.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox::diag
{
namespace
{

const std::string fallback_tail =
    "or set PHASEBOX_FALLBACK=warn to run the phase with what can be had "
    "(see 'phasebox doctor')";

std::optional<std::string> field(std::string_view text, std::string_view name)
{
	size_t pos = 0;
	while (pos < text.size()) {
		size_t end = text.find('\n', pos);
		if (end == std::string_view::npos)
			end = text.size();
		std::string_view line = text.substr(pos, end - pos);
		if (line.size() > name.size() && line.substr(0, name.size()) == name &&
		    line[name.size()] == ':') {
			std::string_view v = line.substr(name.size() + 1);
			while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
				v.remove_prefix(1);
			return std::string(v);
		}
		pos = end + 1;
	}
	return std::nullopt;
}

bool parse_hex(const std::optional<std::string>& s, uint64_t& out)
{
	// Only what the kernel writes: strtoull() alone would also take "", "\0", "-1", "0x1", " 1".
	if (!s || s->empty() || s->size() > 16 || s->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
		return false;
	char* end = nullptr;
	errno = 0;
	out = std::strtoull(s->c_str(), &end, 16);
	return errno == 0 && *end == '\0';
}

bool parse_small(const std::optional<std::string>& s, int& out)
{
	if (!s || s->size() != 1 || (*s)[0] < '0' || (*s)[0] > '9')
		return false;
	out = (*s)[0] - '0';
	return true;
}

std::optional<long> read_long(const char* path)
{
	auto r = read_file(path);
	if (!r)
		return std::nullopt;
	char* end = nullptr;
	errno = 0;
	long v = std::strtol(r.value().c_str(), &end, 10);
	if (errno || end == r.value().c_str() || (*end && *end != '\n'))
		return std::nullopt;
	return v;
}

bool exists(const char* path)
{
	struct stat st{};
	return ::lstat(path, &st) == 0;
}

std::string with_fallback(const std::string& remedy)
{
	return remedy.empty() ? fallback_tail : remedy + "; " + fallback_tail;
}

bool contains(const std::string& hay, const char* needle)
{
	return hay.find(needle) != std::string::npos;
}

} // namespace

ProcStatus parse_proc_status(std::string_view text)
{
	ProcStatus s;
	int nnp = 0;
	bool ok = parse_small(field(text, "NoNewPrivs"), nnp);
	ok = parse_small(field(text, "Seccomp"), s.seccomp) && ok;
	ok = parse_hex(field(text, "CapEff"), s.cap_eff) && ok;
	ok = parse_hex(field(text, "CapPrm"), s.cap_prm) && ok;
	ok = parse_hex(field(text, "CapBnd"), s.cap_bnd) && ok;
	s.no_new_privs = nnp == 1;
	s.parsed = ok;
	return s;
}

std::string capability_names(uint64_t mask)
{
	std::string out;
	for (int c = 0; c < 64; ++c) {
		if (!((mask >> c) & 1))
			continue;
		char* n = cap_to_name(c);
		if (!out.empty())
			out += ", ";
		out += n ? n : std::to_string(c);
		cap_free(n);
	}
	return out;
}

const char* container_name(ContainerKind k)
{
	switch (k) {
	case ContainerKind::none:
		return "none";
	case ContainerKind::docker:
		return "docker";
	case ContainerKind::podman:
		return "podman";
	case ContainerKind::lxc:
		return "lxc";
	case ContainerKind::nspawn:
		return "systemd-nspawn";
	case ContainerKind::kubernetes:
		return "kubernetes";
	case ContainerKind::other:
		return "other";
	}
	return "other";
}

Container detect_container(const ContainerEvidence& ev)
{
	Container c;
	std::string seen;
	auto note = [&](const std::string& s) { seen += (seen.empty() ? "" : ", ") + s; };
	// What the engine itself sets up (a user cannot fake these from inside a build).
	const bool cg_docker =
	    contains(ev.pid1_cgroup, "/docker") || contains(ev.pid1_cgroup, "docker-");
	const bool cg_podman = contains(ev.pid1_cgroup, "libpod");
	const bool cg_kube = contains(ev.pid1_cgroup, "kubepods");
	const bool cg_lxc = contains(ev.pid1_cgroup, "/lxc");
	const bool overlay_root = ev.root_fstype == "overlay" || ev.root_fstype == "fuse-overlayfs";
	if (!ev.pid1_container.empty())
		note("pid 1 has container=" + ev.pid1_container);
	if (cg_docker || cg_podman || cg_kube || cg_lxc)
		note("pid 1's cgroup names the engine");
	if (overlay_root)
		note("the root file system is " + ev.root_fstype);
	if (ev.dockerenv)
		note("/.dockerenv exists");
	if (ev.containerenv)
		note("/run/.containerenv exists");
	if (ev.kubernetes_env || ev.serviceaccount)
		note("Kubernetes service variables or account");
	c.evidence = seen;

	const bool engine_sign = !ev.pid1_container.empty() || cg_docker || cg_podman || cg_kube ||
	                         cg_lxc || overlay_root;
	if (cg_kube || ((ev.kubernetes_env || ev.serviceaccount) && engine_sign))
		c.kind = ContainerKind::kubernetes;
	else if (ev.pid1_container == "podman" || cg_podman || ev.containerenv)
		c.kind = ContainerKind::podman;
	else if (ev.pid1_container == "docker" || cg_docker || ev.dockerenv)
		c.kind = ContainerKind::docker;
	else if (ev.pid1_container == "lxc" || ev.pid1_container == "lxc-libvirt" || cg_lxc)
		c.kind = ContainerKind::lxc;
	else if (ev.pid1_container == "systemd-nspawn")
		c.kind = ContainerKind::nspawn;
	else if (!ev.pid1_container.empty() || ev.kubernetes_env || ev.serviceaccount)
		c.kind = ContainerKind::other;
	// A marker file alone (/.dockerenv, /run/.containerenv) is not proof.
	c.confirmed = c.kind != ContainerKind::none && engine_sign;
	return c;
}

ContainerEvidence read_container_evidence()
{
	ContainerEvidence ev;
	ev.dockerenv = exists("/.dockerenv");
	ev.containerenv = exists("/run/.containerenv");
	ev.serviceaccount = exists("/var/run/secrets/kubernetes.io/serviceaccount");
	ev.kubernetes_env = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
	if (auto env = read_file("/proc/1/environ")) {
		const std::string& e = env.value();
		size_t pos = 0;
		while (pos < e.size()) {
			size_t end = e.find('\0', pos);
			if (end == std::string::npos)
				end = e.size();
			std::string_view entry(e.data() + pos, end - pos);
			if (entry.substr(0, 10) == "container=")
				ev.pid1_container = std::string(entry.substr(10));
			if (entry.substr(0, 24) == "KUBERNETES_SERVICE_HOST=")
				ev.kubernetes_env = true;
			pos = end + 1;
		}
	}
	if (auto cg = read_file("/proc/1/cgroup"))
		ev.pid1_cgroup = cg.value();
	if (auto mi = read_file("/proc/self/mountinfo")) {
		// "id parent maj:min root mountpoint opts [optional...] - fstype source super"
		const std::string& t = mi.value();
		size_t pos = 0;
		while (pos < t.size()) {
			size_t end = t.find('\n', pos);
			if (end == std::string::npos)
				end = t.size();
			std::string line = t.substr(pos, end - pos);
			pos = end + 1;
			size_t f[5] = {};
			size_t p = 0;
			bool ok = true;
			for (int i = 0; i < 5 && ok; ++i) {
				p = line.find(' ', p);
				ok = p != std::string::npos;
				f[i] = ok ? ++p : 0;
			}
			// field 5 (mount point) starts at f[3]
			if (!ok || line.compare(f[3], 2, "/ ") != 0)
				continue;
			size_t dash = line.find(" - ", f[3]);
			if (dash == std::string::npos)
				continue;
			size_t s = dash + 3, e2 = line.find(' ', s);
			ev.root_fstype =
			    line.substr(s, e2 == std::string::npos ? std::string::npos : e2 - s);
		}
	}
	return ev;
}

Host read_host()
{
	Host h;
	if (auto st = read_file("/proc/self/status"))
		h.status = parse_proc_status(st.value());
	h.euid = ::geteuid();
	h.max_user_namespaces = read_long("/proc/sys/user/max_user_namespaces");
	h.unprivileged_userns_clone = read_long("/proc/sys/kernel/unprivileged_userns_clone");
	h.apparmor_restrict_userns =
	    read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	for (const char* p : {"/proc/self/attr/apparmor/current", "/proc/self/attr/current"})
		if (auto r = read_file(p)) {
			std::string v = r.value();
			while (!v.empty() && (v.back() == '\n' || v.back() == '\0'))
				v.pop_back();
			if (!v.empty() && v != "unconfined")
				h.apparmor_profile = v;
			break;
		}
	h.container = detect_container(read_container_evidence());
	if (auto mi = read_file("/proc/self/mountinfo"))
		h.proc_masked = masked_proc_paths(mi.value());
	if (auto um = read_file("/proc/self/uid_map"))
		h.userns_nested = !initial_uid_map(um.value());
	return h;
}

namespace
{

// A mountinfo field with the kernel's octal escapes (\040 for a space, ...) decoded.
std::string mountinfo_field(std::string_view f)
{
	std::string o;
	for (size_t k = 0; k < f.size(); ++k) {
		if (f[k] == '\\' && k + 3 < f.size() && f[k + 1] >= '0' && f[k + 1] <= '3' &&
		    f[k + 2] >= '0' && f[k + 2] <= '7' && f[k + 3] >= '0' && f[k + 3] <= '7') {
			o += static_cast<char>((f[k + 1] - '0') * 64 + (f[k + 2] - '0') * 8 +
			                       (f[k + 3] - '0'));
			k += 3;
			continue;
		}
		o += f[k];
	}
	return o;
}

struct MountLine {
	std::string id, parent, root, point, fstype;
};

std::vector<MountLine> mount_lines(std::string_view text)
{
	std::vector<MountLine> ms;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t end = text.find('\n', pos);
		if (end == std::string_view::npos)
			end = text.size();
		std::string_view line = text.substr(pos, end - pos);
		pos = end + 1;
		std::vector<std::string_view> f;
		size_t p = 0;
		while (p < line.size()) {
			size_t sp = line.find(' ', p);
			if (sp == std::string_view::npos)
				sp = line.size();
			f.push_back(line.substr(p, sp - p));
			p = sp + 1;
		}
		size_t dash = 6;
		while (dash < f.size() && f[dash] != "-")
			++dash;
		if (f.size() < 5 || dash + 1 >= f.size())
			continue;
		ms.push_back({std::string(f[0]), std::string(f[1]), mountinfo_field(f[3]),
		              mountinfo_field(f[4]), std::string(f[dash + 1])});
	}
	return ms;
}

} // namespace

std::vector<std::string> masked_proc_paths(std::string_view mountinfo)
{
	const auto ms = mount_lines(mountinfo);
	std::vector<std::string> first;
	bool any = false;
	for (const auto& p : ms) {
		if (p.fstype != "proc" || p.root != "/")
			continue;
		std::vector<std::string> covered;
		const std::string prefix = p.point == "/" ? "/" : p.point + "/";
		for (const auto& c : ms) {
			if (c.parent != p.id || c.id == p.id)
				continue;
			const std::string rel =
			    c.point.rfind(prefix, 0) == 0 ? c.point.substr(prefix.size()) : c.point;
			if (rel == "sys/fs/binfmt_misc")
				continue; // a permanently empty directory: covering it hides
				          // nothing
			covered.push_back(c.point);
		}
		if (covered.empty())
			return {};
		if (!any)
			first = covered;
		any = true;
	}
	return first;
}

bool initial_uid_map(std::string_view uid_map)
{
	std::string t(uid_map);
	std::string a, b, c;
	size_t k = 0;
	auto field = [&](std::string& out) {
		while (k < t.size() && (t[k] == ' ' || t[k] == '\t'))
			++k;
		while (k < t.size() && t[k] != ' ' && t[k] != '\t' && t[k] != '\n')
			out += t[k++];
	};
	field(a);
	field(b);
	field(c);
	while (k < t.size() && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n'))
		++k;
	return a == "0" && b == "0" && c == "4294967295" && k == t.size();
}

const char* cause_name(Cause c)
{
	switch (c) {
	case Cause::unknown:
		return "unknown";
	case Cause::seccomp:
		return "seccomp";
	case Cause::bounding_set:
		return "bounding-set";
	case Cause::capability:
		return "capability";
	case Cause::userns_sysctl:
		return "userns-sysctl";
	case Cause::userns_unpriv:
		return "userns-unprivileged-clone";
	case Cause::userns_apparmor:
		return "userns-apparmor";
	case Cause::userns_exhausted:
		return "namespace-limit";
	case Cause::apparmor:
		return "apparmor";
	case Cause::read_only_cgroupfs:
		return "read-only-cgroupfs";
	case Cause::no_cgroupfs:
		return "no-cgroupfs";
	case Cause::not_delegated:
		return "not-delegated";
	case Cause::masked_proc:
		return "masked-proc";
	}
	return "unknown";
}

std::string Diagnosis::hint() const
{
	std::string h = "hint: " + (text.empty() ? std::string("cause unknown") : text);
	return h + "; remedy: " + with_fallback(remedy);
}

std::string container_namespace_remedy(ContainerKind k)
{
	switch (k) {
	case ContainerKind::docker:
		return "docker run --security-opt seccomp=unconfined --security-opt "
		       "apparmor=unconfined "
		       "--cap-add=SYS_ADMIN --cap-add=NET_ADMIN (in docker build: RUN "
		       "--security=insecure, built with "
		       "'docker buildx build --allow security.insecure' on a builder that allows "
		       "the "
		       "security.insecure entitlement)";
	case ContainerKind::podman:
		return "podman run --security-opt seccomp=unconfined --cap-add=SYS_ADMIN "
		       "--cap-add=NET_ADMIN (podman build "
		       "takes the same flags)";
	case ContainerKind::kubernetes:
		return "securityContext: {capabilities: {add: [SYS_ADMIN]}, seccompProfile: {type: "
		       "Unconfined}} for the build container";
	case ContainerKind::lxc:
		return "allow nesting (LXD/Incus: security.nesting=true; LXC: lxc.include "
		       "nesting.conf)";
	case ContainerKind::nspawn:
		return "systemd-nspawn --capability=CAP_SYS_ADMIN";
	case ContainerKind::none:
	case ContainerKind::other:
		return "";
	}
	return "";
}

std::string container_cgroup_remedy(ContainerKind k)
{
	switch (k) {
	case ContainerKind::docker:
		return "docker run --cgroupns=private --privileged, or with --cap-add=SYS_ADMIN "
		       "remount it "
		       "inside the container first (mount -o remount,rw /sys/fs/cgroup)";
	case ContainerKind::podman:
		return "podman run --cgroupns=private --privileged, or with --cap-add=SYS_ADMIN "
		       "remount it "
		       "inside the container first (mount -o remount,rw /sys/fs/cgroup)";
	case ContainerKind::kubernetes:
		return "a privileged build container (securityContext: {privileged: true})";
	case ContainerKind::lxc:
	case ContainerKind::nspawn:
		return "give the container a writable, delegated cgroup (LXC: lxc.mount.auto = "
		       "cgroup:rw; "
		       "systemd-nspawn: --property=Delegate=yes)";
	case ContainerKind::none:
	case ContainerKind::other:
		return "";
	}
	return "";
}

namespace
{

std::string pick(const Container& ct, const std::string& c, const std::string& otherwise)
{
	return for_container(ct, c, otherwise);
}

} // namespace

std::string for_container(const Container& ct, const std::string& c, const std::string& otherwise)
{
	if (c.empty())
		return otherwise;
	if (ct.confirmed)
		return c;
	return otherwise + "; if this is a " + container_name(ct.kind) + " container (only " +
	       ct.evidence + " says so): " + c;
}

namespace
{

std::string namespace_remedy(const Host& h, const std::string& otherwise)
{
	return pick(h.container, container_namespace_remedy(h.container.kind), otherwise);
}

Diagnosis seccomp_diagnosis(const char* syscall, const Host& h)
{
	std::string who = !h.container.confirmed ? ""
	                  : h.container.kind == ContainerKind::docker
	                      ? " (Docker's default profile does)"
	                      : " (the container's profile)";
	return {Cause::seccomp,
	        std::string("a seccomp filter refuses ") + syscall + who + " (Seccomp: 2)",
	        namespace_remedy(
	            h, "run emerge without that seccomp filter (whoever started this process "
	               "installed it)")};
}

} // namespace

Diagnosis diagnose_unshare(int flags, int err, bool in_userns, const Host& h)
{
	const ProcStatus& s = h.status;
	const bool filtered = s.seccomp == 2;
	if (flags & CLONE_NEWUSER) {
		if (err == ENOSPC && h.max_user_namespaces && *h.max_user_namespaces == 0)
			return {Cause::userns_sysctl,
			        "user namespaces are disabled (user.max_user_namespaces = 0)",
			        "sysctl -w user.max_user_namespaces=15000" +
			            std::string(h.container.confirmed ? " (on the host)" : "")};
		if (err == ENOSPC)
			return {Cause::userns_exhausted,
			        "the user namespace limit is reached (user.max_user_namespaces = " +
			            std::to_string(h.max_user_namespaces.value_or(-1)) + ")",
			        "raise it: sysctl -w user.max_user_namespaces=15000"};
		if (err == EPERM || err == EACCES) {
			const bool privileged = s.has_eff(CAP_SYS_ADMIN);
			if (!privileged && h.unprivileged_userns_clone &&
			    *h.unprivileged_userns_clone == 0)
				return {Cause::userns_unpriv,
				        "unprivileged user namespaces are disabled "
				        "(kernel.unprivileged_userns_clone = 0)",
				        "sysctl -w kernel.unprivileged_userns_clone=1"};
			if (!privileged && h.apparmor_restrict_userns &&
			    *h.apparmor_restrict_userns == 1)
				return {Cause::userns_apparmor,
				        "AppArmor restricts unprivileged user namespaces "
				        "(kernel.apparmor_restrict_unprivileged_userns = 1)",
				        "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
				        "or an AppArmor profile "
				        "with 'userns,' for the phasebox helpers"};
			if (filtered)
				return seccomp_diagnosis("unshare(CLONE_NEWUSER)", h);
			return {Cause::unknown,
			        "this process may not create user namespaces (a chroot, a nested "
			        "namespace limit, or a security module)",
			        "PHASEBOX_USERNS=never (root phases only)"};
		}
		if (err == EINVAL)
			return {Cause::unknown,
			        "the kernel has no user namespaces (CONFIG_USER_NS)",
			        "a kernel with CONFIG_USER_NS=y"};
		return {};
	}
	if (err == ENOSPC)
		return {Cause::userns_exhausted,
		        "a namespace count limit is reached (/proc/sys/user/max_*_namespaces)",
		        "raise the limit with sysctl (user.max_net_namespaces, "
		        "user.max_ipc_namespaces, ...)"};
	if (err == EINVAL)
		return {Cause::unknown,
		        "the kernel lacks one of these namespace types (CONFIG_*_NS)",
		        "a kernel with them"};
	if (err != EPERM)
		return {};
	if (in_userns)
		return filtered
		           ? seccomp_diagnosis("unshare(2)", h)
		           : Diagnosis{
		                 Cause::unknown,
		                 "refused even inside a new user namespace (a security module?)",
		                 ""};
	if (s.has_eff(CAP_SYS_ADMIN)) {
		if (filtered)
			return seccomp_diagnosis("unshare(2)", h);
		if (!h.apparmor_profile.empty())
			return {Cause::apparmor,
			        "the AppArmor profile " + h.apparmor_profile + " may refuse it",
			        namespace_remedy(h, "run emerge unconfined by AppArmor")};
		return {};
	}
	if (h.euid == 0 && !s.has_bnd(CAP_SYS_ADMIN)) {
		std::string text =
		    "root without CAP_SYS_ADMIN: it is not in the capability bounding set (" +
		    std::to_string(__builtin_popcountll(s.cap_bnd)) + " capabilities)";
		if (filtered)
			text += ", and a seccomp filter is active";
		return {
		    Cause::bounding_set, text,
		    namespace_remedy(h, "run emerge with CAP_SYS_ADMIN in its bounding set") +
		        (filtered
		             ? ""
		             : "; or PHASEBOX_USERNS=always to create them in a user namespace")};
	}
	if (h.euid == 0)
		return {Cause::capability, "root without CAP_SYS_ADMIN in its effective set",
		        "PHASEBOX_USERNS=always to create them in a user namespace"};
	return {Cause::capability,
	        "a non-root user cannot create these namespaces without a user namespace first",
	        "PHASEBOX_USERNS=auto (the default) or always"};
}

Diagnosis diagnose_loopback(int err, bool in_userns, const Host& h)
{
	if (err != EPERM && err != EACCES)
		return {};
	if (!in_userns && !h.status.has_eff(CAP_NET_ADMIN))
		return {
		    Cause::bounding_set,
		    "root without CAP_NET_ADMIN cannot configure the new network namespace's "
		    "loopback" +
		        std::string(h.status.has_bnd(CAP_NET_ADMIN)
		                        ? ""
		                        : " (it is not in the capability bounding set)"),
		    pick(h.container,
		         h.container.kind == ContainerKind::docker
		             ? "docker run --cap-add=NET_ADMIN"
		         : h.container.kind == ContainerKind::podman
		             ? "podman run --cap-add=NET_ADMIN"
		             : "",
		         "run emerge with CAP_NET_ADMIN") +
		        "; or PHASEBOX_USERNS=always to create the namespace in a user namespace"};
	if (h.status.seccomp == 2)
		return seccomp_diagnosis("the rtnetlink request", h);
	return {};
}

Diagnosis diagnose_mount(int err, const Host& h)
{
	if (err != EPERM && err != EACCES)
		return {};
	if (h.status.seccomp == 2)
		return seccomp_diagnosis("mount(2)", h);
	if (!h.apparmor_profile.empty())
		return {Cause::apparmor,
		        "the AppArmor profile " + h.apparmor_profile + " refuses mount(2)",
		        namespace_remedy(h, "run emerge unconfined by AppArmor")};
	return {};
}

std::string container_proc_remedy(ContainerKind k)
{
	switch (k) {
	case ContainerKind::docker:
		return "docker run --security-opt systempaths=unconfined (Docker masks parts of "
		       "/proc by default)";
	case ContainerKind::podman:
		return "podman run --security-opt unmask=ALL (Podman masks parts of /proc by "
		       "default)";
	case ContainerKind::kubernetes:
		return "securityContext: {procMount: Unmasked} for the build container (with "
		       "hostUsers: false)";
	case ContainerKind::lxc:
	case ContainerKind::nspawn:
	case ContainerKind::none:
	case ContainerKind::other:
		return "";
	}
	return "";
}

Diagnosis diagnose_proc_mount(int err, bool in_userns, const Host& h)
{
	if ((err == EPERM || err == EACCES) && (in_userns || h.userns_nested) &&
	    !h.proc_masked.empty()) {
		std::string list;
		for (const auto& p : h.proc_masked)
			list += (list.empty() ? "" : ", ") + p;
		return {Cause::masked_proc,
		        "a new /proc cannot be mounted in a user namespace while parts of this one "
		        "are covered (" +
		            list + ")",
		        pick(h.container, container_proc_remedy(h.container.kind),
		             "run emerge where nothing is mounted over parts of /proc (umount " +
		                 list + ")")};
	}
	return diagnose_mount(err, h);
}

Diagnosis diagnose_cgroup(int err, bool not_delegated, bool no_hierarchy, const Host& h)
{
	const std::string c = container_cgroup_remedy(h.container.kind);
	if (no_hierarchy)
		return {
		    Cause::no_cgroupfs, "no usable cgroup file system is mounted",
		    pick(h.container, c, "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup)")};
	if (err == EROFS)
		return {Cause::read_only_cgroupfs,
		        "the cgroup file system is mounted read-only" +
		            std::string(h.container.confirmed ? " (as container engines do)" : ""),
		        pick(h.container, c,
		             "remount it read-write (mount -o remount,rw on the cgroup mount)")};
	if (not_delegated)
		return {Cause::not_delegated,
		        "no phasebox cgroup is delegated to uid " + std::to_string(h.euid),
		        "add PORTAGE_IONICE_COMMAND=\"<libexec>/phasebox-cgroup adopt \\${PID}\" "
		        "to make.conf "
		        "(emerge runs it as root before any phase), or remove phasebox-cgroup from "
		        "FEATURES"};
	if ((err == EACCES || err == EPERM) && h.euid != 0)
		return {Cause::not_delegated,
		        "the delegated cgroup is not writable by uid " + std::to_string(h.euid),
		        "check PORTAGE_IONICE_COMMAND in make.conf (phasebox-cgroup adopt)"};
	if ((err == EACCES || err == EPERM) && !h.status.has_eff(CAP_DAC_OVERRIDE))
		return {Cause::capability,
		        "root without CAP_DAC_OVERRIDE cannot write the cgroup files",
		        pick(h.container, c, "run emerge with CAP_DAC_OVERRIDE")};
	return {};
}

} // namespace phasebox::diag
