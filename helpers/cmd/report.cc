// phasebox report — what the phases cost, from the accounting log (common/accounting.hh).
//
//   phasebox report [--log PATH] [--package PATTERN] [--since DATE] [--until DATE]
//                   [--sort memory|cpu|wall] [--top N] [--json] [--no-chart]
//
// Reads PATH.1 (the rotated part) and PATH, one JSON object per line, and prints, for the
// records that match (PATTERN: a shell glob against CATEGORY/PF, CATEGORY/PN or PN; DATE:
// YYYY-MM-DD or a longer ISO 8601 UTC prefix, compared with each record's end time):
//   - the top N (package, phase) pairs by peak memory (or --sort cpu / wall), with the
//     MAKEOPTS they ran under, the limits in force, OOM kills, and a bar chart;
//   - the top N by CPU time;
//   - how a package's cost changed between its versions (latest run of each version);
//   - the phases that left processes running;
//   - for each heavy phase (OOM-killed, or peak at least 1 GiB): a memory limit and a job
//     count that would have fit (peak per job from its MAKEOPTS -j, against the limit it
//     had, or this machine's RAM).
// --json prints the aggregated rows as one JSON array instead.  Lines that are not
// records are skipped and counted on stderr.
//
// Exit status: 0 ok (also when nothing matched); 100 usage; 111 the log cannot be read.
#include "cmd/command.hh"
#include "common/cli.hh"
#include "common/exit_status.hh"
#include "common/limits.hh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fnmatch.h>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using nlohmann::json;
namespace ex = phasebox::exit_code;
using phasebox::limits::human_bytes;

struct Options {
	std::string log = "/var/log/phasebox/accounting.jsonl";
	std::string package;
	std::string since, until;
	std::string sort = "memory";
	unsigned top = 10;
	bool json = false;
	bool chart = true;
};

struct Rec {
	std::string package, cp, pn, version, phase, time, makeopts, limits;
	uint64_t mem_peak = 0, oom = 0, orphans = 0, mem_limit = 0;
	double cpu = 0, wall = 0;
	int status = 0;
};

// One (package, phase): its worst run (memory/CPU/wall are each the maximum over runs).
struct Row {
	Rec last; // the latest run
	unsigned runs = 0;
	uint64_t mem_peak = 0, oom = 0, orphans = 0;
	double cpu = 0, wall = 0;
	std::string peak_makeopts; // MAKEOPTS of the run with the highest peak
};

// "cat/foo-1.2.3-r1" -> cp "cat/foo", version "1.2.3-r1" (PMS version syntax).
void split_atom(Rec& r)
{
	static const std::regex ver(R"(^(.+)-([0-9]+(\.[0-9]+)*[a-z]?((_alpha|_beta|_pre|_rc|_p)[0-9]*)*(-r[0-9]+)?)$)");
	std::smatch m;
	if (std::regex_match(r.package, m, ver)) {
		r.cp = m[1];
		r.version = m[2];
	} else {
		r.cp = r.package;
	}
	auto slash = r.cp.find('/');
	r.pn = slash == std::string::npos ? r.cp : r.cp.substr(slash + 1);
}

bool matches(const Options& o, const Rec& r)
{
	if (!o.package.empty()) {
		bool any = false;
		for (const std::string* s : {&r.package, &r.cp, &r.pn})
			any = any || ::fnmatch(o.package.c_str(), s->c_str(), 0) == 0;
		if (!any)
			return false;
	}
	if (!o.since.empty() && r.time.compare(0, o.since.size(), o.since) < 0)
		return false;
	if (!o.until.empty() && r.time.compare(0, o.until.size(), o.until) > 0)
		return false;
	return true;
}

// Records of PATH.1 then PATH; `bad` counts lines that are not records.
// A field of the type a record has, else the default: the log may hold any line, and
// json::value() throws on another type (a number for "time": report died in
// std::terminate) and casts an out-of-range number to an integer with undefined
// behaviour (1e300 for "mem_peak").  Both fail tests/fuzz/report_log (seed "types").
std::string text_field(const json& j, const char* k)
{
	auto it = j.find(k);
	return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t count_field(const json& j, const char* k)
{
	auto it = j.find(k);
	return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

double seconds_field(const json& j, const char* k)
{
	auto it = j.find(k);
	if (it == j.end() || !it->is_number())
		return 0;
	double v = it->get<double>();
	return std::isfinite(v) && v >= 0 ? v : 0;
}

int status_field(const json& j)
{
	auto it = j.find("status");
	if (it == j.end() || !it->is_number_integer())
		return 0;
	int64_t v = it->get<int64_t>();
	return v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max() ? static_cast<int>(v) : 0;
}

bool load(const Options& o, std::vector<Rec>& out, size_t& bad, std::string& err)
{
	bool any_file = false;
	for (const std::string& path : {o.log + ".1", o.log}) {
		std::ifstream f(path);
		if (!f) {
			if (path == o.log && !any_file)
				err = "cannot read '" + path + "': " + std::strerror(errno);
			continue;
		}
		any_file = true;
		std::string line;
		while (std::getline(f, line)) {
			json j = json::parse(line, nullptr, false);
			if (j.is_discarded() || !j.is_object() || !j.contains("package") || !j["package"].is_string() ||
			    !j.contains("phase") || !j["phase"].is_string()) {
				++bad;
				continue;
			}
			Rec r;
			r.package = j["package"];
			r.phase = j["phase"];
			r.time = text_field(j, "time");
			r.makeopts = text_field(j, "makeopts");
			r.mem_peak = count_field(j, "mem_peak");
			r.oom = count_field(j, "oom_kills");
			r.orphans = count_field(j, "orphans");
			r.cpu = seconds_field(j, "cpu_user_s") + seconds_field(j, "cpu_system_s");
			r.wall = seconds_field(j, "wall_s");
			r.status = status_field(j);
			if (j.contains("limits") && j["limits"].is_object()) {
				for (auto& [k, v] : j["limits"].items())
					if (v.is_string())
						r.limits += (r.limits.empty() ? "" : " ") + k + "=" + v.get<std::string>();
				if (j["limits"].contains("memory_max") && j["limits"]["memory_max"].is_string()) {
					auto b = phasebox::limits::parse_size(j["limits"]["memory_max"].get<std::string>(),
									     phasebox::limits::ram_bytes());
					if (b)
						r.mem_limit = b.value();
				}
			}
			split_atom(r);
			if (matches(o, r))
				out.push_back(std::move(r));
		}
	}
	return any_file;
}

std::vector<Row> aggregate(const std::vector<Rec>& recs)
{
	std::map<std::pair<std::string, std::string>, Row> by;
	for (const auto& r : recs) {
		Row& row = by[{r.package, r.phase}];
		++row.runs;
		if (row.runs == 1 || r.mem_peak >= row.mem_peak)
			row.peak_makeopts = r.makeopts;
		row.mem_peak = std::max(row.mem_peak, r.mem_peak);
		row.cpu = std::max(row.cpu, r.cpu);
		row.wall = std::max(row.wall, r.wall);
		row.oom += r.oom;
		row.orphans += r.orphans;
		if (row.runs == 1 || r.time >= row.last.time)
			row.last = r;
	}
	std::vector<Row> out;
	out.reserve(by.size());
	for (auto& [k, v] : by)
		out.push_back(std::move(v));
	return out;
}

std::string secs(double s)
{
	char buf[32];
	if (s >= 3600)
		std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
	else if (s >= 60)
		std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
	else
		std::snprintf(buf, sizeof buf, "%.1f s", s);
	return buf;
}

// A bar of 0..20 cells, padded to 20 columns (the cells are multi-byte).
std::string bar(double v, double max, bool chart)
{
	if (!chart)
		return "";
	int n = max > 0 ? static_cast<int>(std::lround(v / max * 20)) : 0;
	std::string s;
	for (int i = 0; i < n; ++i)
		s += "\u2588";
	if (n == 0 && v > 0) {
		s = "\u258f";
		n = 1;
	}
	return s + std::string(static_cast<size_t>(20 - n), ' ') + "  ";
}

// -jN of MAKEOPTS (also --jobs=N, --jobs N); 0 when none.
unsigned jobs_of(const std::string& makeopts)
{
	static const std::regex j(R"((?:^|\s)(?:-j\s*|--jobs[= ])([0-9]+))");
	std::smatch m;
	if (std::regex_search(makeopts, m, j))
		return static_cast<unsigned>(std::stoul(m[1]));
	return 0;
}

// A round size at or above `b`: the next 64 MiB under 1 GiB, the next 256 MiB under
// 4 GiB, else the next GiB.
uint64_t round_up(uint64_t b)
{
	const uint64_t step = b < (1ULL << 30) ? (64ULL << 20) : b < (4ULL << 30) ? (256ULL << 20) : (1ULL << 30);
	return (b + step - 1) / step * step;
}

std::string size_text(uint64_t b)
{
	if (b % (1ULL << 30) == 0)
		return std::to_string(b >> 30) + "G";
	return std::to_string(b >> 20) + "M";
}

void table(const char* title, std::vector<Row> rows, const Options& o, bool by_cpu)
{
	std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
		if (by_cpu)
			return a.cpu > b.cpu;
		if (o.sort == "wall")
			return a.wall > b.wall;
		return a.mem_peak > b.mem_peak;
	});
	if (rows.size() > o.top)
		rows.resize(o.top);
	std::printf("%s\n", title);
	double max = 0;
	for (const auto& r : rows)
		max = std::max(max, by_cpu ? r.cpu : o.sort == "wall" ? r.wall : static_cast<double>(r.mem_peak));
	size_t w = 7;
	for (const auto& r : rows)
		w = std::max(w, r.last.package.size() + 1 + r.last.phase.size());
	for (const auto& r : rows) {
		std::string who = r.last.package + " " + r.last.phase;
		double v = by_cpu ? r.cpu : o.sort == "wall" ? r.wall : static_cast<double>(r.mem_peak);
		const std::string oom = r.oom ? " OOM-killed " + std::to_string(r.oom) : "";
		const std::string lim = r.last.limits.empty() ? "" : " [" + r.last.limits + "]";
		std::printf("  %-*s  %s%10s  CPU %9s  wall %9s  MAKEOPTS=%s%s%s\n", static_cast<int>(w), who.c_str(),
			    bar(v, max, o.chart).c_str(), by_cpu ? secs(r.cpu).c_str() : human_bytes(r.mem_peak).c_str(),
			    secs(r.cpu).c_str(), secs(r.wall).c_str(), r.peak_makeopts.c_str(), oom.c_str(), lim.c_str());
	}
	if (rows.empty())
		std::printf("  (no records)\n");
	std::printf("\n");
}

void versions(const std::vector<Rec>& recs)
{
	// cp -> phase -> version -> latest record of that version
	std::map<std::string, std::map<std::string, std::map<std::string, const Rec*>>> by;
	for (const auto& r : recs) {
		if (r.version.empty())
			continue;
		const Rec*& slot = by[r.cp][r.phase][r.version];
		if (!slot || r.time >= slot->time)
			slot = &r;
	}
	std::printf("Changes between versions (latest run of each)\n");
	bool any = false;
	for (const auto& [cp, phases] : by)
		for (const auto& [phase, vers] : phases) {
			if (vers.size() < 2)
				continue;
			std::vector<const Rec*> v;
			for (const auto& [ver, r] : vers)
				v.push_back(r);
			std::sort(v.begin(), v.end(), [](const Rec* a, const Rec* b) { return a->time < b->time; });
			for (size_t i = 1; i < v.size(); ++i) {
				const Rec& a = *v[i - 1];
				const Rec& b = *v[i];
				auto pct = [](double x, double y) {
					char buf[32];
					if (x <= 0)
						return std::string("n/a");
					std::snprintf(buf, sizeof buf, "%+.0f%%", (y - x) / x * 100);
					return std::string(buf);
				};
				std::printf("  %s %s: %s -> %s: peak %s -> %s (%s), CPU %s -> %s (%s)\n", cp.c_str(), phase.c_str(),
					    a.version.c_str(), b.version.c_str(), human_bytes(a.mem_peak).c_str(),
					    human_bytes(b.mem_peak).c_str(),
					    pct(static_cast<double>(a.mem_peak), static_cast<double>(b.mem_peak)).c_str(),
					    secs(a.cpu).c_str(), secs(b.cpu).c_str(), pct(a.cpu, b.cpu).c_str());
				any = true;
			}
		}
	if (!any)
		std::printf("  (no package with records of two versions)\n");
	std::printf("\n");
}

void orphans(const std::vector<Row>& rows)
{
	std::printf("Phases that left processes running (killed by phasebox)\n");
	bool any = false;
	for (const auto& r : rows)
		if (r.orphans) {
			std::printf("  %s %s: %llu process%s in %u run%s\n", r.last.package.c_str(), r.last.phase.c_str(),
				    static_cast<unsigned long long>(r.orphans), r.orphans == 1 ? "" : "es", r.runs,
				    r.runs == 1 ? "" : "s");
			any = true;
		}
	if (!any)
		std::printf("  (none)\n");
	std::printf("\n");
}

// The suggestion for one heavy row, or "".
std::string suggestion(const Row& r)
{
	const uint64_t GiB = 1ULL << 30;
	if (r.oom == 0 && r.mem_peak < GiB)
		return "";
	const unsigned jobs = jobs_of(r.peak_makeopts);
	const uint64_t per_job = jobs ? r.mem_peak / jobs : r.mem_peak;
	const uint64_t ram = phasebox::limits::ram_bytes();
	std::string s = r.last.package + " " + r.last.phase + ": peak " + human_bytes(r.mem_peak) +
			(jobs ? " with -j" + std::to_string(jobs) + " (" + human_bytes(per_job) + " a job)" : "");
	if (r.oom && r.last.mem_limit && per_job) {
		// It was OOM-killed under its limit: the peak is a lower bound; fit the jobs to the limit.
		unsigned fit = static_cast<unsigned>(std::max<uint64_t>(1, r.last.mem_limit / (per_job + per_job / 4)));
		s += "; OOM-killed under PHASEBOX_MEMORY_MAX=" + size_text(r.last.mem_limit) + ": MAKEOPTS=-j" +
		     std::to_string(jobs ? std::min(fit, jobs > 1 ? jobs - 1 : 1u) : 1u) +
		     " would fit it, or raise it to PHASEBOX_MEMORY_MAX=" + size_text(round_up(r.last.mem_limit * 2));
		return s;
	}
	const uint64_t limit = round_up(r.mem_peak + r.mem_peak / 4);
	s += "; PHASEBOX_MEMORY_MAX=" + size_text(limit) + " fits it";
	if (per_job && ram) {
		unsigned fit = static_cast<unsigned>(std::max<uint64_t>(1, (ram - ram / 10) / (per_job + per_job / 4)));
		long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
		if (cpus > 0)
			fit = std::min<unsigned>(fit, static_cast<unsigned>(cpus));
		s += "; this machine's " + human_bytes(ram) + " fits MAKEOPTS=-j" + std::to_string(fit);
	}
	return s;
}

void suggestions(const std::vector<Row>& rows)
{
	std::printf("Suggestions (package.env)\n");
	bool any = false;
	for (const auto& r : rows)
		if (std::string s = suggestion(r); !s.empty()) {
			std::printf("  %s\n", s.c_str());
			any = true;
		}
	if (!any)
		std::printf("  (no phase was OOM-killed or peaked at 1 GiB or more)\n");
}

void print_json(std::vector<Row> rows, const Options& o)
{
	std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
		return o.sort == "cpu" ? a.cpu > b.cpu : o.sort == "wall" ? a.wall > b.wall : a.mem_peak > b.mem_peak;
	});
	json out = json::array();
	for (const auto& r : rows) {
		json j;
		j["package"] = r.last.package;
		j["cp"] = r.last.cp;
		j["version"] = r.last.version;
		j["phase"] = r.last.phase;
		j["runs"] = r.runs;
		j["mem_peak"] = r.mem_peak;
		j["cpu_s"] = r.cpu;
		j["wall_s"] = r.wall;
		j["makeopts"] = r.peak_makeopts;
		j["oom_kills"] = r.oom;
		j["orphans"] = r.orphans;
		j["limits"] = r.last.limits;
		j["last"] = r.last.time;
		std::string s = suggestion(r);
		if (!s.empty())
			j["suggestion"] = s;
		out.push_back(j);
	}
	std::printf("%s\n", out.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

// The command line into `o`: an exit status when it must stop now (tests/fuzz/cli_report.cc).
std::optional<int> parse(int argc, char** argv, Options& o)
{
	CLI::App app{"What the phases cost, from phasebox's accounting log.\n"
		     "Usage: phasebox report [--log PATH] [--package PATTERN] [--since DATE] [--until DATE]\n"
		     "                       [--sort memory|cpu|wall] [--top N] [--json] [--no-chart]",
		     "phasebox report"};
	app.add_option("--log", o.log, "the accounting log (and PATH.1, its rotated part)");
	app.add_option("--package", o.package, "a shell glob against CATEGORY/PF, CATEGORY/PN or PN");
	app.add_option("--since", o.since, "only records that ended at or after this UTC date (YYYY-MM-DD[THH:MM:SS])");
	app.add_option("--until", o.until, "only records that ended at or before this UTC date");
	app.add_option("--sort", o.sort, "the first table's order")->check(CLI::IsMember({"memory", "cpu", "wall"}));
	app.add_option("--top", o.top, "rows per table")->check(CLI::Range(1u, 100000u));
	app.add_flag("--json", o.json, "the aggregated rows as a JSON array");
	bool no_chart = false;
	app.add_flag("--no-chart", no_chart, "no bar chart");
	std::vector<std::string> own(argv + 1, argv + argc);
	if (auto rc = phasebox::cli::parse(app, own, argv[0]))
		return rc;
	o.chart = !no_chart;
	return std::nullopt;
}

int run(int argc, char** argv)
{
	Options o;
	if (auto rc = parse(argc, argv, o))
		return *rc;
	std::vector<Rec> recs;
	size_t bad = 0;
	std::string err;
	if (!load(o, recs, bad, err)) {
		std::fprintf(stderr, "%s: %s\n", argv[0], err.c_str());
		return ex::syscall;
	}
	if (bad)
		std::fprintf(stderr, "%s: %zu line%s of '%s' %s, ignoring\n", argv[0], bad, bad == 1 ? "" : "s",
			     o.log.c_str(), bad == 1 ? "is not a record" : "are not records");
	auto rows = aggregate(recs);
	if (o.json) {
		print_json(rows, o);
		return ex::ok;
	}
	std::printf("phasebox report: %zu record%s, %zu package phase%s (%s)\n\n", recs.size(), recs.size() == 1 ? "" : "s",
		    rows.size(), rows.size() == 1 ? "" : "s", o.log.c_str());
	table(o.sort == "cpu" ? "Top by CPU time" : o.sort == "wall" ? "Top by wall time" : "Top by peak memory", rows, o,
	      o.sort == "cpu");
	if (o.sort != "cpu")
		table("Top by CPU time", rows, o, true);
	versions(recs);
	orphans(rows);
	suggestions(rows);
	return ex::ok;
}

const phasebox::cmd::Registration reg{"report", "what the phases cost: peak memory, CPU, orphans, from the accounting log",
				      run};

} // namespace
