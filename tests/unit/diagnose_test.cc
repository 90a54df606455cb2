// Cause classification for fail-closed messages and doctor (common/diagnose.hh) and the
// fallback bookkeeping (common/isolate.hh), against fixture /proc/self/status texts.
#include "common/diagnose.hh"
#include "common/file.hh"
#include "common/isolate.hh"
#include "unit_util.hh"

#include <linux/capability.h>
#include <sched.h>

using namespace phasebox;
using namespace phasebox::diag;

namespace
{

ProcStatus status_of(const char* name)
{
	auto r = read_file(test::fixture(name));
	EXPECT_TRUE(r.ok());
	return parse_proc_status(r ? r.value() : "");
}

Host host(const char* status, uid_t euid, Container c = {})
{
	Host h;
	h.status = status_of(status);
	h.euid = euid;
	h.max_user_namespaces = 15000;
	h.container = c;
	return h;
}

Container docker(bool confirmed = true)
{
	return Container{ContainerKind::docker, confirmed,
	                 confirmed ? "pid 1's cgroup names the engine" : "/.dockerenv exists"};
}

} // namespace

TEST(ProcStatus, DockerRoot)
{
	ProcStatus s = status_of("status-docker-root");
	ASSERT_TRUE(s.parsed);
	EXPECT_EQ(s.seccomp, 2);
	EXPECT_FALSE(s.no_new_privs);
	EXPECT_EQ(s.cap_bnd, 0xa80425fbULL);
	EXPECT_FALSE(s.has_bnd(CAP_SYS_ADMIN));
	EXPECT_TRUE(s.has_bnd(CAP_CHOWN));
	EXPECT_EQ(capability_names(s.cap_bnd), "cap_chown, cap_dac_override, cap_fowner, "
	                                       "cap_fsetid, cap_kill, cap_setgid, cap_setuid, "
	                                       "cap_setpcap, cap_net_bind_service, cap_net_raw, "
	                                       "cap_sys_chroot, cap_mknod, cap_audit_write, "
	                                       "cap_setfcap");
}

TEST(ProcStatus, HostRootAndSandboxedPortage)
{
	ProcStatus h = status_of("status-host-root");
	ASSERT_TRUE(h.parsed);
	EXPECT_EQ(h.seccomp, 0);
	EXPECT_TRUE(h.has_eff(CAP_SYS_ADMIN));
	ProcStatus p = status_of("status-sandbox-portage");
	ASSERT_TRUE(p.parsed);
	EXPECT_TRUE(p.no_new_privs);
	EXPECT_EQ(p.cap_eff, 0u);
}

TEST(ProcStatus, TruncatedOrGarbageIsNotParsed)
{
	EXPECT_FALSE(status_of("status-truncated").parsed);
	EXPECT_FALSE(parse_proc_status("").parsed);
	// A field name that only starts like one ("CapEffX") is not the field.
	EXPECT_FALSE(
	    parse_proc_status("CapEffX:\t1\nNoNewPrivs:\t0\nSeccomp:\t0\nCapPrm:\t0\nCapBnd:\t0\n")
	        .parsed);
}

// Found by tests/fuzz/proc_status: strtoull() took a field of NULs (or "-1", "0x1") as a
// mask, so "CapPrm:\0\0" read as "no capabilities".
TEST(ProcStatus, MaskOnlyInTheKernelsHex)
{
	const std::string rest = "NoNewPrivs:\t0\nSeccomp:\t0\nCapEff:\t0\nCapBnd:\t000001ffffffffff\n";
	EXPECT_TRUE(parse_proc_status("CapPrm:\t0000000000000000\n" + rest).parsed);
	EXPECT_FALSE(parse_proc_status(std::string("CapPrm:\0\0\0\n", 11) + rest).parsed);
	EXPECT_FALSE(parse_proc_status(std::string("CapPrm:\t1\0junk\n", 15) + rest).parsed);
	EXPECT_FALSE(parse_proc_status("CapPrm:\t-1\n" + rest).parsed);
	EXPECT_FALSE(parse_proc_status("CapPrm:\t0x1\n" + rest).parsed);
	EXPECT_FALSE(parse_proc_status("CapPrm:\t+1\n" + rest).parsed);
}

TEST(Container, MarkerAloneIsNotProof)
{
	ContainerEvidence ev;
	ev.dockerenv = true;
	ev.root_fstype = "ext4";
	Container c = detect_container(ev);
	EXPECT_EQ(c.kind, ContainerKind::docker);
	EXPECT_FALSE(c.confirmed);
	ev.root_fstype = "overlay";
	EXPECT_TRUE(detect_container(ev).confirmed);
}

TEST(Container, Kinds)
{
	ContainerEvidence none;
	none.pid1_cgroup = "0::/init.scope\n";
	none.root_fstype = "ext4";
	EXPECT_EQ(detect_container(none).kind, ContainerKind::none);
	EXPECT_FALSE(detect_container(none).confirmed);

	ContainerEvidence pod;
	pod.pid1_container = "podman";
	pod.containerenv = true;
	EXPECT_EQ(detect_container(pod).kind, ContainerKind::podman);
	EXPECT_TRUE(detect_container(pod).confirmed);

	ContainerEvidence k8s;
	k8s.pid1_cgroup = "0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-1.scope\n";
	EXPECT_EQ(detect_container(k8s).kind, ContainerKind::kubernetes);
	ContainerEvidence k8s_env_only;
	k8s_env_only.kubernetes_env = true;
	EXPECT_EQ(detect_container(k8s_env_only).kind, ContainerKind::other);
	EXPECT_FALSE(detect_container(k8s_env_only).confirmed);

	ContainerEvidence nspawn;
	nspawn.pid1_container = "systemd-nspawn";
	EXPECT_EQ(detect_container(nspawn).kind, ContainerKind::nspawn);
	ContainerEvidence lxc;
	lxc.pid1_container = "lxc";
	EXPECT_EQ(detect_container(lxc).kind, ContainerKind::lxc);
	ContainerEvidence dk;
	dk.pid1_cgroup = "0::/system.slice/docker-0123abcd.scope\n";
	EXPECT_EQ(detect_container(dk).kind, ContainerKind::docker);
	EXPECT_TRUE(detect_container(dk).confirmed);
}

TEST(Unshare, DockerRootPlainNamespacesSeccompAndBoundingSet)
{
	Diagnosis d = diagnose_unshare(CLONE_NEWNET | CLONE_NEWUTS, EPERM, false,
	                               host("status-docker-root", 0, docker()));
	EXPECT_EQ(d.cause, Cause::bounding_set);
	EXPECT_NE(d.text.find("seccomp"), std::string::npos);
	EXPECT_NE(d.remedy.find("--security-opt seccomp=unconfined"), std::string::npos);
	EXPECT_NE(d.remedy.find("--cap-add=SYS_ADMIN"), std::string::npos);
	EXPECT_NE(d.remedy.find("RUN --security=insecure"), std::string::npos);
	EXPECT_NE(d.remedy.find("--allow security.insecure"), std::string::npos);
	EXPECT_NE(d.hint().find("PHASEBOX_FALLBACK=warn"), std::string::npos);
}

TEST(Unshare, DockerUserNamespaceIsTheFilter)
{
	Diagnosis d =
	    diagnose_unshare(CLONE_NEWUSER, EPERM, false, host("status-docker-root", 0, docker()));
	EXPECT_EQ(d.cause, Cause::seccomp);
	EXPECT_NE(d.text.find("Docker's default profile"), std::string::npos);
	// Unconfirmed: the general remedy first, Docker's as a conditional.
	Diagnosis u = diagnose_unshare(CLONE_NEWUSER, EPERM, false,
	                               host("status-docker-root", 0, docker(false)));
	EXPECT_EQ(u.cause, Cause::seccomp);
	EXPECT_EQ(u.text.find("Docker's default profile"), std::string::npos);
	EXPECT_NE(u.remedy.find("if this is a docker container (only /.dockerenv exists says so)"),
	          std::string::npos);
}

TEST(Unshare, BoundingSetWithoutFilterSuggestsUserNamespace)
{
	Host h = host("status-docker-root", 0);
	h.status.seccomp = 0;
	Diagnosis d = diagnose_unshare(CLONE_NEWNET, EPERM, false, h);
	EXPECT_EQ(d.cause, Cause::bounding_set);
	EXPECT_NE(d.remedy.find("PHASEBOX_USERNS=always"), std::string::npos);
}

TEST(Unshare, InsideOwnUserNamespaceEpermIsTheFilter)
{
	Host h = host("status-sandbox-portage", 250);
	h.status.seccomp = 2;
	EXPECT_EQ(diagnose_unshare(CLONE_NEWNET, EPERM, true, h).cause, Cause::seccomp);
	h.status.seccomp = 0;
	EXPECT_EQ(diagnose_unshare(CLONE_NEWNET, EPERM, true, h).cause, Cause::unknown);
}

TEST(Unshare, UserNamespaceSysctls)
{
	Host h = host("status-sandbox-portage", 250);
	h.max_user_namespaces = 0;
	Diagnosis d = diagnose_unshare(CLONE_NEWUSER, ENOSPC, false, h);
	EXPECT_EQ(d.cause, Cause::userns_sysctl);
	EXPECT_NE(d.remedy.find("sysctl -w user.max_user_namespaces="), std::string::npos);
	h.max_user_namespaces = 3;
	EXPECT_EQ(diagnose_unshare(CLONE_NEWUSER, ENOSPC, false, h).cause, Cause::userns_exhausted);
	h.max_user_namespaces = 15000;
	h.unprivileged_userns_clone = 0;
	d = diagnose_unshare(CLONE_NEWUSER, EPERM, false, h);
	EXPECT_EQ(d.cause, Cause::userns_unpriv);
	EXPECT_NE(d.remedy.find("kernel.unprivileged_userns_clone=1"), std::string::npos);
	h.unprivileged_userns_clone = 1;
	h.apparmor_restrict_userns = 1;
	d = diagnose_unshare(CLONE_NEWUSER, EPERM, false, h);
	EXPECT_EQ(d.cause, Cause::userns_apparmor);
	EXPECT_NE(d.remedy.find("kernel.apparmor_restrict_unprivileged_userns=0"),
	          std::string::npos);
	// The sysctl that gates unprivileged users does not apply to a privileged caller.
	Host root = host("status-host-root", 0);
	root.unprivileged_userns_clone = 0;
	EXPECT_NE(diagnose_unshare(CLONE_NEWUSER, EPERM, false, root).cause, Cause::userns_unpriv);
}

TEST(Unshare, NonRootWithoutUserNamespace)
{
	Diagnosis d =
	    diagnose_unshare(CLONE_NEWNET, EPERM, false, host("status-sandbox-portage", 250));
	EXPECT_EQ(d.cause, Cause::capability);
	EXPECT_NE(d.remedy.find("PHASEBOX_USERNS=auto"), std::string::npos);
}

TEST(Loopback, RootWithoutNetAdmin)
{
	// docker run --cap-add=SYS_ADMIN: the namespace is made, lo cannot be brought up.
	Host h = host("status-docker-root", 0, docker());
	h.status.cap_eff |= 1ULL << CAP_SYS_ADMIN;
	h.status.cap_bnd |= 1ULL << CAP_SYS_ADMIN;
	Diagnosis d = diagnose_loopback(EPERM, false, h);
	EXPECT_EQ(d.cause, Cause::bounding_set);
	EXPECT_NE(d.text.find("CAP_NET_ADMIN"), std::string::npos);
	EXPECT_NE(d.remedy.find("docker run --cap-add=NET_ADMIN"), std::string::npos);
	EXPECT_NE(d.remedy.find("PHASEBOX_USERNS=always"), std::string::npos);
	// Inside phasebox's own user namespace the capability is there: then it is the filter.
	EXPECT_EQ(diagnose_loopback(EPERM, true, h).cause, Cause::seccomp);
	EXPECT_EQ(diagnose_loopback(EPERM, false, host("status-host-root", 0)).cause,
	          Cause::unknown);
}

TEST(Mount, FilterOrAppArmor)
{
	EXPECT_EQ(diagnose_mount(EPERM, host("status-docker-root", 0, docker())).cause,
	          Cause::seccomp);
	Host h = host("status-host-root", 0);
	h.apparmor_profile = "docker-default (enforce)";
	Diagnosis d = diagnose_mount(EACCES, h);
	EXPECT_EQ(d.cause, Cause::apparmor);
	EXPECT_NE(d.text.find("docker-default"), std::string::npos);
	EXPECT_EQ(diagnose_mount(ENOENT, h).cause, Cause::unknown);
}

// Docker masks parts of /proc (kcore, keys, timer_list over /dev/null, acpi and scsi under
// tmpfs, bus/fs/irq/sys/sysrq-trigger bound read-only): the kernel then refuses a new proc
// mount in a user namespace (mnt_already_visible), whatever the capabilities.
TEST(MaskedProc, DockerMaskedPathsFromMountinfo)
{
	auto mi = read_file(test::fixture("mountinfo-docker-masked-proc"));
	ASSERT_TRUE(mi.ok());
	auto m = masked_proc_paths(mi.value());
	EXPECT_EQ(m, (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
	                                       "/proc/sysrq-trigger", "/proc/asound", "/proc/acpi",
	                                       "/proc/kcore", "/proc/keys", "/proc/timer_list",
	                                       "/proc/scsi"}));
	// Twin: a host whose only mount below /proc is binfmt_misc's (a permanently empty
	// directory, which hides nothing).
	auto host_mi = read_file(test::fixture("mountinfo-host-binfmt"));
	ASSERT_TRUE(host_mi.ok());
	EXPECT_TRUE(masked_proc_paths(host_mi.value()).empty());
	// One fully visible proc mount anywhere in the namespace is enough for the kernel.
	EXPECT_TRUE(
	    masked_proc_paths(mi.value() + "1300 1210 0:115 / /run/proc rw,nosuid - proc proc rw\n")
	        .empty());
	// A bind of a subdirectory of proc is not a proc mount of the whole file system.
	EXPECT_EQ(masked_proc_paths("1 0 0:1 / / rw - ext4 /dev/sda rw\n"
	                            "2 1 0:5 /sys /x rw - proc proc rw\n"
	                            "3 2 0:6 / /x/kernel rw - tmpfs tmpfs rw\n"),
	          std::vector<std::string>{});
	EXPECT_TRUE(masked_proc_paths("").empty());
	// Escaped mount points come back decoded.
	EXPECT_EQ(masked_proc_paths("2 1 0:5 / /proc rw - proc proc rw\n"
	                            "3 2 0:6 / /proc/a\\040b rw - tmpfs tmpfs rw\n"),
	          std::vector<std::string>{"/proc/a b"});
}

TEST(MaskedProc, ProcMountInUserNamespaceNamesTheRemedy)
{
	Host h = host("status-docker-root", 0, docker());
	auto mi = read_file(test::fixture("mountinfo-docker-masked-proc"));
	ASSERT_TRUE(mi.ok());
	h.proc_masked = masked_proc_paths(mi.value());
	Diagnosis d = diagnose_proc_mount(EPERM, true, h);
	EXPECT_EQ(d.cause, Cause::masked_proc);
	EXPECT_STREQ(cause_name(d.cause), "masked-proc");
	EXPECT_NE(d.text.find("/proc/kcore"), std::string::npos);
	EXPECT_EQ(d.remedy.rfind("docker run --security-opt systempaths=unconfined", 0), 0U);
	// Podman's and an unconfirmed Docker's: the conditional form.
	h.container = Container{ContainerKind::podman, true, "pid 1 has container=podman"};
	EXPECT_NE(diagnose_proc_mount(EPERM, true, h).remedy.find("unmask=ALL"), std::string::npos);
	h.container = docker(false);
	d = diagnose_proc_mount(EPERM, true, h);
	EXPECT_EQ(d.remedy.rfind("run emerge where nothing is mounted over parts of /proc", 0), 0U);
	EXPECT_NE(d.remedy.find("if this is a docker container"), std::string::npos);
	EXPECT_NE(d.remedy.find("systempaths=unconfined"), std::string::npos);
	// Already in a user namespace (a rootless container): the same cause without one of ours.
	h.userns_nested = true;
	EXPECT_EQ(diagnose_proc_mount(EPERM, false, h).cause, Cause::masked_proc);
	// Twins: outside a user namespace the masks do not matter (mount's own diagnosis); nor
	// without masks; nor for another error.
	h.userns_nested = false;
	EXPECT_EQ(diagnose_proc_mount(EPERM, false, h).cause, diagnose_mount(EPERM, h).cause);
	h.proc_masked.clear();
	EXPECT_EQ(diagnose_proc_mount(EPERM, true, h).cause, diagnose_mount(EPERM, h).cause);
	h.proc_masked = {"/proc/kcore"};
	EXPECT_NE(diagnose_proc_mount(ENOENT, true, h).cause, Cause::masked_proc);
}

TEST(MaskedProc, InitialUidMap)
{
	EXPECT_TRUE(initial_uid_map("         0          0 4294967295\n"));
	EXPECT_FALSE(initial_uid_map("         0       1000          1\n"));
	EXPECT_FALSE(initial_uid_map("0 0 4294967295\n1 1 1\n"));
	EXPECT_FALSE(initial_uid_map(""));
}

TEST(Cgroup, ReadOnlyNotDelegatedNoHierarchy)
{
	Diagnosis ro =
	    diagnose_cgroup(EROFS, false, false, host("status-docker-root", 0, docker()));
	EXPECT_EQ(ro.cause, Cause::read_only_cgroupfs);
	EXPECT_NE(ro.remedy.find("--cgroupns=private"), std::string::npos);
	Diagnosis plain = diagnose_cgroup(EROFS, false, false, host("status-host-root", 0));
	EXPECT_NE(plain.remedy.find("mount -o remount,rw"), std::string::npos);
	Diagnosis nd = diagnose_cgroup(EACCES, true, false, host("status-sandbox-portage", 250));
	EXPECT_EQ(nd.cause, Cause::not_delegated);
	EXPECT_NE(nd.remedy.find("PORTAGE_IONICE_COMMAND"), std::string::npos);
	EXPECT_EQ(diagnose_cgroup(ENOENT, false, true, host("status-host-root", 0)).cause,
	          Cause::no_cgroupfs);
}

TEST(Fallback, ForwardOnlyToOwnHelpers)
{
	const std::vector<std::string> dropped{"the cgroup (x)", "the pid namespace (y)"};
	auto fw = isolate::forward_dropped(
	    {"/lib/pb/phasebox-reap", "--exec", "/bin/bash", "--", "bash"}, dropped, "/lib/pb");
	ASSERT_TRUE(fw);
	EXPECT_EQ(*fw, (std::vector<std::string>{
	                   "/lib/pb/phasebox-reap", "--dropped", "the cgroup (x)", "--dropped",
	                   "the pid namespace (y)", "--exec", "/bin/bash", "--", "bash"}));
	EXPECT_FALSE(
	    isolate::forward_dropped({"/usr/bin/phasebox-reap", "--"}, dropped, "/lib/pb"));
	EXPECT_FALSE(isolate::forward_dropped({"/lib/pb/phasebox-probe"}, dropped, "/lib/pb"));
	EXPECT_FALSE(isolate::forward_dropped({}, dropped, "/lib/pb"));
	EXPECT_FALSE(isolate::forward_dropped({"/lib/pb/phasebox-reap"}, dropped, ""));
	// Over phasebox-proxy (it takes no --dropped) to the link after its "--".
	auto over = isolate::forward_dropped({"/lib/pb/phasebox-proxy", "--socket", "/t/s", "--",
	                                      "/lib/pb/phasebox-unshare", "--net", "--", "bash"},
	                                     {"the cgroup (x)"}, "/lib/pb");
	ASSERT_TRUE(over);
	EXPECT_EQ(*over, (std::vector<std::string>{"/lib/pb/phasebox-proxy", "--socket", "/t/s", "--",
	                                           "/lib/pb/phasebox-unshare", "--dropped", "the cgroup (x)",
	                                           "--net", "--", "bash"}));
	EXPECT_FALSE(isolate::forward_dropped({"/lib/pb/phasebox-proxy", "--socket", "/t/s"}, dropped,
	                                      "/lib/pb"));
	EXPECT_FALSE(isolate::forward_dropped({"/lib/pb/phasebox-proxy", "--", "/bin/bash"}, dropped,
	                                      "/lib/pb"));
	EXPECT_EQ(isolate::warning(dropped), "warning: PHASEBOX_FALLBACK=warn: this phase runs "
	                                     "with less isolation than asked: the cgroup (x); the "
	                                     "pid namespace (y)");
}
