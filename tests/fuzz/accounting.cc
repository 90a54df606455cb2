// Fuzz the accounting record (helpers/common/accounting.hh): to_json() writes the line the
// log keeps and the keeper sends back, from_json() reads it.  Properties: no line crashes
// from_json(); a record it accepts is written and read back unchanged; a record written
// from arbitrary fields (hostile package names, invalid UTF-8, any numbers in range)
// reads back with the same fields; the build-log line and OOM lines render without crash.
#include "common/accounting.hh"
#include "fuzz.hh"

#include <cmath>
#include <cstdint>
#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>
#include <string>

using namespace phasebox;

namespace
{

double r3(double v)
{
	return std::round(v * 1000) / 1000;
}

// What a reading holds after a write: strings as JSON keeps them (invalid UTF-8 replaced).
std::string as_json_string(const std::string& s)
{
	return nlohmann::json::parse(
	           nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
	    .get<std::string>();
}

void same_fields(const accounting::Record& a, const accounting::Record& b)
{
	FUZZ_REQUIRE(a.package == b.package && a.phase == b.phase && a.makeopts == b.makeopts &&
	             a.writer == b.writer);
	FUZZ_REQUIRE(a.uid == b.uid && a.status == b.status && a.orphans == b.orphans);
	FUZZ_REQUIRE(r3(a.start) == b.start && r3(a.wall_s) == b.wall_s);
	FUZZ_REQUIRE(a.usage.cpu_user_s.has_value() == b.usage.cpu_user_s.has_value());
	FUZZ_REQUIRE(!a.usage.cpu_user_s || r3(*a.usage.cpu_user_s) == *b.usage.cpu_user_s);
	FUZZ_REQUIRE(a.usage.cpu_system_s.has_value() == b.usage.cpu_system_s.has_value());
	FUZZ_REQUIRE(!a.usage.cpu_system_s || r3(*a.usage.cpu_system_s) == *b.usage.cpu_system_s);
	FUZZ_REQUIRE(a.usage.mem_peak == b.usage.mem_peak &&
	             a.usage.pids_peak == b.usage.pids_peak &&
	             a.usage.oom_kills == b.usage.oom_kills && a.usage.io_read == b.usage.io_read &&
	             a.usage.io_write == b.usage.io_write);
	for (auto k : limits::all_keys)
		FUZZ_REQUIRE(a.limits.text(k) == b.limits.text(k));
	FUZZ_REQUIRE(a.dropped == b.dropped);
}

std::optional<uint64_t> maybe(FuzzedDataProvider& in)
{
	if (!in.ConsumeBool())
		return std::nullopt;
	return in.ConsumeIntegral<uint64_t>();
}

std::optional<double> maybe_seconds(FuzzedDataProvider& in)
{
	if (!in.ConsumeBool())
		return std::nullopt;
	return in.ConsumeFloatingPointInRange<double>(0, 1e7);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	// Any line, as the keeper's answer.
	std::string line(reinterpret_cast<const char*>(data), size);
	if (auto r = accounting::from_json(line); r.ok()) {
		(void)accounting::summary_line(r.value());
		(void)accounting::oom_lines(r.value());
		auto again = accounting::from_json(accounting::to_json(r.value()));
		FUZZ_REQUIRE(again.ok());
		auto third = accounting::from_json(accounting::to_json(again.value()));
		FUZZ_REQUIRE(third.ok());
		same_fields(again.value(), third.value());
	}

	// A record from arbitrary fields, written then read.
	FuzzedDataProvider in(data, size);
	accounting::Record w;
	w.package = as_json_string(in.ConsumeRandomLengthString(64));
	w.phase = as_json_string(in.ConsumeRandomLengthString(16));
	w.makeopts = as_json_string(in.ConsumeRandomLengthString(32));
	w.writer = in.ConsumeBool() ? "phasebox-cgroup" : "phasebox-keeper";
	w.uid = in.ConsumeIntegralInRange<long>(-1, 4294967295L);
	w.status = in.ConsumeIntegralInRange<int>(0, 383);
	w.start = in.ConsumeFloatingPointInRange<double>(0, 4e9);
	w.wall_s = in.ConsumeFloatingPointInRange<double>(0, 1e7);
	w.orphans = in.ConsumeIntegralInRange<size_t>(0, 1u << 22);
	w.usage.cpu_user_s = maybe_seconds(in);
	w.usage.cpu_system_s = maybe_seconds(in);
	w.usage.mem_peak = maybe(in);
	w.usage.pids_peak = maybe(in);
	w.usage.oom_kills = maybe(in);
	w.usage.io_read = maybe(in);
	w.usage.io_write = maybe(in);
	for (auto k : limits::all_keys)
		if (in.ConsumeBool())
			(void)limits::set(w.limits, k, in.ConsumeRandomLengthString(8),
			                  16ULL << 30);
	while (in.ConsumeBool() && w.dropped.size() < 4)
		w.dropped.push_back(as_json_string(in.ConsumeRandomLengthString(16)));
	auto json = accounting::to_json(w);
	FUZZ_REQUIRE(json.find('\n') == std::string::npos);
	auto back = accounting::from_json(json);
	FUZZ_REQUIRE(back.ok());
	same_fields(w, back.value());
	(void)accounting::summary_line(back.value());
	return 0;
}
