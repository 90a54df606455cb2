// Finding the caller's cgroup hierarchy and creating, locking, reaping and removing
// phasebox leaves in it.  Shared by `phasebox-cgroup` (run) and `phasebox-cgroup adopt`.
#pragma once

#include "cgroupfs.hh"
#include "layout.hh"
#include "mounts.hh"
#include "status.hh"

#include <chrono>
#include <string>
#include <vector>

namespace phasebox {

enum class HierarchyChoice { automatic, v2, v1 };

// The hierarchy phasebox uses here: cgroup2 where mounted, else the v1 freezer.
struct Hierarchy {
	cgroupfs::Kind kind = cgroupfs::Kind::v2;
	CgroupMount mount;
	UniqueFd root; // the mount point, file system verified
	std::string v1_name = "freezer"; // the v1 controller whose hierarchy this is
	std::string controller() const { return kind == cgroupfs::Kind::v2 ? "" : v1_name; }
	// "/a/b" (hierarchy path) -> "a/b" relative to root, or an error when not visible here.
	Result<std::string> relative(const std::string& cgroup_path) const;
};

Result<Hierarchy> open_hierarchy(HierarchyChoice choice);

// The v1 hierarchy of `controller` ("memory", "pids", "cpu", "blkio"); ENOENT when none
// is mounted.
Result<Hierarchy> open_v1_hierarchy(const std::string& controller);

// The hierarchy path of process `pid` (0: self) in `h`.
Result<std::string> current_cgroup(const Hierarchy& h, int pid = 0);

// A leaf cgroup owned by this process: its cgroup.procs is flock(2)ed for as long as the
// fd is open, which is how a later run tells a live leaf from one whose supervisor died.
// Not the directory: that is the base of a nested run's leaf, which takes a shared lock
// on its base (create_leaf) and an exclusive one to reap (reap_stale_leaves) — a lock
// held on it for the supervisor's whole life deadlocked every nested run.
struct Leaf {
	UniqueFd base;     // the directory the leaf was made in
	UniqueFd dir;      // the leaf itself
	UniqueFd lock;     // its cgroup.procs (flocked)
	std::string name;  // entry name below base
	std::string path;  // hierarchy path, for messages
};

// mkdir a uniquely named leaf below `base_path` and lock it.  The name carries
// `name_pid` (0: this process's pid).
Result<Leaf> create_leaf(const Hierarchy& h, const std::string& base_path, bool create_base,
			 const std::string& label, long name_pid = 0);

struct Reaped {
	std::string name;
	size_t killed = 0;
};

// Kill and remove every leaf below `basefd` whose owner is gone (its lock can be taken),
// except `keep`.  Skipped when another process is reaping or creating right now.
std::vector<Reaped> reap_stale_leaves(int basefd, cgroupfs::Kind kind, const std::string& keep,
				      std::chrono::milliseconds timeout, std::vector<Error>& errors);

} // namespace phasebox
