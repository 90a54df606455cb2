// Loopback configuration of a new network namespace (rtnetlink, no library needed for two
// messages).
#pragma once

#include "status.hh"

namespace phasebox::netlink {

// Bring `lo` up (the kernel then gives it 127.0.0.1/8 and ::1/128) and add 10.0.0.1/8
// and fd::1/8, so that glibc's AI_ADDRCONFIG lookups of "localhost" find a configured
// non-loopback address of each family (Gentoo bug 690758; Portage does the same).
Status configure_loopback();

// Add one address (a struct in_addr or in6_addr of `family`) to lo as a /32 or /128; an
// address lo already has is fine.
Status add_loopback_address(int family, const void* addr);

} // namespace phasebox::netlink
