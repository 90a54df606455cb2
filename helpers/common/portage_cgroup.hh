// Nesting below Portage's own FEATURES=cgroup (Portage 3.0.82, cgroup v2 only).
//
// With FEATURES=cgroup, Portage puts every process it spawns for a build into the build's
// cgroup <root>/emerge-<emerge pid>/<cpv> (written before exec), reads the build's totals
// from it (cpu.stat, memory.peak, io.stat: hierarchical) when the build ends, and removes
// it with all below.  phasebox's leaf for a phase therefore goes below that cgroup, so that
// Portage's totals include the phase and phasebox's leaf, limits and orphan kill still
// hold.  cgroup v2 lets a cgroup that holds processes enable no controller for its children
// (the "no internal processes" rule), and the build cgroup holds the phase's own processes
// (ebuild.sh, sandbox, the supervisor): so for as long as a phasebox leaf exists below it,
// those processes wait in <cpv>/phasebox.portage (layout::portage_holder), and when the
// last leaf is gone they go back, and the controllers phasebox enabled in <cpv>'s
// cgroup.subtree_control are disabled again — Portage writes the next phase's process into
// <cpv>, which cgroup v2 refuses (EBUSY) while it distributes a controller.
//
// Who does it: root itself for a root phase (phasebox-cgroup), the invocation's keeper for
// a build-user phase (common/keeper.hh), never the build user.  Only a build cgroup owned
// by root is used: Portage runs as root, and a cgroup the build user owns (a systemd user
// session's delegated subtree, named to look like Portage's) is not Portage's.
#pragma once

#include "cgroup_setup.hh"
#include "fd.hh"
#include "status.hh"

#include <string>
#include <vector>

namespace phasebox::portage_cgroup {

// The build cgroup at hierarchy path `path` (layout::portage_build()), opened, verified to
// be root's.
Result<UniqueFd> open_build(const Hierarchy& h, const std::string& path);

// Move every process of the build cgroup into its holder (made when missing), until none
// is left, so that controllers can be enabled below it.
Status make_room(int buildfd, const std::string& path);

// When no phasebox leaf is left below the build cgroup: disable every controller enabled
// in its cgroup.subtree_control (Portage enables none there), move the holder's processes
// back, remove the holder.  What fails is added to `errors`; nothing is fatal.
void give_back(int buildfd, const std::string& path, std::vector<Error>& errors);

} // namespace phasebox::portage_cgroup
