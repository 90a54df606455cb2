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

// Where an emerge's invocation goes on cgroup v2, as Portage 3.0.82 anchors its own
// FEATURES=cgroup hierarchy (lib/portage/util/cgroup.py, _detect_portage_root): below the
// emerge's own cgroup (without a trailing /init.scope) when that cgroup can give phasebox's
// leaves every controller the hierarchy's root offers among cpu, io, memory and pids —
// because its manager enabled them in its cgroup.subtree_control, or because it was
// delegated (systemd's Delegate=yes: the user.delegate or trusted.delegate extended
// attribute) and offers them —, else the root ("/").  An interactive emerge runs in a
// session scope that is delegated nothing: the root.  cgroup v1: the root.
struct Anchor {
	std::string path = "/";
	bool delegated = false;
	std::vector<std::string> wanted; // the controllers it must give
};
Anchor choose_anchor(const Hierarchy& h, pid_t pid);

// Let the anchor give its controllers to the top: what is still in it (cgroup v2's "no
// internal processes" rule) goes into <anchor>/init.scope, as Portage and systemd do, and
// the controllers are enabled in its cgroup.subtree_control.  Nothing to do at the root.
Status prepare_anchor(const Hierarchy& h, const Anchor& a);

} // namespace phasebox
