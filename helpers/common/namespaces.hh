// Creating namespaces, and telling why it failed.
#pragma once

#include "status.hh"

#include <string>

namespace phasebox::ns {

// unshare(CLONE_NEWUSER) and map the caller's uid and gid to themselves (setgroups is
// denied first, as an unprivileged gid_map requires).  The caller then holds every
// capability inside the new namespace, over the namespaces it creates next, until it
// execs as its (non-zero) uid.
Status enter_user_namespace();

// unshare(flags), with an error naming each namespace asked for.
Status unshare_flags(int flags);

// Make every mount a slave of the parent namespace's: nothing mounted here goes back.
Status make_mounts_slave();

// Mount a fresh /proc for the current pid namespace.
Status mount_proc();

Status set_hostname(const std::string& name);

// "network, ipc" for CLONE_NEWNET|CLONE_NEWIPC.
std::string describe_flags(int flags);

} // namespace phasebox::ns
