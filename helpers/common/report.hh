// How helpers report: "<helper>: <context>: <what failed>: <strerror>" on stderr (the
// terminal and Portage's build log), and, where set_elog() named the phase's elog file
// (${T}/logging/${EBUILD_PHASE}), the same text there as Portage's eerror/ewarn/eqawarn
// would write it (common/elog.hh), so that PORTAGE_ELOG_CLASSES / PORTAGE_ELOG_SYSTEM
// collect it.  Only a binary's own steps call these; library code returns errors.
#pragma once

#include "elog.hh"
#include "status.hh"

#include <cstdarg>
#include <string>
#include <vector>

namespace phasebox::report {

// Set once in main(): the helper's name (init() also forgets any elog file), the context
// ("cat/pf-1 src_compile") and the phase's elog file ("" for none).
void init(const char* prog);
void set_context(std::string context);
void set_elog(std::string path);
// The same, with the file opened now and kept open (close-on-exec): for a helper that
// gives up its privileges before it has anything to say (phasebox-proxy, which as root
// then could no longer open a file in the build user's ${T}/logging).
void open_elog(std::string path);

// A failure: "<prog>: <context>: <e.what>: <strerror(e.err)>" (and a hint line when
// given); elog class ERROR.
void error(const Error& e, const std::string& hint = "");
// Printf-style, "<prog>: <context>: " prefixed: a failure (elog ERROR) ...
void failure(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// ... and a warning, a downgrade or a note about the phase (elog WARN).
void message(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Non-fatal problem: "<prog>: <context>: <what>, ignoring: <strerror>" (elog WARN).
void ignoring(const Error& e);
// Lines in Portage's " * " form, as eqawarn/ewarn/eerror print them: to stderr as they
// are, and to the elog file as class `c`, each without its leading " * ".
void notice(elog::Class c, const std::vector<std::string>& ls);
// Raw lines to stderr only (the build log: the per-phase accounting line).
void lines(const std::vector<std::string>& ls);

} // namespace phasebox::report
