#include "exit_status.hh"

#include <cerrno>
#include <sys/wait.h>

namespace phasebox {

int exit_status_from_wait(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return exit_code::signal_base + WTERMSIG(wstatus);
	return exit_code::syscall;
}

int exit_status_from_exec_errno(int err)
{
	return (err == ENOENT || err == ENOTDIR) ? exit_code::not_found : exit_code::cannot_exec;
}

} // namespace phasebox
