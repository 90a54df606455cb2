// One phase's accounting record: its JSON line, its line in the build log, the OOM
// message, and the shared log it is appended to.
//
// The log (default /var/log/phasebox/accounting.jsonl) holds one JSON object per line.
// Each record is appended with one write(2) on an O_APPEND descriptor under an exclusive
// flock(2), so parallel emerges never interleave; past `max_bytes` the file is renamed to
// "<log>.1" (replacing the previous one) under the same lock, and writers that still hold
// the old file notice (its inode no longer has the name) and reopen.  Only root writes
// it: the phase's supervisor when the phase runs as root, the invocation's keeper for the
// build user's phases (common/keeper.hh).
#pragma once

#include "cgroup_limits.hh"
#include "limits.hh"
#include "status.hh"

#include <string>
#include <vector>

namespace phasebox::accounting {

inline constexpr const char* default_log = "/var/log/phasebox/accounting.jsonl";
inline constexpr uint64_t default_max_bytes = 16ULL << 20;

struct Record {
	std::string package; // CATEGORY/PF
	std::string phase;   // src_compile
	long uid = -1;       // who the phase ran as
	int status = 0;      // its exit status (128+N: signal N)
	double start = 0;    // seconds since the epoch
	double wall_s = 0;
	Usage usage;
	limits::Limits limits; // in force
	std::vector<std::string> dropped; // limits the warn policy dropped
	size_t orphans = 0;
	std::string makeopts;
	std::string writer; // "phasebox-cgroup" or "phasebox-keeper"
};

// One line of JSON, no newline.
std::string to_json(const Record& r);
// The inverse, for a record the keeper sends back (fields it lacks stay default).
Result<Record> from_json(const std::string& line);

// " * phasebox: src_compile of cat/pkg-1: 12.3 s, CPU 20.1 s user + 2.0 s system, peak
//  1.2 GiB, 37 tasks, I/O 1.0 MiB read / 8.0 MiB written, MAKEOPTS=-j4, limits: ...".
std::string summary_line(const Record& r);

// When the kernel OOM-killed inside the phase's cgroup: the failure message and a hint.
// Empty when it did not.
std::vector<std::string> oom_lines(const Record& r);

// Whether `path` may be the log: absolute, no "." or ".." component, a name ending in
// ".jsonl" (so that a hostile PHASEBOX_LOG can only ever append JSON to a .jsonl file).
Status check_log_path(const std::string& path);

// Append `line` and a newline to the log at `path` (its directory is created 0755 when
// missing, and must be root's and writable by no one else).
Status append(const std::string& path, const std::string& line, uint64_t max_bytes = default_max_bytes);

} // namespace phasebox::accounting
