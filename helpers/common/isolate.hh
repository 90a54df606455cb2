// Setting up a phase's namespaces as one plan, in this process or as a probe in a
// throw-away child; and the fallback policy's bookkeeping (what was dropped, said once).
// Shared by phasebox-unshare, phasebox-cgroup (fallback) and `phasebox doctor`, so that
// doctor's verdict comes from the very steps a phase takes.
#pragma once

#include "diagnose.hh"
#include "status.hh"

#include <optional>
#include <string>
#include <vector>

namespace phasebox::isolate
{

struct NsPlan {
	int flags = 0;       // CLONE_NEW* (never CLONE_NEWUSER: see userns)
	bool userns = false; // create them inside a new user namespace mapping the caller's ids
	std::string hostname = "localhost";
};

enum class Step { userns, unshare, mount, loopback, hostname, proc };
const char* step_name(Step s);

struct NsFailure {
	Step step = Step::userns;
	Error error;
};

// In this process: the user namespace (when asked), unshare(flags), mounts made slaves
// (CLONE_NEWNS), lo configured (CLONE_NEWNET), the hostname (CLONE_NEWUTS).  The /proc
// of a new pid namespace is for its pid 1 to mount (mount_proc).
std::optional<NsFailure> enter(const NsPlan& plan);

// The same in a forked child that exits afterwards, plus a fresh /proc mounted by the
// pid 1 of a new pid namespace; nothing of it survives, the caller is untouched.
std::optional<NsFailure> probe(const NsPlan& plan);

// Why the failure happened and what to do, for this host.
diag::Diagnosis diagnose(const NsFailure& f, const NsPlan& plan, const diag::Host& h);

// --- PHASEBOX_FALLBACK=warn bookkeeping ---------------------------------------------

// "the network, uts namespaces" for flags.
std::string describe_namespaces(int flags);

// The directory of this helper's own executable: its installation (the bash builtin's:
// where phasebox-builtin.so was loaded from); LIBEXECDIR as built when /proc/self/exe
// cannot be read (see install.hh).
std::string self_dir();

// When next[0] is a phasebox helper from `dir` that takes --dropped, the same argv with
// "--dropped TEXT" inserted after next[0] for each of `dropped` — or after the link that
// follows a phasebox-proxy's "--" (the proxy takes none); otherwise nullopt (the caller
// then prints the warning itself).
std::optional<std::vector<std::string>> forward_dropped(const std::vector<std::string>& next,
                                                        const std::vector<std::string>& dropped,
                                                        const std::string& dir);

// The one warning line's text (without the helper's prefix).
std::string warning(const std::vector<std::string>& dropped);

} // namespace phasebox::isolate
