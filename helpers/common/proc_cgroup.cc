#include "proc_cgroup.hh"

#include "file.hh"

namespace phasebox {

Result<ProcCgroups> parse_proc_cgroup(std::string_view text)
{
	ProcCgroups out;
	// No cgroup or controller name can hold a NUL (found by tests/fuzz/proc_cgroup).
	if (text.find('\0') != std::string_view::npos)
		return Error{EINVAL, "NUL byte in /proc/<pid>/cgroup"};
	while (!text.empty()) {
		auto nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		if (line.empty())
			continue;
		// hierarchy-ID:controller-list:cgroup-path — the path may itself contain ':'.
		auto c1 = line.find(':');
		auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
		if (c2 == std::string_view::npos)
			return Error{EINVAL, "malformed /proc/<pid>/cgroup line"};
		std::string_view id = line.substr(0, c1);
		std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
		std::string path(line.substr(c2 + 1));
		if (path.empty() || path[0] != '/')
			return Error{EINVAL, "malformed /proc/<pid>/cgroup path"};
		if (id == "0" && ctrls.empty()) {
			out.unified = path;
			continue;
		}
		while (!ctrls.empty()) {
			auto comma = ctrls.find(',');
			out.v1.emplace(std::string(ctrls.substr(0, comma)), path);
			ctrls = comma == std::string_view::npos ? std::string_view{}
								: ctrls.substr(comma + 1);
		}
	}
	return out;
}

Result<ProcCgroups> read_proc_cgroup(int pid)
{
	std::string path = pid ? "/proc/" + std::to_string(pid) + "/cgroup" : "/proc/self/cgroup";
	auto text = read_file(path);
	if (!text)
		return text.error();
	return parse_proc_cgroup(text.value());
}

} // namespace phasebox
