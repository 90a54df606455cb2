// Fuzz parse_proc_status (helpers/common/diagnose.hh): the fields of /proc/<pid>/status
// that decide what the helpers and `phasebox doctor` say about privilege (CapEff, CapPrm,
// CapBnd, NoNewPrivs, Seccomp).  Properties: a capability mask is accepted only as the
// kernel writes it, 1-16 hex digits (never "-1", "0x..", a sign, a NUL or trailing
// bytes), and means that number; a status text rendered from any values parses back to
// them; capability_names() renders every mask.
#include "common/diagnose.hh"
#include "fuzz.hh"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

using namespace phasebox;

namespace
{

// The first "Name:" line's value, leading blanks skipped, as the kernel's format has it.
std::optional<std::string> value_of(const std::string& text, const std::string& name)
{
	size_t pos = 0;
	while (pos < text.size()) {
		size_t end = text.find('\n', pos);
		if (end == std::string::npos)
			end = text.size();
		std::string line = text.substr(pos, end - pos);
		if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
		    line[name.size()] == ':')
			return line.substr(line.find_first_not_of(" \t", name.size() + 1) ==
			                           std::string::npos
			                       ? line.size()
			                       : line.find_first_not_of(" \t", name.size() + 1));
		pos = end + 1;
	}
	return std::nullopt;
}

bool kernel_hex(const std::optional<std::string>& v, uint64_t want)
{
	if (!v || v->empty() || v->size() > 16 ||
	    v->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
		return false;
	return std::stoull(*v, nullptr, 16) == want;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string text(reinterpret_cast<const char*>(data), size);
	auto s = diag::parse_proc_status(text);
	if (s.parsed) {
		FUZZ_REQUIRE(kernel_hex(value_of(text, "CapEff"), s.cap_eff));
		FUZZ_REQUIRE(kernel_hex(value_of(text, "CapPrm"), s.cap_prm));
		FUZZ_REQUIRE(kernel_hex(value_of(text, "CapBnd"), s.cap_bnd));
		FUZZ_REQUIRE(s.seccomp >= 0 && s.seccomp <= 9);
	}
	(void)diag::capability_names(s.cap_eff);

	if (size >= 26) {
		uint64_t v[3];
		for (int i = 0; i < 3; ++i) {
			v[i] = 0;
			for (int b = 0; b < 8; ++b)
				v[i] = v[i] << 8 | data[i * 8 + b];
		}
		char buf[256];
		std::snprintf(buf, sizeof buf,
		              "Name:\tx\nNoNewPrivs:\t%d\nSeccomp:\t%d\nCapInh:"
		              "\t0000000000000000\nCapPrm:\t%016" PRIx64 "\nCapEff:\t%016" PRIx64
		              "\nCapBnd:\t%016" PRIx64 "\n",
		              data[24] & 1, data[25] % 3, v[0], v[1], v[2]);
		auto t = diag::parse_proc_status(buf);
		FUZZ_REQUIRE(t.parsed && t.cap_prm == v[0] && t.cap_eff == v[1] &&
		             t.cap_bnd == v[2]);
		FUZZ_REQUIRE(t.no_new_privs == (data[24] & 1) && t.seccomp == data[25] % 3);
	}
	return 0;
}
