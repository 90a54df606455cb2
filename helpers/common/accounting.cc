#include "accounting.hh"

#include "fd.hh"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox::accounting {
namespace {

using nlohmann::json;

std::string iso_time(double t)
{
	// A record read back may carry any number (from_json()); time_t(1e300) is undefined.
	time_t s = std::isfinite(t) && t >= 0 && t < 253402300800.0 ? static_cast<time_t>(t) : 0;
	struct tm tm{};
	::gmtime_r(&s, &tm);
	char buf[32];
	std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

double round3(double v) { return std::round(v * 1000) / 1000; }

template <class T> void put(json& j, const char* k, const std::optional<T>& v)
{
	if (v)
		j[k] = *v;
}

// A count is a non-negative integer, seconds a finite number: json's get<uint64_t>() of
// 1e300 or -1 is an out-of-range conversion (tests/fuzz/accounting, seed "ranges").
void get(const json& j, const char* k, std::optional<uint64_t>& v)
{
	if (j.contains(k) && j[k].is_number_unsigned())
		v = j[k].get<uint64_t>();
}

void get(const json& j, const char* k, std::optional<double>& v)
{
	if (j.contains(k) && j[k].is_number() && std::isfinite(j[k].get<double>()))
		v = j[k].get<double>();
}

// "12.3 s"
std::string secs(double v)
{
	char buf[64];
	std::snprintf(buf, sizeof buf, "%.1f s", v);
	return buf;
}

} // namespace

std::string to_json(const Record& r)
{
	json j;
	j["v"] = 1;
	j["time"] = iso_time(r.start + r.wall_s);
	j["start"] = round3(r.start);
	j["package"] = r.package;
	j["phase"] = r.phase;
	j["uid"] = r.uid;
	j["status"] = r.status;
	j["wall_s"] = round3(r.wall_s);
	if (r.usage.cpu_user_s)
		j["cpu_user_s"] = round3(*r.usage.cpu_user_s);
	if (r.usage.cpu_system_s)
		j["cpu_system_s"] = round3(*r.usage.cpu_system_s);
	put(j, "mem_peak", r.usage.mem_peak);
	put(j, "pids_peak", r.usage.pids_peak);
	put(j, "oom_kills", r.usage.oom_kills);
	put(j, "io_read", r.usage.io_read);
	put(j, "io_write", r.usage.io_write);
	json lim = json::object();
	for (auto k : limits::all_keys)
		if (r.limits.has(k))
			lim[limits::json_key(k)] = r.limits.text(k);
	j["limits"] = lim;
	if (!r.dropped.empty())
		j["dropped"] = r.dropped;
	j["orphans"] = r.orphans;
	j["makeopts"] = r.makeopts;
	j["writer"] = r.writer;
	// Invalid UTF-8 (a hostile package name) is replaced, never thrown about.
	return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Record> from_json(const std::string& line)
{
	json j = json::parse(line, nullptr, false);
	if (j.is_discarded() || !j.is_object())
		return Error{EINVAL, "not a JSON object"};
	Record r;
	auto str = [&](const char* k, std::string& out) {
		if (j.contains(k) && j[k].is_string())
			out = j[k].get<std::string>();
	};
	str("package", r.package);
	str("phase", r.phase);
	str("makeopts", r.makeopts);
	str("writer", r.writer);
	if (j.contains("uid") && j["uid"].is_number_integer())
		r.uid = j["uid"].get<long>();
	if (j.contains("status") && j["status"].is_number_integer())
		r.status = j["status"].get<int>();
	std::optional<double> start, wall;
	get(j, "start", start);
	get(j, "wall_s", wall);
	r.start = start.value_or(0);
	r.wall_s = wall.value_or(0);
	if (j.contains("orphans") && j["orphans"].is_number_unsigned())
		r.orphans = j["orphans"].get<size_t>();
	get(j, "cpu_user_s", r.usage.cpu_user_s);
	get(j, "cpu_system_s", r.usage.cpu_system_s);
	get(j, "mem_peak", r.usage.mem_peak);
	get(j, "pids_peak", r.usage.pids_peak);
	get(j, "oom_kills", r.usage.oom_kills);
	get(j, "io_read", r.usage.io_read);
	get(j, "io_write", r.usage.io_write);
	if (j.contains("limits") && j["limits"].is_object())
		for (auto& [k, v] : j["limits"].items()) {
			auto key = limits::key_from_json(k);
			if (!key || !v.is_string())
				return Error{EINVAL, "bad limit " + quote(k)};
			if (Status s = limits::set(r.limits, *key, v.get<std::string>(), limits::ram_bytes()); !s)
				return s.error();
		}
	if (j.contains("dropped") && j["dropped"].is_array())
		for (auto& d : j["dropped"])
			if (d.is_string())
				r.dropped.push_back(d.get<std::string>());
	return r;
}

std::string summary_line(const Record& r)
{
	std::string s = " * phasebox: " + r.phase + " of " + r.package + ": " + secs(r.wall_s);
	if (r.usage.cpu_user_s && r.usage.cpu_system_s)
		s += ", CPU " + secs(*r.usage.cpu_user_s) + " user" + " + " + secs(*r.usage.cpu_system_s) + " system";
	if (r.usage.mem_peak)
		s += ", peak " + limits::human_bytes(*r.usage.mem_peak);
	if (r.usage.pids_peak)
		s += ", " + std::to_string(*r.usage.pids_peak) + (*r.usage.pids_peak == 1 ? " task" : " tasks") + " at most";
	if (r.usage.io_read && r.usage.io_write)
		s += ", I/O " + limits::human_bytes(*r.usage.io_read) + " read / " + limits::human_bytes(*r.usage.io_write) +
		     " written";
	if (r.usage.oom_kills && *r.usage.oom_kills)
		s += ", " + std::to_string(*r.usage.oom_kills) + " OOM-killed";
	if (r.orphans)
		s += ", " + std::to_string(r.orphans) + " left running (killed)";
	if (!r.makeopts.empty())
		s += ", MAKEOPTS=" + r.makeopts;
	std::string lim = r.limits.describe();
	s += lim.empty() ? ", no limits" : ", limits: " + lim;
	return s;
}

std::vector<std::string> oom_lines(const Record& r)
{
	if (!r.usage.oom_kills || *r.usage.oom_kills == 0)
		return {};
	const uint64_t n = *r.usage.oom_kills;
	std::string what = "(" + (r.usage.mem_peak ? "peak " + limits::human_bytes(*r.usage.mem_peak) + ", " : "") +
			   std::to_string(n) + (n == 1 ? " process" : " processes") + " OOM-killed)";
	std::string who = r.phase + " of " + r.package;
	std::vector<std::string> out;
	if (r.limits.memory_max) {
		out.push_back(" * phasebox: " + who + " hit PHASEBOX_MEMORY_MAX=" + r.limits.text(limits::Key::memory_max) +
			      " " + what);
		out.push_back(" * phasebox: hint: lower the make jobs for this package (MAKEOPTS=" +
			      (r.makeopts.empty() ? std::string("unset") : r.makeopts) +
			      ") or raise PHASEBOX_MEMORY_MAX, in package.env");
	} else {
		out.push_back(" * phasebox: " + who + " ran out of memory " + what +
			      "; the limit was not phasebox's (a limit around emerge, or the whole machine)");
		out.push_back(" * phasebox: hint: lower the make jobs for this package (MAKEOPTS=" +
			      (r.makeopts.empty() ? std::string("unset") : r.makeopts) + ") in package.env");
	}
	return out;
}

Status check_log_path(const std::string& p)
{
	if (p.empty() || p[0] != '/')
		return Error{EINVAL, "the accounting log " + quote(p) + " is not an absolute path"};
	if (p.size() < 7 || p.compare(p.size() - 6, 6, ".jsonl") != 0 || p[p.size() - 7] == '/')
		return Error{EINVAL, "the accounting log " + quote(p) + " does not end in '.jsonl'"};
	if (p.find("/./") != std::string::npos || p.find("/../") != std::string::npos || p.find("//") != std::string::npos)
		return Error{EINVAL, "the accounting log " + quote(p) + " has a '.', '..' or empty component"};
	return {};
}

Status append(const std::string& path, const std::string& line, uint64_t max_bytes)
{
	if (Status s = check_log_path(path); !s)
		return s;
	const std::string dir = path.substr(0, path.rfind('/'));
	const std::string name = path.substr(path.rfind('/') + 1);
	if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
		return sys_error("mkdir " + quote(dir));
	UniqueFd d(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!d.valid())
		return sys_error("open " + quote(dir));
	struct stat st{};
	if (::fstat(d.get(), &st) != 0)
		return sys_error("stat " + quote(dir));
	if (st.st_uid != ::geteuid() || (st.st_mode & 022))
		return Error{EPERM, quote(dir) + " is writable by others than uid " + std::to_string(::geteuid())};
	const std::string data = line + "\n";
	for (int attempt = 0; attempt < 8; ++attempt) {
		UniqueFd f(::openat(d.get(), name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
		if (!f.valid())
			return sys_error("open " + quote(path));
		if (::flock(f.get(), LOCK_EX) != 0)
			return sys_error("lock " + quote(path));
		struct stat fst{}, nst{};
		if (::fstat(f.get(), &fst) != 0)
			return sys_error("stat " + quote(path));
		if (!S_ISREG(fst.st_mode))
			return Error{EINVAL, quote(path) + " is not a regular file"};
		if (::fstatat(d.get(), name.c_str(), &nst, AT_SYMLINK_NOFOLLOW) != 0 || nst.st_ino != fst.st_ino ||
		    nst.st_dev != fst.st_dev)
			continue; // rotated meanwhile
		if (static_cast<uint64_t>(fst.st_size) + data.size() > max_bytes && fst.st_size > 0) {
			if (::renameat(d.get(), name.c_str(), d.get(), (name + ".1").c_str()) != 0)
				return sys_error("rotate " + quote(path));
			continue;
		}
		ssize_t n;
		do
			n = ::write(f.get(), data.data(), data.size());
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return sys_error("write " + quote(path));
		if (static_cast<size_t>(n) != data.size())
			return Error{EIO, "short write to " + quote(path)};
		return {};
	}
	return Error{EAGAIN, "the accounting log " + quote(path) + " kept being rotated"};
}

} // namespace phasebox::accounting
