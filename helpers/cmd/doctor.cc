// phasebox doctor — what phasebox can and cannot do here, before a build finds out.
//
//   phasebox doctor [--features "TOKENS"] [--fallback fail|warn] [--json]
//
// Reports the cgroup layout (unified/hybrid/legacy, the hierarchy phasebox uses, writable,
// delegated, controllers), user namespaces (sysctls, a probe), no_new_privs, the
// capability bounding set, the seccomp mode, which namespace operations are refused (each
// probed with the very steps phasebox-unshare takes, in a throw-away child), the container
// it runs in (markers alone are not proof), whether sys-apps/sandbox's ptrace works, the
// helpers of its own installation (common/install.hh) and whether bash loads their
// builtin, and for every phasebox FEATURES token: works / fails and why / degrades under
// PHASEBOX_FALLBACK=warn.  The verdicts are for the user doctor runs as (run it as
// portage too: the userpriv phases run as that user).  FEATURES and PHASEBOX_FALLBACK come
// from --features/--fallback, else from Portage (`portageq envvar`), else from the
// environment; with none of them, every token counts as asked for.
//
// Exit status: 0 when everything the configuration asks for works as asked; 1 when
// something does not (it fails, or only degrades under warn); 100 usage.
#include "cmd/command.hh"
#include "common/cli.hh"
#include "common/diagnose.hh"
#include "common/exit_status.hh"
#include "common/install.hh"
#include "common/isolate.hh"
#include "common/probes.hh"
#include "common/spawn.hh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sstream>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace phasebox;

namespace
{

struct Options {
	std::string features;
	bool features_given = false;
	std::string fallback;
	bool json = false;
};

struct Check {
	std::string name;
	bool ok = true;
	std::string detail;
	std::string remedy; // for a ✘
};

struct Verdict {
	std::string token;
	bool asked = false;
	std::string verdict; // works, fails, degrades
	std::string detail;
	std::string remedy;
	std::string cause = "none"; // diag::cause_name of why it does not work as asked
};

// Run argv (searched in PATH) and return its status and what it wrote on stdout (and on
// stderr too with `with_stderr`; otherwise that goes to /dev/null); status -1 when it could
// not be run or was killed.
struct Captured {
	int status = -1;
	std::string out;
};

Captured capture(std::vector<std::string> argv, bool with_stderr)
{
	Captured c;
	int p[2];
	if (argv.empty() || ::pipe2(p, O_CLOEXEC) != 0)
		return c;
	std::vector<char*> args = argv_pointers(argv);
	pid_t pid = ::fork();
	if (pid == 0) {
		::dup2(p[1], 1);
		if (with_stderr) {
			::dup2(p[1], 2);
		} else {
			int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (devnull >= 0)
				::dup2(devnull, 2);
		}
		::execvp(args[0], args.data());
		_exit(127);
	}
	::close(p[1]);
	char buf[4096];
	ssize_t n;
	while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			c.out.append(buf, static_cast<size_t>(n));
	::close(p[0]);
	int st = 0;
	if (pid > 0 && ::waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		c.status = WEXITSTATUS(st);
	while (!c.out.empty() && c.out.back() == '\n')
		c.out.pop_back();
	return c;
}

// `portageq envvar NAME`, or nullopt when there is no portageq or it fails.
std::optional<std::string> portageq(const char* name)
{
	Captured c = capture({"portageq", "envvar", name}, false);
	if (c.status != 0)
		return std::nullopt;
	return c.out;
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

struct Report {
	std::vector<Check> checks;
	std::vector<Verdict> verdicts;
	diag::Host host;
	std::string features_source;
	std::string fallback;
	std::string ionice;        // PORTAGE_IONICE_COMMAND
	std::string ionice_source; // "" when neither Portage nor the environment had it
	install::Helpers helpers;  // this installation's helpers (install::helpers())
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

Verdict cgroup_verdict(const probes::CgroupProbe& p, const Report& r)
{
	Verdict v{"phasebox-cgroup", false, "works", "", ""};
	if (p.leaf) {
		v.detail = "leaves below " + p.mount + " (" + p.kind + ")";
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
			r.checks.push_back(
			    {"cgroup delegated", !cg.not_delegated,
			     cg.not_delegated ? "no adopted invocation above this process"
			                      : "inside an adopted invocation",
			     diag::diagnose_cgroup(EACCES, true, false, r.host).remedy});
		else
			r.checks.push_back(
			    {"cgroup leaf (root)", cg.leaf.ok(),
			     cg.leaf ? "made and removed a leaf" : errtext(cg.leaf.error()),
			     diag::diagnose_cgroup(cg.leaf ? 0 : cg.leaf.error().err, false, false,
			                           r.host)
			         .remedy});
	}
	// The route that gives userpriv phases their cgroup: emerge runs the hook as root.
	if (!r.ionice_source.empty()) {
		const bool hooked = r.ionice.find("phasebox-cgroup adopt") != std::string::npos;
		r.checks.push_back(
		    {"delegated route", hooked,
		     (hooked ? "PORTAGE_IONICE_COMMAND runs phasebox-cgroup adopt"
		             : "PORTAGE_IONICE_COMMAND does not run phasebox-cgroup adopt") +
		         std::string(" (from ") + r.ionice_source + ")",
		     diag::diagnose_cgroup(EACCES, true, false, r.host).remedy});
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
	Captured c = capture({"bash", "-c", script, "bash", so}, true);
	r.checks.push_back({"phase method", true,
	                    c.status == 0
	                        ? "in the phase's own shell (bash loads " + so + ")"
	                        : "re-executed (bash cannot load " + so +
	                              (c.out.empty() ? std::string() : ": " + c.out) + ")",
	                    ""});
}

// The remedies name the helpers of this installation.
std::string installed(std::string s, const Report& r)
{
	const std::string placeholder = "<libexec>";
	for (auto at = s.find(placeholder); at != std::string::npos; at = s.find(placeholder))
		s.replace(at, placeholder.size(), r.helpers.dir);
	return s;
}

std::string json_escape(const std::string& s)
{
	std::string o;
	for (unsigned char ch : s) {
		if (ch == '"' || ch == '\\') {
			o += '\\';
			o += static_cast<char>(ch);
		} else if (ch < 0x20) {
			char b[8];
			std::snprintf(b, sizeof b, "\\u%04x", ch);
			o += b;
		} else {
			o += static_cast<char>(ch);
		}
	}
	return o;
}

std::string q(const std::string& s)
{
	return "\"" + json_escape(s) + "\"";
}

void print_json(const Report& r, bool ok)
{
	const auto& s = r.host.status;
	std::printf("{\"version\":%s,\"uid\":%u,\"ok\":%s,\"fallback\":%s,\"features_source\":%s,",
	            q(PHASEBOX_VERSION).c_str(), static_cast<unsigned>(r.host.euid),
	            ok ? "true" : "false", q(r.fallback).c_str(), q(r.features_source).c_str());
	std::printf(
	    "\"process\":{\"no_new_privs\":%s,\"seccomp\":%d,\"cap_bnd\":%s,\"cap_eff\":%s},",
	    s.no_new_privs ? "true" : "false", s.seccomp,
	    q(diag::capability_names(s.cap_bnd)).c_str(),
	    q(diag::capability_names(s.cap_eff)).c_str());
	std::printf("\"container\":{\"kind\":%s,\"confirmed\":%s,\"evidence\":%s},",
	            q(diag::container_name(r.host.container.kind)).c_str(),
	            r.host.container.confirmed ? "true" : "false",
	            q(r.host.container.evidence).c_str());
	std::printf("\"checks\":[");
	for (size_t i = 0; i < r.checks.size(); ++i) {
		const auto& c = r.checks[i];
		std::printf("%s{\"name\":%s,\"ok\":%s,\"detail\":%s,\"remedy\":%s}", i ? "," : "",
		            q(c.name).c_str(), c.ok ? "true" : "false", q(c.detail).c_str(),
		            q(c.ok ? "" : installed(c.remedy, r)).c_str());
	}
	std::printf("],\"features\":[");
	for (size_t i = 0; i < r.verdicts.size(); ++i) {
		const auto& v = r.verdicts[i];
		std::printf("%s{\"token\":%s,\"asked\":%s,\"verdict\":%s,\"cause\":%s,\"detail\":%"
		            "s,\"remedy\":%s}",
		            i ? "," : "", q(v.token).c_str(), v.asked ? "true" : "false",
		            q(v.verdict).c_str(), q(v.cause).c_str(), q(v.detail).c_str(),
		            q(installed(v.remedy, r)).c_str());
	}
	std::printf("]}\n");
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
	for (const auto& c : r.checks) {
		std::printf("  %s %-30s %s\n", c.ok ? "✔" : "✘", c.name.c_str(), c.detail.c_str());
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
	             "Usage: phasebox doctor [--features TOKENS] [--fallback fail|warn] [--json]",
	             "phasebox doctor"};
	app.add_option("--features", o.features,
	               "judge these FEATURES (default: portageq envvar FEATURES, else $FEATURES)");
	app.add_option("--fallback", o.fallback,
	               "judge under this PHASEBOX_FALLBACK (default: Portage's, else fail)")
	    ->check(CLI::IsMember({"fail", "warn"}));
	app.add_flag("--json", o.json, "one JSON object on stdout instead of the table");
	std::vector<std::string> own(argv + 1, argv + argc);
	if (auto rc = cli::parse(app, own, "phasebox doctor"))
		return rc;
	o.features_given = app.count("--features") > 0;
	return std::nullopt;
}

// FEATURES and PHASEBOX_FALLBACK: the command line, else Portage, else the environment.
// Returns FEATURES; false in `valid` for a PHASEBOX_FALLBACK phasebox does not know.
std::string configuration(const Options& o, Report& r, bool& valid)
{
	std::string features;
	if (o.features_given) {
		features = o.features;
		r.features_source = "--features";
	} else if (auto f = portageq("FEATURES")) {
		features = *f;
		r.features_source = "portageq";
	} else if (const char* e = std::getenv("FEATURES")) {
		features = e;
		r.features_source = "the environment";
	} else {
		r.features_source = "nowhere (every token counts as asked for)";
	}
	if (!o.fallback.empty())
		r.fallback = o.fallback;
	else if (auto f = portageq("PHASEBOX_FALLBACK"); f && !f->empty())
		r.fallback = *f;
	else if (const char* e = std::getenv("PHASEBOX_FALLBACK"); e && *e)
		r.fallback = e;
	else
		r.fallback = "fail";
	valid = r.fallback == "fail" || r.fallback == "warn";
	if (auto f = portageq("PORTAGE_IONICE_COMMAND")) {
		r.ionice = *f;
		r.ionice_source = "portageq";
	} else if (const char* e = std::getenv("PORTAGE_IONICE_COMMAND")) {
		r.ionice = e;
		r.ionice_source = "the environment";
	}
	return features;
}

// Whether everything the configuration asks for works; marks the tokens asked for.
bool judge(Report& r, const std::string& features)
{
	const bool all = r.features_source.rfind("nowhere", 0) == 0;
	bool ok = true;
	for (auto& v : r.verdicts) {
		v.asked = all || has_token(features, v.token);
		ok = ok && (!v.asked || v.verdict == "works");
	}
	// sys-apps/sandbox's ptrace counts when FEATURES asks for sandbox; the delegated route
	// when userpriv phases are to get a cgroup.
	const bool sandbox =
	    all || has_token(features, "sandbox") || has_token(features, "usersandbox");
	const bool route =
	    all || (has_token(features, "phasebox-cgroup") && has_token(features, "userpriv"));
	for (const auto& c : r.checks)
		if ((c.name == "sandbox ptrace" && sandbox) ||
		    (c.name == "delegated route" && route))
			ok = ok && c.ok;
	return ok;
}

int run(int argc, char** argv)
{
	Options o;
	if (auto rc = parse(argc, argv, o))
		return *rc;
	Report r;
	r.host = diag::read_host();
	bool valid = true;
	const std::string features = configuration(o, r, valid);
	if (!valid) {
		std::fprintf(
		    stderr,
		    "phasebox doctor: PHASEBOX_FALLBACK='%s' is not valid: expected fail or warn\n",
		    r.fallback.c_str());
		return exit_code::usage;
	}
	probes::CgroupProbe cg = probes::cgroup();
	r.helpers = install::helpers();
	system_checks(r, cg);
	helpers_check(r);
	method_check(r);
	r.verdicts.push_back(cgroup_verdict(cg, r));
	r.verdicts.push_back(
	    namespace_verdict("phasebox-network-sandbox", CLONE_NEWNET | CLONE_NEWUTS, r));
	r.verdicts.push_back(namespace_verdict("phasebox-ipc-sandbox", CLONE_NEWIPC, r));
	r.verdicts.push_back(
	    namespace_verdict("phasebox-pid-sandbox", CLONE_NEWPID | CLONE_NEWNS, r));
	r.verdicts.push_back(namespace_verdict("phasebox-mount-sandbox", CLONE_NEWNS, r));
	const bool ok = judge(r, features);
	if (o.json)
		print_json(r, ok);
	else
		print_human(r, ok);
	return ok ? exit_code::ok : 1;
}

const phasebox::cmd::Registration reg{
    "doctor", "report what phasebox can isolate here, and the remedies", run};

} // namespace
