// How helpers report: "<helper>: <context>: <what failed>: <strerror>" on stderr.
// Only a binary's own steps call these; library code returns errors.
#pragma once

#include "status.hh"

#include <cstdarg>
#include <string>
#include <vector>

namespace phasebox::report {

// Set once in main(): the helper's name, and the context ("cat/pf-1 src_compile").
void init(const char* prog);
void set_context(std::string context);

// Print "<prog>: <context>: <e.what>: <strerror(e.err)>" (and a hint line when given).
void error(const Error& e, const std::string& hint = "");
// Printf-style message, "<prog>: <context>: " prefixed.
void message(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Non-fatal problem: "<prog>: <context>: <what>, ignoring: <strerror>".
void ignoring(const Error& e);
// Print raw lines to stderr (the build log), one per element.
void lines(const std::vector<std::string>& ls);

} // namespace phasebox::report
