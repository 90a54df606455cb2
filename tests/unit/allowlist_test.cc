// allowlist.hh: DISTCC_HOSTS with distcc's own grammar (src/hosts.c) and
// PHASEBOX_NETWORK_ALLOW.  What they return is what phasebox-proxy lets through, so
// hostile and malformed values are as important as the usual ones.
#include "common/allowlist.hh"

#include <gtest/gtest.h>

using namespace phasebox::allow;

namespace
{

std::vector<Endpoint> hosts(const std::string& s)
{
	auto r = parse_distcc_hosts(s);
	EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().what);
	return r.ok() ? r.value().endpoints : std::vector<Endpoint>{};
}

std::string hosts_error(const std::string& s)
{
	auto r = parse_distcc_hosts(s);
	EXPECT_FALSE(r.ok()) << s << " was accepted";
	return r.ok() ? "" : r.error().what;
}

std::vector<Endpoint> allowed(const std::string& s)
{
	auto r = parse_network_allow(s);
	EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().what);
	return r.ok() ? r.value().endpoints : std::vector<Endpoint>{};
}

std::string allow_error(const std::string& s)
{
	auto r = parse_network_allow(s);
	EXPECT_FALSE(r.ok()) << s << " was accepted";
	return r.ok() ? "" : r.error().what;
}

using E = std::vector<Endpoint>;

TEST(DistccHosts, PlainHostsGetTheDefaultPort)
{
	EXPECT_EQ(hosts("alpha 10.0.0.2"), (E{{"alpha", 3632}, {"10.0.0.2", 3632}}));
	EXPECT_EQ(hosts(""), E{});
	EXPECT_EQ(hosts("  \t\n "), E{});
}

TEST(DistccHosts, PortLimitAndOptionsInEitherOrder)
{
	EXPECT_EQ(hosts("a:4000"), (E{{"a", 4000}}));
	EXPECT_EQ(hosts("a:4000/8"), (E{{"a", 4000}}));
	EXPECT_EQ(hosts("a/8:4000"), (E{{"a", 4000}}));
	EXPECT_EQ(hosts("a/8"), (E{{"a", 3632}}));
	EXPECT_EQ(hosts("a=8"), (E{{"a", 3632}}));
	EXPECT_EQ(hosts("a,lzo"), (E{{"a", 3632}}));
	EXPECT_EQ(hosts("a:4000/8,lzo,cpp"), (E{{"a", 4000}}));
	EXPECT_EQ(hosts("a/3,zstd b,lzo,cpp c,down"), (E{{"a", 3632}, {"b", 3632}, {"c", 3632}}));
}

TEST(DistccHosts, IPv6InBrackets)
{
	EXPECT_EQ(hosts("[fd00::2]"), (E{{"fd00::2", 3632}}));
	EXPECT_EQ(hosts("[fd00::2]:4000/4,lzo"), (E{{"fd00::2", 4000}}));
	EXPECT_NE(hosts_error("[fd00::2"), "");
	EXPECT_NE(hosts_error("[not-v6]:1"), "");
}

TEST(DistccHosts, LocalhostAndGlobalOptionsMakeNoConnection)
{
	EXPECT_EQ(hosts("localhost"), E{});
	EXPECT_EQ(hosts("localhost/2 --randomize --localslots=4 --localslots_cpp=8 b"),
	          (E{{"b", 3632}}));
	// Only the exact token is the local host: a host whose name starts with it is TCP.
	EXPECT_EQ(hosts("localhostfoo"), (E{{"localhostfoo", 3632}}));
	EXPECT_EQ(hosts("127.0.0.1"), (E{{"127.0.0.1", 3632}}));
}

TEST(DistccHosts, SshAndZeroconfAreNotesNotHosts)
{
	auto r = parse_distcc_hosts("@far user@far2/4:/usr/bin/distccd,lzo +zeroconf near");
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value().endpoints, (E{{"near", 3632}}));
	ASSERT_EQ(r.value().notes.size(), 3u);
	EXPECT_NE(r.value().notes[0].find("ssh host '@far'"), std::string::npos);
	EXPECT_NE(r.value().notes[1].find("'user@far2/4:/usr/bin/distccd,lzo'"), std::string::npos);
	EXPECT_NE(r.value().notes[2].find("+zeroconf"), std::string::npos);
}

TEST(DistccHosts, CommentsAsInAHostsFile)
{
	EXPECT_EQ(hosts("# the farm\na:1 # first\n#b\nc#trailing\n"), (E{{"a", 1}, {"c", 3632}}));
}

TEST(DistccHosts, DuplicatesAndCaseFolded)
{
	EXPECT_EQ(hosts("Alpha alpha ALPHA:3632 alpha/4,lzo alpha:1"),
	          (E{{"alpha", 3632}, {"alpha", 1}}));
}

TEST(DistccHosts, BadTokensAreErrorsNamingThem)
{
	EXPECT_NE(hosts_error("a:0").find("'a:0'"), std::string::npos);
	EXPECT_NE(hosts_error("a:65536"), "");
	EXPECT_NE(hosts_error("a:-1"), "");
	EXPECT_NE(hosts_error("a:12x"), "");
	EXPECT_NE(hosts_error("a:"), "");
	EXPECT_NE(hosts_error("a/0"), "");
	EXPECT_NE(hosts_error("a/x"), "");
	EXPECT_NE(hosts_error("a:1:2"), "");
	EXPECT_NE(hosts_error("a/1/2"), "");
	EXPECT_NE(hosts_error("a,gzip"), "");
	EXPECT_NE(hosts_error("a,"), "");
	EXPECT_NE(hosts_error(":3632"), "");
	EXPECT_NE(hosts_error("a;rm"), "");
	EXPECT_NE(hosts_error("-a"), "");
	EXPECT_NE(hosts_error("a..b"), "");
	EXPECT_NE(hosts_error(std::string("a\0b", 3)), "");
	EXPECT_NE(hosts_error(std::string(64, 'x')), "");
}

TEST(NetworkAllow, HostPortPairs)
{
	EXPECT_EQ(allowed("farm1:3632 10.1.2.3:10245 [fd00::1]:22"),
	          (E{{"farm1", 3632}, {"10.1.2.3", 10245}, {"fd00::1", 22}}));
	EXPECT_EQ(allowed(" a:1\n\tb:65535 "), (E{{"a", 1}, {"b", 65535}}));
	EXPECT_EQ(allowed(""), E{});
}

TEST(NetworkAllow, BadEntriesAreErrorsNamingThem)
{
	EXPECT_NE(allow_error("farm1").find("'farm1'"), std::string::npos);
	EXPECT_NE(allow_error("farm1:"), "");
	EXPECT_NE(allow_error(":22"), "");
	EXPECT_NE(allow_error("farm1:0"), "");
	EXPECT_NE(allow_error("farm1:65536"), "");
	EXPECT_NE(allow_error("farm1:022"), "");
	EXPECT_NE(allow_error("fd00::1:22"), ""); // IPv6 only in brackets
	EXPECT_NE(allow_error("[fd00::1:22"), "");
	EXPECT_NE(allow_error("[zz]:22"), "");
	EXPECT_NE(allow_error("*:22"), "");
	EXPECT_NE(allow_error("a/b:22"), "");
	EXPECT_NE(allow_error("ok:1 bad"), "");
}

TEST(Endpoint, ToString)
{
	EXPECT_EQ(to_string({"a", 1}), "a:1");
	EXPECT_EQ(to_string({"fd00::1", 22}), "[fd00::1]:22");
}

} // namespace

// Found by tests/fuzz/allowlist: inet_pton() stops at a NUL, so "127.0.0.1\0junk" (a
// DISTCC_HOSTS file may hold one) passed as an IPv4 literal, garbage and all.
TEST(NetworkAllow, NulInAnAddressIsRefused)
{
	EXPECT_NE(allow_error(std::string("127.0.0.1\0\006junk:22", 18)), "");
	EXPECT_NE(allow_error(std::string("[::1\0x]:22", 10)), "");
	EXPECT_NE(hosts_error(std::string("10.0.0.1\0x/4", 12)), "");
	EXPECT_FALSE(valid_host(std::string("10.0.0.1\0x", 10)));
}
