// The SOCKS5 subset (RFC 1928) that distcc's DISTCC_SOCKS_PROXY client (Gentoo's patch,
// bug 537616) and Portage's PORTAGE_SOCKS5_PROXY users speak: no authentication, CONNECT,
// IPv4, IPv6 and domain-name addresses.  Parsers take the bytes received so far and never
// read past them: the peer is the build, and hostile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace phasebox::socks5
{

enum class Parse { need_more, ok, bad };

// The client's greeting: VER=5, NMETHODS, METHODS.  `no_auth` tells whether method 0
// (no authentication) was offered.
struct Greeting {
	size_t consumed = 0;
	bool no_auth = false;
};
Parse parse_greeting(const uint8_t* p, size_t n, Greeting& out);

enum class Atyp : uint8_t { ipv4 = 1, domain = 3, ipv6 = 4 };

struct Request {
	size_t consumed = 0;
	uint8_t cmd = 0; // 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE
	Atyp atyp = Atyp::ipv4;
	std::string host; // dotted/colon text for addresses, the name for domains
	unsigned port = 0;
};
// VER=5 CMD RSV=0 ATYP ADDR PORT.  bad: wrong version or reserved byte, an unknown address
// type, a domain name that is empty or holds a byte outside [A-Za-z0-9.:_-].
Parse parse_request(const uint8_t* p, size_t n, Request& out);

// Reply codes (RFC 1928 section 6).
constexpr uint8_t rep_ok = 0x00, rep_general = 0x01, rep_not_allowed = 0x02,
                  rep_net_unreachable = 0x03, rep_host_unreachable = 0x04, rep_refused = 0x05,
                  rep_cmd_unsupported = 0x07, rep_atyp_unsupported = 0x08;

// The method selection answer: 05 00, or 05 FF when no acceptable method was offered.
std::vector<uint8_t> method_reply(bool no_auth);
// A reply to a request with bound address 0.0.0.0:0 (clients do not use it).
std::vector<uint8_t> reply(uint8_t rep);

// The client side, for chaining through another SOCKS5 server (Portage's own
// network-sandbox proxy): the greeting (no authentication) and a CONNECT to a numeric
// address (`addr` is 4 bytes for AF_INET, 16 for AF_INET6) in one message.
std::vector<uint8_t> connect_request(int family, const uint8_t* addr, unsigned port);

// That server's answers: the method selection (05 00) then the reply (05 REP 00 ATYP
// BND.ADDR BND.PORT).  ok with `rep` and `consumed` once both are complete; bad on a
// refused method, a wrong version or reserved byte, an unknown address type.
Parse parse_connect_answer(const uint8_t* p, size_t n, uint8_t& rep, size_t& consumed);

} // namespace phasebox::socks5
