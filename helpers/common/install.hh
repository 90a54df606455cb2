// Where the running program's own installation keeps the helpers.
//
// A program finds its installation from its own path, /proc/self/exe (the kernel's, with
// every symlink resolved: no caller's environment or argv[0] can change it), and from
// LIBEXECDIR as built only where that finds nothing: a build tree installed with another
// PREFIX than it was built with (a scratch PREFIX, a packager's image) must never look at
// whatever another `make install` left at the built-in path.  Nothing here reads the
// environment: the helpers run as root on behalf of users they do not trust.
//
// The helpers themselves are their own installation: each finds the next link in its own
// directory (isolate::self_dir(); in the bash builtin, the directory phasebox-builtin.so
// was loaded from).
#pragma once

#include <string>

namespace phasebox::install
{

// This program's own path (/proc/self/exe), "" when it cannot be read.
std::string self_exe();

// LIBEXECDIR as the Makefile built it (PHASEBOX_LIBEXECDIR).
const char* built_libexecdir();

struct Helpers {
	std::string dir;
	bool as_built = false; // not found from the program's own path: `built`
};

// For the program at `exe` (the user command `phasebox`, in BINDIR or in the build tree):
// the first of <exe's directory>/../libexec/phasebox (an install: BINDIR beside LIBEXECDIR,
// named without "..") and exe's own directory (the build tree, where the helpers are built
// beside it) that holds phasebox-cgroup (an executable regular file); else `built`, marked
// as_built.
Helpers helpers_for(const std::string& exe, const std::string& built);

// helpers_for(self_exe(), built_libexecdir()).
Helpers helpers();

} // namespace phasebox::install
