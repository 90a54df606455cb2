// Fuzz phasebox-cgroup's three command lines (run, adopt, register): the real grammar
// (helpers/phasebox-cgroup.cc, compiled here with its main() renamed; main's dispatch is
// repeated below; nothing is executed).  Properties: each stops with 0 or 100 or goes on;
// when run goes on the next program is exactly what followed "--", --kill-timeout is
// 1..600 s, --hierarchy and --fallback hold one of their words, and the limits it then
// parses are within their documented bounds with a log path it may write; adopt names a
// pid and passes on what followed "--"; register takes no "--".
#define FUZZ_CLI_SOURCE "../../helpers/phasebox-cgroup.cc"
#include "cli.hh"

namespace
{

void check_limits(const limits::Limits& l)
{
	FUZZ_REQUIRE(!l.memory_max || *l.memory_max >= 1);
	FUZZ_REQUIRE(!l.memory_high || *l.memory_high >= 1);
	FUZZ_REQUIRE(!l.pids_max || (*l.pids_max >= 1 && *l.pids_max <= 4194304));
	FUZZ_REQUIRE(!l.cpu_quota_us ||
	             (*l.cpu_quota_us >= 100 && *l.cpu_quota_us <= 4096 * limits::cpu_period_us));
	FUZZ_REQUIRE(!l.cpu_weight || (*l.cpu_weight >= 1 && *l.cpu_weight <= 10000));
	FUZZ_REQUIRE(!l.io_weight || (*l.io_weight >= 1 && *l.io_weight <= 10000));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, prog);
	auto args = cli::split_at_separator(a.argc(), a.argv());
	if (!args.own.empty() && args.own[0] == "register") {
		RunOptions o;
		auto parse_all = [](const cli::Split& s, RunOptions& r) {
			auto rc = parse_register(s, r);
			return rc ? rc : parse_limits(r);
		};
		if (fuzzcli::goes_on(a, o, parse_all)) {
			FUZZ_REQUIRE(!a.separator());
			FUZZ_REQUIRE(fuzzargv::one_of(o.hierarchy, {"auto", "v2", "v1"}));
			check_limits(o.limits);
			FUZZ_REQUIRE(accounting::check_log_path(o.log).ok());
		}
		return 0;
	}
	if (!args.own.empty() && args.own[0] == "adopt") {
		AdoptOptions o;
		if (fuzzcli::goes_on(a, o, parse_adopt)) {
			FUZZ_REQUIRE(!o.pid.empty() || a.argc() > 2);
			FUZZ_REQUIRE(o.next == a.next());
			FUZZ_REQUIRE(fuzzargv::one_of(o.hierarchy, {"auto", "v2", "v1"}));
		}
		return 0;
	}
	RunOptions o;
	if (!fuzzcli::goes_on(a, o, parse_run))
		return 0;
	fuzzcli::require_next(a, o.next);
	FUZZ_REQUIRE(o.kill_timeout >= 1 && o.kill_timeout <= 600);
	FUZZ_REQUIRE(fuzzargv::one_of(o.hierarchy, {"auto", "v2", "v1"}));
	FUZZ_REQUIRE(fuzzargv::one_of(o.fallback, {"fail", "warn"}));
	auto limits_of = [](const cli::Split&, RunOptions& r) { return parse_limits(r); };
	if (fuzzcli::goes_on(a, o, limits_of)) {
		check_limits(o.limits);
		FUZZ_REQUIRE(accounting::check_log_path(o.log).ok());
	}
	return 0;
}
