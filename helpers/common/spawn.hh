// Run the next program of the chain as a child, and wait for it while forwarding signals.
#pragma once

#include "environment.hh"
#include "status.hh"

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace phasebox {

struct ChildSpec {
	std::string file;              // what to execute; "" means argv[0], searched in PATH
	std::vector<std::string> argv; // argv of the next program, unchanged
	Environment* env = nullptr;    // its environment (the one this helper received)
	// Steps the child runs between fork and exec (enter a cgroup, drop capabilities).
	// A failure is reported to the parent and the child exits without exec-ing.
	std::function<Status()> before_exec;
	// A step the parent runs once the child exists and before it goes on (it waits, before
	// before_exec).  A failure kills the child and is returned as spawn()'s failure.
	std::function<Status(pid_t)> after_fork;
};

struct SpawnFailure {
	int exit_code; // 111 when before_exec failed, 126/127 when exec failed
	Error error;
};

struct Spawned {
	pid_t pid = 0;
	bool failed = false;
	SpawnFailure failure{};
};

// Block the signals a supervisor forwards (and SIGCHLD) so none is lost between fork
// and the wait loop.  Call once, before spawn().
Status block_forwarded_signals();

// fork(2); the child gets PR_SET_PDEATHSIG(SIGKILL) with a handshake (it exits if the
// parent is already gone), the original signal mask, runs before_exec, and execs.
// Returns once the child has exec'd (or failed to): a close-on-exec pipe reports which.
Result<Spawned> spawn(ChildSpec& spec);

// Wait until `child` ends and return its wait status.  Signals sent to this process are
// forwarded to the child, except those the kernel sent to the whole process group (a
// terminal's ^C), which the child got itself.  With `reap_others` (a subreaper or pid 1)
// every other child that ends meanwhile is reaped too.
int supervise(pid_t child, bool reap_others);

struct Outcome {
	bool ran = false;      // the child exec'd the next program
	int wstatus = 0;       // its wait status, when it ran
	SpawnFailure failure{}; // why it did not, otherwise
};

// block_forwarded_signals(), spawn(), supervise(): the whole life of the child.
Outcome run_supervised(ChildSpec& spec, bool reap_others);

// Exec the next program in this process (no fork).  Only returns on failure.
SpawnFailure exec_next(ChildSpec& spec);

} // namespace phasebox
