// keeper.hh's wire messages (keeper::wire): what the keeper decodes from the build user's
// supervisor, and what the supervisor decodes from the keeper.
#include "common/keeper.hh"

#include <gtest/gtest.h>

using namespace phasebox;
using namespace phasebox::keeper;

TEST(KeeperWire, RequestRoundTrip)
{
	Request r;
	r.label = "dev-db/foo-1:src_compile";
	ASSERT_TRUE(limits::set(r.limits, limits::Key::memory_max, "8G", 16ULL << 30).ok());
	ASSERT_TRUE(limits::set(r.limits, limits::Key::pids_max, "500", 16ULL << 30).ok());
	r.warn = true;
	r.makeopts = "-j4 -l4";
	r.log = "/var/log/phasebox/x.jsonl";
	auto d = wire::decode(wire::encode(r));
	ASSERT_TRUE(d.ok()) << d.error().what;
	EXPECT_EQ(d.value().label, r.label);
	EXPECT_EQ(d.value().limits.memory_max, 8ULL << 30);
	EXPECT_EQ(d.value().limits.pids_max, 500u);
	EXPECT_TRUE(d.value().warn);
	EXPECT_EQ(d.value().makeopts, r.makeopts);
	EXPECT_EQ(d.value().log, r.log);
}

TEST(KeeperWire, BadRequestsAreRefused)
{
	EXPECT_FALSE(wire::decode("a/b-1:src_test\npids_max=0\n").ok());
	EXPECT_FALSE(wire::decode("a/b-1:src_test\nfallback=maybe\n").ok());
	EXPECT_FALSE(wire::decode("a/b-1:src_test\nlog=/etc/passwd\n").ok());
	EXPECT_FALSE(wire::decode("a/b-1:src_test\nbogus=1\n").ok());
}

// Found by tests/fuzz/keeper: a NUL in the label (or MAKEOPTS) was accepted, and came out
// of encode() as a space, so the keeper registered a label no supervisor can ask for, and
// wrote the NUL into the records.
TEST(KeeperWire, NulInARequestIsRefused)
{
	EXPECT_FALSE(wire::decode(std::string("a/b-1\0x:src_test\n", 17)).ok());
	EXPECT_FALSE(wire::decode(std::string("a/b-1:src_test\nmakeopts=-j\0004\n", 29)).ok());
	Request r;
	r.label = std::string("a\0b", 3);
	auto d = wire::decode(wire::encode(r));
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d.value().label, "a b");
}

TEST(KeeperWire, Release)
{
	auto k = wire::decode_release(wire::encode_release(137, 3));
	EXPECT_EQ(k.status, 137);
	EXPECT_EQ(k.reaped, 3u);
	EXPECT_EQ(wire::decode_release("0").reaped, 0u);
	EXPECT_EQ(wire::decode_release("0:99999999999").reaped, wire::max_reaped);
}

// The release comes from the supervisor a build runs under: a status that does not fit an
// int is 0, not whatever atoi()'s undefined overflow made of it (clang-tidy cert-err34-c).
TEST(KeeperWire, ReleaseStatusOutOfRange)
{
	EXPECT_EQ(wire::decode_release("-1").status, -1);
	EXPECT_EQ(wire::decode_release("99999999999:2").status, 0);
	EXPECT_EQ(wire::decode_release("99999999999:2").reaped, 2u);
	EXPECT_EQ(wire::decode_release("-99999999999").status, 0);
	EXPECT_EQ(wire::decode_release("x").status, 0);
	auto e = wire::decode_answer("E99999999999:text");
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().err, 0);
}

TEST(KeeperWire, Answers)
{
	auto ok = wire::decode_answer("O4-src_compile");
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(ok.value(), "4-src_compile");
	auto e = wire::decode_answer("E1:only root may register limits");
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().err, 1);
	EXPECT_NE(e.error().what.find("only root may register limits"), std::string::npos);
	EXPECT_FALSE(wire::decode_answer("").ok());
	EXPECT_FALSE(wire::decode_answer("X").ok());
}
