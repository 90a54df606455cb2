// layout.hh: leaf and invocation names, pid parsing, and where a cgroup path sits in
// phasebox's layout.  classify() decides where a leaf may be made, so its inputs include
// paths a build can craft inside its own delegated subtree.
#include "common/layout.hh"

#include <gtest/gtest.h>

#include <climits>
#include <string>

using namespace phasebox::layout;

namespace {

// --- sanitize ------------------------------------------------------------------------

TEST(Sanitize, KeepsTheAllowedBytes)
{
	const std::string all = "azAZ09._+:,=@-";
	EXPECT_EQ(sanitize(all), all);
	EXPECT_EQ(sanitize("dev-libs:foo-1.2.3_rc1-r2"), "dev-libs:foo-1.2.3_rc1-r2");
}

TEST(Sanitize, SlashBecomesColon)
{
	EXPECT_EQ(sanitize("dev-libs/foo-1:src_compile"), "dev-libs:foo-1:src_compile");
	EXPECT_EQ(sanitize("a//b/"), "a::b:");
	// A leading '/' is a ':' too, never an empty or absolute-looking name.
	EXPECT_EQ(sanitize("/etc/passwd"), ":etc:passwd");
}

TEST(Sanitize, OtherBytesBecomeUnderscore)
{
	EXPECT_EQ(sanitize("a b"), "a_b");
	EXPECT_EQ(sanitize("a\nb"), "a_b");
	EXPECT_EQ(sanitize("a\tb\rc"), "a_b_c");
	EXPECT_EQ(sanitize("$(rm -rf)"), "__rm_-rf_");
	EXPECT_EQ(sanitize("a*?[]~!#%^&;'\"\\|<>`b"), "a" + std::string(18, '_') + "b");
	EXPECT_EQ(sanitize(std::string("a\0b", 3)), "a_b");
	EXPECT_EQ(sanitize("\x7f"), "_");
}

TEST(Sanitize, EveryNonAsciiByteBecomesOneUnderscore)
{
	// "é" is two bytes, "€" three, in UTF-8: one '_' each, so the length is kept.
	EXPECT_EQ(sanitize("caf\xc3\xa9"), "caf__");
	EXPECT_EQ(sanitize("\xe2\x82\xac"), "___");
	EXPECT_EQ(sanitize("\xff\x80"), "__");
}

TEST(Sanitize, LeadingDotBecomesUnderscore)
{
	EXPECT_EQ(sanitize("."), "_");
	EXPECT_EQ(sanitize(".."), "_.");
	EXPECT_EQ(sanitize(".hidden"), "_hidden");
	EXPECT_EQ(sanitize("a.b"), "a.b"); // only the leading one
}

TEST(Sanitize, EmptyBecomesPhase) { EXPECT_EQ(sanitize(""), "phase"); }

TEST(Sanitize, CutTo160Bytes)
{
	EXPECT_EQ(sanitize(std::string(160, 'x')), std::string(160, 'x'));
	EXPECT_EQ(sanitize(std::string(161, 'x')), std::string(160, 'x'));
	EXPECT_EQ(sanitize(std::string(10000, 'y')).size(), 160u);
	// Replacement keeps one byte per input byte, so the cut is at the same place.
	EXPECT_EQ(sanitize(std::string(300, ' ')), std::string(160, '_'));
	EXPECT_EQ(sanitize(std::string(200, '/')), std::string(160, ':'));
	// The leading-dot rule still applies to a long name.
	std::string s = sanitize("." + std::string(200, 'z'));
	EXPECT_EQ(s.size(), 160u);
	EXPECT_EQ(s[0], '_');
}

TEST(Sanitize, ResultIsAlwaysAPlainCgroupName)
{
	for (int c = 0; c < 256; ++c) {
		std::string in(3, static_cast<char>(c));
		std::string out = sanitize(in);
		EXPECT_EQ(out.size(), 3u) << c;
		EXPECT_EQ(out.find('/'), std::string::npos) << c;
		EXPECT_EQ(out.find('\n'), std::string::npos) << c;
		EXPECT_NE(out[0], '.') << c;
		EXPECT_NE(out, "..");
	}
}

// --- leaf names ----------------------------------------------------------------------

TEST(LeafName, Format)
{
	EXPECT_EQ(leaf_name("cat/pf-1:src_compile", 1234), "cat:pf-1:src_compile.pb1234");
	EXPECT_EQ(leaf_name("x", 7, 0), "x.pb7");
	EXPECT_EQ(leaf_name("x", 7, 3), "x.pb7-3");
	EXPECT_EQ(leaf_name("", 7), "phase.pb7");
	EXPECT_EQ(leaf_name(".x y", 7), "_x_y.pb7");
}

TEST(LeafName, RoundTrip)
{
	const std::string names[] = {"",     ".",    "..", "a", "cat/pf-1:src_compile", "with space",
				     "\xc3\xa9", "x.pb1", "x.pb", "-", std::string(400, 'n')};
	for (const auto& n : names)
		for (long pid : {1L, 42L, 4194304L})
			for (unsigned coll : {0u, 1u, 99u}) {
				std::string leaf = leaf_name(n, pid, coll);
				EXPECT_TRUE(is_leaf_name(leaf)) << leaf;
			}
}

TEST(IsLeafName, Accepts)
{
	EXPECT_TRUE(is_leaf_name("x.pb1"));
	EXPECT_TRUE(is_leaf_name("x.pb1-2"));
	EXPECT_TRUE(is_leaf_name("a.b.pb99"));
	EXPECT_TRUE(is_leaf_name("x.pb1.pb2")); // leaf_name("x.pb1", 2)
	EXPECT_TRUE(is_leaf_name("_:@,=+-.pb3"));
}

TEST(IsLeafName, RejectsWhatLeafNameNeverMakes)
{
	EXPECT_FALSE(is_leaf_name(""));
	EXPECT_FALSE(is_leaf_name("x"));
	EXPECT_FALSE(is_leaf_name("x.pb"));       // no pid
	EXPECT_FALSE(is_leaf_name(".pb1"));       // no name
	EXPECT_FALSE(is_leaf_name("x.pb1-"));     // empty collision counter
	EXPECT_FALSE(is_leaf_name("x.pb-1"));     // no pid, or a negative one
	EXPECT_FALSE(is_leaf_name("x.pb1-2-3"));  // two counters
	EXPECT_FALSE(is_leaf_name("x.pb1-x"));
	EXPECT_FALSE(is_leaf_name("x.pb+1"));
	EXPECT_FALSE(is_leaf_name("x.pb 1"));
	EXPECT_FALSE(is_leaf_name("x.pb1 "));
	EXPECT_FALSE(is_leaf_name("x.pbx"));
	EXPECT_FALSE(is_leaf_name("x.PB1"));
	EXPECT_FALSE(is_leaf_name("x.pb1/y"));    // rfind finds ".pb1", but the tail has '/'
	EXPECT_FALSE(is_leaf_name("a/b.pb1"));    // '/' in the name part
	EXPECT_FALSE(is_leaf_name("a b.pb1"));
	EXPECT_FALSE(is_leaf_name("a\nb.pb1"));
	EXPECT_FALSE(is_leaf_name("caf\xc3\xa9.pb1"));
	EXPECT_FALSE(is_leaf_name("inv-12"));
	EXPECT_FALSE(is_leaf_name("main"));
	EXPECT_FALSE(is_leaf_name("builds"));
	EXPECT_FALSE(is_leaf_name("leaves"));
}

// Judgement call, pinned on purpose: is_leaf_name is looser than leaf_name about the
// numbers and the name part.  That is harmless: it only decides which directories under
// /phasebox/leaves (root's) or builds/ (the build user's, who can make any name there
// anyway) count as leaves to nest below or to reap when their lock is free.
TEST(IsLeafName, LooserThanLeafNameOnNumbers)
{
	EXPECT_TRUE(is_leaf_name("x.pb01"));
	EXPECT_TRUE(is_leaf_name("x.pb1-0"));
	EXPECT_TRUE(is_leaf_name("x.pb0"));
	EXPECT_TRUE(is_leaf_name("..pb1")); // sanitize never yields a leading '.'
}

// --- invocation names ----------------------------------------------------------------

TEST(InvocationName, RoundTrip)
{
	EXPECT_EQ(invocation_name(12), "inv-12");
	for (long pid : {1L, 12L, 32768L, 4194304L})
		EXPECT_TRUE(is_invocation_name(invocation_name(pid)));
}

TEST(InvocationName, Rejects)
{
	for (const char* n : {"", "inv", "inv-", "inv-0", "inv-01", "inv--1", "inv-+1", "inv- 1",
			      "inv-1 ", "inv-x", "inv-1x", "inv-1.pb2", "Inv-1", "inv_1", "xinv-1",
			      "inv-99999999999", "inv-1/main"})
		EXPECT_FALSE(is_invocation_name(n)) << n;
}

// --- parse_pid -----------------------------------------------------------------------

TEST(ParsePid, Accepts)
{
	EXPECT_EQ(parse_pid("1"), 1);
	EXPECT_EQ(parse_pid("42"), 42);
	EXPECT_EQ(parse_pid("32768"), 32768);
	EXPECT_EQ(parse_pid("4194304"), 4194304); // PID_MAX_LIMIT on 64-bit
}

TEST(ParsePid, Rejects)
{
	for (const char* s : {"", "0", "00", "01", "007", "+1", "-1", "-0", " 1", "1 ", "1\n", "\t1",
			      "1a", "0x10", "1e3", "1.0", "１", "٣"})
		EXPECT_FALSE(parse_pid(s).has_value()) << s;
	EXPECT_FALSE(parse_pid(std::string("1\0", 2)).has_value());
}

TEST(ParsePid, RejectsOverflow)
{
	for (const char* s : {"2147483648", "4294967296", "9223372036854775807",
			      "9223372036854775808", "99999999999999999999999"})
		EXPECT_FALSE(parse_pid(s).has_value()) << s;
}

// phasebox-cgroup adopt casts the result to int: whatever is accepted must fit a pid_t.
// The ceiling is 2^30-1 (above any pid_max, which the kernel caps at 2^22).
TEST(ParsePid, CeilingFitsAnInt)
{
	EXPECT_EQ(parse_pid("1073741823"), 1073741823);
	EXPECT_FALSE(parse_pid("1073741824").has_value());
	EXPECT_FALSE(parse_pid("2147483647").has_value());
	EXPECT_LE(1073741823L, static_cast<long>(INT_MAX));
}

// --- classify ------------------------------------------------------------------------

void expect_place(const char* path, Where where, const std::string& base)
{
	auto p = classify(path);
	EXPECT_EQ(static_cast<int>(p.where), static_cast<int>(where)) << path;
	EXPECT_EQ(p.base, base) << path;
}

TEST(Classify, Outside)
{
	expect_place("/", Where::outside, "");
	expect_place("", Where::outside, "");
	expect_place("/user.slice/x", Where::outside, "");
	expect_place("/phasebox2/inv-1/main", Where::outside, "");
	expect_place("/phasebo", Where::outside, "");
	expect_place("/phasebox.pb1", Where::outside, "");
	expect_place("/Phasebox/inv-1/main", Where::outside, "");
	expect_place("/system.slice/phasebox2/inv-1/main", Where::outside, "");
}

// A top below an anchor (an emerge in a cgroup delegated to it: a systemd unit with
// Delegate=yes, or a container's own subtree seen with the host's full path).
TEST(Classify, AnchoredTop)
{
	expect_place("/system.slice/emerge.service/phasebox/inv-1/main", Where::adopted_main,
		     "/system.slice/emerge.service/phasebox/inv-1/builds");
	expect_place("/docker/abc/phasebox/inv-1/main", Where::adopted_main, "/docker/abc/phasebox/inv-1/builds");
	expect_place("/a/phasebox/inv-1/builds/x.pb2", Where::in_leaf, "/a/phasebox/inv-1/builds/x.pb2");
	expect_place("/a/phasebox/leaves/x.pb2/y", Where::in_leaf, "/a/phasebox/leaves/x.pb2/y");
	expect_place("/a/phasebox/inv-1/builds", Where::inner_node, "");
	expect_place("/a/phasebox", Where::inner_node, "");
	expect_place("//a//phasebox//inv-1//main", Where::adopted_main, "/a/phasebox/inv-1/builds");
	EXPECT_EQ(top_below("/"), "/phasebox");
	EXPECT_EQ(top_below(""), "/phasebox");
	EXPECT_EQ(top_below("//system.slice//e.service/"), "/system.slice/e.service/phasebox");
	EXPECT_EQ(invocation_of("/a/phasebox/inv-12/builds"), "inv-12");
	EXPECT_EQ(invocation_of("/phasebox/inv-12/main"), "inv-12");
	EXPECT_EQ(invocation_of("/phasebox/leaves"), "");
	EXPECT_EQ(invocation_of("inv-12"), "");
}

// The first component that decides wins: a build cannot name its way out of its leaf, below
// phasebox's top or Portage's build cgroup.
TEST(Classify, FirstDecidingComponentWins)
{
	const char* p1 = "/portage/emerge-5/c_p-1/c:p-1:compile.pb3/phasebox/inv-9/main";
	expect_place(p1, Where::in_leaf, p1);
	expect_place("/portage/emerge-5/c_p-1/x/phasebox/inv-9/main", Where::inner_node, "");
	const char* p2 = "/a/phasebox/inv-1/builds/x.pb2/portage/emerge-9/c_p-1";
	expect_place(p2, Where::in_leaf, p2);
}

TEST(Classify, InnerNodes)
{
	expect_place("/phasebox", Where::inner_node, "");
	expect_place("/phasebox/", Where::inner_node, "");
	expect_place("/phasebox/leaves", Where::inner_node, "");
	expect_place("/phasebox/leaves/not-a-leaf", Where::inner_node, "");
	expect_place("/phasebox/leaves/x.pb", Where::inner_node, "");
	expect_place("/phasebox/inv-12", Where::inner_node, "");
	expect_place("/phasebox/inv-12/builds", Where::inner_node, "");
	expect_place("/phasebox/inv-12/builds/not-a-leaf", Where::inner_node, "");
	expect_place("/phasebox/inv-12/builds/not-a-leaf/x.pb1", Where::inner_node, "");
	expect_place("/phasebox/inv-12/other", Where::inner_node, "");
	expect_place("/phasebox/inv-x/main", Where::inner_node, "");
	expect_place("/phasebox/inv-0/main", Where::inner_node, "");
	expect_place("/phasebox/inv-012/main", Where::inner_node, "");
	expect_place("/phasebox/x.pb1", Where::inner_node, "");
	expect_place("/phasebox/x.pb1/main", Where::inner_node, "");
}

TEST(Classify, Leaves)
{
	expect_place("/phasebox/leaves/a.pb1", Where::in_leaf, "/phasebox/leaves/a.pb1");
	expect_place("/phasebox/leaves/a.pb1-3", Where::in_leaf, "/phasebox/leaves/a.pb1-3");
	expect_place("/phasebox/leaves/a.pb1/sub", Where::in_leaf, "/phasebox/leaves/a.pb1/sub");
	expect_place("/phasebox/leaves/a.pb1/b.pb2", Where::in_leaf, "/phasebox/leaves/a.pb1/b.pb2");
	expect_place("/phasebox/inv-12/builds/a.pb3", Where::in_leaf, "/phasebox/inv-12/builds/a.pb3");
	expect_place("/phasebox/inv-12/builds/a.pb3/b.pb4", Where::in_leaf,
		     "/phasebox/inv-12/builds/a.pb3/b.pb4");
}

TEST(Classify, AdoptedMain)
{
	expect_place("/phasebox/inv-12/main", Where::adopted_main, "/phasebox/inv-12/builds");
	expect_place("/phasebox/inv-4194304/main", Where::adopted_main,
		     "/phasebox/inv-4194304/builds");
	// Below main (root-owned, never delegated: only root can make main/x): the leaves still
	// go in the invocation's builds, never below main/x.
	expect_place("/phasebox/inv-12/main/x", Where::adopted_main, "/phasebox/inv-12/builds");
}

// A build may make any cgroup below its own leaf, including ones whose names repeat the
// layout.  That must keep it in its leaf, never make it the main cgroup of another
// invocation (whose builds/ it could then write to and whose processes sweep_inner kills).
TEST(Classify, BuildCraftedPathStaysInItsLeaf)
{
	const char* crafted = "/phasebox/inv-1/builds/a.pb2/phasebox/inv-9/main";
	expect_place(crafted, Where::in_leaf, crafted);
	const char* crafted2 = "/phasebox/leaves/a.pb2/phasebox/inv-9/main";
	expect_place(crafted2, Where::in_leaf, crafted2);
	const char* crafted3 = "/phasebox/inv-1/builds/a.pb2/main";
	expect_place(crafted3, Where::in_leaf, crafted3);
}

TEST(Classify, ExtraSlashesDoNotChangeTheAnswer)
{
	expect_place("//phasebox//inv-12//main//", Where::adopted_main, "/phasebox/inv-12/builds");
	EXPECT_EQ(classify("/phasebox//leaves/a.pb1").where, Where::in_leaf);
	EXPECT_EQ(classify("phasebox/inv-12/main").where, Where::adopted_main);
	// An in-leaf base is never the text as given (found by tests/fuzz/layout).
	expect_place("phasebox/leaves/a.pb1", Where::in_leaf, "/phasebox/leaves/a.pb1");
	expect_place("/phasebox//inv-1/builds//a.pb2//", Where::in_leaf, "/phasebox/inv-1/builds/a.pb2");
}

// "." and ".." are refused, not resolved: "/phasebox/leaves/a.pb1/.." is /phasebox/leaves.
TEST(Classify, DotComponentsAreRefused)
{
	expect_place("/phasebox/leaves/a.pb1/..", Where::inner_node, "");
	expect_place("/phasebox/leaves/a.pb1/../../x", Where::inner_node, "");
	expect_place("/phasebox/inv-1/builds/a.pb2/./b", Where::inner_node, "");
	expect_place("/phasebox/inv-1/main/..", Where::inner_node, "");
	expect_place("/phasebox/./leaves/a.pb1", Where::inner_node, "");
	// The twin: the same paths without the dot components are leaves and main.
	expect_place("/phasebox/leaves/a.pb1", Where::in_leaf, "/phasebox/leaves/a.pb1");
	expect_place("/phasebox/inv-1/main", Where::adopted_main, "/phasebox/inv-1/builds");
}

} // namespace

// --- Portage's FEATURES=cgroup ---------------------------------------------------------

TEST(PortageBuild, PerBuildCgroupsWhereverPortageAnchorsThem)
{
	auto b = portage_build("/portage/emerge-3392/psb_probe-1");
	ASSERT_TRUE(b.has_value());
	EXPECT_EQ(b->path, "/portage/emerge-3392/psb_probe-1");
	EXPECT_EQ(b->emerge, 3392);
	EXPECT_EQ(b->rest, "");
	// Below a systemd unit with Delegate=yes (Portage anchors there), or a custom
	// PORTAGE_CGROUP_ROOT.
	b = portage_build("/system.slice/emerge.service/portage/emerge-7/dev-libs_foo-1.2_rc3-r1");
	ASSERT_TRUE(b.has_value());
	EXPECT_EQ(b->path, "/system.slice/emerge.service/portage/emerge-7/dev-libs_foo-1.2_rc3-r1");
	EXPECT_EQ(b->emerge, 7);
	b = portage_build("//portage//emerge-12/c_p-1//phasebox.portage/");
	ASSERT_TRUE(b.has_value());
	EXPECT_EQ(b->path, "/portage/emerge-12/c_p-1");
	EXPECT_EQ(b->rest, "phasebox.portage");
	b = portage_build("/portage/emerge-12/c_p-1/c:p:compile.pb9/x");
	ASSERT_TRUE(b.has_value());
	EXPECT_EQ(b->rest, "c:p:compile.pb9/x");
}

TEST(PortageBuild, NotPortagesShape)
{
	for (const char* p : {"/", "/portage", "/portage/emerge-12", "/portage/emerge-x/c_p-1",
			      "/portage/emerge-0/c_p-1", "/portage/emerge-012/c_p-1", "/portage/emerge-/c_p-1",
			      "/portage/emerge-12.service/c_p-1", "/portage/emerge-12/c:p-1",
			      "/portage/emerge-12/../x", "/portage/emerge-12/./x", "/portage/emerge-12/a b",
			      "/portage/c_p-1"})
		EXPECT_FALSE(portage_build(p).has_value()) << p;
}

TEST(Classify, PortageBuild)
{
	expect_place("/portage/emerge-12/c_p-1", Where::portage_build, "/portage/emerge-12/c_p-1");
	expect_place("/portage/emerge-12/c_p-1/phasebox.portage", Where::portage_build, "/portage/emerge-12/c_p-1");
	expect_place("/portage/emerge-12/c_p-1/c:p:compile.pb9", Where::in_leaf,
		     "/portage/emerge-12/c_p-1/c:p:compile.pb9");
	expect_place("/portage/emerge-12/c_p-1/c:p:compile.pb9/a/b", Where::in_leaf,
		     "/portage/emerge-12/c_p-1/c:p:compile.pb9/a/b");
	// Anything else below a build cgroup is no place for a process of a phase.
	expect_place("/portage/emerge-12/c_p-1/other", Where::inner_node, "");
	expect_place("/portage/emerge-12/c_p-1/phasebox.portage/x", Where::inner_node, "");
	expect_place("/portage/emerge-12", Where::outside, "");
	// phasebox's own layout wins: a leaf named like Portage's is still phasebox's.
	expect_place("/phasebox/inv-1/builds/a.pb2/portage/emerge-9/c_p-1", Where::in_leaf,
		     "/phasebox/inv-1/builds/a.pb2/portage/emerge-9/c_p-1");
}
