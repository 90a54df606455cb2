// Fuzz printable_cmdline (helpers/common/procinfo.hh): it renders a leftover process's
// command line — bytes the build chose — into Portage's log.  Properties: only printable
// ASCII comes out (no escape sequence reaches the terminal), at most max bytes plus "...".
#include "common/procinfo.hh"
#include "fuzz.hh"

#include <cstdint>
#include <string>

using namespace phasebox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string in(reinterpret_cast<const char*>(data), size);
	size_t max = size ? data[0] % 64 + 1 : 200;
	for (size_t m : {max, static_cast<size_t>(200)}) {
		std::string out = printable_cmdline(in, m);
		FUZZ_REQUIRE(out.size() <= m + 4 + 3); // one escape may straddle the cut, then "..."
		for (unsigned char c : out)
			FUZZ_REQUIRE(c >= 0x20 && c < 0x7f);
	}
	return 0;
}
