// Fuzz the limit grammar (helpers/common/limits.hh): PHASEBOX_MEMORY_MAX and friends come
// from the package's environment, and the keeper re-reads them from the build user.
// Properties: an accepted value lies within the documented bounds; the text kept for it
// (what to_lines() sends and describe() prints) parses again to the same value; whatever
// parse_lines() accepts survives to_lines() -> parse_lines() unchanged.
#include "common/limits.hh"
#include "fuzz.hh"

#include <cstdint>
#include <string>

using namespace phasebox;
using limits::Key;

namespace
{

constexpr uint64_t ram = 16ULL << 30;

std::optional<uint64_t> value(const limits::Limits& l, Key k)
{
	switch (k) {
	case Key::memory_max:
		return l.memory_max;
	case Key::memory_high:
		return l.memory_high;
	case Key::memory_swap_max:
		return l.memory_swap_max;
	case Key::pids_max:
		return l.pids_max;
	case Key::cpu_max:
		return l.cpu_quota_us;
	case Key::cpu_weight:
		return l.cpu_weight;
	case Key::io_weight:
		return l.io_weight;
	}
	return std::nullopt;
}

void check_bounds(const limits::Limits& l)
{
	for (Key k : limits::all_keys) {
		auto v = value(l, k);
		FUZZ_REQUIRE(v.has_value() == l.has(k));
		if (!v)
			continue;
		switch (k) {
		case Key::memory_max:
		case Key::memory_high:
			FUZZ_REQUIRE(*v >= 1);
			break;
		case Key::memory_swap_max:
			break;
		case Key::pids_max:
			FUZZ_REQUIRE(*v >= 1 && *v <= 4194304);
			break;
		case Key::cpu_max:
			FUZZ_REQUIRE(*v >= 100 && *v <= 4096 * limits::cpu_period_us);
			break;
		case Key::cpu_weight:
		case Key::io_weight:
			FUZZ_REQUIRE(*v >= 1 && *v <= 10000);
			break;
		}
		// The kept text is what is sent on and printed: it must mean the same again.
		limits::Limits again;
		FUZZ_REQUIRE(limits::set(again, k, l.text(k), ram).ok());
		FUZZ_REQUIRE(value(again, k) == v);
		FUZZ_REQUIRE(l.text(k).find_first_of("\n\0 ", 0, 3) == std::string::npos);
	}
}

void check_same(const limits::Limits& a, const limits::Limits& b)
{
	for (Key k : limits::all_keys) {
		FUZZ_REQUIRE(value(a, k) == value(b, k));
		FUZZ_REQUIRE(a.text(k) == b.text(k));
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	if (size == 0)
		return 0;
	std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
	// One value for one key, chosen by the first byte.
	Key k = limits::all_keys[data[0] % limits::all_keys.size()];
	limits::Limits l;
	if (limits::set(l, k, text, ram).ok()) {
		FUZZ_REQUIRE(l.text(k) == text);
		check_bounds(l);
	} else {
		FUZZ_REQUIRE(!l.has(k));
	}
	// The size and CPU grammars on their own.
	if (auto s = limits::parse_size(text, ram); s.ok() && text.back() == '%')
		FUZZ_REQUIRE(s.value() >= ram / 100 && s.value() <= ram);
	(void)limits::human_bytes(
	    limits::parse_size(text, ram).ok() ? limits::parse_size(text, ram).value() : size);
	// The whole input as the keeper protocol's key=value lines.
	auto p = limits::parse_lines(text, ram);
	if (p.ok()) {
		check_bounds(p.value());
		auto q = limits::parse_lines(p.value().to_lines(), ram);
		FUZZ_REQUIRE(q.ok());
		check_same(p.value(), q.value());
	}
	return 0;
}
