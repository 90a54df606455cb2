// phasebox-cgroup — run the next program in a cgroup of its own; kill what it leaves.
//
//   phasebox-cgroup [--package ATOM] [--phase PHASE] [--hierarchy auto|v2|v1]
//                   [--kill-timeout SECONDS] [--fallback fail|warn] [--dropped TEXT]...
//                   [--summary show|quiet] [--elog PATH] -- PROG [ARGS...]
//   phasebox-cgroup adopt [--user NAME] PID [-- PROG [ARGS...]]
//
// Run mode: creates a leaf cgroup (see common/layout.hh for where), forks; the child moves
// itself into the leaf, drops every capability unless it is root, and execs PROG with the
// environment this helper received (SANDBOX_ON included: the helper itself runs with
// libsandbox switched off).  The parent stays outside the leaf, forwards signals, waits.
// When PROG ends it lists what is still running in the leaf (the orphans), kills it all
// (cgroup.kill; freeze/kill/thaw without it), waits for "populated 0", removes the leaf,
// reports the orphans as a QA notice on stderr, then the phase's accounting line (unless
// --summary quiet), and exits with PROG's status.  With --elog every message about the
// phase also goes to Portage's elog file (common/elog.hh: QA, WARN, ERROR).  When no
// leaf can be had it fails before PROG runs, naming the cause and the remedy for the
// environment detected (common/diagnose.hh); with --fallback warn it execs instead
// `phasebox-unshare --pid --fallback warn` (from its own directory) in front of PROG, so
// that a pid namespace kills what the phase leaves, and hands what was dropped on with
// --dropped (the chain's phasebox-reap says it, once).
//
// adopt mode (root, from PORTAGE_IONICE_COMMAND before any phase): creates
// /phasebox/inv-PID/{main,builds}, moves PID into main, reaps invocations whose processes
// are all gone, then execs PROG.  On cgroup v2 it leaves a keeper (common/keeper.hh) that
// makes the build user's leaves and moves its phases into them, so that nothing the build
// user could use to move root's processes is ever delegated, and that removes the
// invocation when PID ends; on v1 (where the kernel checks who owns a process moved)
// builds/ is delegated to the build user (default: portage).
//
// A build-user phase in an adopted invocation on v2 asks that keeper for its leaf (with a
// pidfd of its child, held before exec), and asks it again at the end to kill what is left
// and remove the leaf; what the keeper dropped under warn is said then, from its record.
//
// Exit status: PROG's own; 128+N when PROG was killed by signal N; 100 usage; 111 a system
// call failed before PROG ran; 126 PROG could not be executed; 127 PROG not found.
#include "common/accounting.hh"
#include "common/cgroup_limits.hh"
#include "common/cgroup_setup.hh"
#include "common/cli.hh"
#include "common/diagnose.hh"
#include "common/environment.hh"
#include "common/exit_status.hh"
#include "common/file.hh"
#include "common/isolate.hh"
#include "common/keeper.hh"
#include "common/layout.hh"
#include "common/orphan_count.hh"
#include "common/portage_cgroup.hh"
#include "common/privs.hh"
#include "common/procinfo.hh"
#include "common/report.hh"
#include "common/spawn.hh"

#include <csignal>
#include <cstring>
#include <dirent.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace phasebox;
namespace ex = phasebox::exit_code;

namespace {

const char* const prog = "phasebox-cgroup";

struct RunOptions {
	std::string package = "unknown";
	std::string phase = "phase";
	std::string hierarchy = "auto";
	unsigned kill_timeout = 10;
	std::array<std::string, limits::all_keys.size()> limit_text;
	std::string makeopts;
	std::string log = accounting::default_log;
	std::string fallback = "fail";
	std::vector<std::string> dropped;
	std::string elog;             // the phase's elog file (${T}/logging/${EBUILD_PHASE}), "" none
	std::string summary = "show"; // the accounting line on stderr: show, or quiet
	limits::Limits limits;        // parsed from limit_text
	std::vector<std::string> next;
};

struct AdoptOptions {
	std::string user = "portage";
	std::string pid;
	std::string hierarchy = "auto";
	std::string log = accounting::default_log;
	std::vector<std::string> next;
};

double now_s()
{
	struct timespec ts{};
	::clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The limit options into o.limits; a bad value is a usage error naming the variable.
std::optional<int> parse_limits(RunOptions& o)
{
	const uint64_t ram = limits::ram_bytes();
	for (auto k : limits::all_keys) {
		const std::string& t = o.limit_text[static_cast<size_t>(k)];
		if (t.empty())
			continue;
		if (Status s = limits::set(o.limits, k, t, ram); !s) {
			report::failure("%s", s.error().what.c_str());
			return ex::usage;
		}
	}
	if (Status s = accounting::check_log_path(o.log); !s) {
		report::failure("PHASEBOX_LOG: %s", s.error().what.c_str());
		return ex::usage;
	}
	return std::nullopt;
}

// The end of a phase: its accounting line in the build log (unless quiet), and what the
// OOM killer did, in the build log and in elog (an error when the phase failed).
void report_phase(const accounting::Record& rec, const RunOptions& o)
{
	if (o.summary != "quiet")
		report::lines({accounting::summary_line(rec)});
	report::notice(rec.status == 0 ? elog::Class::warn : elog::Class::error, accounting::oom_lines(rec));
}

HierarchyChoice to_choice(const std::string& s)
{
	return s == "v2" ? HierarchyChoice::v2 : s == "v1" ? HierarchyChoice::v1 : HierarchyChoice::automatic;
}

std::chrono::milliseconds seconds(unsigned s) { return std::chrono::milliseconds(s * 1000ULL); }

// One message for a leaf that cannot be had: the failure, its likely cause and the remedy.
void report_setup_failure(const Error& e, bool not_delegated, bool no_hierarchy)
{
	std::string hint = diag::diagnose_cgroup(e.err, not_delegated, no_hierarchy, diag::read_host()).hint();
	// This helper's own installation: in the bash builtin /proc/self/exe is bash, and the
	// helpers are where phasebox-builtin.so was loaded from (isolate::self_dir()).
	const std::string placeholder = "<libexec>/phasebox-cgroup";
	if (auto at = hint.find(placeholder); at != std::string::npos)
		hint.replace(at, placeholder.size(), isolate::self_dir() + "/phasebox-cgroup");
	report::error(e, hint);
}

// --fallback warn with no leaf: a pid namespace (phasebox-unshare) kills what is left.
int fall_back(RunOptions& o, Environment& env, const Error& e, bool not_delegated, bool no_hierarchy)
{
	const auto d = diag::diagnose_cgroup(e.err, not_delegated, no_hierarchy, diag::read_host());
	std::string why = e.what + (e.err ? std::string(": ") + std::strerror(e.err) : "");
	if (!d.text.empty())
		why += " (" + d.text + ")";
	o.dropped.push_back("the phase's cgroup (" + why + "): no limits, no accounting, no cgroup kill; a pid "
			    "namespace is tried in its place");
	const std::string dir = isolate::self_dir();
	ChildSpec spec;
	spec.argv = {dir + "/phasebox-unshare", "--package", o.package, "--phase", o.phase,
		     "--pid", "--fallback", "warn"};
	if (!o.elog.empty())
		spec.argv.insert(spec.argv.end(), {"--elog", o.elog});
	for (const auto& x : o.dropped) {
		spec.argv.emplace_back("--dropped");
		spec.argv.push_back(x);
	}
	spec.argv.emplace_back("--");
	spec.argv.insert(spec.argv.end(), o.next.begin(), o.next.end());
	spec.env = &env;
	if (Status s = drop_capabilities_unless_root(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	SpawnFailure f = exec_next(spec);
	report::error(f.error);
	return f.exit_code;
}

// A read-only cgroup mount (a container's /sys/fs/cgroup) is the cause, whatever else
// fails later: said first, so that a build user is not sent to set up delegation.
Status writable(const Hierarchy& h)
{
	struct statvfs sv{};
	if (::fstatvfs(h.root.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return Error{EROFS, "the cgroup hierarchy at " + quote(h.mount.target) + " is mounted read-only"};
	return {};
}

// Where the leaf goes, or an error naming why there is no place for it.
Result<std::pair<std::string, bool>> leaf_base(const Hierarchy& h, layout::Where& where)
{
	auto cur = current_cgroup(h);
	if (!cur)
		return cur.error();
	auto p = layout::classify(cur.value());
	where = p.where;
	switch (p.where) {
	case layout::Where::adopted_main:
	case layout::Where::in_leaf:
		return std::make_pair(p.base, false);
	case layout::Where::inner_node:
		return Error{EPERM, "refusing to run from the inner phasebox cgroup " +
					    quote(cur.value()) + " (no process belongs there)"};
	case layout::Where::portage_build:
		return std::make_pair(p.base, false);
	case layout::Where::outside:
		if (::getuid() == 0)
			return std::make_pair(std::string(layout::leaves), true);
		return Error{EACCES, "no delegated phasebox cgroup above " + quote(cur.value())};
	}
	return Error{EINVAL, "unreachable"};
}

// Processes that escaped their leaf into an inner node of the invocation (on v1 a build
// can write the delegated builds/ files): nothing legitimate lives there.
std::vector<ProcessInfo> sweep_inner(const Hierarchy& h, int basefd, layout::Where where)
{
	std::vector<ProcessInfo> out;
	if (where != layout::Where::adopted_main)
		return out;
	const char* file = h.kind == cgroupfs::Kind::v2 ? "cgroup.procs" : "tasks";
	for (const char* rel : {".", ".."}) {
		UniqueFd fd(::openat(basefd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (!fd.valid())
			continue;
		auto pids = cgroupfs::list_pids(fd.get(), file, false);
		if (!pids)
			continue;
		for (pid_t p : pids.value()) {
			out.push_back(describe_process(p));
			::kill(p, SIGKILL);
		}
	}
	return out;
}

// Root's phase in a per-build cgroup of Portage's FEATURES=cgroup: the leaf goes below it,
// Portage's processes wait in its holder while the leaf exists (common/portage_cgroup.hh).
// Given back when this goes, after the leaf is removed.
struct PortageNest {
	UniqueFd dir;
	std::string path;
	~PortageNest()
	{
		if (!dir.valid())
			return;
		std::vector<Error> errors;
		portage_cgroup::give_back(dir.get(), path, errors);
		for (const auto& e : errors)
			report::ignoring(e);
	}
};

Status nest_in_portage(const Hierarchy& h, const std::string& path, PortageNest& nest)
{
	auto dir = portage_cgroup::open_build(h, path);
	if (!dir)
		return dir.error();
	if (Status s = portage_cgroup::make_room(dir.value().get(), path); !s)
		return s;
	nest.dir = std::move(dir.value());
	nest.path = path;
	return {};
}

// A build-user phase of an adopted invocation on cgroup v2 (in its main cgroup, or in a
// per-build cgroup of Portage's FEATURES=cgroup of that emerge): its leaf comes from the
// keeper of `inv`.
int run_kept(RunOptions& o, Environment& env, const Hierarchy& h, const std::string& inv, const std::string& base,
	     const std::string& portage_build = "")
{
	const std::string hint =
		portage_build.empty()
			? "hint: the keeper 'phasebox-cgroup adopt' leaves for this emerge (" + keeper::socket_path(inv) +
				  ") did not answer; is it still running? see phasebox-cgroup(8)"
			: "hint: Portage's FEATURES=cgroup put this phase into its build cgroup " + quote(portage_build) +
				  "; a build-user phase gets its leaf below it from the keeper that 'phasebox-cgroup "
				  "adopt' (make.conf's PORTAGE_IONICE_COMMAND) leaves for the emerge, and none answered at " +
				  keeper::socket_path(inv) +
				  ": set PORTAGE_IONICE_COMMAND as 'phasebox doctor' says, or FEATURES=-cgroup; see "
				  "phasebox-cgroup(8)";
	std::optional<keeper::Lease> lease;
	auto chan = orphan_count::open();
	if (!chan) {
		report::error(chan.error());
		return ex::syscall;
	}
	ChildSpec spec;
	spec.argv = o.next;
	spec.env = &env;
	spec.after_fork = [&](pid_t pid) -> Status {
		UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
		if (!pfd.valid())
			return sys_error("pidfd_open");
		keeper::Request req;
		req.label = o.package + ":" + o.phase;
		req.limits = o.limits;
		req.warn = o.fallback == "warn";
		req.makeopts = o.makeopts;
		auto l = keeper::request(h, inv, base, pfd.get(), req);
		if (!l)
			return l.error();
		lease = std::move(l.value());
		return {};
	};
	spec.before_exec = [&]() -> Status {
		if (Status s = orphan_count::pass(chan.value(), env); !s)
			return s;
		return drop_capabilities_unless_root();
	};
	Outcome r = run_supervised(spec, false);
	const size_t reaped = orphan_count::read(chan.value());
	if (!r.ran) {
		report::error(r.failure.error, lease ? "" : hint);
		if (lease)
			(void)keeper::release(*lease, r.failure.exit_code, 0);
		return r.failure.exit_code;
	}
	std::vector<ProcessInfo> orphans;
	if (auto pids = cgroupfs::list_pids(lease->dir.get(), "cgroup.procs", true))
		for (pid_t p : pids.value())
			orphans.push_back(describe_process(p));
	const std::string path = lease->path;
	const int status = exit_status_from_wait(r.wstatus);
	auto rec = keeper::release(*lease, status, reaped);
	if (!rec)
		report::error(Error{rec.error().err, "kill what is left in " + quote(path) + ": " + rec.error().what},
			      "the keeper kills it when emerge ends");
	report::notice(elog::Class::qa, orphan_report(o.phase + " of " + o.package, orphans));
	if (rec) {
		// The keeper applied the limits (common/keeper.hh) and says only in the record
		// what it dropped under PHASEBOX_FALLBACK=warn: said here, after the phase.
		for (const auto& d : rec.value().dropped)
			report::message("%s; the phase ran without it (PHASEBOX_FALLBACK=warn)", d.c_str());
		report_phase(rec.value(), o);
	}
	return status;
}

int run(RunOptions& o, Environment& env)
{
	report::set_context(o.package + " " + o.phase);
	report::set_elog(o.elog);
	if (auto rc = parse_limits(o))
		return *rc;
	if (!o.dropped.empty()) {
		// What an earlier link dropped goes on to the next phasebox link, or is said here.
		if (auto fw = isolate::forward_dropped(o.next, o.dropped, isolate::self_dir()))
			o.next = *fw;
		else
			report::message("%s", isolate::warning(o.dropped).c_str());
		o.dropped.clear();
	}
	if (Status s = check_privilege_state(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	const bool warn = o.fallback == "warn";
	auto h = open_hierarchy(to_choice(o.hierarchy));
	if (!h) {
		if (warn)
			return fall_back(o, env, h.error(), false, true);
		report_setup_failure(h.error(), false, true);
		return ex::syscall;
	}
	if (Status s = writable(h.value()); !s) {
		if (warn)
			return fall_back(o, env, s.error(), false, false);
		report_setup_failure(s.error(), false, false);
		return ex::syscall;
	}
	layout::Where where = layout::Where::outside;
	auto base = leaf_base(h.value(), where);
	const bool not_delegated = where == layout::Where::outside && ::getuid() != 0;
	if (!base) {
		if (warn)
			return fall_back(o, env, base.error(), not_delegated, false);
		report_setup_failure(base.error(), not_delegated, false);
		return ex::syscall;
	}
	if (where == layout::Where::adopted_main && h.value().kind == cgroupfs::Kind::v2 && ::getuid() != 0) {
		// base is <top>/inv-N/builds.
		const std::string& b = base.value().first;
		return run_kept(o, env, h.value(), layout::invocation_of(b), b);
	}
	PortageNest nest;
	if (where == layout::Where::portage_build) {
		// Portage's FEATURES=cgroup put this phase into its build's cgroup: the leaf goes
		// below it.  The build user's comes from the keeper of that emerge's invocation.
		auto pb = layout::portage_build(base.value().first);
		if (::getuid() != 0)
			return run_kept(o, env, h.value(), layout::invocation_name(pb ? pb->emerge : 0), base.value().first,
					base.value().first);
		if (Status s = nest_in_portage(h.value(), base.value().first, nest); !s) {
			if (warn)
				return fall_back(o, env, s.error(), false, false);
			report_setup_failure(s.error(), false, false);
			return ex::syscall;
		}
	}
	auto leaf = create_leaf(h.value(), base.value().first, base.value().second,
				o.package + ":" + o.phase);
	if (!leaf) {
		if (warn)
			return fall_back(o, env, leaf.error(), not_delegated, false);
		report_setup_failure(leaf.error(), not_delegated, false);
		return ex::syscall;
	}
	Leaf& l = leaf.value();
	std::vector<Error> reap_errors;
	reap_stale_leaves(l.base.get(), h.value().kind, l.name, seconds(o.kill_timeout), reap_errors);
	for (const auto& e : reap_errors)
		report::ignoring(e);

	AttachRequest ar;
	ar.main = &h.value();
	ar.base_path = base.value().first;
	ar.leafdir = l.dir.get();
	ar.label = o.package + ":" + o.phase;
	ar.warn = o.fallback == "warn";
	auto att = attach(ar, o.limits);
	if (!att) {
		report::error(att.error(), "hint: see 'Limits and accounting' in phasebox(8); PHASEBOX_FALLBACK=warn "
					   "runs the phase without the limits that cannot be applied");
		l.lock.reset();
		l.dir.reset();
		(void)cgroupfs::remove_tree(l.base.get(), l.name);
		return ex::syscall;
	}
	for (const auto& e : att.value().dropped)
		report::message("%s; running without it (PHASEBOX_FALLBACK=warn)", e.what.c_str());

	auto chan = orphan_count::open();
	if (!chan) {
		report::error(chan.error());
		detach(att.value(), reap_errors);
		l.lock.reset();
		l.dir.reset();
		(void)cgroupfs::remove_tree(l.base.get(), l.name);
		return ex::syscall;
	}
	const auto kind = h.value().kind;
	const int leaf_fd = l.dir.get();
	ChildSpec spec;
	spec.argv = o.next;
	spec.env = &env;
	spec.before_exec = [&]() -> Status {
		if (Status s = enter_mirrors(att.value(), 0); !s)
			return s;
		if (Status s = cgroupfs::enter(leaf_fd, kind); !s)
			return Error{s.error().err, "enter " + quote(l.path) + ": " + s.error().what};
		if (Status s = orphan_count::pass(chan.value(), env); !s)
			return s;
		return drop_capabilities_unless_root();
	};
	const double start = now_s();
	Outcome r = run_supervised(spec, false);
	const double end = now_s();
	const size_t reaped = orphan_count::read(chan.value());
	std::vector<Error> detach_errors;
	if (!r.ran) {
		report::error(r.failure.error);
		detach(att.value(), detach_errors);
		l.lock.reset();
		l.dir.reset();
		(void)cgroupfs::remove_tree(l.base.get(), l.name);
		return r.failure.exit_code;
	}
	int wstatus = r.wstatus;

	std::vector<ProcessInfo> orphans;
	if (auto pids = cgroupfs::list_pids(l.dir.get(), kind == cgroupfs::Kind::v2 ? "cgroup.procs" : "tasks", true))
		for (pid_t p : pids.value())
			orphans.push_back(describe_process(p));
	if (Status s = cgroupfs::kill_all(l.dir.get(), kind, seconds(o.kill_timeout)); !s)
		report::error(Error{s.error().err, "kill what is left in " + quote(l.path) + ": " + s.error().what},
			      "the leaf stays; the next phasebox run reaps it");
	for (auto& p : sweep_inner(h.value(), l.base.get(), where))
		orphans.push_back(p);
	report::notice(elog::Class::qa, orphan_report(o.phase + " of " + o.package, orphans));

	accounting::Record rec;
	rec.package = o.package;
	rec.phase = o.phase;
	rec.uid = static_cast<long>(::getuid());
	rec.status = exit_status_from_wait(wstatus);
	rec.start = start;
	rec.wall_s = end - start;
	rec.usage = read_usage(l.dir.get(), kind, att.value());
	if (!rec.usage.cpu_user_s) {
		// No cpu.stat (the v1 freezer): what this process's waited-for descendants used.
		struct rusage ru{};
		if (::getrusage(RUSAGE_CHILDREN, &ru) == 0) {
			rec.usage.cpu_user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
			rec.usage.cpu_system_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
		}
	}
	rec.limits = o.limits;
	for (const auto& e : att.value().dropped)
		rec.dropped.push_back(e.what);
	rec.orphans = orphans.size() + reaped;
	rec.makeopts = o.makeopts;
	rec.writer = prog;
	report_phase(rec, o);
	// Only root writes the shared log (see accounting.hh); a nested run as the build user
	// says its line in the build log and leaves the log alone.
	if (::geteuid() == 0)
		if (Status s = accounting::append(o.log, accounting::to_json(rec)); !s)
			report::ignoring(Error{s.error().err, "append to the accounting log: " + s.error().what});

	detach(att.value(), detach_errors);
	for (const auto& e : detach_errors)
		report::ignoring(e);
	l.lock.reset();
	l.dir.reset();
	if (Status s = cgroupfs::remove_tree(l.base.get(), l.name); !s)
		report::ignoring(Error{s.error().err, "remove " + quote(l.path) + ": " + s.error().what});
	return rec.status;
}

// --- adopt -------------------------------------------------------------------------

Status chown_at(int dirfd, const char* name, uid_t uid, gid_t gid)
{
	if (::fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
		return sys_error(std::string("chown ") + quote(name));
	return {};
}

// An invocation whose main cgroup is empty has lost its emerge: kill and remove it.
void reap_stale_invocations(const Hierarchy& h, int topfd, const std::string& keep)
{
	int dup = ::openat(topfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
	if (!d)
		return;
	std::vector<std::string> names;
	while (struct dirent* e = ::readdir(d))
		if (e->d_type == DT_DIR && e->d_name != keep && layout::is_invocation_name(e->d_name))
			names.emplace_back(e->d_name);
	::closedir(d);
	const char* procs = h.kind == cgroupfs::Kind::v2 ? "cgroup.procs" : "tasks";
	for (const auto& n : names) {
		auto inv = cgroupfs::open_dir(topfd, n);
		if (!inv)
			continue;
		auto main_fd = cgroupfs::open_dir(inv.value().get(), "main");
		if (main_fd) {
			auto pids = cgroupfs::list_pids(main_fd.value().get(), procs, true);
			if (!pids || !pids.value().empty())
				continue; // its emerge is alive
		}
		inv.value().reset();
		if (Status s = keeper::reap_invocation(h, topfd, n, seconds(10)); !s)
			report::ignoring(Error{s.error().err, "reap stale invocation " + quote(n) + ": " + s.error().what});
	}
}

// cgroup v1 only: builds/ to the build user.  v1 lets a process move only processes of its
// own uid, so the user can move its phases out of main (tasks of the invocation root is not
// needed on v1) and nothing of root's.  (v2 does not check the owner: see keeper.hh.)
Status delegate(int buildsfd, uid_t uid, gid_t gid)
{
	if (Status s = chown_at(buildsfd, ".", uid, gid); !s)
		return s;
	for (const char* f : {"cgroup.procs", "tasks"})
		if (Status s = chown_at(buildsfd, f, uid, gid); !s)
			return s;
	return {};
}

// When PID's parent already is in an invocation's main cgroup, move PID there too.
// Fails (ENOENT) when it is not.
Status join_parent_invocation(const Hierarchy& h, long pid)
{
	auto status = read_file("/proc/" + std::to_string(pid) + "/status");
	if (!status)
		return status.error();
	auto pos = status.value().find("\nPPid:");
	if (pos == std::string::npos)
		return Error{ENOENT, "no parent"};
	long ppid = std::strtol(status.value().c_str() + pos + 6, nullptr, 10);
	if (ppid <= 0)
		return Error{ENOENT, "no parent"};
	auto pcur = current_cgroup(h, static_cast<int>(ppid));
	if (!pcur)
		return pcur.error();
	if (layout::classify(pcur.value()).where != layout::Where::adopted_main)
		return Error{ENOENT, "parent not adopted"};
	auto rel = h.relative(pcur.value());
	if (!rel)
		return rel.error();
	auto dir = cgroupfs::open_dir(h.root.get(), rel.value());
	if (!dir)
		return dir.error();
	return write_file_at(dir.value().get(), "cgroup.procs", std::to_string(pid));
}

// <top>/inv-PID/{main,builds}: PID into main, builds delegated to `user`.  The top is at
// the root of the hierarchy, or below PID's own cgroup where that was delegated with the
// controllers (choose_anchor()).
Status prepare_invocation(const Hierarchy& h, long pid, const std::string& user, const std::string& log)
{
	uid_t uid = 0;
	gid_t gid = 0;
	if (struct passwd* pw = ::getpwnam(user.c_str())) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		report::ignoring(Error{0, "no user " + quote(user) +
					      " to delegate to; only root phases will get a cgroup"});
	}
	Anchor anchor = choose_anchor(h, static_cast<pid_t>(pid));
	const std::string top_path = layout::top_below(anchor.path);
	auto top_rel = h.relative(top_path);
	if (!top_rel)
		return top_rel.error();
	auto top = cgroupfs::open_dir(h.root.get(), top_rel.value(), true, 0755);
	if (!top)
		return top.error();
	// Serializes adopt runs: the stale-invocation check and the creation must not interleave.
	if (::flock(top.value().get(), LOCK_EX) != 0)
		return sys_error("lock " + quote(top_path));
	std::string name = layout::invocation_name(pid);
	reap_stale_invocations(h, top.value().get(), name);
	auto inv = cgroupfs::open_dir(top.value().get(), name, true, 0755);
	if (!inv)
		return inv.error();
	auto main_fd = cgroupfs::open_dir(inv.value().get(), "main", true, 0755);
	if (!main_fd)
		return main_fd.error();
	auto builds = cgroupfs::open_dir(inv.value().get(), "builds", true, 0755);
	if (!builds)
		return builds.error();
	const bool v2 = h.kind == cgroupfs::Kind::v2;
	if (uid != 0 && !v2)
		if (Status s = delegate(builds.value().get(), uid, gid); !s)
			return s;
	UniqueFd emerge(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
	if (!emerge.valid())
		return sys_error("pidfd_open " + std::to_string(pid));
	if (Status s = write_file_at(main_fd.value().get(), "cgroup.procs", std::to_string(pid)); !s)
		return s;
	// What else is in the anchor (emerge's other processes, this one) waits in its
	// init.scope, so that the anchor may give the controllers to the top.
	if (Status s = prepare_anchor(h, anchor); !s)
		report::ignoring(Error{s.error().err, "the cgroup " + quote(anchor.path) + " emerge runs in: " +
							      s.error().what + "; the limits may not apply there"});
	if (uid != 0 && v2) {
		::fcntl(emerge.get(), F_SETFD, FD_CLOEXEC);
		keeper::Config kc{name, uid, gid, 10, log};
		kc.top = top_path;
		return keeper::start(h, emerge.get(), kc);
	}
	return {};
}

int adopt(AdoptOptions& o, Environment& env)
{
	report::set_context("adopt " + o.pid);
	if (Status s = accounting::check_log_path(o.log); !s) {
		report::failure("--log: %s", s.error().what.c_str());
		return ex::usage;
	}
	auto pid = layout::parse_pid(o.pid);
	if (!pid) {
		report::failure("not a process id: '%s'", o.pid.c_str());
		return ex::usage;
	}
	if (Status s = check_privilege_state(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	if (::geteuid() != 0) {
		report::error(Error{EPERM, "adopt must run as root"},
			      "hint: it belongs in make.conf's PORTAGE_IONICE_COMMAND, which emerge runs as root");
		return ex::syscall;
	}
	auto h = open_hierarchy(to_choice(o.hierarchy));
	if (!h) {
		report_setup_failure(h.error(), false, true);
		return ex::syscall;
	}
	auto cur = current_cgroup(h.value(), static_cast<int>(*pid));
	if (!cur) {
		report::error(cur.error());
		return ex::syscall;
	}
	if (layout::classify(cur.value()).where != layout::Where::adopted_main) {
		// emerge runs the hook for itself and then for its multiprocessing forkserver,
		// a child of its own: the forkserver joins its parent's invocation.
		if (!join_parent_invocation(h.value(), *pid).ok())
			if (Status s = prepare_invocation(h.value(), *pid, o.user, o.log); !s) {
				report_setup_failure(s.error(), false, false);
				return ex::syscall;
			}
	}
	if (o.next.empty())
		return ex::ok;
	ChildSpec spec;
	spec.argv = o.next;
	spec.env = &env;
	SpawnFailure f = exec_next(spec);
	report::error(f.error);
	return f.exit_code;
}

void add_limit_options(CLI::App& app, RunOptions& o)
{
	for (auto k : limits::all_keys)
		app.add_option(std::string("--") + limits::option(k), o.limit_text[static_cast<size_t>(k)],
			       std::string("limit: ") + limits::variable(k) + ", " + limits::accepted(k));
	app.add_option("--makeopts", o.makeopts, "MAKEOPTS of the phase, for the accounting record");
	app.add_option("--log", o.log, "the accounting log (root writes it; a path ending in .jsonl)");
	app.add_option("--fallback", o.fallback,
		       "fail (the default), or warn: without a cgroup a pid namespace kills what is left, "
		       "a limit that cannot be applied is dropped; each said in one warning")
		->check(CLI::IsMember({"fail", "warn"}));
}

std::optional<int> parse_run(const cli::Split& args, RunOptions& o)
{
	CLI::App app{"Run PROG in a cgroup of its own; kill what it leaves behind.\n"
		     "Usage: phasebox-cgroup [OPTIONS] -- PROG [ARGS...]\n"
		     "       phasebox-cgroup adopt [--user NAME] [--log PATH] PID [-- PROG [ARGS...]]\n"
		     "       phasebox-cgroup register --package CATEGORY/PF [LIMIT OPTIONS]",
		     prog};
	app.add_option("--package", o.package, "the package (CATEGORY/PF), for messages and the leaf name");
	app.add_option("--phase", o.phase, "the phase (e.g. src_compile), for messages and the leaf name");
	app.add_option("--hierarchy", o.hierarchy, "cgroup2 (v2), the v1 freezer (v1), or auto")
		->check(CLI::IsMember({"auto", "v2", "v1"}));
	app.add_option("--kill-timeout", o.kill_timeout, "seconds to wait for killed processes to go")
		->check(CLI::Range(1u, 600u));
	add_limit_options(app, o);
	app.add_option("--dropped", o.dropped, "what an earlier link of the chain dropped (said in the one warning)");
	cli::add_elog_option(app, o.elog);
	app.add_option("--summary", o.summary, "the per-phase accounting line on stderr: show (the default) or quiet")
		->check(CLI::IsMember({"show", "quiet"}));
	if (auto rc = cli::parse(app, args.own, prog))
		return rc;
	if (auto rc = cli::require_next(args, prog))
		return rc;
	o.next = args.next;
	return std::nullopt;
}

// Root, from a package's pkg_setup: tell this invocation's keeper the package's limits,
// which it then applies to the build user's phases whatever they ask for.  Nothing to do
// where there is no keeper (cgroup v1, or not below an adopted invocation): there every
// phase applies its own limits itself.
int register_limits(RunOptions& o)
{
	report::set_context(o.package + " pkg_setup");
	report::set_elog(o.elog);
	if (auto rc = parse_limits(o))
		return *rc;
	if (Status s = check_privilege_state(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	if (::geteuid() != 0) {
		report::error(Error{EPERM, "register must run as root"},
			      "hint: the bashrc snippet runs it in pkg_setup, which Portage runs as root");
		return ex::syscall;
	}
	auto h = open_hierarchy(to_choice(o.hierarchy));
	if (!h || h.value().kind != cgroupfs::Kind::v2)
		return ex::ok;
	auto cur = current_cgroup(h.value());
	if (!cur)
		return ex::ok;
	// Root's pkg_setup runs in the invocation's main cgroup, or, with Portage's
	// FEATURES=cgroup, in the build's cgroup of that emerge.
	auto p = layout::classify(cur.value());
	std::string inv;
	if (p.where == layout::Where::adopted_main)
		inv = layout::invocation_of(p.base);
	else if (auto pb = p.where == layout::Where::portage_build ? layout::portage_build(p.base) : std::nullopt)
		inv = layout::invocation_name(pb->emerge);
	if (inv.empty())
		return ex::ok;
	keeper::Request req;
	req.label = o.package;
	req.limits = o.limits;
	req.warn = o.fallback == "warn";
	req.makeopts = o.makeopts;
	req.log = o.log;
	if (Status s = keeper::register_package(inv, req); !s) {
		report::error(s.error(), "hint: the keeper 'phasebox-cgroup adopt' leaves for this emerge did not "
					 "answer; is it still running? see phasebox-cgroup(8)");
		return ex::syscall;
	}
	return ex::ok;
}

std::optional<int> parse_register(const cli::Split& args, RunOptions& o)
{
	CLI::App app{"Register a package's limits with this emerge's keeper (root, from pkg_setup).\n"
		     "Usage: phasebox-cgroup register --package CATEGORY/PF [LIMIT OPTIONS]",
		     "phasebox-cgroup register"};
	app.add_option("--package", o.package, "the package (CATEGORY/PF)")->required();
	app.add_option("--hierarchy", o.hierarchy, "cgroup2 (v2), the v1 freezer (v1), or auto")
		->check(CLI::IsMember({"auto", "v2", "v1"}));
	add_limit_options(app, o);
	cli::add_elog_option(app, o.elog);
	std::vector<std::string> own(args.own.begin() + 1, args.own.end());
	if (auto rc = cli::parse(app, own, prog))
		return rc;
	if (args.had_separator) {
		std::fprintf(stderr, "%s: register takes no '-- PROG'\n", prog);
		return ex::usage;
	}
	return std::nullopt;
}

std::optional<int> parse_adopt(const cli::Split& args, AdoptOptions& o)
{
	CLI::App app{"Delegate a cgroup subtree to the build user and move PID into it (root);\n"
		     "on cgroup2 its keeper removes the subtree, and what is left in it, when PID ends.\n"
		     "Usage: phasebox-cgroup adopt [--user NAME] PID [-- PROG [ARGS...]]",
		     "phasebox-cgroup adopt"};
	app.add_option("--user", o.user, "the user the phases run as (FEATURES=userpriv)");
	app.add_option("--hierarchy", o.hierarchy, "cgroup2 (v2), the v1 freezer (v1), or auto")
		->check(CLI::IsMember({"auto", "v2", "v1"}));
	app.add_option("--log", o.log, "the keeper's accounting log for the build user's phases");
	app.add_option("pid", o.pid, "the process to adopt (emerge passes ${PID})")->required();
	std::vector<std::string> own(args.own.begin() + 1, args.own.end());
	if (auto rc = cli::parse(app, own, prog))
		return rc;
	o.next = args.next;
	return std::nullopt;
}

} // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): only CLI11's construction errors (see cli.hh)
int main(int argc, char** argv)
{
	report::init(prog);
	Environment env = Environment::capture();
	sandbox_off_for_self();
	auto args = cli::split_at_separator(argc, argv);
	if (!args.own.empty() && args.own[0] == "register") {
		RunOptions o;
		if (auto rc = parse_register(args, o))
			return *rc;
		return register_limits(o);
	}
	if (!args.own.empty() && args.own[0] == "adopt") {
		AdoptOptions o;
		if (auto rc = parse_adopt(args, o))
			return *rc;
		return adopt(o, env);
	}
	RunOptions o;
	if (auto rc = parse_run(args, o))
		return *rc;
	return run(o, env);
}
