#include "cgroupfs.hh"

#include "file.hh"

#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace phasebox::cgroupfs {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline)
{
	auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
	return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

Status verify_fs(int fd, Kind kind, const std::string& path)
{
	struct statfs sfs{};
	if (::fstatfs(fd, &sfs) != 0)
		return sys_error("statfs " + quote(path));
	unsigned long want = kind == Kind::v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC;
	if (static_cast<unsigned long>(sfs.f_type) != want)
		return Error{EXDEV, quote(path) + " is not a cgroup" +
					    std::string(kind == Kind::v2 ? "2" : " v1") +
					    " file system"};
	return {};
}

// Sub-directory names of dirfd (not "." or "..").
Result<std::vector<std::string>> subdirs(int dirfd)
{
	int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup < 0)
		return sys_error("open cgroup directory");
	DIR* d = ::fdopendir(dup);
	if (!d) {
		::close(dup);
		return sys_error("fdopendir");
	}
	std::vector<std::string> out;
	errno = 0;
	while (struct dirent* e = ::readdir(d)) {
		std::string n = e->d_name;
		if (e->d_type == DT_DIR && n != "." && n != "..")
			out.push_back(n);
	}
	int err = errno;
	::closedir(d);
	if (err)
		return Error{err, "readdir"};
	return out;
}

long pidfd_open(pid_t pid) { return ::syscall(SYS_pidfd_open, pid, 0); }

// The most pidfds kill_all holds at once; past that it waits on cgroup.events alone.
constexpr size_t max_pidfds = 256;

// Wait until each process of pidfds has exited.  A task leaves its cgroup in do_exit()
// (cgroup_exit) before exit_notify() wakes its pidfd, so once they have all fired
// "populated" is 0 unless a process forked after the list was taken.  Waiting on
// cgroup.events alone would cost up to 10 ms more: the kernel rate-limits its
// notifications (kernel/cgroup/cgroup.c, CGROUP_FILE_NOTIFY_MIN_INTV).
Status wait_pidfds(std::vector<UniqueFd>& pidfds, Clock::time_point deadline)
{
	for (auto& pfd : pidfds) {
		struct pollfd p{pfd.get(), POLLIN, 0};
		int rc;
		do
			rc = ::poll(&p, 1, remaining_ms(deadline));
		while (rc < 0 && errno == EINTR);
		if (rc == 0)
			return Error{ETIMEDOUT, "wait for killed processes to exit"};
		if (rc < 0)
			return sys_error("poll a pidfd");
	}
	return {};
}

// Freeze, SIGKILL everything, thaw; wait on pidfds until each process is gone.  One round;
// the caller repeats until the cgroup is empty (a fork racing the freeze is caught by the
// next round).
Status kill_round(int dirfd, Kind kind, Clock::time_point deadline)
{
	bool v1_freezer = false;
	if (kind == Kind::v2)
		(void)write_file_at(dirfd, "cgroup.freeze", "1");
	else
		v1_freezer = write_file_at(dirfd, "freezer.state", "FROZEN").ok();

	auto pids = list_pids(dirfd, kind == Kind::v2 ? "cgroup.procs" : "tasks", true);
	std::vector<UniqueFd> pidfds;
	if (pids) {
		for (pid_t p : pids.value()) {
			UniqueFd pfd(static_cast<int>(pidfd_open(p)));
			::kill(p, SIGKILL);
			if (pfd.valid())
				pidfds.push_back(std::move(pfd));
		}
	}
	// A frozen task only dies once thawed.
	if (kind == Kind::v2)
		(void)write_file_at(dirfd, "cgroup.freeze", "0");
	else if (v1_freezer)
		(void)write_file_at(dirfd, "freezer.state", "THAWED");
	if (!pids)
		return pids.error();

	return wait_pidfds(pidfds, deadline);
}

} // namespace

bool is_plain_name(const std::string& n)
{
	return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos &&
	       n.find('\0') == std::string::npos && n.find('\n') == std::string::npos;
}

Result<UniqueFd> open_root(const std::string& path, Kind kind)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!fd.valid())
		return sys_error("open " + quote(path));
	if (auto s = verify_fs(fd.get(), kind, path); !s)
		return s.error();
	return fd;
}

Result<UniqueFd> open_dir(int dirfd, const std::string& rel, bool create, mode_t mode)
{
	UniqueFd cur(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!cur.valid())
		return sys_error("open cgroup directory");
	std::string done;
	size_t i = 0;
	while (i < rel.size()) {
		size_t j = rel.find('/', i);
		if (j == std::string::npos)
			j = rel.size();
		std::string comp = rel.substr(i, j - i);
		i = j + 1;
		if (comp.empty())
			continue;
		done += "/" + comp;
		if (!is_plain_name(comp))
			return Error{EINVAL, "bad cgroup path component in " + quote(done)};
		if (create && ::mkdirat(cur.get(), comp.c_str(), mode) != 0 && errno != EEXIST)
			return sys_error("mkdir " + quote(done));
		UniqueFd next(::openat(cur.get(), comp.c_str(),
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
		if (!next.valid())
			return sys_error("open " + quote(done));
		cur = std::move(next);
	}
	return cur;
}

// A cgroup removed while it is walked: its directory or its file is gone (ENOENT), or the
// kernfs node is already dead (ENODEV).
namespace {
bool gone(int err) { return err == ENOENT || err == ENODEV; }
} // namespace

// Recursive: the depth is bounded by the open files (one dirfd per level), and running out
// of them fails the walk (EMFILE), never stops it quietly.
// NOLINTNEXTLINE(misc-no-recursion)
Result<std::vector<pid_t>> list_pids(int dirfd, const std::string& file, bool recursive)
{
	std::vector<pid_t> out;
	auto text = read_file_at(dirfd, file);
	if (!text)
		return text.error();
	const std::string& t = text.value();
	size_t i = 0;
	while (i < t.size()) {
		size_t j = t.find('\n', i);
		if (j == std::string::npos)
			j = t.size();
		long v = std::strtol(t.substr(i, j - i).c_str(), nullptr, 10);
		if (v > 0)
			out.push_back(static_cast<pid_t>(v));
		i = j + 1;
	}
	if (!recursive)
		return out;
	auto subs = subdirs(dirfd);
	if (!subs)
		return subs.error();
	for (const auto& s : subs.value()) {
		UniqueFd sub(::openat(dirfd, s.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
		if (!sub.valid() && gone(errno))
			continue; // removed meanwhile
		if (!sub.valid())
			return sys_error("open " + quote(s));
		auto more = list_pids(sub.get(), file, true);
		if (!more && gone(more.error().err))
			continue;
		if (!more)
			return more.error();
		out.insert(out.end(), more.value().begin(), more.value().end());
	}
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	return out;
}

Result<bool> populated(int dirfd)
{
	auto text = read_file_at(dirfd, "cgroup.events");
	if (!text)
		return text.error();
	auto pos = text.value().find("populated ");
	if (pos == std::string::npos)
		return Error{EINVAL, "no 'populated' in cgroup.events"};
	return text.value()[pos + 10] == '1';
}

Status wait_unpopulated(int dirfd, std::chrono::milliseconds timeout)
{
	auto deadline = Clock::now() + timeout;
	UniqueFd fd(::openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid())
		return sys_error("open 'cgroup.events'");
	for (;;) {
		auto text = pread_all(fd.get());
		if (!text)
			return Error{text.error().err, "read 'cgroup.events'"};
		if (text.value().find("populated 0") != std::string::npos)
			return {};
		struct pollfd p{fd.get(), POLLPRI, 0};
		int rc = ::poll(&p, 1, remaining_ms(deadline));
		if (rc < 0 && errno != EINTR)
			return sys_error("poll 'cgroup.events'");
		if (rc == 0)
			return Error{ETIMEDOUT, "wait for 'populated 0' in 'cgroup.events'"};
	}
}


Status kill_all(int dirfd, Kind kind, std::chrono::milliseconds timeout)
{
	auto deadline = Clock::now() + timeout;
	if (kind == Kind::v2) {
		// pidfds first (a pid cannot be reused while its pidfd is open), then the kill.
		std::vector<UniqueFd> pidfds;
		if (auto pids = list_pids(dirfd, "cgroup.procs", true); pids && pids.value().size() <= max_pidfds)
			for (pid_t p : pids.value())
				if (UniqueFd pfd(static_cast<int>(pidfd_open(p))); pfd.valid())
					pidfds.push_back(std::move(pfd));
		if (write_file_at(dirfd, "cgroup.kill", "1").ok()) {
			if (Status s = wait_pidfds(pidfds, deadline); !s)
				return s;
			if (auto p = populated(dirfd); p && !p.value())
				return {};
			return wait_unpopulated(dirfd, std::chrono::milliseconds(remaining_ms(deadline)));
		}
	}
	for (;;) {
		auto pids = list_pids(dirfd, kind == Kind::v2 ? "cgroup.procs" : "tasks", true);
		if (!pids)
			return pids.error();
		if (pids.value().empty())
			return {};
		if (remaining_ms(deadline) == 0)
			return Error{ETIMEDOUT, "kill every process in the cgroup"};
		if (auto s = kill_round(dirfd, kind, deadline); !s)
			return s;
	}
}

// NOLINTNEXTLINE(misc-no-recursion): bounded like list_pids()
Status remove_tree(int parentfd, const std::string& name)
{
	if (!is_plain_name(name))
		return Error{EINVAL, "bad cgroup name " + quote(name)};
	UniqueFd fd(::openat(parentfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid())
		return errno == ENOENT ? Status{} : Status{sys_error("open " + quote(name))};
	auto subs = subdirs(fd.get());
	if (!subs)
		return subs.error();
	for (const auto& s : subs.value())
		if (auto st = remove_tree(fd.get(), s); !st)
			return st;
	if (::unlinkat(parentfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
		return sys_error("rmdir " + quote(name));
	return {};
}

Status move_all(int from, int to)
{
	for (int round = 0; round < 8; ++round) {
		auto pids = list_pids(from, "cgroup.procs", false);
		if (!pids)
			return pids.error();
		if (pids.value().empty())
			return {};
		for (pid_t p : pids.value())
			if (Status s = write_file_at(to, "cgroup.procs", std::to_string(p)); !s && s.error().err != ESRCH)
				return Error{s.error().err, "move " + std::to_string(p) + ": " + s.error().what};
	}
	return Error{EBUSY, "processes keep appearing"};
}

Status enter(int dirfd, Kind kind)
{
	(void)kind; // both versions accept "0" (the writer) in cgroup.procs
	return write_file_at(dirfd, "cgroup.procs", "0");
}

} // namespace phasebox::cgroupfs
