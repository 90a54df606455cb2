// Fuzz the hand-over list (helpers/common/handoff.hh) that phasebox-unshare reads from
// phasebox-proxy before it binds a listener per line inside the phase's network
// namespace.  Properties: an accepted list has at most max_listeners numeric addresses of
// the family found, ports 1-65535, and format_list() of it parses back to the same list.
#include "common/handoff.hh"
#include "fuzz.hh"

#include <arpa/inet.h>
#include <cstdint>
#include <string>
#include <sys/socket.h>

using namespace phasebox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string text(reinterpret_cast<const char*>(data), size);
	auto l = handoff::parse_list(text);
	if (!l.ok())
		return 0;
	FUZZ_REQUIRE(l.value().size() <= handoff::max_listeners);
	FUZZ_REQUIRE(text.size() >= 2 && text.compare(text.size() - 2, 2, ".\n") == 0);
	for (const auto& x : l.value()) {
		unsigned char a[16];
		FUZZ_REQUIRE(x.family == AF_INET || x.family == AF_INET6);
		FUZZ_REQUIRE(x.address.find('\0') == std::string::npos);
		FUZZ_REQUIRE(::inet_pton(x.family, x.address.c_str(), a) == 1);
		FUZZ_REQUIRE(x.port >= 1 && x.port <= 65535);
	}
	auto again = handoff::parse_list(handoff::format_list(l.value()));
	FUZZ_REQUIRE(again.ok());
	FUZZ_REQUIRE(again.value() == l.value());
	return 0;
}
