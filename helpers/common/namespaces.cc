#include "namespaces.hh"

#include "file.hh"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

namespace phasebox::ns {
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

} // namespace phasebox::ns
