// Which TCP destinations phasebox-proxy may connect to: the hosts of distcc's DISTCC_HOSTS
// and the explicit PHASEBOX_NETWORK_ALLOW list.  Pure parsing, no name resolution.
#pragma once

#include "status.hh"

#include <string>
#include <vector>

namespace phasebox::allow
{

// One destination: a host name, an IPv4 literal or an IPv6 literal (without brackets),
// and a TCP port.
struct Endpoint {
	std::string host;
	unsigned port = 0;
	bool operator==(const Endpoint&) const = default;
};

struct Parsed {
	std::vector<Endpoint> endpoints; // in order, without duplicates
	std::vector<std::string> notes;  // what was skipped and why, one sentence each
};

// distcc's default TCP port (distcc(1), DISTCC_DEFAULT_PORT).
constexpr unsigned distcc_default_port = 3632;

// DISTCC_HOSTS (or a hosts file: '#' starts a comment to the end of the line), with
// distcc's grammar (src/hosts.c):
//   localhost[/LIMIT]                            compiles locally: no connection
//   HOST[:PORT][/LIMIT][,OPTION...]              TCP, PORT 3632 by default
//   HOST[/LIMIT][:PORT][,OPTION...]              the older order
//   [IPV6][:PORT][/LIMIT][,OPTION...]
//   [USER]@HOST[/LIMIT][:COMMAND][,OPTION...]    ssh: not supported (a note)
//   +zeroconf                                    not supported (a note)
//   --randomize, --localslots=N, --localslots_cpp=N   global options: no connection
// LIMIT may also be written =LIMIT; OPTIONs are lzo, zstd, cpp (pump mode), down, auth.
// A token distcc itself would reject is an error naming it.
Result<Parsed> parse_distcc_hosts(const std::string& text);

// PHASEBOX_NETWORK_ALLOW: whitespace-separated HOST:PORT, where HOST is a host name, an
// IPv4 literal or [IPV6], and PORT 1-65535.  Anything else is an error naming the token.
Result<Parsed> parse_network_allow(const std::string& text);

// Whether `s` is a syntactically valid host name (RFC 1123 labels), IPv4 or IPv6 literal.
bool valid_host(const std::string& s);

// "host:port", "[v6]:port".
std::string to_string(const Endpoint& e);

} // namespace phasebox::allow
