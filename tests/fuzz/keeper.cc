// Fuzz the keeper's messages (helpers/common/keeper.hh, keeper::wire): the keeper runs as
// root and decodes what the build user's supervisor sends; the supervisor decodes the
// keeper's answers.  Properties: no bytes crash either side; a request the keeper accepts
// holds only valid limits, a fallback and a log path it would accept, and encoding it
// then decoding that gives the same request; a release message's orphan count is capped;
// an answer is either the text after 'O' or an error.
#include "common/keeper.hh"
#include "fuzz.hh"

#include <climits>
#include <cstdint>
#include <string>

using namespace phasebox;

namespace
{

void same(const keeper::Request& a, const keeper::Request& b)
{
	FUZZ_REQUIRE(a.label == b.label);
	FUZZ_REQUIRE(a.warn == b.warn);
	FUZZ_REQUIRE(a.makeopts == b.makeopts);
	FUZZ_REQUIRE(a.log == b.log);
	for (auto k : limits::all_keys)
		FUZZ_REQUIRE(a.limits.text(k) == b.limits.text(k));
	FUZZ_REQUIRE(a.limits.memory_max == b.limits.memory_max &&
	             a.limits.memory_high == b.limits.memory_high &&
	             a.limits.memory_swap_max == b.limits.memory_swap_max &&
	             a.limits.pids_max == b.limits.pids_max &&
	             a.limits.cpu_quota_us == b.limits.cpu_quota_us &&
	             a.limits.cpu_weight == b.limits.cpu_weight &&
	             a.limits.io_weight == b.limits.io_weight);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string m(reinterpret_cast<const char*>(data), size);

	// L and R requests, as the keeper decodes them.
	if (auto r = keeper::wire::decode(m); r.ok()) {
		const auto& q = r.value();
		FUZZ_REQUIRE(q.label.find('\n') == std::string::npos);
		FUZZ_REQUIRE(q.makeopts.size() <= 1000);
		FUZZ_REQUIRE(q.log.empty() || accounting::check_log_path(q.log).ok());
		auto again = keeper::wire::decode(keeper::wire::encode(q));
		FUZZ_REQUIRE(again.ok());
		same(q, again.value());
	}

	// K: the release.
	auto k = keeper::wire::decode_release(m);
	FUZZ_REQUIRE(k.reaped <= keeper::wire::max_reaped);
	if (size >= 8) {
		int status = static_cast<int>(data[0] | data[1] << 8 | data[2] << 16 |
		                              static_cast<unsigned>(data[3]) << 24);
		size_t reaped =
		    (data[4] | data[5] << 8 | data[6] << 16) % (keeper::wire::max_reaped + 1);
		auto back =
		    keeper::wire::decode_release(keeper::wire::encode_release(status, reaped));
		FUZZ_REQUIRE(back.status == status && back.reaped == reaped);
	}

	// The keeper's answers, as the supervisor decodes them.
	auto a = keeper::wire::decode_answer(m);
	if (a.ok())
		FUZZ_REQUIRE(!m.empty() && m[0] == 'O' && a.value() == m.substr(1));
	else
		FUZZ_REQUIRE(m.empty() || m[0] != 'O');
	return 0;
}
