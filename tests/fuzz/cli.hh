// The prologue of the command-line harnesses (cli_*.cc).  A harness names the source whose
// grammar it fuzzes and includes this file:
//
//   #define FUZZ_CLI_SOURCE "../../helpers/phasebox-reap.cc"
//   #include "cli.hh"
//
// That source is compiled here with its main() renamed: nothing of it is executed but its
// parse functions.  A `phasebox` subcommand (helpers/cmd/) also defines FUZZ_CLI_SUBCOMMAND:
// its registration needs the command registry, defined here as helpers/phasebox.cc does.
//
// goes_on() runs a grammar on the fuzz input, silenced, and checks the contract all share:
// stop with 0 (--help) or 100 (usage), or go on; require_next() the helpers' own: when
// `prog [options] -- next-prog args...` goes on, the next program is exactly what followed
// the first "--".
#pragma once

#ifndef FUZZ_CLI_SOURCE
#error "define FUZZ_CLI_SOURCE, the .cc whose grammar is fuzzed, before including cli.hh"
#endif

#define main fuzz_cli_source_main
#include FUZZ_CLI_SOURCE
#undef main

#include "argv.hh"

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#ifdef FUZZ_CLI_SUBCOMMAND
std::map<std::string, phasebox::cmd::Command>& phasebox::cmd::registry()
{
	static std::map<std::string, Command> r;
	return r;
}
#endif

namespace fuzzcli
{

// `parse` (the grammar's own function, or a lambda around several) on the input's words:
// split at "--" for a helper's parse(const cli::Split&, Options&), as argc/argv for a
// subcommand's parse(int, char**, Options&).  True when the grammar goes on.
template <class Options, class Parse> bool goes_on(fuzzargv::Argv& a, Options& o, Parse parse)
{
	std::optional<int> rc;
	{
		fuzzargv::Quiet q;
		if constexpr (std::is_invocable_v<Parse, const phasebox::cli::Split&, Options&>)
			rc = parse(phasebox::cli::split_at_separator(a.argc(), a.argv()), o);
		else
			rc = parse(a.argc(), a.argv(), o);
	}
	fuzzargv::require_stop_or_go_on(rc);
	return !rc;
}

// A helper's grammar went on: the next program is exactly what followed the first "--".
inline void require_next(const fuzzargv::Argv& a, const std::vector<std::string>& next)
{
	FUZZ_REQUIRE(a.separator() && !a.next().empty());
	FUZZ_REQUIRE(next == a.next());
}

} // namespace fuzzcli
