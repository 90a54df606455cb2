// The helper chain run inside the phase's own shell, with no exec(2) at all: the bash
// builtin phasebox_isolate (helpers/builtin/phasebox-builtin.cc) calls the first link's
// main(), and each link's "exec" of the next phasebox link becomes a call of that link's
// main() in the same process — after exactly what exec(2) would have done to it that
// matters here: signal dispositions and mask restored (exec_next does that for both),
// every close-on-exec descriptor the links opened closed, the environment the link passes
// on installed.  The last link's program is the token continue_token(): in the process
// that would have exec'd the phase, Continue is thrown, the stack of links unwinds
// (closing their descriptors), and the builtin returns into the shell, which runs the rest
// of the phase — already in its cgroup and namespaces — without ebuild.sh being run again.
// Every other process of the chain (the supervisors, pid 1) is a copy of the shell that
// runs the link's code to its end and _exit(2)s with the link's status, as the helper
// binary would have.
#pragma once

#include "environment.hh"

#include <string>
#include <utility>
#include <vector>

namespace phasebox::inprocess {

using Main = int (*)(int, char**);

// Thrown in the one process that goes back to the shell.
struct Continue {};

struct Config {
	std::string dir;                                 // where the helpers are installed
	std::vector<std::pair<std::string, Main>> mains; // helper name → its main()
};

// The builtin, once, before the first link's main(): from now on exec_next() calls mains.
// Records the descriptors open now (the shell's own: never closed) and `environ`.
void enable(Config config);
bool active();

// The helpers' directory (isolate::self_dir() answers it while active).
const std::string& dir();

// The program name that stands for "go back to the shell".
const std::string& continue_token();

// The main() for argv0 when it names one of the helpers in dir(), else nullptr.
Main find(const std::string& argv0);

// exec(2)'s effects on what the links opened: closes every close-on-exec descriptor that
// was not open when enable() ran.
void close_on_exec();

// The environment of the next link (exec's envp): a copy kept for the process's life.
void install_environment(const Environment& env);

// Back to the shell: `environ` and the process name (comm) as they were at enable(),
// in-process mode off.
void restore_shell();

} // namespace phasebox::inprocess
