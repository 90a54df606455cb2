// Run the next program of the chain as a child, and wait for it while forwarding signals.
#pragma once

#include "environment.hh"
#include "status.hh"

#include <csignal>
#include <functional>
#include <optional>
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
	// Exec with the forwarded signals still blocked (the dispositions are restored all
	// the same).  For a child that becomes pid 1 of a new pid namespace and is a phasebox
	// helper: the kernel drops a signal sent to pid 1 whose disposition is the default
	// (sig_task_ignored, SIGNAL_UNKILLABLE), but never a blocked one (sig_ignored), so a
	// signal forwarded before that helper has its handlers stays pending for it.  The
	// helper must be told the mask to restore (phasebox-reap --sigmask).
	bool keep_forwarded_blocked = false;
};

struct SpawnFailure {
	int exit_code = 0; // 111 when before_exec failed, 126/127 when exec failed
	Error error;
};

struct Spawned {
	pid_t pid = 0;
	bool failed = false;
	SpawnFailure failure{};
};

// Block the signals a supervisor forwards (and SIGCHLD) so none is lost between fork
// and the wait loop.  Call once, before spawn().  The mask saved (and restored for the
// next program) is this process's current one, or `original` where given.
Status block_forwarded_signals(const sigset_t* original = nullptr);

// A signal mask as text (16 hex digits, bit N-1 for signal N, as /proc/PID/status shows
// SigBlk) and back; nullopt for anything else.
std::string mask_to_text(const sigset_t& mask);
std::optional<sigset_t> mask_from_text(const std::string& text);

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

// block_forwarded_signals(original), spawn(), supervise(): the whole life of the child.
Outcome run_supervised(ChildSpec& spec, bool reap_others, const sigset_t* original = nullptr);

// A NULL-terminated argv for execve(2) or a main(), pointing into `argv` (valid while it
// lives unchanged).
std::vector<char*> argv_pointers(std::vector<std::string>& argv);

// Exec the next program in this process (no fork).  Only returns on failure.
SpawnFailure exec_next(ChildSpec& spec);

} // namespace phasebox
