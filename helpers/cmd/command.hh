// Subcommands of the user-facing `phasebox` program (doctor, report, clean, …).
//
// Each subcommand lives in helpers/cmd/<name>.cc and registers itself with a file-scope
//   const phasebox::cmd::Registration reg{"name", "one-line summary", run_function};
// so that adding one never touches a shared table.  run_function gets the arguments after
// the subcommand's name (argv[0] is "phasebox NAME") and returns the exit status, from the
// helpers' one table (common/exit_status.hh).
#pragma once

#include <map>
#include <string>

namespace phasebox::cmd {

using Run = int (*)(int argc, char** argv);

struct Command {
	std::string summary;
	Run run = nullptr;
};

// The registry, ordered by name (for --help).  A function-local static, so that the
// registrations of other translation units may run in any order.
std::map<std::string, Command>& registry();

struct Registration {
	Registration(const char* name, const char* summary, Run run) { registry()[name] = Command{summary, run}; }
};

} // namespace phasebox::cmd
