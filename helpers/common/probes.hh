// Probes `phasebox doctor` runs: each one in a throw-away child or on a throw-away cgroup,
// never changing the caller.  They return what happened; doctor says what it means.
#pragma once

#include "status.hh"

#include <optional>
#include <string>

namespace phasebox::probes
{

// sys-apps/sandbox traces static binaries with ptrace: a child that PTRACE_TRACEMEs and
// stops, PTRACE_SETOPTIONS with PTRACE_O_EXITKILL, its memory read with
// process_vm_readv.  Every step is tried on a forked child, which is killed afterwards.
Status ptrace_like_sandbox();

// /proc/sys/kernel/yama/ptrace_scope, when Yama is there.
std::optional<long> yama_ptrace_scope();

// What phasebox-cgroup would do for the caller right now: root makes (and at once
// removes) a leaf below /phasebox/leaves; a non-root caller must be inside an adopted
// invocation.  `where` gets the hierarchy path used.
struct CgroupProbe {
	bool hierarchy = false; // a usable hierarchy is mounted
	bool read_only = false; // its mount is read-only
	bool not_delegated = false;
	std::string kind;        // "v2" or "v1 (freezer)"
	std::string mount;       // its mount point
	std::string controllers; // v2: cgroup.controllers of its root; v1: the mounted controllers
	std::string layout;      // "unified", "hybrid", "legacy" or "none"
	Status leaf;             // creating (and removing) a leaf
};
CgroupProbe cgroup();

} // namespace phasebox::probes
