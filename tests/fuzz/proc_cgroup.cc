// Fuzz the /proc/<pid>/cgroup parser (helpers/common/proc_cgroup.hh) and the mapping of a
// hierarchy path below a mount (cgroup_fs_path).  Properties: a parsed path holds no
// newline and no NUL; a file-system path is below its mount point, or empty.
#include "common/mounts.hh"
#include "common/proc_cgroup.hh"
#include "fuzz.hh"

#include <cstdint>
#include <string>
#include <string_view>

using namespace phasebox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	std::string_view in(reinterpret_cast<const char*>(data), size);
	auto r = parse_proc_cgroup(in);
	if (!r)
		return 0;
	auto clean = [](const std::string& s) {
		return s.find('\n') == std::string::npos && s.find('\0') == std::string::npos;
	};
	FUZZ_REQUIRE(clean(r.value().unified));
	for (const auto& [ctrl, path] : r.value().v1) {
		FUZZ_REQUIRE(clean(ctrl));
		FUZZ_REQUIRE(clean(path));
	}
	CgroupMount m{"/sys/fs/cgroup/unified", "/", false};
	CgroupMount sub{"/sys/fs/cgroup/unified", "/phasebox", false};
	for (const auto* mount : {&m, &sub}) {
		std::string fs = cgroup_fs_path(*mount, r.value().unified);
		FUZZ_REQUIRE(fs.empty() || fs == mount->target || fs.starts_with(mount->target + "/"));
	}
	return 0;
}
