// Privilege state checks and capability drops (libcap).
#pragma once

#include "status.hh"

namespace phasebox {

// Fail closed on a state no phasebox helper should ever run in: set-user-ID or
// set-group-ID execution (real and effective ids differ), or capabilities held by a
// non-root user (phasebox installs no file capabilities).
Status check_privilege_state();

// For a non-root process: clear the effective, permitted and inheritable sets and the
// ambient set, then verify that all of them read back empty.  Root keeps what it was
// given: phasebox never adds a capability, and root phases (src_install) need theirs
// (fowners needs CAP_CHOWN).
Status drop_capabilities_unless_root();

// For a process that runs no build code and execs nothing (phasebox-proxy's server), root
// or not: empty the bounding set, then the ambient, effective, permitted and inheritable
// sets, set no_new_privs and make the process non-dumpable (a build of the same uid can
// then neither ptrace it nor read its memory), and verify every set reads back empty.
Status drop_all_capabilities();

} // namespace phasebox
