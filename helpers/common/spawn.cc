#include "spawn.hh"

#include "exit_status.hh"
#include "fd.hh"
#include "inprocess.hh"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace phasebox {
namespace {

const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

sigset_t saved_mask;
bool mask_saved = false;
constexpr int n_waited = sizeof forwarded / sizeof forwarded[0] + 1;
struct sigaction saved_actions[n_waited];

// Signal n of the waited set: the forwarded ones, then SIGCHLD.
int waited_signal(int n) { return n < n_waited - 1 ? forwarded[n] : SIGCHLD; }

void noop_handler(int) {}

sigset_t wait_set()
{
	sigset_t s;
	sigemptyset(&s);
	for (int sig : forwarded)
		sigaddset(&s, sig);
	sigaddset(&s, SIGCHLD);
	return s;
}

// What a failing child tells its parent through the pipe.
struct Report {
	int exit_code;
	int err;
	char what[480];
};

[[noreturn]] void child_fail(int fd, int code, const Error& e)
{
	Report r{};
	r.exit_code = code;
	r.err = e.err;
	std::strncpy(r.what, e.what.c_str(), sizeof r.what - 1);
	ssize_t n = ::write(fd, &r, sizeof r);
	(void)n;
	::_exit(code);
}


// exec_next() inside the shell builtin (common/inprocess.hh): the next phasebox link's
// main() in this process, or back to the shell for the last link's program.  Anything else
// is refused: the builtin runs nothing but phasebox's own links and the shell.
SpawnFailure exec_in_process(ChildSpec& spec)
{
	const std::string& next = spec.argv[0];
	if (next == inprocess::continue_token() && spec.argv.size() == 1) {
		inprocess::restore_shell();
		throw inprocess::Continue{};
	}
	inprocess::Main m = spec.file.empty() ? inprocess::find(next) : nullptr;
	if (!m)
		return {exit_code::cannot_exec,
			Error{EPERM, "execute " + quote(spec.file.empty() ? next : spec.file) +
					     " from the shell builtin (only phasebox's own helpers in " +
					     quote(inprocess::dir()) + " can follow there)"}};
	inprocess::install_environment(*spec.env);
	inprocess::close_on_exec();
	const std::string name = next.substr(next.rfind('/') + 1);
	::prctl(PR_SET_NAME, name.c_str());
	// argv lives as long as the process, as an exec'd program's does.
	auto* args = new std::vector<std::string>(spec.argv);
	auto* ptrs = new std::vector<char*>(argv_pointers(*args));
	::_exit(m(static_cast<int>(args->size()), ptrs->data()));
}

} // namespace

std::vector<char*> argv_pointers(std::vector<std::string>& argv)
{
	std::vector<char*> p;
	p.reserve(argv.size() + 1);
	for (auto& a : argv)
		p.push_back(a.data());
	p.push_back(nullptr);
	return p;
}

Status block_forwarded_signals(const sigset_t* original)
{
	sigset_t s = wait_set();
	if (::sigprocmask(SIG_BLOCK, &s, &saved_mask) != 0)
		return sys_error("sigprocmask");
	if (original)
		saved_mask = *original;
	mask_saved = true;
	// A handler, not SIG_DFL: as pid 1 of a pid namespace the kernel drops every signal
	// whose disposition is the default, even a blocked one (sig_task_ignored()), so
	// sigwaitinfo() would never see it.  The child gets the original dispositions back.
	struct sigaction sa{};
	sa.sa_handler = noop_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int n = 0; n < n_waited; ++n)
		if (::sigaction(waited_signal(n), &sa, &saved_actions[n]) != 0)
			return sys_error("sigaction");
	return {};
}

SpawnFailure exec_next(ChildSpec& spec)
{
	if (spec.argv.empty())
		return {exit_code::usage, Error{EINVAL, "no program to execute"}};
	if (mask_saved) {
		for (int n = 0; n < n_waited; ++n)
			::sigaction(waited_signal(n), &saved_actions[n], nullptr);
		sigset_t m = saved_mask;
		if (spec.keep_forwarded_blocked) {
			sigset_t w = wait_set();
			sigorset(&m, &m, &w);
		}
		::sigprocmask(SIG_SETMASK, &m, nullptr);
	}
	if (inprocess::active())
		return exec_in_process(spec);
	auto argv = argv_pointers(spec.argv);
	const std::string& file = spec.file.empty() ? spec.argv[0] : spec.file;
	::execvpe(file.c_str(), argv.data(), spec.env->envp());
	int e = errno;
	return {exit_status_from_exec_errno(e), Error{e, "execute " + quote(file)}};
}

Result<Spawned> spawn(ChildSpec& spec)
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		return sys_error("pipe2");
	UniqueFd rd(p[0]), wr(p[1]);
	// The handshake watches the parent through a pidfd: getppid() cannot, since it reads
	// 0 in a child that is pid 1 of a new pid namespace.
	UniqueFd parent(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
	if (!parent.valid())
		return sys_error("pidfd_open");
	::fcntl(parent.get(), F_SETFD, FD_CLOEXEC);
	UniqueFd go_rd, go_wr;
	if (spec.after_fork) {
		int g[2];
		if (::pipe2(g, O_CLOEXEC) != 0)
			return sys_error("pipe2");
		go_rd.reset(g[0]);
		go_wr.reset(g[1]);
	}
	pid_t pid = ::fork();
	if (pid < 0)
		return sys_error("fork");
	if (pid == 0) {
		rd.reset();
		// Die with the supervisor; the handshake closes the race with its death.
		if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			child_fail(wr.get(), exit_code::syscall, sys_error("prctl(PR_SET_PDEATHSIG)"));
		struct pollfd pp{parent.get(), POLLIN, 0};
		if (::poll(&pp, 1, 0) != 0)
			child_fail(wr.get(), exit_code::syscall, Error{ESRCH, "the supervisor died"});
		if (go_rd.valid()) {
			go_wr.reset();
			char go = 0;
			ssize_t g;
			do
				g = ::read(go_rd.get(), &go, 1);
			while (g < 0 && errno == EINTR);
			if (g != 1)
				::_exit(exit_code::syscall); // the parent failed, and says why itself
			go_rd.reset();
		}
		if (spec.before_exec)
			if (Status s = spec.before_exec(); !s)
				child_fail(wr.get(), exit_code::syscall, s.error());
		SpawnFailure f = exec_next(spec);
		child_fail(wr.get(), f.exit_code, f.error);
	}
	wr.reset();
	Spawned out;
	out.pid = pid;
	if (spec.after_fork) {
		go_rd.reset();
		Status s = spec.after_fork(pid);
		if (s && ::write(go_wr.get(), "g", 1) != 1)
			s = sys_error("let the child go on");
		if (!s) {
			::kill(pid, SIGKILL);
			int status;
			while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
			}
			out.failed = true;
			out.failure = {exit_code::syscall, s.error()};
			return out;
		}
		go_wr.reset();
	}
	Report r{};
	ssize_t n;
	do
		n = ::read(rd.get(), &r, sizeof r);
	while (n < 0 && errno == EINTR);
	if (n == static_cast<ssize_t>(sizeof r)) {
		int status;
		while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
		}
		out.failed = true;
		r.what[sizeof r.what - 1] = '\0';
		out.failure = {r.exit_code, Error{r.err, r.what}};
	}
	return out;
}

int supervise(pid_t child, bool reap_others)
{
	sigset_t s = wait_set();
	for (;;) {
		siginfo_t info{};
		int sig = ::sigwaitinfo(&s, &info);
		if (sig < 0)
			continue; // EINTR
		if (sig != SIGCHLD) {
			// A terminal's ^C reaches the whole foreground process group, the child
			// included; only what was sent to this process alone is passed on.
			if (info.si_code != SI_KERNEL)
				::kill(child, sig);
			continue;
		}
		for (;;) {
			int status = 0;
			pid_t w = ::waitpid(reap_others ? -1 : child, &status, WNOHANG);
			if (w == child)
				return status;
			if (w <= 0)
				break;
		}
	}
}

std::string mask_to_text(const sigset_t& mask)
{
	unsigned long long bits = 0;
	for (int sig = 1; sig <= 64; ++sig)
		if (sigismember(&mask, sig) == 1)
			bits |= 1ULL << (sig - 1);
	char buf[17];
	std::snprintf(buf, sizeof buf, "%016llx", bits);
	return buf;
}

std::optional<sigset_t> mask_from_text(const std::string& text)
{
	if (text.size() != 16 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
		return std::nullopt;
	unsigned long long bits = std::strtoull(text.c_str(), nullptr, 16);
	sigset_t m;
	sigemptyset(&m);
	for (int sig = 1; sig <= 64; ++sig)
		if (bits & (1ULL << (sig - 1))) {
			// Signals the C library keeps for itself (32, 33) cannot be set: refused.
			if (sigaddset(&m, sig) != 0)
				return std::nullopt;
		}
	return m;
}

Outcome run_supervised(ChildSpec& spec, bool reap_others, const sigset_t* original)
{
	Outcome out;
	if (Status s = block_forwarded_signals(original); !s) {
		out.failure = {exit_code::syscall, s.error()};
		return out;
	}
	auto child = spawn(spec);
	if (!child) {
		out.failure = {exit_code::syscall, child.error()};
		return out;
	}
	if (child.value().failed) {
		out.failure = child.value().failure;
		return out;
	}
	out.ran = true;
	out.wstatus = supervise(child.value().pid, reap_others);
	return out;
}

} // namespace phasebox
