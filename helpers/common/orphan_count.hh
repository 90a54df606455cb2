// How phasebox-reap tells phasebox-cgroup how many processes it killed.
//
// In the usual chain phasebox-reap, a subreaper (or pid 1), kills what the phase left
// before phasebox-cgroup looks into the leaf, so the leaf is empty by then; the count
// for the accounting record comes up a pipe instead.  phasebox-cgroup's child gets a
// non-close-on-exec copy of the write end and its number in PHASEBOX_ORPHANS_FD;
// phasebox-reap takes both away again (close-on-exec, variable removed), so the phase
// never sees either, and writes "<count>\n" when it is done.  A build that sets the
// variable itself only ever makes a nested phasebox-reap write a number to its own fd.
#pragma once

#include "environment.hh"
#include "fd.hh"
#include "status.hh"

#include <cstddef>

namespace phasebox::orphan_count {

inline constexpr const char* variable = "PHASEBOX_ORPHANS_FD";

struct Channel {
	UniqueFd rd, wr;
};

// The supervisor's pipe (both ends close-on-exec, the read end non-blocking).
Result<Channel> open();

// In the child, between fork and exec: a copy of the write end that survives exec, named
// in `env`.
Status pass(const Channel& c, Environment& env);

// After the child has ended: what phasebox-reap wrote (0 when nothing).
size_t read(Channel& c);

// phasebox-reap: take the descriptor named in `env` (the variable is removed) and make it
// close-on-exec; -1 when there is none or it is not a pipe.
int take(Environment& env);

// phasebox-reap: report the count (ignores every error: the count is informational).
void send(int fd, size_t n);

} // namespace phasebox::orphan_count
