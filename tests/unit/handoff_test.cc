// handoff.hh: the list of destinations phasebox-proxy sends phasebox-unshare, which binds
// a listener for each inside the phase's namespace.  phasebox-unshare parses it.
#include "common/handoff.hh"

#include <gtest/gtest.h>
#include <sys/socket.h>

using namespace phasebox::handoff;

namespace
{

TEST(HandoffList, RoundTrip)
{
	std::vector<Listen> l{{AF_INET, "10.213.8.2", 3632}, {AF_INET6, "fd00::2", 10245}};
	std::string text = format_list(l);
	EXPECT_EQ(text, "10.213.8.2 3632\nfd00::2 10245\n.\n");
	auto r = parse_list(text);
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value(), l);
}

TEST(HandoffList, Empty)
{
	auto r = parse_list(".\n");
	ASSERT_TRUE(r.ok());
	EXPECT_TRUE(r.value().empty());
}

TEST(HandoffList, Refused)
{
	for (std::string t : {"", "10.0.0.1 1\n", "farm1 3632\n.\n", "10.0.0.1 0\n.\n",
	                      "10.0.0.1 65536\n.\n", "10.0.0.1 03\n.\n", "10.0.0.1\n.\n",
	                      "10.0.0.1 1 2\n.\n", ".\n.\n", ".\nx", "10.0.0.1  1\n.\n"})
		EXPECT_FALSE(parse_list(t).ok()) << t;
}

TEST(HandoffList, Bounded)
{
	std::string t;
	for (size_t i = 0; i <= max_listeners; ++i)
		t += "10.0.0." + std::to_string(i + 1) + " 1\n";
	EXPECT_FALSE(parse_list(t + ".\n").ok());
}

} // namespace

// Found with tests/fuzz/handoff: inet_pton() stops at a NUL, so "10.0.0.1\0x 1" passed.
TEST(HandoffList, NulInAnAddressIsRefused)
{
	EXPECT_FALSE(parse_list(std::string("10.0.0.1\0x 1\n.\n", 16)).ok());
}
