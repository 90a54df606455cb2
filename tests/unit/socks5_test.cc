// socks5.hh: the SOCKS5 greeting and request parsers of phasebox-proxy.  The peer is the
// build: every prefix of a valid message must ask for more, never read past the end, and
// malformed messages must be refused.
#include "common/socks5.hh"

#include <gtest/gtest.h>
#include <sys/socket.h>

using namespace phasebox::socks5;

namespace
{

using Bytes = std::vector<uint8_t>;

TEST(Greeting, NoAuthOffered)
{
	Bytes b{5, 2, 2, 0};
	Greeting g;
	EXPECT_EQ(parse_greeting(b.data(), b.size(), g), Parse::ok);
	EXPECT_TRUE(g.no_auth);
	EXPECT_EQ(g.consumed, 4u);
}

TEST(Greeting, OnlyOtherMethods)
{
	Bytes b{5, 1, 2, 0x99};
	Greeting g;
	EXPECT_EQ(parse_greeting(b.data(), b.size(), g), Parse::ok);
	EXPECT_FALSE(g.no_auth);
	EXPECT_EQ(g.consumed, 3u); // the extra byte is the request's
}

TEST(Greeting, PrefixesNeedMore)
{
	Bytes b{5, 3, 1, 2, 0};
	for (size_t n = 0; n < b.size(); ++n) {
		Greeting g;
		EXPECT_EQ(parse_greeting(b.data(), n, g), Parse::need_more) << n;
	}
}

TEST(Greeting, Malformed)
{
	Greeting g;
	Bytes v4{4, 1, 0};
	EXPECT_EQ(parse_greeting(v4.data(), v4.size(), g), Parse::bad);
	Bytes none{5, 0};
	EXPECT_EQ(parse_greeting(none.data(), none.size(), g), Parse::bad);
	Bytes http{'G', 'E', 'T', ' '};
	EXPECT_EQ(parse_greeting(http.data(), http.size(), g), Parse::bad);
}

TEST(Request, IPv4Connect)
{
	Bytes b{5, 1, 0, 1, 10, 213, 8, 2, 0x0e, 0x30, 0xaa};
	Request r;
	ASSERT_EQ(parse_request(b.data(), b.size(), r), Parse::ok);
	EXPECT_EQ(r.cmd, 1);
	EXPECT_EQ(r.host, "10.213.8.2");
	EXPECT_EQ(r.port, 3632u);
	EXPECT_EQ(r.consumed, 10u);
}

TEST(Request, IPv6)
{
	Bytes b{5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 22};
	Request r;
	ASSERT_EQ(parse_request(b.data(), b.size(), r), Parse::ok);
	EXPECT_EQ(r.host, "fd00::2");
	EXPECT_EQ(r.port, 22u);
	EXPECT_EQ(r.atyp, Atyp::ipv6);
}

TEST(Request, DomainName)
{
	Bytes b{5, 1, 0, 3, 5, 'f', 'a', 'r', 'm', '1', 0x0e, 0x30};
	Request r;
	ASSERT_EQ(parse_request(b.data(), b.size(), r), Parse::ok);
	EXPECT_EQ(r.host, "farm1");
	EXPECT_EQ(r.atyp, Atyp::domain);
	EXPECT_EQ(r.consumed, b.size());
}

TEST(Request, EveryPrefixNeedsMore)
{
	for (Bytes b :
	     {Bytes{5, 1, 0, 1, 1, 2, 3, 4, 0, 80}, Bytes{5, 1, 0, 3, 3, 'a', 'b', 'c', 0, 80},
	      Bytes{5, 1, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 80}})
		for (size_t n = 0; n < b.size(); ++n) {
			Request r;
			EXPECT_EQ(parse_request(b.data(), n, r), Parse::need_more) << n;
		}
}

TEST(Request, OtherCommandsParseForARefusal)
{
	Bytes b{5, 2, 0, 1, 1, 2, 3, 4, 0, 80};
	Request r;
	ASSERT_EQ(parse_request(b.data(), b.size(), r), Parse::ok);
	EXPECT_EQ(r.cmd, 2);
}

TEST(Request, Malformed)
{
	Request r;
	for (Bytes b :
	     {Bytes{4, 1, 0, 1, 1, 2, 3, 4, 0, 80}, // version
	      Bytes{5, 1, 1, 1, 1, 2, 3, 4, 0, 80}, // reserved byte
	      Bytes{5, 1, 0, 2, 1, 2, 3, 4, 0, 80}, // address type
	      Bytes{5, 1, 0, 3, 0, 0, 80},          // empty name
	      Bytes{5, 1, 0, 3, 3, 'a', '/', 'b', 0, 80}, Bytes{5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80},
	      Bytes{5, 1, 0, 3, 3, 'a', '\n', 'b', 0, 80}, Bytes{9}})
		EXPECT_EQ(parse_request(b.data(), b.size(), r), Parse::bad);
}

TEST(Replies, Bytes)
{
	EXPECT_EQ(method_reply(true), (Bytes{5, 0}));
	EXPECT_EQ(method_reply(false), (Bytes{5, 0xff}));
	EXPECT_EQ(reply(rep_not_allowed), (Bytes{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}));
}

} // namespace

namespace
{

TEST(Chaining, ConnectRequest)
{
	const uint8_t v4[4] = {10, 213, 8, 2};
	EXPECT_EQ(connect_request(AF_INET, v4, 3632),
	          (Bytes{5, 1, 0, 5, 1, 0, 1, 10, 213, 8, 2, 0x0e, 0x30}));
	uint8_t v6[16] = {0xfd};
	v6[15] = 2;
	Bytes m = connect_request(AF_INET6, v6, 22);
	ASSERT_EQ(m.size(), 6u + 1 + 16 + 2);
	EXPECT_EQ(m[6], 4);
	EXPECT_EQ(m[7], 0xfd);
	EXPECT_EQ(m[22], 2);
	EXPECT_EQ(m[24], 22);
}

TEST(Chaining, Answers)
{
	uint8_t rep = 0xee;
	size_t used = 0;
	Bytes ok{5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34, 'd', 'a', 't', 'a'};
	ASSERT_EQ(parse_connect_answer(ok.data(), ok.size(), rep, used), Parse::ok);
	EXPECT_EQ(rep, 0);
	EXPECT_EQ(used, 12u); // what follows is the destination's
	for (size_t n = 0; n < 12; ++n)
		EXPECT_EQ(parse_connect_answer(ok.data(), n, rep, used), Parse::need_more) << n;
	Bytes refused{5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0};
	ASSERT_EQ(parse_connect_answer(refused.data(), refused.size(), rep, used), Parse::ok);
	EXPECT_EQ(rep, 5);
	Bytes v6{5, 0, 5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80};
	ASSERT_EQ(parse_connect_answer(v6.data(), v6.size(), rep, used), Parse::ok);
	EXPECT_EQ(used, v6.size());
	Bytes name{5, 0, 5, 0, 0, 3, 2, 'a', 'b', 0, 80};
	ASSERT_EQ(parse_connect_answer(name.data(), name.size(), rep, used), Parse::ok);
	EXPECT_EQ(used, name.size());
	for (Bytes b : {Bytes{5, 0xff}, Bytes{4, 0}, Bytes{5, 0, 4},
	                Bytes{5, 0, 5, 0, 1, 1, 0, 0, 0, 0, 0, 0}, Bytes{5, 0, 5, 0, 0, 9, 0, 0}})
		EXPECT_EQ(parse_connect_answer(b.data(), b.size(), rep, used), Parse::bad);
}

} // namespace
