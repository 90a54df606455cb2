// The one exit-code table of every phasebox helper (see the man pages, EXIT STATUS).
#pragma once

namespace phasebox::exit_code {
constexpr int ok = 0;
constexpr int usage = 100;        // bad command line
constexpr int syscall = 111;      // a system call failed while setting up (before build code ran)
constexpr int cannot_exec = 126;  // the next program exists but could not be executed
constexpr int not_found = 127;    // the next program was not found
constexpr int signal_base = 128;  // 128+N: the child was killed by signal N
} // namespace phasebox::exit_code

namespace phasebox {

// Map a wait(2) status to the exit status a shell would report:
// the child's own code, or 128+N for death by signal N.
int exit_status_from_wait(int wstatus);

// Map an execve(2) errno to 127 (not found) or 126 (cannot execute).
int exit_status_from_exec_errno(int err);

} // namespace phasebox
