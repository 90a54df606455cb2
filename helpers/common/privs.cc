#include "privs.hh"

#include <memory>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace phasebox {
namespace {

struct CapDeleter {
	void operator()(_cap_struct* c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<_cap_struct, CapDeleter>;

bool any_cap(cap_t caps)
{
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; ++v)
		for (cap_flag_t f : {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE}) {
			cap_flag_value_t set = CAP_CLEAR;
			if (cap_get_flag(caps, v, f, &set) == 0 && set == CAP_SET)
				return true;
		}
	return false;
}

// After a drop: every set empty, the ambient one included (verified, not assumed).
Status verify_no_capabilities()
{
	CapPtr now(cap_get_proc());
	if (!now)
		return sys_error("cap_get_proc");
	if (any_cap(now.get()))
		return Error{EPERM, "capabilities still set after dropping them"};
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; ++v)
		if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, v, 0, 0) == 1)
			return Error{EPERM, "ambient capabilities still set after dropping them"};
	return {};
}

} // namespace

Status check_privilege_state()
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0)
		return sys_error("getresuid");
	if (ruid != euid || ruid != suid || rgid != egid || rgid != sgid)
		return Error{EPERM, "refusing to run set-user-ID or set-group-ID (real and "
				    "effective ids differ); phasebox is never installed setuid"};
	if (ruid != 0) {
		CapPtr caps(cap_get_proc());
		if (!caps)
			return sys_error("cap_get_proc");
		if (any_cap(caps.get()))
			return Error{EPERM, "refusing to run with capabilities as a non-root user; "
					    "phasebox needs no file capabilities (remove them with "
					    "setcap -r)"};
	}
	return {};
}

Status drop_capabilities_unless_root()
{
	if (::getuid() == 0)
		return {};
	if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return sys_error("clear the ambient capability set");
	CapPtr empty(cap_init());
	if (!empty)
		return sys_error("cap_init");
	if (cap_set_proc(empty.get()) != 0)
		return sys_error("clear the capability sets");
	return verify_no_capabilities();
}

Status drop_all_capabilities()
{
	// The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; ++v)
		if (::prctl(PR_CAPBSET_READ, v, 0, 0, 0) == 1 && ::prctl(PR_CAPBSET_DROP, v, 0, 0, 0) != 0 &&
		    errno != EPERM)
			return sys_error("drop capability " + std::to_string(v) + " from the bounding set");
	if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return sys_error("clear the ambient capability set");
	CapPtr empty(cap_init());
	if (!empty)
		return sys_error("cap_init");
	if (cap_set_proc(empty.get()) != 0)
		return sys_error("clear the capability sets");
	if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return sys_error("prctl(PR_SET_NO_NEW_PRIVS)");
	if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return sys_error("prctl(PR_SET_DUMPABLE, 0)");
	// Without CAP_SETPCAP (a non-root caller) the bounding set cannot shrink; it then
	// grants nothing either, as no_new_privs is set and nothing is executed.
	return verify_no_capabilities();
}

} // namespace phasebox
