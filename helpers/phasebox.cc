// phasebox — the user-facing command: `phasebox SUBCOMMAND [ARGS...]`.
//
// It isolates nothing itself: the isolation is the helpers' work (phasebox-cgroup,
// phasebox-unshare, phasebox-reap).  Each subcommand is its own file in helpers/cmd/ and
// documents its own arguments and exit status; `phasebox --help` lists them.
//
// Exit status: the subcommand's; 100 for an unknown subcommand or none at all.
#include "cmd/command.hh"
#include "common/exit_status.hh"

#include <cstdio>
#include <cstring>
#include <string>

using namespace phasebox;

namespace {

const char* const prog = "phasebox";

void usage(FILE* to)
{
	std::fprintf(to, "Usage: %s SUBCOMMAND [ARGS...]\n       %s SUBCOMMAND --help\n\nSubcommands:\n", prog,
		     prog);
	for (const auto& [name, c] : cmd::registry())
		std::fprintf(to, "  %-10s %s\n", name.c_str(), c.summary.c_str());
}

} // namespace

std::map<std::string, cmd::Command>& cmd::registry()
{
	static std::map<std::string, Command> r;
	return r;
}

int main(int argc, char** argv)
{
	if (argc < 2) {
		usage(stderr);
		return exit_code::usage;
	}
	std::string name = argv[1];
	if (name == "--help" || name == "-h" || name == "help") {
		usage(stdout);
		return exit_code::ok;
	}
	auto it = cmd::registry().find(name);
	if (it == cmd::registry().end()) {
		std::fprintf(stderr, "%s: unknown subcommand '%s'\n%s: try '%s --help'\n", prog, name.c_str(), prog,
			     prog);
		return exit_code::usage;
	}
	std::string argv0 = std::string(prog) + " " + name;
	argv[1] = argv0.data();
	return it->second.run(argc - 1, argv + 1);
}
