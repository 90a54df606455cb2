// Operations on a cgroup file system through directory fds.
//
// Every path is resolved one component at a time below a dirfd whose file system was
// verified with fstatfs(2), with O_NOFOLLOW|O_DIRECTORY: no symlink, no "..", no other
// file system is ever followed, whatever a build has put into a delegated subtree.
#pragma once

#include "fd.hh"
#include "status.hh"

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace phasebox::cgroupfs {

enum class Kind { v2, v1 };

// Open `path` (a mount point, or a directory below one) and verify it is cgroup2
// (Kind::v2) or cgroup v1 (Kind::v1).
Result<UniqueFd> open_root(const std::string& path, Kind kind);

// Open the directory `rel` ("a/b/c", no leading slash needed) below `dirfd`, component by
// component; when `create` is set, missing components are made with `mode`.
Result<UniqueFd> open_dir(int dirfd, const std::string& rel, bool create = false,
			  mode_t mode = 0755);

// Whether a name is one component that can never walk anywhere else.
bool is_plain_name(const std::string& name);

// The pids listed in `file` (cgroup.procs or tasks) of the cgroup `dirfd`, and of every
// cgroup below it when `recursive`.
Result<std::vector<pid_t>> list_pids(int dirfd, const std::string& file, bool recursive);

// "populated" from cgroup.events (v2).
Result<bool> populated(int dirfd);

// v2: wait until cgroup.events says "populated 0", by poll(2) on the file (kernfs
// notifies every change) — never by sleeping.  ETIMEDOUT when `timeout` passes first.
Status wait_unpopulated(int dirfd, std::chrono::milliseconds timeout);

// Kill every process in the cgroup and below, then wait until none is left.
// v2: cgroup.kill where the kernel has it (5.14+); otherwise freeze, SIGKILL each
// process, thaw, and wait on pidfds, until empty.  v1: the same through the freezer's
// freezer.state (or, without a freezer, SIGKILL each pid in `tasks`).
Status kill_all(int dirfd, Kind kind, std::chrono::milliseconds timeout);

// Remove the cgroup `name` below `parentfd` and every cgroup below it, depth first.
Status remove_tree(int parentfd, const std::string& name);

// cgroup v2: move every process of the cgroup `from` into the cgroup `to`, one pid a write (a
// pid gone meanwhile is no error), again until `from` holds none: a process forking while
// its siblings move can leave a child behind.  EBUSY when processes keep appearing.
Status move_all(int from, int to);

// Move the calling process (v2: and its threads) into the cgroup `dirfd`.
Status enter(int dirfd, Kind kind);

} // namespace phasebox::cgroupfs
