// Command-line grammar shared by the helpers: `prog [options] -- next-prog args...`.
//
// Everything after the first "--" is the next program and is never parsed; CLI11 parses
// what comes before.  CLI11's own exit codes clash with the helpers' table, so its errors
// are caught here and mapped: --help → 0, anything else → 100.
#pragma once

#include "elog.hh"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace phasebox::cli {

struct Split {
	std::vector<std::string> own;  // argv[1..] before "--"
	std::vector<std::string> next; // after "--"
	bool had_separator = false;
};

inline Split split_at_separator(int argc, char** argv)
{
	Split s;
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		if (!s.had_separator && a == "--") {
			s.had_separator = true;
			continue;
		}
		(s.had_separator ? s.next : s.own).push_back(std::move(a));
	}
	return s;
}

// Every helper's description carries its own "Usage:" lines (the "-- PROG [ARGS...]"
// part, subcommands); CLI11's generated one, which knows neither, is left out.
struct OwnUsageFormatter : CLI::Formatter {
	std::string make_usage(const CLI::App*, std::string) const override { return ""; }
};

// Parse `own` with `app`.  Returns an exit status when the program must stop now
// (0 after --help/--version, 100 after a usage error), nothing when it goes on.  Every ParseError
// is caught here; what else CLI11 throws is a ConstructionError (an option defined twice, a
// bad name), a bug of the helper that its first --help test shows: the one exception the
// helpers' main() let escape (clang-tidy's bugprone-exception-escape is silenced there).
inline std::optional<int> parse(CLI::App& app, std::vector<std::string> own, const char* prog)
{
	app.formatter(std::make_shared<OwnUsageFormatter>());
	std::reverse(own.begin(), own.end()); // CLI11 takes the vector back to front
	try {
		app.parse(own);
	} catch (const CLI::CallForHelp&) {
		std::fputs(app.help().c_str(), stdout);
		return 0;
	} catch (const CLI::CallForAllHelp&) {
		std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
		return 0;
	} catch (const CLI::ParseError& e) {
		std::fprintf(stderr, "%s: %s\n%s: try '%s --help'\n", prog, e.what(), prog, prog);
		return 100;
	}
	return std::nullopt;
}

// The grammar's "-- PROG [ARGS...]" part: 100 with a message when it is missing.
inline std::optional<int> require_next(const Split& args, const char* prog)
{
	if (args.had_separator && !args.next.empty())
		return std::nullopt;
	std::fprintf(stderr, "%s: missing '-- PROG [ARGS...]'\n%s: try '%s --help'\n", prog, prog, prog);
	return 100;
}

// --elog PATH, the phase's elog file (common/elog.hh), in every link of the chain.
inline void add_elog_option(CLI::App& app, std::string& path)
{
	app.add_option("--elog", path,
		       "the phase's elog file ${T}/logging/${EBUILD_PHASE}: what this helper says about the "
		       "phase goes there too, as Portage's eqawarn (QA), ewarn (WARN) and eerror (ERROR) write it")
		->check([](const std::string& p) {
			Status s = elog::check_path(p);
			return s ? std::string() : s.error().what;
		});
}

} // namespace phasebox::cli
