// Limits and accounting of one phase's cgroup.
//
// On cgroup2, a controller the hierarchy offers (its root's cgroup.controllers) is enabled
// in cgroup.subtree_control of every cgroup from the mount's root down to the leaf's
// parent — all of them inner phasebox cgroups with no process of their own, as the "no
// internal processes" rule wants — and the limit is written into the leaf's own files,
// which stay root's even where the leaf is delegated.  A controller bound to cgroup v1
// instead (hybrid and legacy hosts) gets a *mirror*: a leaf of the same kind in that v1
// hierarchy, made below the phase's current cgroup there (so that whatever limits the host
// already put around it still hold), root's, locked like any leaf, which the phase's
// first process enters before it execs; it is removed at the end.  The memory, pids and
// blkio controllers get a mirror even without limits, for the accounting.
//
// A limit that cannot be applied is an error (fail closed), unless the caller says to
// warn: then it is dropped and named in Attached::dropped.
#pragma once

#include "cgroup_setup.hh"
#include "limits.hh"
#include "status.hh"

#include <optional>
#include <string>
#include <vector>

namespace phasebox {

struct Mirror {
	std::string controller; // "memory", "pids", "cpu", "blkio"
	Hierarchy h;
	Leaf leaf;
};

struct Attached {
	std::vector<std::string> v2; // controllers in force on the cgroup2 leaf
	std::vector<Mirror> mirrors;
	std::vector<Error> dropped; // limits not applied (warn policy)
};

// --- pure-ish pieces, on any directory (unit-tested against a fixture tree) ----------

// The controllers a phase needs for these limits: "memory", "pids", "cpu", "io".
std::vector<std::string> controllers_for(const limits::Limits& l);

// Enable `ctrls` in cgroup.subtree_control of `rootfd` and of each directory on `rel`
// ("phasebox/inv-1/builds"), which must all offer them in cgroup.controllers.
Status enable_v2_controllers(int rootfd, const std::string& rel, const std::vector<std::string>& ctrls);

// Write the cgroup2 files of the limits in `leafdir` for controller `ctrl`.
Status write_v2_limits(int leafdir, const std::string& ctrl, const limits::Limits& l);

// Write the v1 files of the limits for `ctrl` ("memory", "pids", "cpu", "blkio") in `dir`.
Status write_v1_limits(int dir, const std::string& ctrl, const limits::Limits& l);

// --- one phase ------------------------------------------------------------------------

struct AttachRequest {
	const Hierarchy* main = nullptr; // the hierarchy of the phase's leaf
	std::string base_path;           // hierarchy path of the leaf's parent
	int leafdir = -1;                // the leaf
	std::string label;               // for the mirrors' names
	pid_t v1_of = 0;                 // whose v1 cgroups the mirrors go below (0: this process)
	long name_pid = 0;               // the pid in the mirrors' names (0: this process)
	bool warn = false;               // a limit that cannot be applied is dropped, not fatal
};

// Apply `l` (and set up the accounting) for the leaf.  The error names the variable.
Result<Attached> attach(const AttachRequest& r, const limits::Limits& l);

// Move process `pid` (0: the caller) into every mirror.
Status enter_mirrors(const Attached& a, pid_t pid);

// Remove the mirrors (their processes are gone once the leaf has been emptied).
void detach(Attached& a, std::vector<Error>& errors);

// What a phase used.
struct Usage {
	std::optional<double> cpu_user_s, cpu_system_s;
	std::optional<uint64_t> mem_peak, pids_peak, oom_kills, io_read, io_write;
};

// "key N" lines (cpu.stat, memory.events, memory.oom_control): N of `key`.
std::optional<uint64_t> keyed_value(const std::string& text, const std::string& key);
// io.stat: the sums of rbytes= and wbytes= over every device.
std::pair<uint64_t, uint64_t> io_stat_bytes(const std::string& text);
// blkio.*io_service_bytes*: the sums of the "Read N" and "Write N" lines.
std::pair<uint64_t, uint64_t> blkio_bytes(const std::string& text);

// Read the usage from the leaf (cgroup2 or v1 `kind`) and the mirrors.
Usage read_usage(int leafdir, cgroupfs::Kind kind, const Attached& a);

} // namespace phasebox
