// phasebox-unshare — run the next program in new namespaces.
//
//   phasebox-unshare [--net] [--uts] [--ipc] [--pid] [--mount] [--userns auto|never|always]
//                    [--hostname NAME] [--proxy-socket PATH] [--package ATOM] [--phase PHASE]
//                    -- PROG [ARGS...]
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
// namespace, the errno and the likely cause — it never falls back to less.  A non-root
// PROG runs with every capability set empty, verified; root keeps what it was given.
//
// Exit status: PROG's own; 128+N when PROG was killed by signal N; 100 usage; 111 a system
// call failed before PROG ran; 126 PROG could not be executed; 127 PROG not found.
#include "common/cli.hh"
#include "common/environment.hh"
#include "common/exit_status.hh"
#include "common/handoff.hh"
#include "common/namespaces.hh"
#include "common/netlink.hh"
#include "common/privs.hh"
#include "common/report.hh"
#include "common/spawn.hh"

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

int fail(const Error& e, int flags)
{
	report::error(e, ns::unshare_hint(flags, e.err));
	return ex::syscall;
}

// Everything done with the new namespaces' capabilities before PROG runs.
Status configure(const Options& o)
{
	if (o.mount)
		if (Status s = ns::make_mounts_slave(); !s)
			return s;
	if (o.net)
		if (Status s = netlink::configure_loopback(); !s)
			return s;
	if (o.uts)
		if (Status s = ns::set_hostname(o.hostname); !s)
			return s;
	if (!o.proxy_socket.empty())
		if (Status s = handoff::hand_over(o.proxy_socket); !s)
			return s;
	return {};
}

} // namespace

int main(int argc, char** argv)
{
	report::init(prog);
	Environment env = Environment::capture();
	sandbox_off_for_self();
	Options o;
	if (auto rc = parse(cli::split_at_separator(argc, argv), o))
		return *rc;
	report::set_context(o.package + " " + o.phase);
	if (Status s = check_privilege_state(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	const int flags = flags_of(o);
	if (flags && want_userns(o))
		if (Status s = ns::enter_user_namespace(); !s)
			return fail(s.error(), CLONE_NEWUSER);
	if (flags)
		if (Status s = ns::unshare_flags(flags); !s)
			return fail(s.error(), flags);
	if (Status s = configure(o); !s)
		return fail(s.error(), 0);

	ChildSpec spec;
	spec.argv = o.next;
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
	Outcome r = run_supervised(spec, false);
	if (!r.ran) {
		report::error(r.failure.error);
		return r.failure.exit_code;
	}
	return exit_status_from_wait(r.wstatus);
}
