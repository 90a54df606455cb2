#include "isolate.hh"

#include "inprocess.hh"
#include "install.hh"

#include "fd.hh"
#include "namespaces.hh"
#include "netlink.hh"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace phasebox::isolate
{
namespace
{

// The child's report: step, errno and message, written in one write(2).
struct Wire {
	int failed;
	int step;
	int err;
	char what[480];
};

void send(int fd, const std::optional<NsFailure>& f)
{
	Wire w{};
	if (f) {
		w.failed = 1;
		w.step = static_cast<int>(f->step);
		w.err = f->error.err;
		std::strncpy(w.what, f->error.what.c_str(), sizeof w.what - 1);
	}
	(void)!::write(fd, &w, sizeof w);
}

int wait_for(pid_t pid)
{
	int st = 0;
	while (::waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

} // namespace

const char* step_name(Step s)
{
	switch (s) {
	case Step::userns:
		return "user namespace";
	case Step::unshare:
		return "unshare";
	case Step::mount:
		return "mount propagation";
	case Step::loopback:
		return "loopback";
	case Step::hostname:
		return "hostname";
	case Step::proc:
		return "/proc";
	}
	return "?";
}

std::optional<NsFailure> enter(const NsPlan& plan)
{
	if (plan.userns)
		if (Status s = ns::enter_user_namespace(); !s)
			return NsFailure{Step::userns, s.error()};
	if (plan.flags)
		if (Status s = ns::unshare_flags(plan.flags); !s)
			return NsFailure{Step::unshare, s.error()};
	if (plan.flags & CLONE_NEWNS)
		if (Status s = ns::make_mounts_slave(); !s)
			return NsFailure{Step::mount, s.error()};
	if (plan.flags & CLONE_NEWNET)
		if (Status s = netlink::configure_loopback(); !s)
			return NsFailure{Step::loopback, s.error()};
	if (plan.flags & CLONE_NEWUTS)
		if (Status s = ns::set_hostname(plan.hostname); !s)
			return NsFailure{Step::hostname, s.error()};
	return std::nullopt;
}

std::optional<NsFailure> probe(const NsPlan& plan)
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		return NsFailure{Step::unshare, sys_error("pipe2 (probe)")};
	UniqueFd rd(p[0]), wr(p[1]);
	pid_t pid = ::fork();
	if (pid < 0)
		return NsFailure{Step::unshare, sys_error("fork (probe)")};
	if (pid == 0) {
		rd.reset();
		auto f = enter(plan);
		if (!f && (plan.flags & CLONE_NEWPID)) {
			// pid 1 of the new namespace mounts its /proc, as phasebox-unshare's child
			// does.
			pid_t one = ::fork();
			if (one == 0) {
				Status s = ns::mount_proc();
				_exit(s ? 0 : 10 + (s.error().err & 0xff) % 200);
			}
			int st = one > 0 ? wait_for(one) : -1;
			if (one < 0)
				f = NsFailure{Step::proc, sys_error("fork pid 1 (probe)")};
			else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				f = NsFailure{Step::proc,
				              Error{WIFEXITED(st) ? WEXITSTATUS(st) - 10 : EIO,
				                    "mount a new /proc for the pid namespace"}};
		}
		send(wr.get(), f);
		_exit(0);
	}
	wr.reset();
	Wire w{};
	ssize_t n;
	while ((n = ::read(rd.get(), &w, sizeof w)) < 0 && errno == EINTR) {
	}
	wait_for(pid);
	if (n != static_cast<ssize_t>(sizeof w))
		return NsFailure{Step::unshare,
		                 Error{EIO, "the probe child died without a report"}};
	if (!w.failed)
		return std::nullopt;
	w.what[sizeof w.what - 1] = '\0';
	return NsFailure{static_cast<Step>(w.step), Error{w.err, w.what}};
}

diag::Diagnosis diagnose(const NsFailure& f, const NsPlan& plan, const diag::Host& h)
{
	switch (f.step) {
	case Step::userns:
		return diag::diagnose_unshare(CLONE_NEWUSER, f.error.err, false, h);
	case Step::unshare:
		return diag::diagnose_unshare(plan.flags, f.error.err, plan.userns, h);
	case Step::mount:
		return diag::diagnose_mount(f.error.err, h);
	case Step::proc:
		return diag::diagnose_proc_mount(f.error.err, plan.userns, h);
	case Step::loopback:
		return diag::diagnose_loopback(f.error.err, plan.userns, h);
	case Step::hostname:
		return diag::diagnose_unshare(plan.flags, f.error.err, plan.userns, h);
	}
	return {};
}

std::string describe_namespaces(int flags)
{
	std::string d = ns::describe_flags(flags);
	return "the " + d + (flags & (flags - 1) ? " namespaces" : " namespace");
}

std::string self_dir()
{
	if (inprocess::active())
		return inprocess::dir();
	const std::string exe = install::self_exe();
	if (exe.empty())
		return install::built_libexecdir();
	return exe.substr(0, exe.rfind('/'));
}

std::optional<std::vector<std::string>> forward_dropped(const std::vector<std::string>& next,
                                                        const std::vector<std::string>& dropped,
                                                        const std::string& dir)
{
	if (dir.empty())
		return std::nullopt;
	// phasebox-proxy (between phasebox-cgroup and phasebox-unshare) takes no --dropped:
	// the words go to the link after its "--".
	size_t i = 0;
	while (i < next.size() && next[i] == dir + "/phasebox-proxy") {
		auto sep = std::find(next.begin() + static_cast<long>(i) + 1, next.end(), "--");
		if (sep == next.end())
			return std::nullopt;
		i = static_cast<size_t>(sep - next.begin()) + 1;
	}
	if (i >= next.size())
		return std::nullopt;
	bool ours = false;
	for (const char* h : {"phasebox-unshare", "phasebox-reap", "phasebox-cgroup"})
		ours = ours || next[i] == dir + "/" + h;
	if (!ours)
		return std::nullopt;
	std::vector<std::string> out(next.begin(), next.begin() + static_cast<long>(i) + 1);
	for (const auto& d : dropped) {
		out.emplace_back("--dropped");
		out.push_back(d);
	}
	out.insert(out.end(), next.begin() + static_cast<long>(i) + 1, next.end());
	return out;
}

std::string warning(const std::vector<std::string>& dropped)
{
	std::string w =
	    "warning: PHASEBOX_FALLBACK=warn: this phase runs with less isolation than asked: ";
	for (size_t i = 0; i < dropped.size(); ++i)
		w += (i ? "; " : "") + dropped[i];
	return w;
}

} // namespace phasebox::isolate
