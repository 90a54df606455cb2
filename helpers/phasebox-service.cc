// phasebox-service — run a service for as long as a process (the phase) lives.
//
//   phasebox-service --watch PID [--watch-start TICKS] [--name NAME] [--stop-signal SIG]
//                    [--stop-timeout SECONDS] [--package ATOM] [--phase PHASE] -- PROG [ARGS...]
//
// phasebox.eclass's phasebox_start_service runs a test suite's server (a database, an X
// server, a daemon) under it.  It opens a pidfd of PID (the phase shell, EBUILD_MASTER_PID)
// — with --watch-start, only if PID's start time (field 22 of /proc/PID/stat) is TICKS, so a
// recycled pid is never mistaken for the phase — becomes a child subreaper, and runs PROG
// with the environment it received.  It stops the service when
//   - it gets SIGTERM, SIGINT, SIGHUP or SIGQUIT (phasebox_stop_service, the phase's EXIT
//     trap, a terminal's ^C), or
//   - PID ends, however it ends (die, SIGKILL, a crash): the pidfd says so, no trap needed;
// by sending PROG the stop signal (default SIGTERM), waiting at most the stop timeout
// (default 10 s) for it to exit, and then killing with SIGKILL, round after round, every
// process still below it (a subreaper: daemons that double-forked or called setsid are its
// children by then).  When PROG ends by itself, what it left is killed the same way.
// PROG gets PR_SET_PDEATHSIG(SIGKILL): if this supervisor is killed, PROG dies with it.
//
// No privilege is needed or used: the service runs with the ids and capabilities of the
// phase that started it (as `cmd &` would), and this helper never raises anything.
//
// Exit status: 0 the service was stopped (asked to, or its phase ended); PROG's own status,
// or 128+N for signal N, when PROG ended by itself before it was asked to stop (a message
// on stderr says so, also for a status of 0); 100 usage; 111 a system call failed before
// PROG ran (PID not running, or not the process TICKS names); 126 PROG could not be
// executed; 127 PROG not found.
#include "common/cli.hh"
#include "common/environment.hh"
#include "common/exit_status.hh"
#include "common/fd.hh"
#include "common/file.hh"
#include "common/privs.hh"
#include "common/procinfo.hh"
#include "common/report.hh"
#include "common/spawn.hh"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace phasebox;
namespace ex = phasebox::exit_code;

namespace
{

const char* const prog = "phasebox-service";

struct Options {
	pid_t watch = 0;
	std::string watch_start;
	std::string name;
	std::string stop_signal = "TERM";
	unsigned stop_timeout = 10;
	std::string package = "unknown";
	std::string phase = "phase";
	std::vector<std::string> next;
	int stop_sig = SIGTERM;
};

// Signal names phasebox_stop_service may ask for (kill -l spelling, without SIG).
const std::map<std::string, int> stop_signals = {
    {"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL},
};

std::optional<int> parse(const cli::Split& args, Options& o)
{
	CLI::App app{"Run PROG for as long as process PID (the phase) lives; then stop it and "
	             "kill all it left.\n"
	             "Usage: phasebox-service --watch PID [OPTIONS] -- PROG [ARGS...]",
	             prog};
	app.add_option("--watch", o.watch,
	               "the process whose end stops the service (the phase shell)")
	    ->required()
	    ->check(CLI::Range(1, 1 << 22));
	app.add_option("--watch-start", o.watch_start,
	               "PID's start time (field 22 of /proc/PID/stat): refuse a recycled pid");
	app.add_option("--name", o.name, "the service's name, for messages (default: PROG)");
	app.add_option("--stop-signal", o.stop_signal,
	               "signal that asks PROG to stop (default TERM)")
	    ->check(CLI::IsMember({"TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "KILL"}));
	app.add_option("--stop-timeout", o.stop_timeout,
	               "seconds PROG gets to stop before everything left is killed (default 10)")
	    ->check(CLI::Range(1, 600));
	app.add_option("--package", o.package, "the package (CATEGORY/PF), for messages");
	app.add_option("--phase", o.phase, "the phase (e.g. src_test), for messages");
	if (auto rc = cli::parse(app, args.own, prog))
		return rc;
	if (auto rc = cli::require_next(args, prog))
		return rc;
	if (!o.watch_start.empty() &&
	    o.watch_start.find_first_not_of("0123456789") != std::string::npos) {
		std::fprintf(stderr, "%s: --watch-start: '%s' is not a number\n", prog,
		             o.watch_start.c_str());
		return ex::usage;
	}
	o.next = args.next;
	o.stop_sig = stop_signals.at(o.stop_signal);
	if (o.name.empty())
		o.name = o.next[0];
	return std::nullopt;
}

// Field 22 (starttime) of /proc/PID/stat, counted after the command name's last ')'.
std::string start_time_of(pid_t pid)
{
	auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
	if (!text)
		return "";
	const std::string& s = text.value();
	size_t p = s.rfind(')');
	if (p == std::string::npos)
		return "";
	size_t field = 2;
	size_t i = p + 1;
	while (i < s.size() && field < 22) {
		if (s[i] == ' ')
			++field;
		++i;
	}
	size_t end = s.find(' ', i);
	return s.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

// A pidfd of the watched process, checked against its start time.  Opened first, checked
// second: once the pidfd exists, the pid cannot be recycled under it.
Result<UniqueFd> open_watched(const Options& o)
{
	UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, o.watch, 0)));
	if (!fd.valid())
		return sys_error("watch process " + std::to_string(o.watch) + ": pidfd_open");
	::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
	if (!o.watch_start.empty()) {
		std::string actual = start_time_of(o.watch);
		if (actual != o.watch_start)
			return Error{ESRCH, "watch process " + std::to_string(o.watch) +
			                        ": started at " + (actual.empty() ? "?" : actual) +
			                        ", not at " + o.watch_start +
			                        " (it is not the phase)"};
	}
	return fd;
}

Result<UniqueFd> open_signalfd()
{
	sigset_t s;
	sigemptyset(&s);
	for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT})
		sigaddset(&s, sig);
	UniqueFd fd(::signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!fd.valid())
		return sys_error("signalfd");
	return fd;
}

long long now_ms()
{
	struct timespec ts {
	};
	::clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct Ending {
	bool by_itself = false; // the service ended before it was asked to stop
	int wstatus = 0;
};

// Wait until the service must stop or has ended; ask it to stop, give it the timeout.
Ending watch_service(pid_t child, int watched_fd, int sig_fd, const Options& o)
{
	Ending end;
	bool child_done = false, stopping = false;
	long long deadline = 0;
	auto begin_stop = [&] {
		if (stopping)
			return;
		stopping = true;
		deadline = now_ms() + o.stop_timeout * 1000LL;
		if (!child_done)
			::kill(child, o.stop_sig);
	};
	for (;;) {
		struct pollfd fds[2] = {{sig_fd, POLLIN, 0}, {watched_fd, POLLIN, 0}};
		int timeout = -1;
		if (stopping)
			timeout = static_cast<int>(std::max(0LL, deadline - now_ms()));
		int n = ::poll(fds, stopping ? 1 : 2, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0) // the stop timeout passed
			break;
		if (!stopping && (fds[1].revents & POLLIN))
			begin_stop(); // the phase has ended
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si {
			};
			while (::read(sig_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
				if (si.ssi_signo != SIGCHLD)
					begin_stop();
			int st;
			pid_t w;
			while ((w = ::waitpid(-1, &st, WNOHANG)) > 0)
				if (w == child) {
					child_done = true;
					end.wstatus = st;
				}
		}
		if (child_done) {
			end.by_itself = !stopping;
			break;
		}
	}
	return end;
}

// SIGKILL every remaining child, round after round (each kill re-parents the victim's
// children here), until none is left.
void kill_everything_left()
{
	int st;
	for (;;) {
		while (::waitpid(-1, &st, WNOHANG) > 0) {
		}
		auto kids = children_of(::getpid());
		if (kids.empty())
			break;
		for (pid_t k : kids)
			::kill(k, SIGKILL);
		for (pid_t k : kids)
			while (::waitpid(k, &st, 0) < 0 && errno == EINTR) {
			}
	}
	while (::waitpid(-1, &st, WNOHANG) > 0) {
	}
}

} // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): only CLI11's construction errors (see cli.hh)
int main(int argc, char** argv)
{
	report::init(prog);
	Environment env = Environment::capture();
	Options o;
	if (auto rc = parse(cli::split_at_separator(argc, argv), o))
		return *rc;
	report::set_context(o.package + " " + o.phase);
	if (Status s = check_privilege_state(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	auto watched = open_watched(o);
	if (!watched) {
		report::error(watched.error());
		return ex::syscall;
	}
	if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		report::error(sys_error("prctl(PR_SET_CHILD_SUBREAPER)"));
		return ex::syscall;
	}
	if (Status s = block_forwarded_signals(); !s) {
		report::error(s.error());
		return ex::syscall;
	}
	auto sig_fd = open_signalfd();
	if (!sig_fd) {
		report::error(sig_fd.error());
		return ex::syscall;
	}
	ChildSpec spec;
	spec.argv = o.next;
	spec.env = &env;
	auto child = spawn(spec);
	if (!child) {
		report::error(child.error());
		return ex::syscall;
	}
	if (child.value().failed) {
		report::error(child.value().failure.error);
		return child.value().failure.exit_code;
	}
	Ending end =
	    watch_service(child.value().pid, watched.value().get(), sig_fd.value().get(), o);
	kill_everything_left();
	if (!end.by_itself)
		return ex::ok;
	report::message("service '%s' ended by itself (exit status %d) before it was stopped",
	                o.name.c_str(), exit_status_from_wait(end.wstatus));
	return exit_status_from_wait(end.wstatus);
}
