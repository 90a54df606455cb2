#include "namespaces.hh"

#include "file.hh"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

namespace phasebox::ns {
namespace {

std::string first_line(const std::string& path)
{
	auto r = read_file(path);
	if (!r)
		return "";
	std::string s = r.value();
	auto nl = s.find('\n');
	return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string status_field(const std::string& name)
{
	auto r = read_file("/proc/self/status");
	if (!r)
		return "";
	auto pos = r.value().find("\n" + name + ":");
	if (pos == std::string::npos)
		return "";
	pos += name.size() + 2;
	auto end = r.value().find('\n', pos);
	std::string v = r.value().substr(pos, end - pos);
	while (!v.empty() && (v[0] == ' ' || v[0] == '\t'))
		v.erase(0, 1);
	return v;
}

} // namespace

Status enter_user_namespace()
{
	uid_t uid = ::geteuid();
	gid_t gid = ::getegid();
	if (::unshare(CLONE_NEWUSER) != 0)
		return sys_error("unshare(user namespace)");
	if (Status s = write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny"); !s)
		return s;
	if (Status s = write_file_at(AT_FDCWD, "/proc/self/uid_map",
				     std::to_string(uid) + " " + std::to_string(uid) + " 1\n");
	    !s)
		return s;
	return write_file_at(AT_FDCWD, "/proc/self/gid_map",
			     std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
}

std::string describe_flags(int flags)
{
	std::string out;
	auto add = [&](int f, const char* n) {
		if (flags & f)
			out += (out.empty() ? "" : ", ") + std::string(n);
	};
	add(CLONE_NEWUSER, "user");
	add(CLONE_NEWNET, "network");
	add(CLONE_NEWIPC, "ipc");
	add(CLONE_NEWUTS, "uts");
	add(CLONE_NEWPID, "pid");
	add(CLONE_NEWNS, "mount");
	add(CLONE_NEWCGROUP, "cgroup");
	return out;
}

Status unshare_flags(int flags)
{
	if (::unshare(flags) != 0)
		return sys_error("unshare(" + describe_flags(flags) + " namespace" +
				 (flags & (flags - 1) ? "s)" : ")"));
	return {};
}

Status make_mounts_slave()
{
	if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
		return sys_error("make the mounts of the new mount namespace slaves (mount --make-rslave /)");
	return {};
}

Status mount_proc()
{
	if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
		return sys_error("mount a new /proc for the pid namespace");
	return {};
}

Status set_hostname(const std::string& name)
{
	if (::sethostname(name.data(), name.size()) != 0)
		return sys_error("sethostname(" + quote(name) + ")");
	return {};
}

std::string unshare_hint(int flags, int err)
{
	std::string seccomp = status_field("Seccomp");
	std::string nnp = status_field("NoNewPrivs");
	std::string capeff = status_field("CapEff");
	if (flags & CLONE_NEWUSER) {
		if (err == ENOSPC || first_line("/proc/sys/user/max_user_namespaces") == "0")
			return "hint: user namespaces are disabled or exhausted: sysctl -w user.max_user_namespaces=15000";
		if (first_line("/proc/sys/kernel/unprivileged_userns_clone") == "0")
			return "hint: unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1";
		if (first_line("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1")
			return "hint: AppArmor restricts unprivileged user namespaces: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
		if (seccomp == "2")
			return "hint: a seccomp filter refuses user namespaces (Docker's default profile does): run the container with --security-opt seccomp=unconfined or --cap-add=SYS_ADMIN; see 'phasebox doctor'";
		if (err == EPERM)
			return "hint: this process may not create user namespaces (chroot or a nested limit?); set PHASEBOX_USERNS=never to run as root instead";
		return "";
	}
	if (err == EPERM || err == EINVAL) {
		if (seccomp == "2")
			return "hint: a seccomp filter refuses namespaces (Docker's default profile does without CAP_SYS_ADMIN): --cap-add=SYS_ADMIN or --security-opt seccomp=unconfined; see 'phasebox doctor'";
		if (::geteuid() == 0)
			return "hint: root without CAP_SYS_ADMIN (CapEff " + capeff + ") cannot create namespaces; set PHASEBOX_USERNS=always to create them in a user namespace";
		return "hint: a non-root user needs a user namespace first (PHASEBOX_USERNS=auto or always)";
	}
	if (err == ENOSPC)
		return "hint: a namespace limit is exhausted (see /proc/sys/user/max_*_namespaces)";
	(void)nnp;
	return "";
}

} // namespace phasebox::ns
