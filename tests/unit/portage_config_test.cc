// What `phasebox doctor` reads of a Portage configuration (common/portage_config.hh): the
// bashrc files in effect and where the snippet is among them (first, once, twice, missing,
// through a bashrc.d loop or a loader, commented out, per package, in a profile bashrc),
// the hook in PORTAGE_IONICE_COMMAND, portageq's answers, and the verdicts of Portage's own
// FEATURES next to phasebox's.  Each case has its twin.
#include "common/portage_config.hh"
#include "unit_util.hh"

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace phasebox;
using namespace phasebox::portage;

namespace
{

// A scratch configuration root: etc/portage/..., the snippet at <root>/share/phasebox.bashrc.
class Config
{
      public:
	Config()
	{
		mkdir("etc");
		mkdir("etc/portage");
		mkdir("share");
		write("share/phasebox.bashrc",
		      std::string(snippet_marker) +
		          "\nphasebox_x() {\n\tlocal libexec=\"/opt/pb/libexec\"\n}\n");
	}
	std::string root() const { return d_.path() + "/"; }
	std::string snippet() const { return d_ / "share/phasebox.bashrc"; }
	std::string operator/(const std::string& rel) const { return d_ / rel; }
	void mkdir(const std::string& rel) const { ::mkdir((d_ / rel).c_str(), 0755); }
	void write(const std::string& rel, const std::string& text) const
	{
		std::ofstream(d_ / rel) << text;
	}
	void link(const std::string& target, const std::string& rel) const
	{
		ASSERT_EQ(::symlink(target.c_str(), (d_ / rel).c_str()), 0);
	}
	void bashrc(const std::string& text) const { write("etc/portage/bashrc", text); }
	BashrcScan scan(std::vector<std::string> profiles = {}) const
	{
		ScanInput in;
		in.config_root = root();
		in.profile_bashrcs = std::move(profiles);
		in.vars = {{"PORTAGE_CONFIGROOT", root()}, {"EPREFIX", ""}, {"ROOT", "/"}};
		return scan_bashrcs(in);
	}

      private:
	test::TempDir d_;
};

} // namespace

// --- the lexer ------------------------------------------------------------------------

TEST(LexShell, CommandsWordsLinesAndTerminators)
{
	auto c = lex_shell(
	    "# a comment\nfoo 'a b' \"c $(d)\" ; bar && baz\n\n[[ -r x && -f y ]] || qux\n");
	ASSERT_GE(c.size(), 5U);
	std::vector<std::string> first;
	for (const auto& cmd : c)
		if (!cmd.words.empty())
			first.push_back(cmd.words[0].raw);
	EXPECT_EQ(first, (std::vector<std::string>{"foo", "bar", "baz", "[[", "qux"}));
	EXPECT_EQ(c[1].words.size(), 3U); // the comment's line is an empty command
	EXPECT_EQ(c[1].line, 2);
	EXPECT_EQ(c[1].terminator, ";");
	EXPECT_TRUE(c[1].words[2].subst); // $(d) runs d
	EXPECT_EQ(c[2].terminator, "&&");
	// [[ ... && ... ]] is one command
	for (const auto& cmd : c)
		if (!cmd.words.empty() && cmd.words[0].raw == "[[") {
			EXPECT_EQ(cmd.words.size(), 7U);
			EXPECT_EQ(cmd.line, 4);
			EXPECT_EQ(cmd.terminator, "||");
		}
}

TEST(LexShell, SubstitutionsOfHarmlessBuiltinsRunNothing)
{
	auto c = lex_shell("a=$(type -t f) b=`echo x` c=$((1 + 2)) d=$(date) e=\"$(uname)\"\n");
	ASSERT_FALSE(c.empty());
	ASSERT_EQ(c[0].words.size(), 5U);
	EXPECT_FALSE(c[0].words[0].subst);
	EXPECT_FALSE(c[0].words[1].subst);
	EXPECT_FALSE(c[0].words[2].subst);
	EXPECT_TRUE(c[0].words[3].subst);
	EXPECT_TRUE(c[0].words[4].subst);
}

TEST(LexShell, HereDocumentBodiesAndContinuations)
{
	auto c = lex_shell(
	    "cat <<-EOF >/dev/null\n\tsource /x/phasebox.bashrc\n\tEOF\necho a \\\n b\nnext\n");
	std::vector<std::string> first;
	for (const auto& cmd : c)
		if (!cmd.words.empty())
			first.push_back(cmd.words[0].raw + "@" + std::to_string(cmd.line));
	EXPECT_EQ(first, (std::vector<std::string>{"cat@1", "echo@4", "next@6"}));
}

TEST(ExpandWord, VariablesQuotesAndGlobs)
{
	const std::map<std::string, std::string> v{{"PORTAGE_CONFIGROOT", "/r/"}, {"E", "a*b"}};
	EXPECT_EQ(expand_word("\"${PORTAGE_CONFIGROOT%/}/etc/portage/bashrc.d/\"*.sh", v),
	          "/r/etc/portage/bashrc.d/*.sh");
	EXPECT_EQ(expand_word("$PORTAGE_CONFIGROOT'x y'", v), "/r/x y");
	EXPECT_EQ(expand_word("\"$E\"", v), "a\\*b");  // quoted: not a glob
	EXPECT_EQ(expand_word("${UNSET}/x", v), "/x"); // unset expands to nothing, as in bash
	EXPECT_EQ(expand_word("${UNSET:-/d}/x", v), "/d/x");
	EXPECT_FALSE(expand_word("$(cat f)/x", v));
	EXPECT_FALSE(expand_word("${E#a}", v));
	EXPECT_FALSE(expand_word("~/x", v));
	EXPECT_EQ(unquote("\"a b\"'c'\\d"), "a bcd");
}

// --- the bashrc in effect ----------------------------------------------------------------

TEST(ScanBashrcs, SnippetFirstAndOnce)
{
	Config c;
	c.bashrc("# my bashrc\n\nsource " + c.snippet() + "\necho after\n");
	auto s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(s.snippets[0].at.line, 3);
	EXPECT_EQ(s.snippets[0].path, c.snippet());
	EXPECT_TRUE(s.snippets[0].exists);
	EXPECT_EQ(s.snippets[0].libexec, "/opt/pb/libexec");
	EXPECT_FALSE(s.first_code) << s.first_code->text; // what runs after it is fine
	EXPECT_TRUE(s.bashrc_exists);
}

TEST(ScanBashrcs, SnippetSecondNamesWhatRunsFirst)
{
	Config c;
	c.bashrc("export CCACHE_DIR=/var/cache/ccache\necho hello\n. \"" + c.snippet() + "\"\n");
	auto s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	ASSERT_TRUE(s.first_code);
	EXPECT_EQ(s.first_code->line, 2);
	EXPECT_EQ(s.first_code->text, "echo hello");
	EXPECT_EQ(s.first_code->file, c / "etc/portage/bashrc");
	// Twin: what does not run anything (comments, assignments, declarations, shopt, tests
	// and a function definition) may come first.
	c.bashrc("#!/bin/bash\nexport A=1 B=\"x y\"\nC=$(type -t foo)\nshopt -s extglob\n"
	         "my_hook() {\n\tccache -s\n}\n[[ -r " +
	         c.snippet() + " ]] && source " + c.snippet() + "\n");
	s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(s.snippets[0].at.line, 8);
	EXPECT_FALSE(s.first_code) << s.first_code->text;
}

TEST(ScanBashrcs, CommandSubstitutionAndBlocksBeforeItRunSomething)
{
	Config c;
	c.bashrc("STAMP=$(date +%s)\nsource " + c.snippet() + "\n");
	auto s = c.scan();
	ASSERT_TRUE(s.first_code);
	EXPECT_EQ(s.first_code->line, 1);
	// An if block whose body runs a command (as the e2e harness's bashrc has).
	c.bashrc("if [[ ${EBUILD_PHASE} == compile ]]; then\n\taddwrite /x\nfi\nsource " +
	         c.snippet() + "\n");
	s = c.scan();
	ASSERT_TRUE(s.first_code);
	EXPECT_EQ(s.first_code->line, 2);
	EXPECT_EQ(s.first_code->text, "addwrite /x");
	// A here-document's body is text, not commands: the cat runs, the body's source does not.
	c.bashrc("cat >/dev/null <<'EOF'\nsource " + c.snippet() + "\nEOF\nsource " + c.snippet() +
	         "\n");
	s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(s.snippets[0].at.line, 4);
	ASSERT_TRUE(s.first_code);
	EXPECT_EQ(s.first_code->line, 1);
}

TEST(ScanBashrcs, MissingAndCommentedOut)
{
	Config c;
	c.bashrc("# source " + c.snippet() + "\n  #. " + c.snippet() + "\necho hi # source " +
	         c.snippet() + "\n");
	auto s = c.scan();
	EXPECT_TRUE(s.snippets.empty());
	EXPECT_TRUE(s.bashrc_exists);
	// No bashrc at all.
	Config none;
	::unlink((none / "etc/portage/bashrc").c_str());
	s = none.scan();
	EXPECT_TRUE(s.snippets.empty());
	EXPECT_FALSE(s.bashrc_exists);
	// A snippet line naming a file that is not there: found, and marked missing.
	c.bashrc("source /nonexistent/share/phasebox/phasebox.bashrc\n");
	s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_FALSE(s.snippets[0].exists);
}

TEST(ScanBashrcs, BashrcDLinkThroughALoopSortsFirst)
{
	Config c;
	c.mkdir("etc/portage/bashrc.d");
	c.link(c.snippet(), "etc/portage/bashrc.d/00-phasebox.sh");
	c.write("etc/portage/bashrc.d/50-user.sh", "echo user\n");
	c.write("etc/portage/bashrc.d/README", "not sourced: no .sh\n");
	c.bashrc("for f in \"${PORTAGE_CONFIGROOT%/}/etc/portage/bashrc.d/\"*.sh; do source "
	         "\"${f}\"; done\nunset f\n");
	auto s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(s.snippets[0].at.file, c / "etc/portage/bashrc.d/00-phasebox.sh");
	EXPECT_EQ(s.snippets[0].at.via, "the loop at " + (c / "etc/portage/bashrc") + ":1");
	EXPECT_FALSE(s.first_code);
	// Twin: a file that sorts before the link runs first.
	c.write("etc/portage/bashrc.d/00-ccache.sh", "ccache -M 5G\n");
	s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	ASSERT_TRUE(s.first_code);
	EXPECT_EQ(s.first_code->file, c / "etc/portage/bashrc.d/00-ccache.sh");
	EXPECT_EQ(s.first_code->text, "ccache -M 5G");
}

TEST(ScanBashrcs, TwiceDirectAndBashrcDLink)
{
	Config c;
	c.mkdir("etc/portage/bashrc.d");
	c.link(c.snippet(), "etc/portage/bashrc.d/00-phasebox.sh");
	c.bashrc("source " + c.snippet() + "\nfor f in " + (c / "etc/portage/bashrc.d") +
	         "/*.sh; do\n\t[[ -r ${f} ]] && . \"${f}\"\ndone\n");
	auto s = c.scan();
	ASSERT_EQ(s.snippets.size(), 2U);
	EXPECT_EQ(s.snippets[0].at.line, 1);
	EXPECT_EQ(s.snippets[1].at.file, c / "etc/portage/bashrc.d/00-phasebox.sh");
	// A copy of the snippet (not a link) is recognised by its first line.
	Config d;
	d.mkdir("etc/portage/bashrc.d");
	d.write("etc/portage/bashrc.d/00-pb.sh", std::string(snippet_marker) + "\n");
	d.bashrc("for f in " + (d / "etc/portage/bashrc.d") + "/*.sh; do source \"$f\"; done\n");
	s = d.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(s.snippets[0].at.file, d / "etc/portage/bashrc.d/00-pb.sh");
}

TEST(ScanBashrcs, LoadersInAFunctionAndPortageBashrcMv)
{
	Config c;
	c.mkdir("etc/portage/bashrc.d");
	c.link(c.snippet(), "etc/portage/bashrc.d/00-phasebox.sh");
	c.write("etc/portage/bashrc.d/10-early.sh", "echo early\n");
	c.bashrc("LoaderMain() {\n\tlocal loader_file\n\tfor loader_file in \"" +
	         (c / "etc/portage/bashrc.d/") +
	         "\"*.sh; do\n\t\t[[ -r ${loader_file} ]] || continue\n"
	         "\t\t. \"${loader_file}\"\n\tdone\n}\nLoaderMain\n");
	auto s = c.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_FALSE(s.first_code) << s.first_code->text;
	// app-portage/portage-bashrc-mv's shape: bashrc sources bashrc.d/bashrcd.sh (guarded by
	// a `type -t` substitution), whose function loops over bashrc.d/*.sh skipping itself.
	Config m;
	m.mkdir("etc/portage/bashrc.d");
	m.link(m.snippet(), "etc/portage/bashrc.d/00-phasebox.sh");
	m.write("etc/portage/bashrc.d/40-flag.sh",
	        "FlagAdd() { :; }\nBashrcdPhase all FlagSetFlags\n");
	m.write("etc/portage/bashrc.d/bashrcd.sh",
	        "#!/bin/bash\nBashrcdEcho() {\n\tcase \"${NOCOLOR}\" in\n\t''|f*)\n\t\tprintf "
	        "'%s\\n' \"$@\";;\n"
	        "\t*)\tprintf '>>> %s\\n' \"${@}\";;\n\tesac\n}\nBashrcdMain() {\n\tlocal bashrcd\n"
	        "\tfor bashrcd in \"${PORTAGE_CONFIGROOT%/}/etc/portage/bashrc.d/\"*.sh\n"
	        "\tdo\tcase \"${bashrcd}\" in\n\t\t*/bashrcd.sh)\tcontinue;;\n\t\tesac\n"
	        "\t\ttest -r \"${bashrcd}\" || continue\n\t\t. \"${bashrcd}\"\n\tdone\n}\n");
	m.bashrc("#!/bin/bash\n[ \"`type -t BashrcdMain`\" = function ] || \\\n"
	         ". \"${PORTAGE_CONFIGROOT%/}/etc/portage/bashrc.d/bashrcd.sh\"\nBashrcdMain "
	         "\"${@}\"\n");
	s = m.scan();
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(s.snippets[0].at.file, m / "etc/portage/bashrc.d/00-phasebox.sh");
	EXPECT_FALSE(s.first_code) << s.first_code->text;
}

TEST(ScanBashrcs, PerPackageEnvFilesAndProfileBashrcs)
{
	Config c;
	c.bashrc("source " + c.snippet() + "\n");
	c.mkdir("etc/portage/env");
	c.mkdir("etc/portage/env/dev-lang");
	c.write("etc/portage/env/dev-lang/rust", "source " + c.snippet() + "\n");
	c.write("etc/portage/env/big.conf", "MAKEOPTS=-j1\n"); // package.env's, never sourced
	auto s = c.scan();
	EXPECT_EQ(s.snippets.size(), 1U);
	ASSERT_EQ(s.per_package.size(), 1U);
	EXPECT_EQ(s.per_package[0].at.file, c / "etc/portage/env/dev-lang/rust");

	// A profile stack: make.profile -> leaf, whose parent ../base has a profile.bashrc.
	Config p;
	p.mkdir("repo");
	p.mkdir("repo/profiles");
	p.mkdir("repo/profiles/base");
	p.mkdir("repo/profiles/leaf");
	p.write("repo/profiles/leaf/parent", "# the base\n../base\n");
	p.write("repo/profiles/base/profile.bashrc",
	        "if ! declare -F elog >/dev/null; then\n\telog() { einfo \"$@\"; }\nfi\ncd /tmp\n");
	p.link(p / "repo/profiles/leaf", "etc/portage/make.profile");
	p.mkdir("etc/portage/profile");
	p.write("etc/portage/profile/profile.bashrc", ": user profile\n");
	std::vector<std::string> unresolved;
	auto prof = profile_bashrcs(p.root(), unresolved);
	ASSERT_EQ(prof.size(), 2U);
	EXPECT_EQ(prof[0], p / "repo/profiles/base/profile.bashrc");
	EXPECT_EQ(prof[1], p / "etc/portage/profile/profile.bashrc");
	EXPECT_TRUE(unresolved.empty());
	p.bashrc("source " + p.snippet() + "\n");
	s = p.scan(prof);
	ASSERT_EQ(s.snippets.size(), 1U);
	EXPECT_FALSE(s.first_code);
	ASSERT_TRUE(s.profile_code); // Portage sources them before the user's bashrc
	EXPECT_EQ(s.profile_code->text, "cd /tmp");
	// A parent in a repository that repos.conf does not name is reported, not guessed.
	p.write("repo/profiles/leaf/parent", "../base\nnowhere:default\n");
	unresolved.clear();
	prof = profile_bashrcs(p.root(), unresolved);
	EXPECT_EQ(prof.size(), 2U);
	ASSERT_EQ(unresolved.size(), 1U);
	EXPECT_NE(unresolved[0].find("nowhere:default"), std::string::npos);
	// ... and found where repos.conf names it.
	p.mkdir("other");
	p.mkdir("other/profiles");
	p.mkdir("other/profiles/default");
	p.write("other/profiles/default/profile.bashrc", "true\n");
	p.write("etc/portage/repos.conf",
	        "[DEFAULT]\nmain-repo = nowhere\n\n[nowhere]\nlocation = " + (p / "other") + "\n");
	unresolved.clear();
	prof = profile_bashrcs(p.root(), unresolved);
	EXPECT_TRUE(unresolved.empty());
	ASSERT_EQ(prof.size(), 3U);
	EXPECT_EQ(prof[1], p / "other/profiles/default/profile.bashrc");
}

TEST(ScanBashrcs, HostileFilesNeverBlockNorLoop)
{
	Config c;
	// A FIFO as bashrc.d entry and as a sourced file: not regular, never opened for long.
	c.mkdir("etc/portage/bashrc.d");
	ASSERT_EQ(::mkfifo((c / "etc/portage/bashrc.d/10-fifo.sh").c_str(), 0644), 0);
	c.link("/dev/zero", "etc/portage/bashrc.d/20-zero.sh");
	// Two files sourcing each other.
	c.write("a.sh", "source " + (c / "b.sh") + "\n");
	c.write("b.sh", "source " + (c / "a.sh") + "\n");
	c.bashrc("source " + c.snippet() + "\nsource " + (c / "a.sh") + "\nfor f in " +
	         (c / "etc/portage/bashrc.d") + "/*.sh; do source \"$f\"; done\n");
	auto s = c.scan();
	EXPECT_EQ(s.snippets.size(), 1U);
	EXPECT_EQ(std::count(s.files.begin(), s.files.end(), c / "a.sh"), 1);
}

// --- the hook -------------------------------------------------------------------------

TEST(ParseHook, AdoptWithPidFromThisInstallation)
{
	auto mine = [](const std::string& p) {
		return p == "/usr/libexec/phasebox/phasebox-cgroup";
	};
	Hook h = parse_hook("/usr/libexec/phasebox/phasebox-cgroup adopt ${PID}", mine);
	EXPECT_TRUE(h.set && h.adopt && h.pid && h.this_installation);
	h = parse_hook("/usr/libexec/phasebox/phasebox-cgroup adopt --log '/var/log/x y' ${PID} -- "
	               "ionice -c 3 -p ${PID}",
	               mine);
	EXPECT_TRUE(h.adopt && h.pid && h.this_installation);
	// Twins: another installation's; no ${PID} before "--"; not adopt; not set.
	h = parse_hook("/usr/local/libexec/phasebox/phasebox-cgroup adopt ${PID}", mine);
	EXPECT_TRUE(h.adopt && h.pid);
	EXPECT_FALSE(h.this_installation);
	EXPECT_EQ(h.helper, "/usr/local/libexec/phasebox/phasebox-cgroup");
	h = parse_hook("/usr/libexec/phasebox/phasebox-cgroup adopt -- ionice -p ${PID}", mine);
	EXPECT_TRUE(h.adopt);
	EXPECT_FALSE(h.pid);
	h = parse_hook("ionice -c 3 -p ${PID}", mine);
	EXPECT_TRUE(h.set);
	EXPECT_FALSE(h.adopt);
	h = parse_hook("", mine);
	EXPECT_FALSE(h.set);
	h = parse_hook("'unbalanced", mine);
	EXPECT_FALSE(h.set);
}

TEST(Shlex, SplitAndPortageqEnvvarLines)
{
	EXPECT_EQ(shlex_split("a 'b c' \"d\\\"e\" f\\ g"),
	          (std::vector<std::string>{"a", "b c", "d\"e", "f g"}));
	EXPECT_FALSE(shlex_split("a \"b"));
	auto v = parse_envvar_lines(
	    "FEATURES='a b c'\nPHASEBOX_FALLBACK=warn\nEPREFIX=''\n"
	    "PORTAGE_IONICE_COMMAND='/x/phasebox-cgroup adopt ${PID} -- echo '\"'\"'q'\"'\"''\n"
	    "MULTI='one\ntwo'\ngarbage line\n");
	EXPECT_EQ(v["FEATURES"], "a b c");
	EXPECT_EQ(v["PHASEBOX_FALLBACK"], "warn");
	EXPECT_EQ(v["EPREFIX"], "");
	EXPECT_EQ(v["PORTAGE_IONICE_COMMAND"], "/x/phasebox-cgroup adopt ${PID} -- echo 'q'");
	EXPECT_EQ(v["MULTI"], "one\ntwo");
	EXPECT_EQ(v.count("garbage"), 0U);
	// Before Portage 3.0.77, portage._shell_quote: bare when safe, else "..." with \\, \",
	// \$ and \` escaped; an unset variable prints as NAME= (and the status is 1).
	v = parse_envvar_lines(
	    "FEATURES=\"sandbox userpriv\"\nPHASEBOX_FALLBACK=\nEPREFIX=\n"
	    "PORTAGE_IONICE_COMMAND=\"/x/phasebox-cgroup adopt \\${PID} -- a \\\"b\\\" \\`c\\`\"\n"
	    "PORTAGE_CONFIGROOT=/\n");
	EXPECT_EQ(v["FEATURES"], "sandbox userpriv");
	EXPECT_EQ(v["PHASEBOX_FALLBACK"], "");
	EXPECT_EQ(v["EPREFIX"], "");
	EXPECT_EQ(v["PORTAGE_IONICE_COMMAND"], "/x/phasebox-cgroup adopt ${PID} -- a \"b\" `c`");
	EXPECT_EQ(v["PORTAGE_CONFIGROOT"], "/");
}

TEST(PortageAnswers, UnknownFeaturesAndVersions)
{
	EXPECT_EQ(unknown_features_warned("\x1b[31;01mFEATURES variable contains unknown value(s): "
	                                  "phasebox-cgroup, phasebox-pid-sandbox\x1b[39;49;00m\n"),
	          (std::vector<std::string>{"phasebox-cgroup", "phasebox-pid-sandbox"}));
	EXPECT_TRUE(unknown_features_warned("!!! something else\n").empty());
	EXPECT_EQ(version_from_portageq("Portage 3.0.82\n"), "3.0.82");
	EXPECT_EQ(version_from_portageq("Portage HEAD\n"), "");
	EXPECT_EQ(
	    version_from_build_file("project(\n    'portage',\n    'c',\n    version : '3.0.82',\n"
	                            "    meson_version : '>=0.58.0'\n)\n"),
	    "3.0.82");
	EXPECT_EQ(
	    version_from_build_file("import sys\nif sys.version_info < (3, 6): pass\n"
	                            "setup(\n    name=\"portage\",\n    version=\"3.0.49\",\n"),
	    "3.0.49");
	EXPECT_EQ(version_numbers("3.0.82.dev4+gabc"), (std::vector<int>{3, 0, 82}));
	EXPECT_TRUE(version_numbers("HEAD").empty());
	EXPECT_TRUE(version_at_least({3, 0, 82}, {3, 0, 82}));
	EXPECT_TRUE(version_at_least({3, 1}, {3, 0, 82}));
	EXPECT_FALSE(version_at_least({3, 0, 77}, {3, 0, 82}));
	EXPECT_FALSE(version_at_least({}, {3, 0, 82}));
}

// --- Portage's own FEATURES next to phasebox's -----------------------------------------

TEST(Overlap, NativeCgroupWithPhaseboxCgroupNestsOnPureV2)
{
	OverlapInput in{true, true, true, true, {3, 0, 82}};
	Overlap o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("nests each src_* phase's leaf below it"), std::string::npos);
	EXPECT_NE(o.gives.find("keeper of 'phasebox-cgroup adopt'"), std::string::npos);
	// Twins: each of the four conditions taken away.
	in.userpriv = false;
	o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("both apply"), std::string::npos);
	EXPECT_EQ(o.gives.find("keeper"), std::string::npos);
	in = {true, true, true, false, {3, 0, 82}}; // hybrid: Portage's does nothing here
	o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("does nothing here"), std::string::npos);
	in = {true, false, true, true, {3, 0, 82}};
	o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("alone"), std::string::npos);
	in = {false, true, true, true, {3, 0, 82}};
	EXPECT_TRUE(overlap("cgroup", in).ok);
	// The Portage releases without the v2 feature.
	in = {true, true, true, true, {3, 0, 77}};
	o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("removed in 3.0.50"), std::string::npos);
	in.version = {3, 0, 49};
	o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("name=portage"), std::string::npos);
	// Unknown version: taken as the current one, and said so.
	in.version = {};
	o = overlap("cgroup", in);
	EXPECT_TRUE(o.ok);
	EXPECT_NE(o.gives.find("nests each src_* phase's leaf"), std::string::npos);
	EXPECT_NE(o.gives.find("version unknown"), std::string::npos);
}

TEST(Overlap, NamespaceTokensNest)
{
	for (const char* n : {"network-sandbox", "ipc-sandbox", "pid-sandbox", "mount-sandbox"}) {
		Overlap both = overlap(n, {true, true, true, true, {3, 0, 82}});
		EXPECT_TRUE(both.ok) << n;
		EXPECT_EQ(both.phasebox, std::string("phasebox-") + n);
		EXPECT_NE(both.gives.find("then phasebox's inside it"), std::string::npos) << n;
		EXPECT_NE(overlap(n, {true, false, false, false, {}}).gives.find("alone"),
		          std::string::npos);
		EXPECT_NE(overlap(n, {false, true, false, false, {}}).gives.find("alone"),
		          std::string::npos);
		EXPECT_EQ(overlap(n, {false, false, false, false, {}}).gives, "neither is on");
	}
	EXPECT_NE(overlap("pid-sandbox", {true, true, false, false, {}}).gives.find("pid 1"),
	          std::string::npos);
}

TEST(EmergeAmong, EmergeEbuildAndPhases)
{
	using namespace std::string_literals;
	EXPECT_TRUE(
	    emerge_among({"/usr/bin/python3.11\0/usr/lib/python-exec/python3.11/emerge\0-av\0"s}));
	EXPECT_TRUE(emerge_among({"bash\0/usr/lib/portage/bin/ebuild.sh\0compile\0"s}));
	EXPECT_FALSE(emerge_among({"-bash\0"s, "sshd: root@pts/0\0"s, "/sbin/init\0"s}));
	EXPECT_FALSE(emerge_among({"vim\0/tmp/emerge-notes.txt\0"s}));
}
