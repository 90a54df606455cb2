#include "probes.hh"

#include "cgroup_setup.hh"
#include "file.hh"
#include "layout.hh"

#include <csignal>
#include <cstdlib>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace phasebox::probes
{
namespace
{

volatile unsigned long marker = 0x70686173u; // "phas", read back from the traced child

void reap(pid_t pid)
{
	int st;
	::kill(pid, SIGKILL);
	while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
}

} // namespace

Status ptrace_like_sandbox()
{
	pid_t pid = ::fork();
	if (pid < 0)
		return sys_error("fork (ptrace probe)");
	if (pid == 0) {
		::prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0)
			_exit(10 + errno % 100);
		::raise(SIGSTOP);
		_exit(0);
	}
	int st = 0;
	while (::waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			Error e = sys_error("waitpid (ptrace probe)");
			reap(pid);
			return e;
		}
	if (WIFEXITED(st))
		return Error{WEXITSTATUS(st) >= 10 ? WEXITSTATUS(st) - 10 : EIO,
		             "ptrace(PTRACE_TRACEME)"};
	if (!WIFSTOPPED(st)) {
		reap(pid);
		return Error{EIO, "the traced child did not stop"};
	}
	// NOLINTNEXTLINE(performance-no-int-to-ptr): ptrace(2) takes the options in its pointer argument
	if (::ptrace(PTRACE_SETOPTIONS, pid, nullptr, reinterpret_cast<void*>(PTRACE_O_EXITKILL)) !=
	    0) {
		Error e = sys_error("ptrace(PTRACE_SETOPTIONS, PTRACE_O_EXITKILL)");
		reap(pid);
		return e;
	}
	unsigned long got = 0;
	struct iovec local {
		&got, sizeof got
	};
	struct iovec remote {
		const_cast<unsigned long*>(&marker), sizeof marker
	};
	ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
	Error e = sys_error("process_vm_readv");
	reap(pid);
	if (n != static_cast<ssize_t>(sizeof got))
		return e;
	if (got != marker)
		return Error{EIO, "process_vm_readv read the wrong value"};
	return {};
}

std::optional<long> yama_ptrace_scope()
{
	auto r = read_file("/proc/sys/kernel/yama/ptrace_scope");
	if (!r)
		return std::nullopt;
	return std::strtol(r.value().c_str(), nullptr, 10);
}

CgroupProbe cgroup()
{
	CgroupProbe p;
	auto mounts = cgroup_mounts();
	if (mounts) {
		const auto& m = mounts.value();
		const bool v1 = !m.v1.empty();
		p.layout =
		    !m.unified.empty() ? (v1 ? "hybrid" : "unified") : (v1 ? "legacy" : "none");
		if (!m.unified.empty()) {
			if (auto c = read_file(m.unified.target + "/cgroup.controllers")) {
				p.controllers = c.value();
				while (!p.controllers.empty() && p.controllers.back() == '\n')
					p.controllers.pop_back();
			}
		}
		if (p.layout != "unified") {
			std::string v1s;
			for (const auto& [name, mnt] : m.v1)
				v1s += (v1s.empty() ? "" : " ") + name;
			p.controllers +=
			    std::string(p.controllers.empty() ? "" : "; ") + "v1: " + v1s;
		}
	}
	auto h = open_hierarchy(HierarchyChoice::automatic);
	if (!h) {
		p.leaf = h.error();
		return p;
	}
	p.hierarchy = true;
	p.kind = h.value().kind == cgroupfs::Kind::v2 ? "v2" : "v1 (freezer)";
	p.mount = h.value().mount.target;
	struct statvfs sv {
	};
	p.read_only = ::fstatvfs(h.value().root.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY);
	auto cur = current_cgroup(h.value());
	if (!cur) {
		p.leaf = cur.error();
		return p;
	}
	auto where = layout::classify(cur.value());
	p.not_delegated = ::getuid() != 0 && where.where == layout::Where::outside;
	// As phasebox-cgroup does: a read-only mount is the cause, whatever else is missing.
	if (p.read_only) {
		p.leaf = Error{EROFS, "the cgroup hierarchy at " + quote(p.mount) +
		                          " is mounted read-only"};
		return p;
	}
	if (::getuid() != 0) {
		if (p.not_delegated)
			p.leaf = Error{EACCES,
			               "no delegated phasebox cgroup above " + quote(cur.value())};
		return p;
	}
	const std::string base =
	    where.where == layout::Where::outside ? std::string(layout::leaves) : where.base;
	auto leaf =
	    create_leaf(h.value(), base, where.where == layout::Where::outside, "phasebox-doctor");
	if (!leaf) {
		p.leaf = leaf.error();
		return p;
	}
	Leaf& l = leaf.value();
	l.lock.reset();
	l.dir.reset();
	p.leaf = cgroupfs::remove_tree(l.base.get(), l.name);
	return p;
}

} // namespace phasebox::probes
