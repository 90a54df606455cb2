// phasebox's cgroup layout, as pure functions of paths (no file-system access).
//
//   /phasebox/                       root-owned top, created on first use: at the root of
//                                    the hierarchy, or, for an emerge running in a cgroup
//                                    delegated to it with the controllers (a systemd unit
//                                    with Delegate=yes), below that cgroup: <anchor>/phasebox
//                                    (anchored as Portage 3.0.82 anchors its own; see
//                                    choose_anchor() in common/cgroup_setup.hh)
//   /phasebox/leaves/<leaf>          leaves of root phases run outside any adopted invocation
//   /phasebox/inv-<pid>/             one per emerge/ebuild invocation (phasebox-cgroup adopt)
//   /phasebox/inv-<pid>/main/        the invocation's own processes (root-owned)
//   /phasebox/inv-<pid>/builds/      its phases' leaves (v2: made by the keeper and each
//                                    delegated; v1: builds/ delegated to the build user)
//   /phasebox/inv-<pid>/keeper/      the invocation's keeper (common/keeper.hh; v2)
//   .../<leaf>/<leaf>                a phasebox run inside a leaf nests below it
//
// Beside Portage's own FEATURES=cgroup (Portage 3.0.82, cgroup v2 only), whose phases run
// in a per-build cgroup <portage root>/emerge-<pid>/<cpv> that Portage made and reads its
// per-build totals from, phasebox nests below that cgroup instead (common/portage_cgroup.hh):
//   .../emerge-<pid>/<cpv>/phasebox.portage   the processes Portage put there, for the phase
//   .../emerge-<pid>/<cpv>/<leaf>             the phase's leaf
//
// Paths are hierarchy paths as /proc/self/cgroup shows them.
#pragma once

#include "status.hh"

#include <optional>
#include <string>
#include <string_view>

namespace phasebox::layout {

inline constexpr std::string_view top = "/phasebox";
inline constexpr std::string_view leaves = "/phasebox/leaves";

// The top below `anchor` (a canonical hierarchy path; "/" or "": the root).
std::string top_below(std::string_view anchor);

// "inv-N" of a path ".../inv-N/<part>" (its builds or main), or "" when it is not one.
std::string invocation_of(std::string_view path);

// Sanitize a leaf name: every byte outside [A-Za-z0-9._+:,=@-] becomes '_', '/' becomes
// ':', a leading '.' becomes '_', empty becomes "phase", cut to 160 bytes.
std::string sanitize(std::string_view name);

// "<sanitized>.pb<pid>" or, for a collision, "<sanitized>.pb<pid>-<n>".
std::string leaf_name(std::string_view name, long pid, unsigned collision = 0);

// Whether a directory entry is a leaf phasebox made (and so may be reaped when stale).
bool is_leaf_name(std::string_view entry);

// "inv-<pid>".
std::string invocation_name(long pid);
bool is_invocation_name(std::string_view entry);

// Strictly parse a decimal pid (1..2^22-ish, no sign, no spaces, no leading zeros).
std::optional<long> parse_pid(std::string_view s);

enum class Where {
	adopted_main, // inside /phasebox/inv-N/main: leaves go in /phasebox/inv-N/builds
	in_leaf,      // inside a phasebox leaf: nest below the current cgroup
	inner_node,   // in an inner phasebox cgroup where no process belongs: refuse
	outside,      // not below /phasebox at all
	portage_build, // in a per-build cgroup of Portage's FEATURES=cgroup (or its holder):
	               // the leaf goes below that cgroup, base
};

struct Placement {
	Where where;
	std::string base; // where to create the leaf ("" for inner_node/outside)
};

// Classify the caller's current cgroup.  The base is canonical (absolute, no empty
// component); a path with a "." or ".." component is an inner_node (refused).  Read from the
// left, the first component that is "phasebox" (a top, at the root or below an anchor) or
// Portage's "emerge-<pid>" followed by a build's name decides: what is below a leaf — any
// cgroup a build made there, named like the layout or not — stays in that leaf.
Placement classify(std::string_view current);

// Portage's FEATURES=cgroup: a per-build cgroup is ".../emerge-<pid>/<name>", <name> as
// Portage's sanitize_name() makes it ([A-Za-z0-9._+-], neither "." nor ".."), where <pid>
// is the emerge's.  What phasebox puts below one: its holder and its leaves.
inline constexpr std::string_view portage_holder = "phasebox.portage";
struct PortageBuild {
	std::string path; // the per-build cgroup, canonical
	long emerge = 0;  // the emerge's pid, from its parent's name
	std::string rest; // below it: "", the holder, or a leaf (and what nests in it)
};
std::optional<PortageBuild> portage_build(std::string_view current);

} // namespace phasebox::layout
