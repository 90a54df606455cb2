// Parsing /proc/<pid>/cgroup.
#pragma once

#include "status.hh"

#include <map>
#include <string>
#include <string_view>

namespace phasebox {

struct ProcCgroups {
	std::string unified;                     // the "0::" line's path; "" when absent
	std::map<std::string, std::string> v1; // controller (or "name=x") -> path
};

// Parse the text of /proc/<pid>/cgroup.  Malformed lines are an error (EINVAL).
Result<ProcCgroups> parse_proc_cgroup(std::string_view text);

// Read and parse /proc/<pid>/cgroup (pid 0: self).
Result<ProcCgroups> read_proc_cgroup(int pid = 0);

} // namespace phasebox
