// environment.hh: the environment passed on byte for byte, with set() for additions.
#include "common/environment.hh"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using phasebox::Environment;

namespace {

Environment with(std::initializer_list<std::pair<const char*, const char*>> vars)
{
	Environment e;
	for (const auto& [n, v] : vars)
		e.set(n, v);
	return e;
}

TEST(Environment, SetAppendsANewEntry)
{
	Environment e;
	EXPECT_TRUE(e.entries().empty());
	e.set("A", "1");
	e.set("B", "2");
	EXPECT_EQ(e.entries(), (std::vector<std::string>{"A=1", "B=2"}));
}

TEST(Environment, SetReplacesInPlace)
{
	auto e = with({{"A", "1"}, {"B", "2"}, {"C", "3"}});
	e.set("B", "two");
	EXPECT_EQ(e.entries(), (std::vector<std::string>{"A=1", "B=two", "C=3"}));
	e.set("A", "");
	EXPECT_EQ(e.entries(), (std::vector<std::string>{"A=", "B=two", "C=3"}));
}

// Replacing A must not touch AB, nor a variable whose value contains "A=".
TEST(Environment, SetMatchesTheWholeName)
{
	auto e = with({{"AB", "1"}, {"X", "A=2"}, {"", "weird"}});
	e.set("A", "3");
	EXPECT_EQ(e.entries(), (std::vector<std::string>{"AB=1", "X=A=2", "=weird", "A=3"}));
	e.set("AB", "4");
	EXPECT_EQ(e.entries()[0], "AB=4");
	EXPECT_EQ(e.entries().size(), 4u);
}

TEST(Environment, ValueKeepsEverythingAfterTheFirstEquals)
{
	auto e = with({{"A", "b=c"}});
	EXPECT_EQ(e.entries(), (std::vector<std::string>{"A=b=c"}));
	e.set("A", "=x==");
	EXPECT_EQ(e.entries(), (std::vector<std::string>{"A==x=="}));
	e.set("A", std::string("multi\nline"));
	EXPECT_EQ(e.entries()[0], "A=multi\nline");
}

TEST(Environment, EnvpIsNullTerminatedAndMatches)
{
	auto e = with({{"A", "1"}, {"B", "b=c"}});
	char* const* envp = e.envp();
	ASSERT_NE(envp, nullptr);
	ASSERT_NE(envp[0], nullptr);
	ASSERT_NE(envp[1], nullptr);
	EXPECT_EQ(envp[2], nullptr);
	EXPECT_STREQ(envp[0], "A=1");
	EXPECT_STREQ(envp[1], "B=b=c");
	// After a change, a fresh envp() shows it.
	e.set("C", "3");
	e.set("A", "one");
	envp = e.envp();
	EXPECT_STREQ(envp[0], "A=one");
	EXPECT_STREQ(envp[1], "B=b=c");
	EXPECT_STREQ(envp[2], "C=3");
	EXPECT_EQ(envp[3], nullptr);
}

TEST(Environment, EmptyEnvpIsJustNull)
{
	Environment e;
	char* const* envp = e.envp();
	ASSERT_NE(envp, nullptr);
	EXPECT_EQ(envp[0], nullptr);
}

TEST(Environment, CaptureCopiesEnviron)
{
	ASSERT_EQ(::setenv("PHASEBOX_UNIT_CAPTURE", "x=y z", 1), 0);
	auto e = Environment::capture();
	::unsetenv("PHASEBOX_UNIT_CAPTURE");
	ASSERT_EQ(std::getenv("PHASEBOX_UNIT_CAPTURE"), nullptr);
	size_t n = 0;
	for (const auto& v : e.entries())
		if (v.rfind("PHASEBOX_UNIT_CAPTURE=", 0) == 0) {
			++n;
			EXPECT_EQ(v, "PHASEBOX_UNIT_CAPTURE=x=y z");
		}
	// Counted after unsetenv: the captured copy does not follow the process environment.
	EXPECT_EQ(n, 1u);
}

TEST(Environment, SandboxOffForSelf)
{
	::unsetenv("SANDBOX_ON");
	phasebox::sandbox_off_for_self();
	EXPECT_EQ(std::getenv("SANDBOX_ON"), nullptr); // not invented where absent
	::setenv("SANDBOX_ON", "1", 1);
	auto captured = Environment::capture();
	phasebox::sandbox_off_for_self();
	const char* now = std::getenv("SANDBOX_ON");
	ASSERT_NE(now, nullptr);
	EXPECT_STREQ(now, "0");
	::unsetenv("SANDBOX_ON");
	// The captured copy still carries the original value for the phase.
	bool found = false;
	for (const auto& v : captured.entries())
		found = found || v == "SANDBOX_ON=1";
	EXPECT_TRUE(found);
}

} // namespace
