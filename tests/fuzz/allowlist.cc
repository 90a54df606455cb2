// Fuzz the two destination grammars of phasebox-proxy (helpers/common/allowlist.hh):
// DISTCC_HOSTS (distcc's own grammar, or a hosts file) and PHASEBOX_NETWORK_ALLOW, both
// from the package's environment.  Properties: every accepted destination has a valid
// host and a port 1-65535, appears once, and is itself an allow-list entry: the list
// printed back (to_string) parses as PHASEBOX_NETWORK_ALLOW to the same destinations.
#include "common/allowlist.hh"
#include "fuzz.hh"

#include <cstdint>
#include <string>

using namespace phasebox;

namespace
{

void check(const allow::Parsed& p)
{
	std::string printed;
	for (size_t i = 0; i < p.endpoints.size(); ++i) {
		const auto& e = p.endpoints[i];
		FUZZ_REQUIRE(allow::valid_host(e.host));
		FUZZ_REQUIRE(e.port >= 1 && e.port <= 65535);
		for (size_t j = 0; j < i; ++j)
			FUZZ_REQUIRE(!(p.endpoints[j] == e));
		printed += allow::to_string(e) + " ";
	}
	auto again = allow::parse_network_allow(printed);
	FUZZ_REQUIRE(again.ok());
	FUZZ_REQUIRE(again.value().endpoints == p.endpoints);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string text(reinterpret_cast<const char*>(data), size);
	if (auto d = allow::parse_distcc_hosts(text); d.ok())
		check(d.value());
	if (auto a = allow::parse_network_allow(text); a.ok())
		check(a.value());
	return 0;
}
