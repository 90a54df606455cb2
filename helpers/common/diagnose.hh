// Why an isolation could not be set up here, and what to do about it: the cause
// classification shared by the helpers' fail-closed messages and `phasebox doctor`.
//
// Everything below read_host() is pure: it works on texts and values read elsewhere
// (/proc/self/status, sysctls, container markers), so that it is unit-tested against
// fixtures.  Nothing here prints or exits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace phasebox::diag
{

// The fields of /proc/<pid>/status that decide what a process may do.
struct ProcStatus {
	bool parsed = false; // all of the fields below were found
	bool no_new_privs = false;
	int seccomp = 0; // 0 off, 1 strict, 2 filter
	uint64_t cap_eff = 0, cap_prm = 0, cap_bnd = 0;
	bool has_eff(int cap) const { return (cap_eff >> cap) & 1; }
	bool has_bnd(int cap) const { return (cap_bnd >> cap) & 1; }
};
ProcStatus parse_proc_status(std::string_view text);

// "chown, dac_override, ..." for a capability mask (names of libcap's cap_to_name).
std::string capability_names(uint64_t mask);

enum class ContainerKind { none, docker, podman, lxc, nspawn, kubernetes, other };
const char* container_name(ContainerKind k);

// What a process can see of the container it may be in.  Markers a user can create
// (/.dockerenv, /run/.containerenv) are never proof on their own: a kind is `confirmed`
// only when something the container engine sets up agrees (pid 1's `container=`
// variable, the cgroup path of pid 1, an overlay root file system).
struct ContainerEvidence {
	bool dockerenv = false;    // /.dockerenv exists
	bool containerenv = false; // /run/.containerenv exists (Podman, Buildah)
	std::string
	    pid1_container; // value of container= in /proc/1/environ, "" when absent/unreadable
	std::string pid1_cgroup;     // text of /proc/1/cgroup
	std::string root_fstype;     // file system type of "/" in /proc/self/mountinfo
	bool kubernetes_env = false; // KUBERNETES_SERVICE_HOST in pid 1's or our environment
	bool serviceaccount = false; // /var/run/secrets/kubernetes.io/serviceaccount exists
};
struct Container {
	ContainerKind kind = ContainerKind::none;
	bool confirmed = false;
	std::string evidence; // what was seen, for doctor
};
Container detect_container(const ContainerEvidence& ev);

// Everything the diagnoses below look at.
struct Host {
	ProcStatus status;
	uid_t euid = 0;
	std::optional<long> max_user_namespaces; // user.max_user_namespaces
	std::optional<long>
	    unprivileged_userns_clone; // kernel.unprivileged_userns_clone (Debian, Ubuntu)
	std::optional<long>
	    apparmor_restrict_userns; // kernel.apparmor_restrict_unprivileged_userns (Ubuntu)
	std::string apparmor_profile; // e.g. "docker-default (enforce)", "" when none
	Container container;
	std::vector<std::string> proc_masked; // masked_proc_paths() of this mount table
	bool userns_nested = false; // this process is in a user namespace other than the first
};

// The mount points that cover part of /proc in a mountinfo text, as container engines mask
// /proc/kcore, /proc/keys, /proc/sys, ...: the children of each proc mount (of the whole
// file system, root "/") other than the permanently empty directory sys/fs/binfmt_misc.
// The kernel refuses a new proc mount in a user namespace unless some proc mount of the
// namespace is fully visible (fs/namespace.c, mnt_already_visible()), so: empty when one
// proc mount has no such child, or when there is no proc mount at all; else the children
// of the first one.
std::vector<std::string> masked_proc_paths(std::string_view mountinfo);

// Whether a /proc/<pid>/uid_map text is the initial user namespace's ("0 0 4294967295").
bool initial_uid_map(std::string_view uid_map);

// Read the Host of the calling process.  Fields that cannot be read stay unset.
Host read_host();
ContainerEvidence read_container_evidence();

enum class Cause {
	unknown,
	seccomp,            // a seccomp filter refuses the system call
	bounding_set,       // root, but the capability is not in the bounding set (a container)
	capability,         // the capability is not in the effective set
	userns_sysctl,      // user.max_user_namespaces = 0
	userns_unpriv,      // kernel.unprivileged_userns_clone = 0
	userns_apparmor,    // kernel.apparmor_restrict_unprivileged_userns = 1
	userns_exhausted,   // ENOSPC: a namespace count limit reached
	apparmor,           // an AppArmor profile (docker-default) refuses mount
	read_only_cgroupfs, // EROFS
	no_cgroupfs,        // no usable hierarchy is mounted
	not_delegated,      // a non-root caller with no delegated subtree
	masked_proc,        // /proc is partly covered: no new proc in a user namespace
	// (no_new_privs and nosuid mounts are never a cause: phasebox uses no setuid bit and
	// no file capability, so they take nothing from it.)
};
const char* cause_name(Cause c);

struct Diagnosis {
	Cause cause = Cause::unknown;
	std::string text;   // the most likely cause, in words
	std::string remedy; // the exact remedy for the environment detected
	// "hint: <text>; remedy: <remedy>, or PHASEBOX_FALLBACK=warn ...".
	std::string hint() const;
};

// unshare(flags) failed with err.  in_userns: it was made inside a user namespace phasebox
// had just created (flags then never include CLONE_NEWUSER).
Diagnosis diagnose_unshare(int flags, int err, bool in_userns, const Host& h);

// Configuring the new network namespace's loopback failed with err (root outside a user
// namespace needs CAP_NET_ADMIN for it, which Docker's bounding set lacks).
Diagnosis diagnose_loopback(int err, bool in_userns, const Host& h);

// A mount(2) in the new mount namespace failed with err (make-rslave, /proc).
Diagnosis diagnose_mount(int err, const Host& h);

// Mounting the new pid namespace's /proc failed with err; in_userns: inside a user
// namespace phasebox made.  Where parts of /proc are masked (h.proc_masked) and a user
// namespace is involved, that is the cause (Docker: --security-opt systempaths=unconfined);
// otherwise as diagnose_mount().
Diagnosis diagnose_proc_mount(int err, bool in_userns, const Host& h);

// Setting up the phase's cgroup failed with err.  not_delegated: a non-root caller found
// no delegated phasebox subtree above it; no_hierarchy: nothing usable is mounted.
Diagnosis diagnose_cgroup(int err, bool not_delegated, bool no_hierarchy, const Host& h);

// The remedy that lets a container create namespaces / write its cgroupfs, for the
// container kind detected (empty for none).
std::string container_namespace_remedy(ContainerKind k);
std::string container_cgroup_remedy(ContainerKind k);
std::string container_proc_remedy(ContainerKind k);

// The remedy for a container's kind when the container is confirmed; for one that only a
// marker file suggests, `otherwise` followed by the container's remedy as a conditional;
// `otherwise` when the container's remedy is empty.
std::string for_container(const Container& ct, const std::string& container_remedy,
                          const std::string& otherwise);

} // namespace phasebox::diag
