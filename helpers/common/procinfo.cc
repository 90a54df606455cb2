#include "procinfo.hh"

#include "file.hh"

#include <cstdio>
#include <cstdlib>
#include <dirent.h>

namespace phasebox {

std::string printable_cmdline(const std::string& raw, size_t max)
{
	std::string s = raw;
	while (!s.empty() && s.back() == '\0')
		s.pop_back();
	std::string out;
	for (unsigned char c : s) {
		if (out.size() >= max) {
			out += "...";
			break;
		}
		if (c == '\0')
			out.push_back(' ');
		else if (c < 0x20 || c >= 0x7f) {
			char buf[8];
			std::snprintf(buf, sizeof buf, "\\x%02x", c);
			out += buf;
		} else
			out.push_back(static_cast<char>(c));
	}
	return out;
}

ProcessInfo describe_process(pid_t pid)
{
	ProcessInfo info;
	info.pid = pid;
	std::string base = "/proc/" + std::to_string(pid) + "/";
	if (auto c = read_file(base + "comm")) {
		info.comm = c.value();
		if (!info.comm.empty() && info.comm.back() == '\n')
			info.comm.pop_back();
		info.comm = printable_cmdline(info.comm, 64);
	}
	if (auto c = read_file(base + "cmdline"))
		info.cmdline = printable_cmdline(c.value());
	return info;
}

namespace {

// State and parent of a process, from "pid (comm) state ppid ...": comm may hold anything,
// so the fields are read after the last ')'.
bool stat_of(const std::string& pid, char& state, long& ppid)
{
	auto stat = read_file("/proc/" + pid + "/stat");
	if (!stat)
		return false;
	const std::string& s = stat.value();
	auto rp = s.rfind(')');
	// NOLINTNEXTLINE(cert-err34-c): the kernel writes the state letter and the ppid (a pid_t)
	return rp != std::string::npos && std::sscanf(s.c_str() + rp + 1, " %c %ld", &state, &ppid) == 2;
}

bool live(char state) { return state != 'Z' && state != 'X'; }

} // namespace

std::vector<pid_t> children_by_scan(pid_t parent)
{
	std::vector<pid_t> out;
	DIR* d = ::opendir("/proc");
	if (!d)
		return out;
	while (struct dirent* e = ::readdir(d)) {
		char* end = nullptr;
		long pid = std::strtol(e->d_name, &end, 10);
		char state = 0;
		long ppid = 0;
		if (pid > 0 && !*end && stat_of(e->d_name, state, ppid) && ppid == parent && live(state))
			out.push_back(static_cast<pid_t>(pid));
	}
	::closedir(d);
	return out;
}

std::vector<pid_t> children_of(pid_t parent)
{
	// /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN) lists each thread's children: a
	// few reads instead of one per process on the machine.  A child that a thread forks
	// while it is read can be missed, which is why the reaper asks again until none is left.
	if (parent <= 0)
		return {};
	std::string tasks = "/proc/" + std::to_string(parent) + "/task";
	DIR* d = ::opendir(tasks.c_str());
	if (!d)
		return {};
	std::vector<pid_t> out;
	bool have_children_files = false;
	while (struct dirent* e = ::readdir(d)) {
		if (e->d_name[0] == '.')
			continue;
		auto list = read_file(tasks + "/" + e->d_name + "/children");
		if (!list)
			continue;
		have_children_files = true;
		const char* p = list.value().c_str();
		char* end = nullptr;
		for (long pid; (pid = std::strtol(p, &end, 10)) > 0; p = end) {
			char state = 0;
			long ppid = 0;
			if (stat_of(std::to_string(pid), state, ppid) && ppid == parent && live(state))
				out.push_back(static_cast<pid_t>(pid));
		}
	}
	::closedir(d);
	return have_children_files ? out : children_by_scan(parent);
}

std::vector<std::string> orphan_report(const std::string& who, const std::vector<ProcessInfo>& orphans)
{
	std::vector<std::string> lines;
	if (orphans.empty())
		return lines;
	lines.push_back(" * QA Notice: phasebox: " + who + " left " + std::to_string(orphans.size()) +
			(orphans.size() == 1 ? " process" : " processes") + " running; killed:");
	for (const auto& o : orphans)
		lines.push_back(" *   pid " + std::to_string(o.pid) + " (" + o.comm + "): " + o.cmdline);
	return lines;
}

} // namespace phasebox
