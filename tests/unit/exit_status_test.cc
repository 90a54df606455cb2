// exit_status.hh: the exit-code table, from synthetic wait statuses and from real children.
#include "common/exit_status.hh"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using phasebox::exit_status_from_exec_errno;
using phasebox::exit_status_from_wait;
namespace ex = phasebox::exit_code;

namespace {

// The wait status of a child that ran `body` in a forked process.
template <class F> int status_of_child(F body)
{
	pid_t pid = ::fork();
	if (pid == 0) {
		body();
		::_exit(250); // body must not return
	}
	EXPECT_GT(pid, 0);
	int ws = 0;
	EXPECT_EQ(::waitpid(pid, &ws, 0), pid);
	return ws;
}

TEST(ExitStatusFromWait, EveryExitCodeSynthetic)
{
	for (int code = 0; code <= 255; ++code)
		EXPECT_EQ(exit_status_from_wait(W_EXITCODE(code, 0)), code) << code;
}

TEST(ExitStatusFromWait, EveryExitCodeFromARealChild)
{
	for (int code = 0; code <= 255; ++code) {
		int ws = status_of_child([code] { ::_exit(code); });
		EXPECT_EQ(exit_status_from_wait(ws), code) << code;
	}
	// exit(256) is exit(0) for the parent: only the low byte survives.
	EXPECT_EQ(exit_status_from_wait(status_of_child([] { ::_exit(256 + 7); })), 7);
}

TEST(ExitStatusFromWait, SignalsSynthetic)
{
	for (int sig = 1; sig < 0x7f; ++sig) {
		EXPECT_EQ(exit_status_from_wait(W_EXITCODE(0, sig)), 128 + sig) << sig;
		// The core-dump bit must not leak into the status.
		EXPECT_EQ(exit_status_from_wait(W_EXITCODE(0, sig) | WCOREFLAG), 128 + sig) << sig;
	}
}

TEST(ExitStatusFromWait, SignalsFromARealChild)
{
	for (int sig : {SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGSEGV, SIGABRT, SIGRTMIN, SIGRTMAX}) {
		int ws = status_of_child([sig] {
			struct rlimit no_core{0, 0};
			::setrlimit(RLIMIT_CORE, &no_core); // no core files in the source tree
			::signal(sig, SIG_DFL);
			sigset_t all;
			sigemptyset(&all);
			::sigprocmask(SIG_SETMASK, &all, nullptr);
			::raise(sig);
		});
		ASSERT_TRUE(WIFSIGNALED(ws)) << sig;
		EXPECT_EQ(exit_status_from_wait(ws), 128 + sig) << sig;
	}
}

// Neither exited nor killed (a stopped child, reported only with WUNTRACED): not the
// child's status, so the table's "system call failed" code, never a code a child can give
// through 128+N or be mistaken for success.
TEST(ExitStatusFromWait, StoppedIsNotAChildStatus)
{
	EXPECT_EQ(exit_status_from_wait(W_STOPCODE(SIGSTOP)), ex::syscall);
	EXPECT_EQ(exit_status_from_wait(W_STOPCODE(SIGTSTP)), ex::syscall);
	EXPECT_EQ(exit_status_from_wait(0xffff), ex::syscall); // __W_CONTINUED
}

TEST(ExitStatusFromExecErrno, NotFound)
{
	EXPECT_EQ(exit_status_from_exec_errno(ENOENT), 127);
	EXPECT_EQ(exit_status_from_exec_errno(ENOTDIR), 127);
}

TEST(ExitStatusFromExecErrno, CannotExecute)
{
	for (int e : {EACCES, ENOEXEC, EPERM, ELOOP, ETXTBSY, E2BIG, EISDIR, ENOMEM, ELIBBAD, EINVAL, 0})
		EXPECT_EQ(exit_status_from_exec_errno(e), 126) << e;
}

// The errno a real execve(2) gives, mapped the way the man pages say.
TEST(ExitStatusFromExecErrno, RealExecve)
{
	char* const argv[] = {const_cast<char*>("x"), nullptr};
	char* const envp[] = {nullptr};
	errno = 0;
	::execve("/nonexistent/phasebox-no-such-program", argv, envp);
	EXPECT_EQ(exit_status_from_exec_errno(errno), ex::not_found);
	errno = 0;
	::execve("/etc/passwd", argv, envp); // exists, not executable
	EXPECT_EQ(errno, EACCES);
	EXPECT_EQ(exit_status_from_exec_errno(errno), ex::cannot_exec);
	errno = 0;
	::execve("/", argv, envp); // a directory
	EXPECT_EQ(exit_status_from_exec_errno(errno), ex::cannot_exec);
}

TEST(ExitCodeTable, Values)
{
	EXPECT_EQ(ex::ok, 0);
	EXPECT_EQ(ex::usage, 100);
	EXPECT_EQ(ex::syscall, 111);
	EXPECT_EQ(ex::cannot_exec, 126);
	EXPECT_EQ(ex::not_found, 127);
	EXPECT_EQ(ex::signal_base, 128);
}

} // namespace
