// phasebox-reap — run the next program as a subreaper (or pid 1); kill what it leaves.
//
//   phasebox-reap [--package ATOM] [--phase PHASE] [--exec FILE] [--dropped TEXT]...
//                 [--elog PATH] -- PROG [ARGS...]
//
// Becomes a child subreaper (PR_SET_CHILD_SUBREAPER; as pid 1 of a pid namespace it is
// one already), forks, and the child execs PROG (FILE when --exec is given, with PROG's
// argv unchanged) with exactly the environment this helper received — no link of the
// chain ever edits it; libsandbox is switched off only inside the helpers' own processes.
// Every orphan re-parented here is reaped.  When PROG ends, whatever it left (double-forked
// daemons, setsid children) is listed, killed with SIGKILL round after round until no child
// is left, and reported as a QA notice on stderr (and, with --elog, in Portage's elog file,
// common/elog.hh, as are its warning and its errors).  This is the orphan killer of last resort
// where no cgroup can be had; with a cgroup it leaves little for phasebox-cgroup to find.
// It is the chain's last link, so it says, in one warning line before PROG runs, what the
// links before it dropped under PHASEBOX_FALLBACK=warn (their --dropped).
//
// Under phasebox-cgroup it also writes the number it killed to the pipe named in
// PHASEBOX_ORPHANS_FD, for the accounting record, and removes that variable and closes
// that pipe before PROG runs (common/orphan_count.hh).
//
// Exit status: PROG's own; 128+N when PROG was killed by signal N; 100 usage; 111 a system
// call failed before PROG ran; 126 PROG could not be executed; 127 PROG not found.
#include "common/cli.hh"
#include "common/environment.hh"
#include "common/exit_status.hh"
#include "common/isolate.hh"
#include "common/orphan_count.hh"
#include "common/privs.hh"
#include "common/procinfo.hh"
#include "common/report.hh"
#include "common/spawn.hh"

#include <csignal>
#include <map>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace phasebox;
namespace ex = phasebox::exit_code;

namespace {

const char* const prog = "phasebox-reap";

struct Options {
	std::string package = "unknown";
	std::string phase = "phase";
	std::string exec_file;
	std::vector<std::string> dropped;
	std::string elog;
	std::string sigmask;
	std::vector<std::string> next;
};

std::optional<int> parse(const cli::Split& args, Options& o)
{
	CLI::App app{"Run PROG as a subreaper; kill and report what it leaves behind.\n"
		     "Usage: phasebox-reap [OPTIONS] -- PROG [ARGS...]",
		     prog};
	app.add_option("--package", o.package, "the package (CATEGORY/PF), for messages");
	app.add_option("--phase", o.phase, "the phase (e.g. src_compile), for messages");
	app.add_option("--exec", o.exec_file, "execute FILE with PROG's argv unchanged (argv[0] kept)");
	app.add_option("--dropped", o.dropped, "what an earlier link of the chain dropped (said in the one warning)");
	cli::add_elog_option(app, o.elog);
	app.add_option("--sigmask", o.sigmask,
		       "the signal mask PROG gets (16 hex digits, as SigBlk in /proc/PID/status); "
		       "phasebox-unshare passes the phase's own when this is pid 1")
		->check([](const std::string& v) {
			return mask_from_text(v) ? std::string() : std::string("expected 16 lowercase hex digits");
		});
	if (auto rc = cli::parse(app, args.own, prog))
		return rc;
	if (auto rc = cli::require_next(args, prog))
		return rc;
	o.next = args.next;
	return std::nullopt;
}

void reap_zombies()
{
	int st;
	while (::waitpid(-1, &st, WNOHANG) > 0) {
	}
}

// Kill every remaining child, round after round: killing one re-parents its own children
// here, and those are the next round's.  Returns what was killed, first sighting each.
std::vector<ProcessInfo> kill_leftovers()
{
	std::vector<ProcessInfo> killed;
	int st;
	pid_t w = ::waitpid(-1, &st, WNOHANG);
	if (w < 0 && errno == ECHILD)
		return killed; // the usual case: nothing was left
	std::map<pid_t, bool> seen;
	for (;;) {
		reap_zombies();
		auto kids = children_of(::getpid());
		if (kids.empty())
			break;
		for (pid_t k : kids) {
			if (!seen[k])
				killed.push_back(describe_process(k));
			seen[k] = true;
			::kill(k, SIGKILL);
		}
		for (pid_t k : kids)
			while (::waitpid(k, &st, 0) < 0 && errno == EINTR) {
			}
	}
	reap_zombies();
	return killed;
}

} // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): only CLI11's construction errors (see cli.hh)
int main(int argc, char** argv)
{
	report::init(prog);
	Environment env = Environment::capture();
	const int count_fd = orphan_count::take(env);
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
	if (!o.dropped.empty())
		report::message("%s; what the phase leaves is killed by %s", isolate::warning(o.dropped).c_str(),
				::getpid() == 1 ? "its pid namespace" : "the subreaper phasebox-reap only");
	if (::getpid() != 1 && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		report::error(sys_error("prctl(PR_SET_CHILD_SUBREAPER)"));
		return ex::syscall;
	}
	ChildSpec spec;
	spec.file = o.exec_file;
	spec.argv = o.next;
	spec.env = &env;
	spec.before_exec = [] { return drop_capabilities_unless_root(); };
	// As pid 1, phasebox-unshare execs this with the forwarded signals blocked (so that
	// none sent before the handlers existed is lost) and names the phase's own mask.
	std::optional<sigset_t> phase_mask;
	if (!o.sigmask.empty())
		phase_mask = mask_from_text(o.sigmask);
	Outcome r = run_supervised(spec, true, phase_mask ? &*phase_mask : nullptr);
	if (!r.ran) {
		report::error(r.failure.error);
		return r.failure.exit_code;
	}
	int wstatus = r.wstatus;
	auto killed = kill_leftovers();
	report::notice(elog::Class::qa, orphan_report(o.phase + " of " + o.package, killed));
	orphan_count::send(count_fd, killed.size());
	return exit_status_from_wait(wstatus);
}
