// phasebox version — print phasebox's version (the Makefile's VERSION) on stdout.
#include "cmd/command.hh"
#include "common/exit_status.hh"

#include <cstdio>

#ifndef PHASEBOX_VERSION
#error "PHASEBOX_VERSION is set by the Makefile"
#endif

namespace {

int run(int argc, char** argv)
{
	if (argc > 1) {
		std::fprintf(stderr, "%s: takes no arguments\n", argv[0]);
		return phasebox::exit_code::usage;
	}
	std::printf("phasebox %s\n", PHASEBOX_VERSION);
	return phasebox::exit_code::ok;
}

const phasebox::cmd::Registration reg{"version", "print phasebox's version", run};

} // namespace
