// Where the cgroup hierarchies are mounted, read through libmount.
#pragma once

#include "status.hh"

#include <map>
#include <string>

namespace phasebox {

struct CgroupMount {
	std::string target; // mount point, e.g. /sys/fs/cgroup/unified
	std::string root;   // the hierarchy path mounted there, "/" for the whole hierarchy
	bool read_only = false;
	bool empty() const { return target.empty(); }
};

struct CgroupMounts {
	CgroupMount unified;                     // cgroup2; empty when none is mounted
	std::map<std::string, CgroupMount> v1; // controller (or "name=x") -> mount
};

// Parse a mountinfo file (default: the caller's).  A table with no cgroup mounts
// at all is not an error: the result is simply empty.
Result<CgroupMounts> find_cgroup_mounts(const std::string& mountinfo = "/proc/self/mountinfo");

// find_cgroup_mounts() of this process's mount table, parsed once per mount namespace:
// a phase's set-up looks for the cgroup2 mount and then each v1 hierarchy it mirrors into
// (five parses of the same table otherwise).  Whatever a caller opens from it is still
// verified there (cgroupfs::open_root checks the file system's magic).
Result<CgroupMounts> cgroup_mounts();

// The file-system path of hierarchy path `cgroup` (as /proc/self/cgroup names it) below
// mount `m`, or "" when the mount does not show that part of the hierarchy.
std::string cgroup_fs_path(const CgroupMount& m, const std::string& cgroup);

} // namespace phasebox
