// limits.hh: what every PHASEBOX_* limit variable accepts and rejects, and the messages.
#include "common/limits.hh"

#include <gtest/gtest.h>

namespace lim = phasebox::limits;
using lim::Key;

namespace {

constexpr uint64_t GiB = 1ULL << 30;
constexpr uint64_t ram = 16 * GiB;

uint64_t size(const char* s)
{
	auto r = lim::parse_size(s, ram);
	EXPECT_TRUE(r.ok()) << s;
	return r.ok() ? r.value() : 0;
}

TEST(ParseSize, Suffixes)
{
	EXPECT_EQ(size("1"), 1u);
	EXPECT_EQ(size("1073741824"), GiB);
	EXPECT_EQ(size("4K"), 4096u);
	EXPECT_EQ(size("512M"), 512ULL << 20);
	EXPECT_EQ(size("8G"), 8 * GiB);
	EXPECT_EQ(size("2T"), 2ULL << 40);
	EXPECT_EQ(size("1.5G"), GiB + GiB / 2);
	EXPECT_EQ(size("0.25M"), 256ULL << 10);
	EXPECT_EQ(size("2.125G"), 2 * GiB + GiB / 8);
}

TEST(ParseSize, Percentages)
{
	EXPECT_EQ(size("50%"), 8 * GiB);
	EXPECT_EQ(size("100%"), ram);
	EXPECT_EQ(size("1%"), ram / 100);
}

TEST(ParseSize, Rejects)
{
	for (const char* s : {"", "G", "8X", "8g", "8 G", " 8G", "8G ", "-1", "+1", "1.5", "1.G", "1.2345G", ".5G",
			      "0%", "101%", "05%", "%", "1000%", "50.5%", "1e9", "0x10", "99999999999999999999",
			      "99999999999T"})
		EXPECT_FALSE(lim::parse_size(s, ram).ok()) << "'" << s << "'";
}

TEST(ParseCpus, QuotaPerPeriod)
{
	EXPECT_EQ(lim::parse_cpus("4").value(), 400000u);
	EXPECT_EQ(lim::parse_cpus("2.5").value(), 250000u);
	EXPECT_EQ(lim::parse_cpus("0.001").value(), 100u);
	EXPECT_EQ(lim::parse_cpus("4096").value(), 409600000u);
	for (const char* s : {"0", "0.0", "0.000", "-1", "2.5555", "4096.001", "5000", "1,5", "", "x", "2."})
		EXPECT_FALSE(lim::parse_cpus(s).ok()) << "'" << s << "'";
}

TEST(ParseCount, Range)
{
	EXPECT_EQ(lim::parse_count("1", 1, 10).value(), 1u);
	EXPECT_EQ(lim::parse_count("10", 1, 10).value(), 10u);
	for (const char* s : {"0", "11", "01", "-1", "", "1.0", " 1"})
		EXPECT_FALSE(lim::parse_count(s, 1, 10).ok()) << "'" << s << "'";
}

TEST(Set, MessagesNameTheVariableTheValueAndWhatIsAccepted)
{
	lim::Limits l;
	auto s = lim::set(l, Key::memory_max, "8X", ram);
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().what, "PHASEBOX_MEMORY_MAX='8X' is not valid: expected a size: whole bytes, or a number "
				  "(up to 3 decimals) with K, M, G or T (powers of 1024), or a percentage of RAM from 1% "
				  "to 100%");
	s = lim::set(l, Key::pids_max, "0", ram);
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().what, "PHASEBOX_PIDS_MAX='0' is not valid: expected a whole number of tasks from 1 to 4194304");
	EXPECT_FALSE(lim::set(l, Key::memory_max, "0", ram).ok());
	EXPECT_FALSE(lim::set(l, Key::memory_high, "0G", ram).ok());
	EXPECT_TRUE(l.empty());
}

TEST(Set, SwapMaxMayBeZero)
{
	lim::Limits l;
	ASSERT_TRUE(lim::set(l, Key::memory_swap_max, "0", ram).ok());
	EXPECT_EQ(*l.memory_swap_max, 0u);
	EXPECT_EQ(l.describe(), "PHASEBOX_MEMORY_SWAP_MAX=0");
}

TEST(Lines, RoundTripAndRevalidation)
{
	lim::Limits l;
	ASSERT_TRUE(lim::set(l, Key::memory_max, "8G", ram).ok());
	ASSERT_TRUE(lim::set(l, Key::cpu_max, "2.5", ram).ok());
	ASSERT_TRUE(lim::set(l, Key::io_weight, "50", ram).ok());
	EXPECT_EQ(l.to_lines(), "memory_max=8G\ncpu_max=2.5\nio_weight=50\n");
	EXPECT_EQ(l.describe(), "PHASEBOX_MEMORY_MAX=8G PHASEBOX_CPU_MAX=2.5 PHASEBOX_IO_WEIGHT=50");
	auto back = lim::parse_lines(l.to_lines(), ram);
	ASSERT_TRUE(back.ok());
	EXPECT_EQ(*back.value().memory_max, 8 * GiB);
	EXPECT_EQ(*back.value().cpu_quota_us, 250000u);
	EXPECT_EQ(back.value().to_lines(), l.to_lines());
	EXPECT_FALSE(lim::parse_lines("memory_max=8X\n", ram).ok());
	EXPECT_FALSE(lim::parse_lines("no_such=1\n", ram).ok());
	EXPECT_FALSE(lim::parse_lines("memory_max\n", ram).ok());
	EXPECT_TRUE(lim::parse_lines("", ram).value().empty());
}

TEST(HumanBytes, Units)
{
	EXPECT_EQ(lim::human_bytes(0), "0 B");
	EXPECT_EQ(lim::human_bytes(1023), "1023 B");
	EXPECT_EQ(lim::human_bytes(8 * GiB), "8.0 GiB");
	EXPECT_EQ(lim::human_bytes(1536ULL << 20), "1.5 GiB");
}

} // namespace
