#include "limits.hh"

#include <cstdio>
#include <sys/sysinfo.h>

namespace phasebox::limits {
namespace {

struct Info {
	const char* variable;
	const char* option;
	const char* json;
	const char* accepted;
};

constexpr const char* size_text =
	"a size: whole bytes, or a number (up to 3 decimals) with K, M, G or T (powers of 1024), "
	"or a percentage of RAM from 1% to 100%";

const Info info[] = {
	{"PHASEBOX_MEMORY_MAX", "memory-max", "memory_max", size_text},
	{"PHASEBOX_MEMORY_HIGH", "memory-high", "memory_high", size_text},
	{"PHASEBOX_MEMORY_SWAP_MAX", "memory-swap-max", "memory_swap_max",
	 "a size (0 for no swap): whole bytes, or a number (up to 3 decimals) with K, M, G or T "
	 "(powers of 1024), or a percentage of RAM from 1% to 100%"},
	{"PHASEBOX_PIDS_MAX", "pids-max", "pids_max", "a whole number of tasks from 1 to 4194304"},
	{"PHASEBOX_CPU_MAX", "cpu-max", "cpu_max",
	 "a number of CPUs greater than 0 (up to 3 decimals, at most 4096), such as 4 or 2.5"},
	{"PHASEBOX_CPU_WEIGHT", "cpu-weight", "cpu_weight", "a whole number from 1 to 10000 (100 is the default share)"},
	{"PHASEBOX_IO_WEIGHT", "io-weight", "io_weight", "a whole number from 1 to 10000 (100 is the default share)"},
};

const Info& of(Key k) { return info[static_cast<size_t>(k)]; }

bool digit(char c) { return c >= '0' && c <= '9'; }

// "<int>[.<1-3 digits>]" -> value in thousandths.  nullopt on anything else or overflow.
std::optional<uint64_t> parse_milli(std::string_view s)
{
	size_t i = 0;
	uint64_t whole = 0;
	if (s.empty() || !digit(s[0]))
		return std::nullopt;
	while (i < s.size() && digit(s[i])) {
		if (whole > (UINT64_MAX / 10000))
			return std::nullopt;
		whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
		++i;
	}
	uint64_t frac = 0;
	if (i < s.size()) {
		if (s[i] != '.')
			return std::nullopt;
		++i;
		size_t n = 0;
		while (i < s.size() && digit(s[i]) && n < 3) {
			frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
			++i;
			++n;
		}
		if (n == 0 || i != s.size())
			return std::nullopt;
		for (; n < 3; ++n)
			frac *= 10;
	}
	return whole * 1000 + frac;
}

Error invalid(Key k, std::string_view text)
{
	return Error{0, std::string(of(k).variable) + "='" + std::string(text) +
				"' is not valid: expected " + of(k).accepted};
}

} // namespace

const char* variable(Key k) { return of(k).variable; }
const char* option(Key k) { return of(k).option; }
const char* json_key(Key k) { return of(k).json; }
const char* accepted(Key k) { return of(k).accepted; }

std::optional<Key> key_from_json(std::string_view s)
{
	for (Key k : all_keys)
		if (s == of(k).json)
			return k;
	return std::nullopt;
}

Result<uint64_t> parse_size(std::string_view s, uint64_t ram)
{
	if (!s.empty() && s.back() == '%') {
		std::string_view n = s.substr(0, s.size() - 1);
		if (n.empty() || n.size() > 3 || n[0] == '0')
			return Error{EINVAL, "bad percentage"};
		uint64_t p = 0;
		for (char c : n) {
			if (!digit(c))
				return Error{EINVAL, "bad percentage"};
			p = p * 10 + static_cast<uint64_t>(c - '0');
		}
		if (p < 1 || p > 100)
			return Error{EINVAL, "bad percentage"};
		return static_cast<uint64_t>(static_cast<unsigned __int128>(ram) * p / 100);
	}
	uint64_t mult = 1;
	if (!s.empty()) {
		switch (s.back()) {
		case 'K': mult = 1ULL << 10; break;
		case 'M': mult = 1ULL << 20; break;
		case 'G': mult = 1ULL << 30; break;
		case 'T': mult = 1ULL << 40; break;
		default: break;
		}
		if (mult != 1)
			s.remove_suffix(1);
	}
	if (mult == 1 && s.find('.') != std::string_view::npos)
		return Error{EINVAL, "a fraction of a byte"};
	auto milli = parse_milli(s);
	if (!milli)
		return Error{EINVAL, "not a size"};
	// milli/1000 * mult without overflow: split into whole and thousandths.
	uint64_t whole = *milli / 1000, frac = *milli % 1000;
	if (whole > UINT64_MAX / mult / 2)
		return Error{ERANGE, "too large"};
	return whole * mult + frac * mult / 1000;
}

Result<uint64_t> parse_count(std::string_view s, uint64_t lo, uint64_t hi)
{
	if (s.empty() || s.size() > 19 || s[0] == '0')
		return Error{EINVAL, "not a whole number"};
	uint64_t v = 0;
	for (char c : s) {
		if (!digit(c))
			return Error{EINVAL, "not a whole number"};
		v = v * 10 + static_cast<uint64_t>(c - '0');
	}
	if (v < lo || v > hi)
		return Error{ERANGE, "out of range"};
	return v;
}

Result<uint64_t> parse_cpus(std::string_view s)
{
	auto milli = parse_milli(s);
	if (!milli || *milli == 0 || *milli > uint64_t{4096} * 1000)
		return Error{EINVAL, "not a CPU count"};
	return *milli * cpu_period_us / 1000;
}

Status set(Limits& l, Key k, std::string_view text, uint64_t ram)
{
	Result<uint64_t> v = Error{EINVAL, ""};
	switch (k) {
	case Key::memory_max:
	case Key::memory_high:
		v = parse_size(text, ram);
		if (v && v.value() == 0)
			v = Error{EINVAL, "zero"};
		break;
	case Key::memory_swap_max: v = text == "0" ? Result<uint64_t>(0) : parse_size(text, ram); break;
	case Key::pids_max: v = parse_count(text, 1, 4194304); break;
	case Key::cpu_max: v = parse_cpus(text); break;
	case Key::cpu_weight:
	case Key::io_weight: v = parse_count(text, 1, 10000); break;
	}
	if (!v)
		return invalid(k, text);
	switch (k) {
	case Key::memory_max: l.memory_max = v.value(); break;
	case Key::memory_high: l.memory_high = v.value(); break;
	case Key::memory_swap_max: l.memory_swap_max = v.value(); break;
	case Key::pids_max: l.pids_max = v.value(); break;
	case Key::cpu_max: l.cpu_quota_us = v.value(); break;
	case Key::cpu_weight: l.cpu_weight = v.value(); break;
	case Key::io_weight: l.io_weight = v.value(); break;
	}
	l.raw[static_cast<size_t>(k)] = std::string(text);
	return {};
}

bool Limits::empty() const
{
	for (const auto& r : raw)
		if (!r.empty())
			return false;
	return true;
}

std::string Limits::describe() const
{
	std::string out;
	for (Key k : all_keys)
		if (has(k))
			out += (out.empty() ? "" : " ") + std::string(variable(k)) + "=" + text(k);
	return out;
}

std::string Limits::to_lines() const
{
	std::string out;
	for (Key k : all_keys)
		if (has(k))
			out += std::string(json_key(k)) + "=" + text(k) + "\n";
	return out;
}

Result<Limits> parse_lines(std::string_view lines, uint64_t ram)
{
	Limits l;
	while (!lines.empty()) {
		auto nl = lines.find('\n');
		std::string_view line = lines.substr(0, nl);
		lines = nl == std::string_view::npos ? std::string_view{} : lines.substr(nl + 1);
		if (line.empty())
			continue;
		auto eq = line.find('=');
		auto k = eq == std::string_view::npos ? std::nullopt : key_from_json(line.substr(0, eq));
		if (!k)
			return Error{EINVAL, "unknown limit '" + std::string(line.substr(0, eq)) + "'"};
		if (Status s = set(l, *k, line.substr(eq + 1), ram); !s)
			return s.error();
	}
	return l;
}

uint64_t ram_bytes()
{
	struct sysinfo si{};
	if (::sysinfo(&si) != 0)
		return 0;
	return static_cast<uint64_t>(si.totalram) * si.mem_unit;
}

std::string human_bytes(uint64_t b)
{
	const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = static_cast<double>(b);
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		++u;
	}
	char buf[64];
	if (u == 0)
		std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
	else
		std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
	return buf;
}

} // namespace phasebox::limits
