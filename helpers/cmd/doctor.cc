// phasebox doctor — what phasebox can and cannot do here, before a build finds out.
//
//   phasebox doctor [--features "TOKENS"] [--fallback fail|warn] [--config-root DIR] [--json]
//
// Reports the cgroup layout (unified/hybrid/legacy, the hierarchy phasebox uses, writable,
// delegated, controllers), user namespaces (sysctls, a probe), no_new_privs, the
// capability bounding set, the seccomp mode, which namespace operations are refused (each
// probed with the very steps phasebox-unshare takes, in a throw-away child), the container
// it runs in (markers alone are not proof), whether sys-apps/sandbox's ptrace works, the
// helpers of its own installation (common/install.hh) and whether bash loads their
// builtin; then the Portage configuration (common/portage_config.hh): Portage's version,
// whether the bashrc in effect sources the snippet first and once, the root hook in
// PORTAGE_IONICE_COMMAND, unknown-features-filter, and what Portage's own namespace and
// cgroup FEATURES give next to phasebox's; and for every phasebox FEATURES token: works /
// fails and why / degrades under PHASEBOX_FALLBACK=warn.  The verdicts are for the user
// doctor runs as (run it as portage too: the userpriv phases run as that user); as a
// non-root user outside an emerge, what only an emerge's hook can give is predicted from
// the configuration and said to be so.  FEATURES, PHASEBOX_FALLBACK and
// PORTAGE_IONICE_COMMAND come from --features/--fallback, else from Portage (one
// `portageq envvar`, with PORTAGE_CONFIGROOT=--config-root when given), else from the
// environment; with none of them, every token counts as asked for.  Configuration files
// are read, never run: doctor may run as root.
//
// Exit status: 0 when everything the configuration asks for works as asked; 1 when
// something does not (it fails, or only degrades under warn); 100 usage.
#include "cmd/command.hh"
#include "common/cli.hh"
#include "common/diagnose.hh"
#include "common/exit_status.hh"
#include "common/fd.hh"
#include "common/file.hh"
#include "common/install.hh"
#include "common/isolate.hh"
#include "common/portage_config.hh"
#include "common/probes.hh"
#include "common/spawn.hh"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace phasebox;
using ojson = nlohmann::ordered_json;

namespace
{

struct Options {
	std::string features;
	bool features_given = false;
	std::string fallback;
	std::string config_root; // --config-root, "" when not given
	bool json = false;
};

struct Check {
	std::string name;
	bool ok = true;
	std::string detail;
	std::string remedy;   // for a ✘
	bool known = true;    // false: doctor cannot know here ("?"); detail says why
	bool portage = false; // a row of the Portage configuration (printed in its own section)
};

struct Verdict {
	std::string token;
	bool asked = false;
	std::string verdict; // works, fails, degrades
	std::string detail;
	std::string remedy;
	std::string cause = "none"; // diag::cause_name of why it does not work as asked
};

// Run argv (searched in PATH) with `env` added to the environment; its status and what it
// wrote on stdout, and on stderr: into `out` too with Stderr::merge, into `err` with
// Stderr::keep, to /dev/null with Stderr::drop.  Status -1 when it could not be run or was
// killed.  Each output is read up to 1 MiB.
struct Captured {
	int status = -1;
	std::string out;
	std::string err;
};
enum class Stderr { drop, merge, keep };

Captured capture(std::vector<std::string> argv, Stderr how,
                 const std::vector<std::pair<std::string, std::string>>& env = {})
{
	Captured c;
	int p[2];
	if (argv.empty() || ::pipe2(p, O_CLOEXEC) != 0)
		return c;
	UniqueFd errfd;
	if (how == Stderr::keep)
		errfd.reset(::memfd_create("phasebox-doctor-stderr", MFD_CLOEXEC));
	std::vector<char*> args = argv_pointers(argv);
	pid_t pid = ::fork();
	if (pid == 0) {
		::dup2(p[1], 1);
		if (how == Stderr::merge) {
			::dup2(p[1], 2);
		} else if (how == Stderr::keep && errfd.valid()) {
			::dup2(errfd.get(), 2);
		} else {
			int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (devnull >= 0)
				::dup2(devnull, 2);
		}
		for (const auto& [k, v] : env)
			::setenv(k.c_str(), v.c_str(), 1);
		::execvp(args[0], args.data());
		_exit(127);
	}
	::close(p[1]);
	char buf[4096];
	ssize_t n;
	while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && c.out.size() < (1U << 20))
			c.out.append(buf, static_cast<size_t>(n));
	::close(p[0]);
	int st = 0;
	if (pid > 0 && ::waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		c.status = WEXITSTATUS(st);
	if (errfd.valid())
		if (auto e = pread_all(errfd.get()))
			c.err = e.value().substr(0, 1U << 20);
	while (!c.out.empty() && c.out.back() == '\n')
		c.out.pop_back();
	return c;
}

std::string errtext(const Error& e)
{
	return e.what + (e.err ? std::string(": ") + std::strerror(e.err) : "");
}

std::string failure_text(const isolate::NsFailure& f)
{
	return errtext(f.error);
}

bool has_token(const std::string& features, const std::string& t)
{
	std::istringstream in(features);
	std::string w;
	while (in >> w)
		if (w == t)
			return true;
	return false;
}

// What Portage says, through one `portageq envvar` and `portageq --version`.
struct PortageInfo {
	bool found = false;                      // portageq answered
	std::map<std::string, std::string> vars; // the variables asked for that are set
	std::vector<std::string> warned;         // tokens it warned about as unknown
	std::string version;                     // "" when unknown
	std::string version_source;
};

struct Report {
	std::vector<Check> checks;
	std::vector<Verdict> verdicts;
	diag::Host host;
	std::string features; // the FEATURES judged
	std::string features_source;
	std::string fallback;
	std::string ionice;        // PORTAGE_IONICE_COMMAND
	std::string ionice_source; // "" when neither Portage nor the environment had it
	install::Helpers helpers;  // this installation's helpers (install::helpers())
	PortageInfo portage;
	std::string config_root; // PORTAGE_CONFIGROOT, ending in '/'
	std::string config_root_source;
	bool config_checked = false; // a Portage configuration was there to read
	portage::BashrcScan bashrc;
	portage::Hook hook;
	bool emerge_above = false; // doctor runs inside an emerge (an ancestor is one)
	std::vector<portage::Overlap> overlaps;
	std::vector<std::string> filtered; // phasebox tokens unknown-features-filter removes

	bool all_asked() const { return features_source.rfind("nowhere", 0) == 0; }
	// A token is asked for when FEATURES has it, or had it before unknown-features-filter.
	bool asks(const std::string& token) const
	{
		return all_asked() || has_token(features, token) ||
		       std::find(filtered.begin(), filtered.end(), token) != filtered.end();
	}
	// Userpriv phases are to get a cgroup: the hook is needed.
	bool route_needed() const
	{
		return asks("phasebox-cgroup") && (all_asked() || has_token(features, "userpriv"));
	}
	bool any_phasebox_token() const
	{
		for (const char* t :
		     {"phasebox-cgroup", "phasebox-network-sandbox", "phasebox-ipc-sandbox",
		      "phasebox-pid-sandbox", "phasebox-mount-sandbox"})
			if (asks(t))
				return true;
		return false;
	}
};

// Under fail, PHASEBOX_FALLBACK=warn is one more remedy.
std::string with_warn(const std::string& remedy, const Report& r)
{
	if (r.fallback == "warn")
		return remedy;
	return remedy.empty() ? "PHASEBOX_FALLBACK=warn" : remedy + "; or PHASEBOX_FALLBACK=warn";
}

// A namespace plan as phasebox-unshare would make it for this user (PHASEBOX_USERNS=auto).
isolate::NsPlan plan_for(int flags)
{
	return isolate::NsPlan{flags, ::geteuid() != 0, "localhost"};
}

Verdict namespace_verdict(const std::string& token, int flags, const Report& r)
{
	Verdict v{token, false, "works", "", ""};
	isolate::NsPlan plan = plan_for(flags);
	auto f = isolate::probe(plan);
	if (!f) {
		v.detail = isolate::describe_namespaces(flags) +
		           (plan.userns ? " in a user namespace" : "");
		return v;
	}
	auto d = isolate::diagnose(*f, plan, r.host);
	v.cause = diag::cause_name(d.cause);
	v.detail = failure_text(*f) + (d.text.empty() ? "" : " (" + d.text + ")");
	v.remedy = with_warn(d.remedy, r);
	if (r.fallback != "warn") {
		v.verdict = "fails";
		return v;
	}
	v.verdict = "degrades";
	isolate::NsPlan u = plan;
	u.userns = true;
	if (!plan.userns && !isolate::probe(u))
		v.detail += "; under warn: made inside a user namespace instead";
	else
		v.detail += "; under warn: dropped";
	return v;
}

// A non-root user outside an emerge, with the hook configured: whether a phase will be
// inside an adopted invocation cannot be probed, only predicted from the configuration.
bool delegation_predicted(const probes::CgroupProbe& p, const Report& r)
{
	return ::geteuid() != 0 && p.hierarchy && !p.read_only && p.not_delegated &&
	       !r.emerge_above && r.hook.adopt && r.hook.this_installation && r.hook.pid;
}

Verdict cgroup_verdict(const probes::CgroupProbe& p, const Report& r)
{
	Verdict v{"phasebox-cgroup", false, "works", "", ""};
	if (p.leaf) {
		v.detail = "leaves below " + p.mount + " (" + p.kind + ")";
		return v;
	}
	if (delegation_predicted(p, r)) {
		v.detail = "predicted, not probed (no emerge runs above this process): emerge runs "
		           "the hook, and each phase of uid " +
		           std::to_string(::geteuid()) + " gets a leaf below " + p.mount + " (" +
		           p.kind + ")";
		return v;
	}
	auto d = diag::diagnose_cgroup(p.leaf.error().err, p.not_delegated, !p.hierarchy, r.host);
	v.cause = diag::cause_name(d.cause);
	v.detail = errtext(p.leaf.error()) + (d.text.empty() ? "" : " (" + d.text + ")");
	v.remedy = with_warn(d.remedy, r);
	if (r.fallback != "warn") {
		v.verdict = "fails";
		return v;
	}
	v.verdict = "degrades";
	v.detail += isolate::probe(plan_for(CLONE_NEWPID | CLONE_NEWNS))
	                ? "; under warn: the subreaper phasebox-reap alone kills leftovers"
	                : "; under warn: a pid namespace kills leftovers instead (no limits, no "
	                  "accounting)";
	return v;
}

// The "cgroup delegated" row of a non-root user.
Check delegated_check(const probes::CgroupProbe& cg, const Report& r)
{
	const std::string remedy = diag::diagnose_cgroup(EACCES, true, false, r.host).remedy;
	if (!cg.not_delegated)
		return {"cgroup delegated", true, "inside an adopted invocation", remedy};
	if (r.emerge_above)
		return {"cgroup delegated", false,
		        "no adopted invocation above this process, inside an emerge: its hook did "
		        "not run phasebox-cgroup adopt, or failed",
		        remedy};
	if (delegation_predicted(cg, r))
		return {"cgroup delegated", true,
		        "cannot know outside an emerge (none runs above this process); when emerge "
		        "runs, its hook (PORTAGE_IONICE_COMMAND, from " +
		            r.ionice_source + ") adopts it and each phase of uid " +
		            std::to_string(::geteuid()) + " gets a leaf of its own",
		        remedy, false};
	const std::string hook =
	    r.ionice_source.empty()
	        ? "PORTAGE_IONICE_COMMAND cannot be read here (no portageq, not in the environment)"
	    : !r.hook.set
	        ? "PORTAGE_IONICE_COMMAND is not set (from " + r.ionice_source + ")"
	        : "PORTAGE_IONICE_COMMAND does not run this installation's phasebox-cgroup "
	          "adopt ${PID} (from " +
	              r.ionice_source + ")";
	return {"cgroup delegated", false,
	        "no adopted invocation above this process (outside an emerge), and " + hook +
	            ": nothing says emerge will delegate a cgroup to uid " +
	            std::to_string(::geteuid()),
	        remedy};
}

void system_checks(Report& r, const probes::CgroupProbe& cg)
{
	const diag::ProcStatus& s = r.host.status;
	r.checks.push_back(
	    {"cgroup layout", cg.layout != "none",
	     cg.layout + (cg.hierarchy ? ", phasebox uses " + cg.kind + " at " + cg.mount : ""),
	     "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup)"});
	r.checks.push_back(
	    {"cgroup controllers", true, cg.controllers.empty() ? "none" : cg.controllers, ""});
	if (cg.hierarchy) {
		r.checks.push_back({"cgroup writable", !cg.read_only,
		                    cg.read_only ? "mounted read-only" : "read-write",
		                    diag::diagnose_cgroup(EROFS, false, false, r.host).remedy});
		if (::geteuid() != 0)
			r.checks.push_back(delegated_check(cg, r));
		else
			r.checks.push_back(
			    {"cgroup leaf (root)", cg.leaf.ok(),
			     cg.leaf ? "made and removed a leaf" : errtext(cg.leaf.error()),
			     diag::diagnose_cgroup(cg.leaf ? 0 : cg.leaf.error().err, false, false,
			                           r.host)
			         .remedy});
	}
	std::string sysctls =
	    "user.max_user_namespaces=" + (r.host.max_user_namespaces
	                                       ? std::to_string(*r.host.max_user_namespaces)
	                                       : std::string("?"));
	if (r.host.unprivileged_userns_clone)
		sysctls += ", kernel.unprivileged_userns_clone=" +
		           std::to_string(*r.host.unprivileged_userns_clone);
	if (r.host.apparmor_restrict_userns)
		sysctls += ", kernel.apparmor_restrict_unprivileged_userns=" +
		           std::to_string(*r.host.apparmor_restrict_userns);
	auto u = isolate::probe(isolate::NsPlan{0, true, "localhost"});
	diag::Diagnosis ud =
	    u ? isolate::diagnose(*u, isolate::NsPlan{0, true, "localhost"}, r.host)
	      : diag::Diagnosis{};
	r.checks.push_back(
	    {"user namespaces", !u,
	     sysctls + (u ? "; " + failure_text(*u) + (ud.text.empty() ? "" : " (" + ud.text + ")")
	                  : "; a user namespace can be made"),
	     ud.remedy});
	r.checks.push_back(
	    {"no_new_privs", true,
	     s.no_new_privs
	         ? "set (file capabilities and setuid grant nothing; phasebox needs neither)"
	         : "not set",
	     ""});
	r.checks.push_back({"bounding set", r.host.euid != 0 || s.has_bnd(CAP_SYS_ADMIN),
	                    s.has_bnd(CAP_SYS_ADMIN)
	                        ? "has cap_sys_admin (" +
	                              std::to_string(__builtin_popcountll(s.cap_bnd)) +
	                              " capabilities)"
	                        : "without cap_sys_admin: " + diag::capability_names(s.cap_bnd),
	                    diag::diagnose_unshare(CLONE_NEWNET, EPERM, false, r.host).remedy});
	r.checks.push_back({"seccomp", true,
	                    s.seccomp == 0   ? "off"
	                    : s.seccomp == 1 ? "strict"
	                                     : "filter (the probes below show what it refuses)",
	                    ""});
	struct Op {
		const char* name;
		int flags;
	};
	for (Op op : {Op{"net+uts", CLONE_NEWNET | CLONE_NEWUTS}, Op{"ipc", CLONE_NEWIPC},
	              Op{"pid+/proc", CLONE_NEWPID | CLONE_NEWNS}, Op{"mount", CLONE_NEWNS}})
		for (bool in_userns : {false, true}) {
			if (!in_userns && r.host.euid != 0)
				continue; // a non-root user can only ever make them inside a user
				          // namespace
			isolate::NsPlan plan{op.flags, in_userns, "localhost"};
			auto f = isolate::probe(plan);
			diag::Diagnosis d =
			    f ? isolate::diagnose(*f, plan, r.host) : diag::Diagnosis{};
			r.checks.push_back(
			    {std::string("unshare ") + op.name + (in_userns ? " in userns" : ""),
			     !f,
			     f ? failure_text(*f) + (d.text.empty() ? "" : " (" + d.text + ")")
			       : "works",
			     d.remedy});
		}
	const auto& c = r.host.container;
	r.checks.push_back({"container", true,
	                    c.kind == diag::ContainerKind::none
	                        ? "none detected"
	                        : std::string(diag::container_name(c.kind)) +
	                              (c.confirmed ? "" : " (unconfirmed)") + ": " + c.evidence,
	                    ""});
	Status pt = probes::ptrace_like_sandbox();
	auto yama = probes::yama_ptrace_scope();
	std::string ydesc = yama ? "yama ptrace_scope=" + std::to_string(*yama) : "no Yama";
	std::string premedy = diag::for_container(
	    c,
	    c.kind == diag::ContainerKind::docker   ? "docker run --cap-add=SYS_PTRACE (needed "
	                                              "before Docker 19.03 or on kernels before 4.8)"
	    : c.kind == diag::ContainerKind::podman ? "podman run --cap-add=SYS_PTRACE"
	                                            : "",
	    yama && *yama == 3 ? "Yama's ptrace_scope is 3, which only a reboot lowers"
	                       : "allow ptrace(2) and process_vm_readv(2) to the build (a seccomp "
	                         "filter refusing them, or CAP_SYS_PTRACE)");
	r.checks.push_back(
	    {"sandbox ptrace", pt.ok(),
	     (pt ? std::string("a traced child, PTRACE_O_EXITKILL and process_vm_readv work")
	         : errtext(pt.error())) +
	         "; " + ydesc,
	     premedy});
}

// Where this program's own installation keeps the helpers (common/install.hh): next to
// it, else LIBEXECDIR as built.  The rows and the remedies below name what is there.
void helpers_check(Report& r)
{
	const std::string exe = install::self_exe();
	const bool found = ::access((r.helpers.dir + "/phasebox-cgroup").c_str(), X_OK) == 0;
	const std::string self = exe.empty() ? std::string("this program") : exe;
	const std::string how =
	    r.helpers.as_built ? "LIBEXECDIR as built; none next to " + self : "next to " + self;
	r.checks.push_back(
	    {"helpers", found,
	     r.helpers.dir + " (" + how + ")" + (found ? "" : ": no phasebox-cgroup there"),
	     "install phasebox (make install, with the PREFIX or BINDIR and LIBEXECDIR it was "
	     "built with)"});
}

// How phases are isolated here: in their own shell (bash loads the builtin) or re-executed.
// Either works: this row informs, it never fails the verdict.
void method_check(Report& r)
{
	std::string so = r.helpers.dir + "/phasebox-builtin.so";
	if (char* real = ::realpath(so.c_str(), nullptr)) {
		so = real;
		std::free(real);
	}
	const std::string script = "enable -f \"$1\" phasebox_isolate || exit 2; phasebox_isolate "
	                           "--isolated; [ $? -eq 1 ]";
	Captured c = capture({"bash", "-c", script, "bash", so}, Stderr::merge);
	r.checks.push_back({"phase method", true,
	                    c.status == 0
	                        ? "in the phase's own shell (bash loads " + so + ")"
	                        : "re-executed (bash cannot load " + so +
	                              (c.out.empty() ? std::string() : ": " + c.out) + ")",
	                    ""});
}

// --- the Portage configuration --------------------------------------------------------

// The snippet of this installation, for the remedies: BINDIR/../share/phasebox (an
// install), else the build tree's test copy; else where `make install` puts it by default.
std::string snippet_path()
{
	const std::string exe = install::self_exe();
	const std::string here = exe.substr(0, exe.rfind('/'));
	for (const std::string& c :
	     {here.substr(0, here.rfind('/')) + "/share/phasebox/phasebox.bashrc",
	      here + "/test/phasebox.bashrc"})
		if (!exe.empty() && ::access(c.c_str(), R_OK) == 0)
			return c;
	return "<DATADIR>/phasebox.bashrc";
}

bool same_file(const std::string& a, const std::string& b)
{
	struct stat x {
	}, y{};
	return ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev &&
	       x.st_ino == y.st_ino;
}

std::string place(const portage::Place& p)
{
	if (!p.via.empty())
		return p.file + " (" + p.via + ")";
	return p.file + ":" + std::to_string(p.line);
}

// Whether one of doctor's ancestors is emerge, ebuild or ebuild.sh (at most 64 of them).
bool inside_emerge()
{
	std::vector<std::string> cmdlines;
	pid_t pid = ::getppid();
	for (int hop = 0; hop < 64 && pid > 1; ++hop) {
		const std::string d = "/proc/" + std::to_string(pid);
		if (auto c = read_file(d + "/cmdline"))
			cmdlines.push_back(c.value());
		auto st = read_file(d + "/stat");
		if (!st)
			break;
		const std::string& t = st.value();
		const size_t close = t.rfind(')');
		if (close == std::string::npos || close + 4 >= t.size())
			break;
		// ") S PPID ..."
		pid = static_cast<pid_t>(std::strtol(t.c_str() + close + 4, nullptr, 10));
	}
	return portage::emerge_among(cmdlines);
}

void query_portage(const Options& o, PortageInfo& p)
{
	std::vector<std::pair<std::string, std::string>> env;
	if (!o.config_root.empty())
		env.emplace_back("PORTAGE_CONFIGROOT", o.config_root);
	// One call for all of them (each costs Portage's start-up); an unset one prints as
	// NAME='' and makes the status 1.  (NAME* would leave an unset one out, but Portage
	// before 3.0.77 takes it literally.)
	Captured c = capture({"portageq", "envvar", "-v", "FEATURES", "PHASEBOX_FALLBACK",
	                      "PORTAGE_IONICE_COMMAND", "PORTAGE_CONFIGROOT", "EPREFIX", "EROOT",
	                      "ROOT", "PORTAGE_BIN_PATH"},
	                     Stderr::keep, env);
	if (c.status != 0 && c.status != 1)
		return;
	p.vars = portage::parse_envvar_lines(c.out);
	if (!p.vars.count("FEATURES") || !p.vars.count("PORTAGE_CONFIGROOT"))
		return; // not portageq's answer
	p.found = true;
	p.warned = portage::unknown_features_warned(c.err);
	Captured v = capture({"portageq", "--version"}, Stderr::drop, env);
	if (v.status == 0)
		p.version = portage::version_from_portageq(v.out);
	if (!p.version.empty()) {
		p.version_source = "portageq --version";
		return;
	}
	// A Portage run from a git archive says "HEAD": its meson.build (or setup.py) knows.
	auto bin = p.vars.find("PORTAGE_BIN_PATH");
	if (bin == p.vars.end() || bin->second.empty() || bin->second[0] != '/')
		return;
	const std::string tree = bin->second.substr(0, bin->second.find_last_not_of('/') + 1);
	const std::string top = tree.substr(0, tree.rfind('/'));
	for (const char* f : {"/meson.build", "/setup.py"})
		if (auto t = read_file(top + f)) {
			p.version = portage::version_from_build_file(t.value());
			if (!p.version.empty()) {
				p.version_source = top + f;
				return;
			}
		}
}

std::string with_slash(std::string s)
{
	if (s.empty() || s.back() != '/')
		s += '/';
	return s;
}

// Where the configuration is: --config-root, else Portage's PORTAGE_CONFIGROOT, else the
// environment's, else /.
void config_root(const Options& o, Report& r)
{
	auto pq = r.portage.vars.find("PORTAGE_CONFIGROOT");
	if (!o.config_root.empty()) {
		r.config_root = with_slash(o.config_root);
		r.config_root_source = "--config-root";
	} else if (r.portage.found && pq != r.portage.vars.end() && !pq->second.empty()) {
		r.config_root = with_slash(pq->second);
		r.config_root_source = "portageq";
	} else if (const char* e = std::getenv("PORTAGE_CONFIGROOT"); e && *e) {
		r.config_root = with_slash(e);
		r.config_root_source = "the environment";
	} else {
		r.config_root = "/";
		r.config_root_source = "the default";
	}
	struct stat st {
	};
	r.config_checked =
	    r.portage.found || !o.config_root.empty() ||
	    (::stat((r.config_root + "etc/portage").c_str(), &st) == 0 && S_ISDIR(st.st_mode));
}

void scan_configuration(Report& r)
{
	portage::ScanInput in;
	in.config_root = r.config_root;
	auto var = [&r](const char* n, const std::string& dflt) {
		auto v = r.portage.vars.find(n);
		return v != r.portage.vars.end() ? v->second : dflt;
	};
	in.vars = {{"PORTAGE_CONFIGROOT", r.config_root},
	           {"EPREFIX", var("EPREFIX", "")},
	           {"ROOT", var("ROOT", "/")},
	           {"EROOT", var("EROOT", "/")}};
	std::vector<std::string> unresolved;
	in.profile_bashrcs = portage::profile_bashrcs(r.config_root, unresolved);
	r.bashrc = portage::scan_bashrcs(in);
	r.bashrc.unresolved.insert(r.bashrc.unresolved.begin(), unresolved.begin(),
	                           unresolved.end());
}

void snippet_checks(Report& r)
{
	const auto& b = r.bashrc;
	const std::string mine = snippet_path();
	std::string not_followed;
	for (size_t i = 0; i < b.unresolved.size() && i < 3; ++i)
		not_followed += (i ? "; " : "") + b.unresolved[i];
	if (b.unresolved.size() > 3)
		not_followed += "; …";
	const std::string unresolved_note =
	    not_followed.empty() ? "" : " (not followed: " + not_followed + ")";
	const std::string add = "make 'source " + mine + "' the first line of " + b.bashrc +
	                        " (or, where a loader sources bashrc.d/*.sh from it, link it as " +
	                        r.config_root + "etc/portage/bashrc.d/00-phasebox.sh)";
	Check c{"bashrc snippet", true, "", "", true, true};
	const size_t uses = b.snippets.size() + b.per_package.size();
	if (b.snippets.empty()) {
		c.ok = false;
		c.detail = "not sourced by " + b.bashrc +
		           (b.bashrc_exists ? "" : " (there is no such file)") +
		           (b.per_package.empty()
		                ? ""
		                : ", only for the packages of " + b.per_package.front().at.file) +
		           ": phasebox does nothing" + unresolved_note;
		c.remedy = add;
	} else if (uses > 1) {
		std::string where;
		for (const auto& u : b.snippets)
			where += (where.empty() ? "" : ", ") + place(u.at);
		for (const auto& u : b.per_package)
			where += ", " + place(u.at) + " (again for its packages)";
		c.ok = false;
		c.detail = "sourced " + std::to_string(uses) + " times: " + where;
		c.remedy = "keep one: " + place(b.snippets.front().at) + " (remove the others)";
	} else {
		const auto& u = b.snippets.front();
		const std::string lx = r.helpers.dir;
		c.detail = "sourced once: " + place(u.at) + ", " + u.path;
		if (!u.exists) {
			c.ok = false;
			c.detail = place(u.at) + " sources " + u.path + ", which is not there";
			c.remedy = "source " + mine + " instead";
		} else if (u.libexec == "@LIBEXECDIR@") {
			c.ok = false;
			c.detail += ", the source file itself: its helpers' directory is still "
			            "@LIBEXECDIR@ (make install fills it in)";
			c.remedy = "source the installed snippet, " + mine + ", instead";
		} else if (!u.libexec.empty() && !same_file(u.libexec, lx)) {
			c.ok = false;
			c.detail += ", which runs the helpers in " + u.libexec +
			            ", not this installation's (" + lx + ")";
			c.remedy = "source this installation's snippet, " + mine + ", instead";
		} else if (!u.libexec.empty()) {
			c.detail += " (this installation's)";
		}
		c.detail += unresolved_note;
	}
	r.checks.push_back(c);
	if (b.snippets.empty())
		return;
	const auto& first = b.snippets.front();
	Check f{"snippet first", true, "", "", true, true};
	std::string profiles;
	if (!b.profile_bashrcs.empty()) {
		profiles = "; Portage sources " + std::to_string(b.profile_bashrcs.size()) +
		           " profile bashrc" + (b.profile_bashrcs.size() > 1 ? "s" : "") +
		           " before any of the user's (" + b.profile_bashrcs.front() +
		           (b.profile_bashrcs.size() > 1 ? ", …" : "") + ")";
		if (b.profile_code)
			profiles += ", and " + place(*b.profile_code) + " runs '" +
			            b.profile_code->text + "': that stays outside the isolation";
	}
	if (b.first_code) {
		f.ok = false;
		f.detail = place(*b.first_code) + " runs '" + b.first_code->text +
		           "' before the snippet (" + place(first.at) +
		           "): it runs outside the phase's isolation, and twice where a phase is "
		           "re-executed" +
		           profiles;
		f.remedy = first.at.via.empty()
		               ? "move the snippet's line (" + place(first.at) +
		                     ") above everything else: the first line of " + b.bashrc
		               : "make the snippet sort first in its directory (00-phasebox.sh), "
		                 "and the loader the first thing " +
		                     b.bashrc + " runs";
	} else {
		f.detail = "nothing runs before it" + profiles;
	}
	r.checks.push_back(f);
}

void hook_check(Report& r)
{
	if (r.ionice_source.empty())
		return;
	const portage::Hook& h = r.hook;
	const bool needed = r.route_needed();
	const std::string from = " (from " + r.ionice_source + ")";
	const std::string mine = r.helpers.dir + "/phasebox-cgroup";
	const std::string unneeded =
	    "; not needed: FEATURES asks for no cgroup for userpriv phases";
	Check c{"delegated route",
	        true,
	        "",
	        diag::diagnose_cgroup(EACCES, true, false, r.host).remedy,
	        true,
	        true};
	if (h.adopt && h.this_installation && h.pid) {
		c.detail = "PORTAGE_IONICE_COMMAND runs " + h.helper + " adopt … ${PID}" + from;
	} else if (h.adopt && h.this_installation) {
		c.ok = !needed;
		c.detail = "PORTAGE_IONICE_COMMAND runs " + h.helper +
		           " adopt without ${PID}: it cannot say which emerge to adopt" + from;
	} else if (h.adopt) {
		c.ok = !needed;
		c.detail = "PORTAGE_IONICE_COMMAND runs " + h.helper +
		           " adopt, not this installation's " + mine + from;
	} else {
		c.ok = !needed;
		c.detail =
		    std::string(h.set ? "PORTAGE_IONICE_COMMAND does not run phasebox-cgroup adopt"
		                      : "PORTAGE_IONICE_COMMAND is not set") +
		    from + (needed ? ": the userpriv phases get no cgroup" : "");
	}
	if (!needed && !(h.adopt && h.this_installation && h.pid))
		c.detail += unneeded;
	r.checks.push_back(c);
}

void features_checks(Report& r)
{
	if (r.all_asked())
		return;
	const bool filter = has_token(r.features, "unknown-features-filter");
	std::string removed;
	for (const auto& t : r.filtered)
		removed += (removed.empty() ? "" : ", ") + t;
	r.checks.push_back(
	    {"unknown-features-filter", !filter,
	     filter ? "on: Portage removes every FEATURES token it does not know, phasebox's "
	              "too, and phasebox then does nothing" +
	                  (removed.empty() ? std::string() : " (removed here: " + removed + ")")
	            : "off",
	     "FEATURES=\"-unknown-features-filter\" in make.conf (unknown-features-warn only "
	     "warns)",
	     true, true});
	struct stat st {
	};
	portage::OverlapInput in;
	in.userpriv = has_token(r.features, "userpriv");
	in.v2_at_root = ::stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
	in.version = portage::version_numbers(r.portage.version);
	for (const char* n :
	     {"cgroup", "network-sandbox", "ipc-sandbox", "pid-sandbox", "mount-sandbox"}) {
		in.native = has_token(r.features, n);
		in.phasebox = r.asks(std::string("phasebox-") + n);
		portage::Overlap o = portage::overlap(n, in);
		r.checks.push_back(
		    {std::string("native ") + n, o.ok, o.gives, o.remedy, true, true});
		r.overlaps.push_back(std::move(o));
	}
}

void portage_checks(Report& r)
{
	if (!r.config_checked) {
		r.checks.push_back({"portage", true,
		                    "no Portage here (no portageq in PATH, no " + r.config_root +
		                        "etc/portage): its configuration is not checked",
		                    "", false, true});
		hook_check(r); // PORTAGE_IONICE_COMMAND may still come from the environment
		return;
	}
	std::string d =
	    r.portage.found
	        ? "Portage " + (r.portage.version.empty()
	                            ? std::string("(version unknown)")
	                            : r.portage.version + " (" + r.portage.version_source + ")")
	        : "no portageq in PATH (FEATURES from " + r.features_source +
	              ", PORTAGE_IONICE_COMMAND from " +
	              (r.ionice_source.empty() ? std::string("nowhere") : r.ionice_source) + ")";
	d += "; configuration in " + r.config_root + " (from " + r.config_root_source + ")";
	r.checks.push_back({"portage", true, d, "", true, true});
	scan_configuration(r);
	snippet_checks(r);
	hook_check(r);
	features_checks(r);
}

// The remedies name the helpers of this installation.
std::string installed(std::string s, const Report& r)
{
	const std::string placeholder = "<libexec>";
	for (auto at = s.find(placeholder); at != std::string::npos; at = s.find(placeholder))
		s.replace(at, placeholder.size(), r.helpers.dir);
	return s;
}

ojson place_json(const portage::Place& p)
{
	return ojson{{"file", p.file}, {"line", p.line}, {"text", p.text}, {"via", p.via}};
}

ojson portage_json(const Report& r)
{
	ojson p;
	p["found"] = r.portage.found;
	p["version"] = r.portage.version;
	p["version_source"] = r.portage.version_source;
	p["config_root"] = r.config_root;
	p["config_root_source"] = r.config_root_source;
	p["checked"] = r.config_checked;
	p["bashrc"] = r.bashrc.bashrc;
	p["profile_bashrcs"] = r.bashrc.profile_bashrcs;
	ojson uses = ojson::array();
	auto use = [](const portage::SnippetUse& u) {
		ojson j = place_json(u.at);
		j["path"] = u.path;
		j["exists"] = u.exists;
		j["helpers"] = u.libexec;
		return j;
	};
	for (const auto& u : r.bashrc.snippets)
		uses.push_back(use(u));
	p["snippet"] = uses;
	ojson pp = ojson::array();
	for (const auto& u : r.bashrc.per_package)
		pp.push_back(use(u));
	p["per_package"] = pp;
	p["before"] = r.bashrc.first_code ? place_json(*r.bashrc.first_code) : ojson(nullptr);
	p["not_followed"] = r.bashrc.unresolved;
	p["ionice"] = r.ionice_source.empty() ? ojson(nullptr) : ojson(r.ionice);
	p["ionice_source"] = r.ionice_source;
	p["unknown_features_filter"] = has_token(r.features, "unknown-features-filter");
	p["filtered"] = r.filtered;
	ojson ov = ojson::array();
	for (const auto& o : r.overlaps)
		ov.push_back({{"native", o.native},
		              {"phasebox", o.phasebox},
		              {"ok", o.ok},
		              {"gives", o.gives},
		              {"remedy", o.remedy}});
	p["overlap"] = ov;
	return p;
}

void print_json(const Report& r, bool ok)
{
	const auto& s = r.host.status;
	ojson j;
	j["version"] = PHASEBOX_VERSION;
	j["uid"] = static_cast<unsigned>(r.host.euid);
	j["ok"] = ok;
	j["fallback"] = r.fallback;
	j["features_source"] = r.features_source;
	j["process"] = {{"no_new_privs", s.no_new_privs},
	                {"seccomp", s.seccomp},
	                {"cap_bnd", diag::capability_names(s.cap_bnd)},
	                {"cap_eff", diag::capability_names(s.cap_eff)}};
	j["container"] = {{"kind", diag::container_name(r.host.container.kind)},
	                  {"confirmed", r.host.container.confirmed},
	                  {"evidence", r.host.container.evidence}};
	ojson checks = ojson::array();
	for (const auto& c : r.checks)
		checks.push_back({{"name", c.name},
		                  {"ok", c.ok},
		                  {"detail", c.detail},
		                  {"remedy", c.ok ? "" : installed(c.remedy, r)},
		                  {"known", c.known}});
	j["checks"] = checks;
	ojson features = ojson::array();
	for (const auto& v : r.verdicts)
		features.push_back({{"token", v.token},
		                    {"asked", v.asked},
		                    {"verdict", v.verdict},
		                    {"cause", v.cause},
		                    {"detail", v.detail},
		                    {"remedy", installed(v.remedy, r)}});
	j["features"] = features;
	j["portage"] = portage_json(r);
	// Texts from files and programs may hold invalid UTF-8: replaced, never thrown on.
	std::printf("%s\n", j.dump(-1, ' ', false, ojson::error_handler_t::replace).c_str());
}

// "remedy: [N] TEXT" the first time a remedy is printed, "remedy: [N]" after that.
struct Remedies {
	const Report& report;
	std::vector<std::string> seen;
	void print(const std::string& text)
	{
		const std::string r = installed(text, report);
		if (r.empty())
			return;
		for (size_t i = 0; i < seen.size(); ++i)
			if (seen[i] == r) {
				std::printf("      remedy: [%zu], as above\n", i + 1);
				return;
			}
		seen.push_back(r);
		std::printf("      remedy: [%zu] %s\n", seen.size(), r.c_str());
	}
};

void print_human(const Report& r, bool ok)
{
	Remedies rem{r, {}};
	struct utsname u {
	};
	::uname(&u);
	std::printf(
	    "phasebox doctor %s — uid %u, kernel %s, PHASEBOX_FALLBACK=%s, FEATURES from %s\n\n",
	    PHASEBOX_VERSION, static_cast<unsigned>(r.host.euid), u.release, r.fallback.c_str(),
	    r.features_source.c_str());
	bool section = false;
	for (const auto& c : r.checks) {
		if (c.portage && !section) {
			std::printf("\n  Portage configuration\n");
			section = true;
		}
		std::printf("  %s %-30s %s\n",
		            !c.known ? "?"
		            : c.ok   ? "✔"
		                     : "✘",
		            c.name.c_str(), c.detail.c_str());
		if (!c.ok)
			rem.print(c.remedy);
	}
	std::printf("\n    %-30s %-9s %s\n", "FEATURES token", "verdict", "why");
	for (const auto& v : r.verdicts) {
		const char* mark = v.verdict == "works" ? "✔" : v.verdict == "degrades" ? "~" : "✘";
		std::printf("  %s %-30s %-9s %s%s\n", mark, v.token.c_str(), v.verdict.c_str(),
		            v.asked ? "" : "(not asked for) ", v.detail.c_str());
		if (v.verdict != "works")
			rem.print(v.remedy);
	}
	std::printf(
	    "\n%s\n",
	    ok ? "everything the configuration asks for works here"
	       : "not everything the configuration asks for works here (see the ✘ and ~ lines)");
}

std::optional<int> parse(int argc, char** argv, Options& o)
{
	CLI::App app{"Report what phasebox can isolate here, and what to change where it cannot.\n"
	             "Usage: phasebox doctor [--features TOKENS] [--fallback fail|warn] "
	             "[--config-root DIR] [--json]",
	             "phasebox doctor"};
	app.add_option("--features", o.features,
	               "judge these FEATURES (default: portageq envvar FEATURES, else $FEATURES)");
	app.add_option("--fallback", o.fallback,
	               "judge under this PHASEBOX_FALLBACK (default: Portage's, else fail)")
	    ->check(CLI::IsMember({"fail", "warn"}));
	app.add_option("--config-root", o.config_root,
	               "check the Portage configuration below DIR (DIR/etc/portage; default: "
	               "Portage's PORTAGE_CONFIGROOT, else $PORTAGE_CONFIGROOT, else /)")
	    ->check(CLI::ExistingDirectory);
	app.add_flag("--json", o.json, "one JSON object on stdout instead of the table");
	std::vector<std::string> own(argv + 1, argv + argc);
	if (auto rc = cli::parse(app, own, "phasebox doctor"))
		return rc;
	o.features_given = app.count("--features") > 0;
	// Absolute, as Portage's PORTAGE_CONFIGROOT is (and the same for portageq as for doctor).
	if (!o.config_root.empty())
		if (char* real = ::realpath(o.config_root.c_str(), nullptr)) {
			o.config_root = real;
			std::free(real);
		}
	return std::nullopt;
}

// FEATURES, PHASEBOX_FALLBACK and PORTAGE_IONICE_COMMAND: the command line, else Portage,
// else the environment; the configuration root.  False in `valid` for a PHASEBOX_FALLBACK
// phasebox does not know.
void configuration(const Options& o, Report& r, bool& valid)
{
	query_portage(o, r.portage);
	const auto& pv = r.portage.vars;
	if (o.features_given) {
		r.features = o.features;
		r.features_source = "--features";
	} else if (r.portage.found) {
		r.features = pv.at("FEATURES");
		r.features_source = "portageq";
	} else if (const char* e = std::getenv("FEATURES")) {
		r.features = e;
		r.features_source = "the environment";
	} else {
		r.features_source = "nowhere (every token counts as asked for)";
	}
	// unknown-features-filter removed phasebox's tokens before portageq could show them;
	// unknown-features-warn (on by default) named them first.
	if (has_token(r.features, "unknown-features-filter"))
		for (const auto& t : r.portage.warned)
			if (t.rfind("phasebox-", 0) == 0)
				r.filtered.push_back(t);
	if (!o.fallback.empty())
		r.fallback = o.fallback;
	else if (auto f = pv.find("PHASEBOX_FALLBACK"); f != pv.end() && !f->second.empty())
		r.fallback = f->second;
	else if (const char* e = std::getenv("PHASEBOX_FALLBACK"); e && *e)
		r.fallback = e;
	else
		r.fallback = "fail";
	valid = r.fallback == "fail" || r.fallback == "warn";
	if (r.portage.found) {
		auto f = pv.find("PORTAGE_IONICE_COMMAND");
		r.ionice = f == pv.end() ? "" : f->second;
		r.ionice_source = "portageq";
	} else if (const char* e = std::getenv("PORTAGE_IONICE_COMMAND")) {
		r.ionice = e;
		r.ionice_source = "the environment";
	}
	config_root(o, r);
	const std::string mine = r.helpers.dir + "/phasebox-cgroup";
	r.hook = portage::parse_hook(r.ionice, [&mine](const std::string& p) {
		return p.find('/') != std::string::npos && same_file(p, mine);
	});
}

// Whether everything the configuration asks for works; marks the tokens asked for.
bool judge(Report& r)
{
	bool ok = true;
	for (auto& v : r.verdicts) {
		v.asked = r.asks(v.token);
		ok = ok && (!v.asked || v.verdict == "works");
	}
	// sys-apps/sandbox's ptrace counts when FEATURES asks for sandbox; the delegated route
	// when userpriv phases are to get a cgroup; the snippet's rows when a phasebox token is
	// asked for; unknown-features-filter and a failing combination with Portage's own
	// FEATURES always.
	const bool sandbox = r.all_asked() || has_token(r.features, "sandbox") ||
	                     has_token(r.features, "usersandbox");
	for (const auto& c : r.checks) {
		const bool counts = (c.name == "sandbox ptrace" && sandbox) ||
		                    (c.name == "delegated route" && r.route_needed()) ||
		                    ((c.name == "bashrc snippet" || c.name == "snippet first") &&
		                     r.any_phasebox_token()) ||
		                    c.name == "unknown-features-filter" ||
		                    c.name.rfind("native ", 0) == 0;
		if (counts)
			ok = ok && c.ok;
	}
	return ok;
}

int run(int argc, char** argv)
{
	Options o;
	if (auto rc = parse(argc, argv, o))
		return *rc;
	Report r;
	r.host = diag::read_host();
	r.helpers = install::helpers();
	bool valid = true;
	configuration(o, r, valid);
	if (!valid) {
		std::fprintf(
		    stderr,
		    "phasebox doctor: PHASEBOX_FALLBACK='%s' is not valid: expected fail or warn\n",
		    r.fallback.c_str());
		return exit_code::usage;
	}
	r.emerge_above = ::geteuid() != 0 && inside_emerge();
	probes::CgroupProbe cg = probes::cgroup();
	system_checks(r, cg);
	helpers_check(r);
	method_check(r);
	portage_checks(r);
	r.verdicts.push_back(cgroup_verdict(cg, r));
	r.verdicts.push_back(
	    namespace_verdict("phasebox-network-sandbox", CLONE_NEWNET | CLONE_NEWUTS, r));
	r.verdicts.push_back(namespace_verdict("phasebox-ipc-sandbox", CLONE_NEWIPC, r));
	r.verdicts.push_back(
	    namespace_verdict("phasebox-pid-sandbox", CLONE_NEWPID | CLONE_NEWNS, r));
	r.verdicts.push_back(namespace_verdict("phasebox-mount-sandbox", CLONE_NEWNS, r));
	const bool ok = judge(r);
	if (o.json)
		print_json(r, ok);
	else
		print_human(r, ok);
	return ok ? exit_code::ok : 1;
}

const phasebox::cmd::Registration reg{
    "doctor", "report what phasebox can isolate here, and the remedies", run};

} // namespace
