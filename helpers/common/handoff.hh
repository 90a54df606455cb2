// The hand-over between phasebox-unshare and phasebox-proxy: listening TCP sockets made
// inside the phase's network namespace, passed out to the proxy (SCM_RIGHTS), so that a
// program in the namespace that connects to an allowed HOST:PORT directly (Debian's and
// upstream's distcc, which know no SOCKS) reaches the proxy, which connects for it from
// outside.  A socket belongs to the namespace it was created in, whoever holds it: the
// proxy needs no process, no privilege and no setns() in the namespace.
//
// On the proxy's unix socket, after the proxy accepted the connection:
//   unshare → proxy   "PBXF1\n"
//   proxy → unshare   one line "ADDRESS PORT\n" per destination (numeric), then ".\n"
//   unshare → proxy   one byte 'F' with one listening socket per line, in order (SCM_RIGHTS)
//   proxy → unshare   "OK\n"
// The proxy accepts it once, and only from its own child's pid (SO_PEERCRED).
#pragma once

#include "status.hh"

#include <string>
#include <vector>

namespace phasebox::handoff
{

constexpr const char hello[] = "PBXF1\n";
constexpr size_t max_listeners = 64;

struct Listen {
	int family = 0; // AF_INET or AF_INET6
	std::string address;
	unsigned port = 0;
	bool operator==(const Listen&) const = default;
};

// The proxy's list, as sent.
std::string format_list(const std::vector<Listen>& l);
// Parse what the proxy sent, up to and including ".\n".  Err on anything else: a
// non-numeric address, a port outside 1-65535, more than max_listeners lines, a missing end.
Result<std::vector<Listen>> parse_list(const std::string& text);

// phasebox-unshare's side, inside the new network namespace (with the capabilities it
// holds there): connect to `socket_path`, ask for the list, add each address to lo, bind
// and listen, hand the sockets over, wait for "OK".  Closes its copies.
Status hand_over(const std::string& socket_path);

} // namespace phasebox::handoff
