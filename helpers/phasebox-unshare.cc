// phasebox-unshare — run the next program in new namespaces.
//
//   phasebox-unshare [--net] [--uts] [--ipc] [--pid] [--mount] [--userns auto|never|always]
//                    [--hostname NAME] [--proxy-socket PATH] [--package ATOM] [--phase PHASE]
//                    [--fallback fail|warn] [--dropped TEXT]... [--elog PATH] -- PROG [ARGS...]
//
// With a user namespace (--userns always, or auto for a non-root caller), it first
// unshares one mapping the caller's uid and gid to themselves, and creates the other
// namespaces inside it, with the capabilities it holds there; no privilege is needed, so
// it works under no_new_privs.  --net: lo up with 127.0.0.1/8 and ::1, plus 10.0.0.1/8 and
// fd::1/8; with --proxy-socket, the destinations phasebox-proxy (listening on PATH, outside)
// lets through get a listening socket each on lo, handed over to the proxy (see
// common/handoff.hh), so a plain connect() to them reaches it.  --uts: hostname "localhost" (or --hostname).  --mount (and --pid, which needs
// one for its /proc): every mount made a slave of the parent namespace's.  --pid: it
// forks; the child is pid 1 of the new namespace, mounts a fresh /proc and execs PROG (a
// reaper: phasebox-reap); the parent forwards signals, waits, and passes the status on;
// pid 1 dies with its parent (PR_SET_PDEATHSIG plus a handshake).  Without --pid it execs
// PROG itself.  A namespace that cannot be created fails the run before PROG runs, with the
// namespace, the errno, the likely cause and the remedy for the environment detected
// (common/diagnose.hh).  With --fallback warn it takes what can be had instead, each
// candidate probed in a throw-away child first: the namespaces asked for; the same inside
// a user namespace (root in a container without CAP_SYS_ADMIN); the FEATURES tokens'
// namespaces that work on their own (e.g. ipc and pid where lo cannot be configured);
// none at all (the phasebox-reap that follows in the chain is then the only orphan killer).  What was
// dropped is said once per phase: handed on with --dropped to the next link when that is
// a phasebox helper from the same directory, which says it (or hands it on), printed as
// one warning otherwise (with --elog in Portage's elog file too, as are its errors:
// common/elog.hh).  A non-root PROG runs with every capability set empty, verified;
// root keeps what it was given.
//
// Exit status: PROG's own; 128+N when PROG was killed by signal N; 100 usage; 111 a system
// call failed before PROG ran; 126 PROG could not be executed; 127 PROG not found.
#include "common/cli.hh"
#include "common/environment.hh"
#include "common/exit_status.hh"
#include "common/handoff.hh"
#include "common/isolate.hh"
#include "common/namespaces.hh"
#include "common/privs.hh"
#include "common/report.hh"
#include "common/spawn.hh"

#include <cstring>
#include <sched.h>
#include <unistd.h>

using namespace phasebox;
namespace ex = phasebox::exit_code;

namespace {

const char* const prog = "phasebox-unshare";

struct Options {
	bool net = false, uts = false, ipc = false, pid = false, mount = false;
	std::string userns = "auto";
	std::string hostname = "localhost";
	std::string package = "unknown";
	std::string phase = "phase";
	std::string fallback = "fail";
	std::vector<std::string> dropped;
	std::string elog;
	std::string proxy_socket;
	std::vector<std::string> next;
};

std::optional<int> parse(const cli::Split& args, Options& o)
{
	CLI::App app{"Run PROG in new namespaces.\n"
		     "Usage: phasebox-unshare [OPTIONS] -- PROG [ARGS...]",
		     prog};
	app.add_flag("--net", o.net, "new network namespace with a working loopback");
	app.add_flag("--uts", o.uts, "new UTS namespace (hostname localhost)");
	app.add_flag("--ipc", o.ipc, "new System V IPC / POSIX message queue namespace");
	app.add_flag("--pid", o.pid, "new pid namespace (PROG becomes pid 1; implies --mount)");
	app.add_flag("--mount", o.mount, "new mount namespace, mounts slaves of the parent's");
	app.add_option("--userns", o.userns, "create the namespaces in a user namespace: auto (when not root), never, always")
		->check(CLI::IsMember({"auto", "never", "always"}));
	app.add_option("--hostname", o.hostname, "hostname in the new UTS namespace")
		->check([](const std::string& h) {
			return h.empty() || h.size() > 64 || h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != std::string::npos
				       ? std::string("not a valid hostname")
				       : std::string();
		});
	app.add_option("--proxy-socket", o.proxy_socket,
		       "with --net: hand listening sockets for phasebox-proxy's destinations to the proxy at PATH");
	app.add_option("--package", o.package, "the package (CATEGORY/PF), for messages");
	app.add_option("--phase", o.phase, "the phase (e.g. src_compile), for messages");
	app.add_option("--fallback", o.fallback, "when a namespace cannot be had: fail (the default) or warn and run with less")
		->check(CLI::IsMember({"fail", "warn"}));
	app.add_option("--dropped", o.dropped, "what an earlier link of the chain dropped (said in the one warning)");
	cli::add_elog_option(app, o.elog);
	if (auto rc = cli::parse(app, args.own, prog))
		return rc;
	if (auto rc = cli::require_next(args, prog))
		return rc;
	o.next = args.next;
	if (o.pid)
		o.mount = true;
	if (!o.proxy_socket.empty() && !o.net) {
		std::fprintf(stderr, "%s: --proxy-socket needs --net\n%s: try '%s --help'\n", prog, prog, prog);
		return ex::usage;
	}
	return std::nullopt;
}

int flags_of(const Options& o)
{
	return (o.net ? CLONE_NEWNET : 0) | (o.uts ? CLONE_NEWUTS : 0) | (o.ipc ? CLONE_NEWIPC : 0) |
	       (o.pid ? CLONE_NEWPID : 0) | (o.mount ? CLONE_NEWNS : 0);
}

bool want_userns(const Options& o)
{
	return o.userns == "always" || (o.userns == "auto" && ::geteuid() != 0);
}

int fail(const isolate::NsFailure& f, const isolate::NsPlan& plan)
{
	report::error(f.error, isolate::diagnose(f, plan, diag::read_host()).hint());
	return ex::syscall;
}

// The groups a plan is made of, each one the namespaces of one FEATURES token.
std::vector<int> groups_of(int flags)
{
	std::vector<int> out;
	for (int g : {CLONE_NEWNET | CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID | CLONE_NEWNS})
		if (flags & g & ~CLONE_NEWNS)
			out.push_back(flags & g);
	if ((flags & CLONE_NEWNS) && !(flags & CLONE_NEWPID))
		out.push_back(CLONE_NEWNS);
	return out;
}

// The most of `asked` that works with or without a user namespace (`userns`): the groups
// that work one by one, then probed together.
isolate::NsPlan most_of(const isolate::NsPlan& asked, bool userns)
{
	int kept = 0;
	for (int g : groups_of(asked.flags))
		if (!isolate::probe(isolate::NsPlan{g, userns, asked.hostname}))
			kept |= g;
	isolate::NsPlan p{kept, userns && kept, asked.hostname};
	return kept && !isolate::probe(p) ? p : isolate::NsPlan{0, false, asked.hostname};
}

std::string why(const isolate::NsFailure& f, const isolate::NsPlan& plan)
{
	const std::string cause = isolate::diagnose(f, plan, diag::read_host()).text;
	return f.error.what + ": " + std::strerror(f.error.err) + (cause.empty() ? "" : " (" + cause + ")");
}

// --fallback warn: the first plan that works, each probed in a child: as asked; the same
// inside a user namespace; the most of it that works, without or with a user namespace;
// nothing.  What is dropped on the way is added to `dropped`.
isolate::NsPlan choose_plan(const isolate::NsPlan& asked, std::vector<std::string>& dropped)
{
	auto first = isolate::probe(asked);
	if (!first)
		return asked;
	const std::string reason = why(*first, asked);
	const std::string in_userns = " are made inside a user namespace instead, where files of other users "
				      "appear as nobody and chown to them fails";
	if (!asked.userns) {
		isolate::NsPlan u = asked;
		u.userns = true;
		if (!isolate::probe(u)) {
			dropped.push_back("root's own namespaces (" + reason + "): " +
					  isolate::describe_namespaces(asked.flags) + in_userns);
			return u;
		}
	}
	isolate::NsPlan best = most_of(asked, asked.userns);
	if (!asked.userns) {
		isolate::NsPlan u = most_of(asked, true);
		if (__builtin_popcount(u.flags) > __builtin_popcount(best.flags))
			best = u;
	}
	dropped.push_back(isolate::describe_namespaces(asked.flags & ~best.flags) + " (" + reason + ")");
	if (best.userns && !asked.userns)
		dropped.push_back(isolate::describe_namespaces(best.flags) + in_userns);
	return best;
}

// Hand what was dropped to the next phasebox link, or say it here.
std::vector<std::string> pass_on(const Options& o)
{
	if (o.dropped.empty())
		return o.next;
	if (auto fw = isolate::forward_dropped(o.next, o.dropped, isolate::self_dir()))
		return *fw;
	report::message("%s", isolate::warning(o.dropped).c_str());
	return o.next;
}

} // namespace

// A signal forwarded to pid 1 before it has handlers is dropped by the kernel (the default
// disposition of a pid namespace's init); one that is blocked stays pending.  So when pid 1
// is phasebox-reap, it is exec'd with the forwarded signals still blocked and told the
// phase's own mask (this process's), which it gives back to PROG.  (Any other PROG as pid 1
// gets the phase's mask at once, as before.)
void keep_signals_for_pid1(ChildSpec& spec)
{
	if (spec.argv.empty() || spec.argv[0] != isolate::self_dir() + "/phasebox-reap")
		return;
	sigset_t mine;
	if (::sigprocmask(SIG_BLOCK, nullptr, &mine) != 0)
		return;
	spec.argv.insert(spec.argv.begin() + 1, {"--sigmask", mask_to_text(mine)});
	spec.keep_forwarded_blocked = true;
}

// NOLINTNEXTLINE(bugprone-exception-escape): only CLI11's construction errors (see cli.hh)
int main(int argc, char** argv)
{
	report::init(prog);
	Environment env = Environment::capture();
	sandbox_off_for_self();
	Options o;
	if (auto rc = parse(cli::split_at_separator(argc, argv), o))
		return *rc;
	report::set_context(o.package + " " + o.phase);
	report::set_elog(o.elog);
	if (Status s = check_privilege_state(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	isolate::NsPlan plan{flags_of(o), false, o.hostname};
	plan.userns = plan.flags && want_userns(o);
	if (o.fallback == "warn" && plan.flags)
		plan = choose_plan(plan, o.dropped);
	if (auto f = isolate::enter(plan))
		return fail(*f, plan);
	o.pid = plan.flags & CLONE_NEWPID;
	// The proxy's listeners go on this namespace's lo; where warn dropped the network
	// namespace, the phase has the host's network and nothing is handed over (never an
	// address on the host's lo).
	if (!o.proxy_socket.empty() && (plan.flags & CLONE_NEWNET))
		if (Status s = handoff::hand_over(o.proxy_socket); !s) {
			report::error(s.error());
			return ex::syscall;
		}

	ChildSpec spec;
	spec.argv = pass_on(o);
	spec.env = &env;
	if (!o.pid) {
		if (Status s = drop_capabilities_unless_root(); !s) {
			report::error(s.error());
			return ex::syscall;
		}
		SpawnFailure f = exec_next(spec);
		report::error(f.error);
		return f.exit_code;
	}
	spec.before_exec = [] {
		if (Status s = ns::mount_proc(); !s)
			return s;
		return drop_capabilities_unless_root();
	};
	keep_signals_for_pid1(spec);
	Outcome r = run_supervised(spec, false);
	if (!r.ran) {
		report::error(r.failure.error);
		return r.failure.exit_code;
	}
	return exit_status_from_wait(r.wstatus);
}
