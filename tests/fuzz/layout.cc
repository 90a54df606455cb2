// Fuzz the cgroup layout's names and placement (helpers/common/layout.hh): the leaf name is
// built from --package/--phase, which a build controls, and the placement decides where
// a helper creates cgroups.  Properties: a sanitized name is one plain directory entry of
// the documented grammar; the leaf name made from it is recognised as a leaf; a parsed
// pid prints back as the same text; a placement never leaves /phasebox nor climbs with "..".
#include "common/layout.hh"
#include "fuzz.hh"

#include <cstdint>
#include <string>
#include <string_view>

using namespace phasebox;

namespace {

bool allowed(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       std::string_view("._+:,=@-").find(c) != std::string_view::npos;
}

bool has_dotdot(std::string_view p)
{
	return p == ".." || p.find("/../") != std::string_view::npos || p.starts_with("../") ||
	       p.ends_with("/..");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string_view in(reinterpret_cast<const char*>(data), size);

	std::string s = layout::sanitize(in);
	FUZZ_REQUIRE(!s.empty() && s.size() <= 160);
	FUZZ_REQUIRE(s[0] != '.');
	for (char c : s)
		FUZZ_REQUIRE(allowed(c));
	FUZZ_REQUIRE(layout::sanitize(s) == s); // idempotent

	std::string leaf = layout::leaf_name(in, 4242, static_cast<unsigned>(size % 3));
	FUZZ_REQUIRE(layout::is_leaf_name(leaf));
	FUZZ_REQUIRE(leaf.find('/') == std::string::npos);

	if (auto pid = layout::parse_pid(in)) {
		FUZZ_REQUIRE(*pid > 0);
		FUZZ_REQUIRE(std::to_string(*pid) == in);
		FUZZ_REQUIRE(layout::is_invocation_name(layout::invocation_name(*pid)));
	}

	auto p = layout::classify(in);
	switch (p.where) {
	case layout::Where::adopted_main:
	case layout::Where::in_leaf:
		FUZZ_REQUIRE(p.base.starts_with(std::string(layout::top) + "/"));
		FUZZ_REQUIRE(!has_dotdot(p.base));
		FUZZ_REQUIRE(p.base.find("//") == std::string::npos);
		break;
	case layout::Where::inner_node:
	case layout::Where::outside:
		FUZZ_REQUIRE(p.base.empty());
		break;
	}
	return 0;
}
