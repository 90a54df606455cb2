#include "spawn.hh"

#include "exit_status.hh"
#include "fd.hh"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace phasebox {
namespace {

const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

sigset_t saved_mask;
bool mask_saved = false;

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

std::vector<char*> argv_ptrs(std::vector<std::string>& argv)
{
	std::vector<char*> p;
	for (auto& a : argv)
		p.push_back(a.data());
	p.push_back(nullptr);
	return p;
}

} // namespace

Status block_forwarded_signals()
{
	sigset_t s = wait_set();
	if (::sigprocmask(SIG_BLOCK, &s, &saved_mask) != 0)
		return sys_error("sigprocmask");
	mask_saved = true;
	return {};
}

SpawnFailure exec_next(ChildSpec& spec)
{
	if (spec.argv.empty())
		return {exit_code::usage, Error{EINVAL, "no program to execute"}};
	if (mask_saved)
		::sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
	auto argv = argv_ptrs(spec.argv);
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
	pid_t parent = ::getpid();
	pid_t pid = ::fork();
	if (pid < 0)
		return sys_error("fork");
	if (pid == 0) {
		rd.reset();
		// Die with the supervisor; the handshake closes the race with its death.
		if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			child_fail(wr.get(), exit_code::syscall, sys_error("prctl(PR_SET_PDEATHSIG)"));
		if (::getppid() != parent)
			::_exit(exit_code::syscall);
		if (spec.before_exec)
			if (Status s = spec.before_exec(); !s)
				child_fail(wr.get(), exit_code::syscall, s.error());
		SpawnFailure f = exec_next(spec);
		child_fail(wr.get(), f.exit_code, f.error);
	}
	wr.reset();
	Spawned out;
	out.pid = pid;
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

} // namespace phasebox
