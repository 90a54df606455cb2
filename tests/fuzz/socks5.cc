// Fuzz the SOCKS5 parsers (helpers/common/socks5.hh): phasebox-proxy reads the greeting
// and the request from the build, and the upstream proxy's answers.  Properties: nothing
// is consumed past the bytes given; an accepted message is decided by its own bytes only
// (every shorter prefix asks for more, the bytes after it change nothing); an accepted
// request names a sane destination; the client message phasebox builds for the upstream
// proxy is accepted by phasebox's own server side as the same destination.
#include "common/socks5.hh"
#include "fuzz.hh"

#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <vector>

using namespace phasebox;
using socks5::Parse;

namespace
{

void greeting(const uint8_t* p, size_t n)
{
	socks5::Greeting g;
	Parse r = socks5::parse_greeting(p, n, g);
	if (r != Parse::ok)
		return;
	FUZZ_REQUIRE(g.consumed >= 2 && g.consumed <= n);
	for (size_t k = 0; k < g.consumed; ++k) {
		socks5::Greeting h;
		FUZZ_REQUIRE(socks5::parse_greeting(p, k, h) == Parse::need_more);
	}
	auto m = socks5::method_reply(g.no_auth);
	FUZZ_REQUIRE(m.size() == 2 && m[0] == 5 && m[1] == (g.no_auth ? 0 : 0xff));
}

void request(const uint8_t* p, size_t n)
{
	socks5::Request q;
	Parse r = socks5::parse_request(p, n, q);
	if (r != Parse::ok)
		return;
	FUZZ_REQUIRE(q.consumed >= 4 + 2 && q.consumed <= n);
	FUZZ_REQUIRE(q.port <= 65535);
	FUZZ_REQUIRE(!q.host.empty());
	unsigned char buf[16];
	switch (q.atyp) {
	case socks5::Atyp::ipv4:
		FUZZ_REQUIRE(::inet_pton(AF_INET, q.host.c_str(), buf) == 1);
		break;
	case socks5::Atyp::ipv6:
		FUZZ_REQUIRE(::inet_pton(AF_INET6, q.host.c_str(), buf) == 1);
		break;
	case socks5::Atyp::domain:
		FUZZ_REQUIRE(q.host.size() <= 255);
		for (char c : q.host)
			FUZZ_REQUIRE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			             (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
			             c == ':');
		break;
	default:
		FUZZ_REQUIRE(false);
	}
	for (size_t k = 0; k < q.consumed; ++k) {
		socks5::Request s;
		FUZZ_REQUIRE(socks5::parse_request(p, k, s) == Parse::need_more);
	}
	socks5::Request t;
	FUZZ_REQUIRE(socks5::parse_request(p, q.consumed, t) == Parse::ok);
	FUZZ_REQUIRE(t.host == q.host && t.port == q.port && t.cmd == q.cmd &&
	             t.consumed == q.consumed);
	auto rep = socks5::reply(p[0]);
	FUZZ_REQUIRE(rep.size() == 10 && rep[0] == 5);
}

void answer(const uint8_t* p, size_t n)
{
	uint8_t rep = 0xee;
	size_t consumed = 0;
	Parse r = socks5::parse_connect_answer(p, n, rep, consumed);
	if (r != Parse::ok)
		return;
	FUZZ_REQUIRE(consumed >= 2 + 4 + 1 + 2 && consumed <= n);
	for (size_t k = 0; k < consumed; ++k) {
		uint8_t rep2;
		size_t c2;
		FUZZ_REQUIRE(socks5::parse_connect_answer(p, k, rep2, c2) == Parse::need_more);
	}
}

// What phasebox sends upstream, read back by phasebox's server side.
void client_round_trip(const uint8_t* p, size_t n)
{
	if (n < 19)
		return;
	int family = p[0] & 1 ? AF_INET6 : AF_INET;
	unsigned port = (unsigned(p[1]) << 8 | p[2]);
	auto msg = socks5::connect_request(family, p + 3, port);
	socks5::Greeting g;
	FUZZ_REQUIRE(socks5::parse_greeting(msg.data(), msg.size(), g) == Parse::ok && g.no_auth);
	socks5::Request q;
	FUZZ_REQUIRE(socks5::parse_request(msg.data() + g.consumed, msg.size() - g.consumed, q) ==
	             Parse::ok);
	FUZZ_REQUIRE(g.consumed + q.consumed == msg.size());
	FUZZ_REQUIRE(q.cmd == 1 && q.port == port);
	char text[INET6_ADDRSTRLEN];
	FUZZ_REQUIRE(::inet_ntop(family, p + 3, text, sizeof text));
	FUZZ_REQUIRE(q.host == text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	greeting(data, size);
	request(data, size);
	answer(data, size);
	client_round_trip(data, size);
	return 0;
}
