// What a process is, for the orphan reports: pid, command name, command line.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace phasebox {

struct ProcessInfo {
	pid_t pid = 0;
	std::string comm;    // /proc/<pid>/comm, without the newline
	std::string cmdline; // /proc/<pid>/cmdline, NUL → ' ', unprintable bytes escaped
};

// Best effort: a process that is already gone yields empty fields.
ProcessInfo describe_process(pid_t pid);

// Render cmdline bytes for a log line: NULs become spaces (the trailing one dropped),
// bytes outside printable ASCII become \xNN, cut to `max` bytes with "...".
std::string printable_cmdline(const std::string& raw, size_t max = 200);

// The live (not zombie) processes whose parent is `parent`: from the parent's
// /proc/<pid>/task/*/children, or by reading every /proc/<pid>/stat where those are absent.
std::vector<pid_t> children_of(pid_t parent);

// The same from every /proc/<pid>/stat: children_of's way without CONFIG_PROC_CHILDREN.
std::vector<pid_t> children_by_scan(pid_t parent);

// Orphan report lines, each prefixed " * ", as a Portage QA notice:
//   " * QA Notice: phasebox: src_compile of cat/pf-1 left 2 processes running; killed:"
//   " *   pid 1234 (sleep): sleep 3600"
std::vector<std::string> orphan_report(const std::string& who, const std::vector<ProcessInfo>& orphans);

} // namespace phasebox
