// Fuzz find_cgroup_mounts (helpers/common/mounts.hh) on arbitrary mountinfo text, through
// libmount as the helpers use it: the text is handed over as a memfd's /proc path.
// Properties: no crash; every mount found has an absolute target.
#include "common/mounts.hh"
#include "fuzz.hh"

#include <cstdint>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

using namespace phasebox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	int fd = ::memfd_create("mountinfo", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	for (size_t off = 0; off < size;) {
		ssize_t n = ::write(fd, data + off, size - off);
		if (n <= 0)
			break;
		off += static_cast<size_t>(n);
	}
	auto r = find_cgroup_mounts("/proc/self/fd/" + std::to_string(fd));
	::close(fd);
	if (!r)
		return 0;
	if (!r.value().unified.empty())
		FUZZ_REQUIRE(r.value().unified.target.starts_with("/"));
	for (const auto& [ctrl, mnt] : r.value().v1)
		FUZZ_REQUIRE(mnt.target.starts_with("/"));
	return 0;
}
