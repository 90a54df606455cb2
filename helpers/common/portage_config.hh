// What `phasebox doctor` reads of a Portage configuration, without running any of it: the
// bashrc files Portage sources in every phase (and where the phasebox snippet is among
// them), the root hook in PORTAGE_IONICE_COMMAND, what Portage's own namespace and cgroup
// FEATURES give next to phasebox's tokens, and the texts portageq answers with.
//
// Nothing here executes a configuration file: bash files are read (regular files only, at
// most max_file_bytes each, opened O_NONBLOCK so that a FIFO never blocks) and lexed.
// Nothing here prints or exits.  The pure functions take texts, so that they are
// unit-tested against fixtures; scan_bashrcs() and profile_bashrcs() read the file system.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace phasebox::portage
{

// --- bash, as far as a bashrc needs it ---------------------------------------------

// One word of a simple command: `raw` as written (quotes, $-expansions and all), `subst`
// when it holds a command substitution ($(...), `...`, <(...), >(...)) whose commands are
// not all harmless (see classify()).
struct ShWord {
	std::string raw;
	bool subst = false;
};

// One simple command: its words (redirections and their targets left out), the line it
// starts on (1-based), and what ended it: ";", "&", "&&", "||", "|", "(", ")", ";;",
// "\n", or "" at the end of the text.
struct ShCommand {
	int line = 0;
	std::vector<ShWord> words;
	std::string terminator;
};

// Split bash text into simple commands.  Comments, line continuations, quotes, $(...),
// ${...}, `...`, [[ ... ]], (( ... )) and here-documents (their bodies are skipped) are
// understood; anything else is taken literally.  Never fails: a text bash would refuse
// still gives commands.
std::vector<ShCommand> lex_shell(std::string_view text);

// The value of `raw` after quote removal and the expansion of $NAME, ${NAME}, ${NAME%/},
// ${NAME%%/} and ${NAME:-WORD} with `vars` (a NAME absent from vars expands to "", as an
// unset variable does); nullopt for anything else ($(...), ${NAME#...}, $1, ~, ...).
// Unquoted glob characters stay as they are; quoted ones come back escaped with '\', as
// fnmatch(3) reads them.
std::optional<std::string> expand_word(const std::string& raw,
                                       const std::map<std::string, std::string>& vars);

// The plain text of `raw` after quote removal only (for messages and the basename test).
std::string unquote(const std::string& raw);

// --- the bashrc files in effect ----------------------------------------------------

// The first line of phasebox.bashrc, as installed: a copy of the snippet is recognised by it.
inline constexpr std::string_view snippet_marker = "# phasebox — Portage bashrc snippet";

// Files read by the scan are at most this large; larger ones count as unreadable.
inline constexpr size_t max_file_bytes = 1 << 20;

struct Place {
	std::string file; // the file holding the line (or the bashrc.d entry that is the snippet)
	int line = 0;     // 1-based; 0 for a bashrc.d entry
	std::string text; // the line (the command's first line), trimmed to 100 characters
	std::string via;  // for a bashrc.d entry: "the loop at FILE:LINE"; else ""
};

struct SnippetUse {
	Place at;
	std::string path;   // the snippet file as named (expanded where possible)
	bool exists = true; // the file is there (a regular file, or a link to one)
	std::string
	    libexec; // the helpers' directory the snippet runs (its libexec="..."), "" unknown
};

struct BashrcScan {
	std::vector<std::string> profile_bashrcs; // sourced by Portage before the user's bashrc
	std::string bashrc;                       // ${PORTAGE_CONFIGROOT}/etc/portage/bashrc
	bool bashrc_exists = false;
	std::vector<std::string> files;      // every file read, in the order sourced
	std::vector<SnippetUse> snippets;    // where the snippet is sourced, in order
	std::optional<Place> first_code;     // the first line running something before the
	                                     // first snippet (in the user's files)
	std::optional<Place> profile_code;   // the same in the profile bashrcs
	std::vector<SnippetUse> per_package; // the snippet in /etc/portage/env/<cat>/<pkg>
	std::vector<std::string> unresolved; // sources and loops doctor could not follow
};

struct ScanInput {
	std::string config_root;                  // PORTAGE_CONFIGROOT, ending in '/'
	std::vector<std::string> profile_bashrcs; // profile_bashrcs() or what Portage said
	std::map<std::string, std::string> vars;  // PORTAGE_CONFIGROOT, EPREFIX, EROOT, ROOT, ...
};

// Follow what Portage's __source_all_bashrcs (bin/ebuild.sh) sources in a phase: the
// profile bashrcs, then ${PORTAGE_CONFIGROOT}/etc/portage/bashrc with every file it
// sources (a `source`/`.` of a path, and loops over a glob such as bashrc.d/*.sh, in the
// glob's order), and the files of /etc/portage/env/<cat>/ (sourced after it, per package).
// "Runs something" is anything but comments, blank lines, assignments, function
// definitions (a body is taken as run where it is defined), the structure of if/for/case,
// and builtins without side effects ([[, test, local, export, shopt, type, ...); a command
// substitution runs something unless all its commands are such builtins (or echo/printf).
BashrcScan scan_bashrcs(const ScanInput& in);

// The profile.bashrc of each node of the profile stack of the configuration at config_root
// (etc/portage/make.profile, else etc/make.profile, with its parent files depth first; then
// etc/portage/profile), in the order Portage sources them.  Parent entries "repo:path" are
// found through etc/portage/repos.conf (file or directory); what cannot be resolved is
// added to `unresolved`.
std::vector<std::string> profile_bashrcs(const std::string& config_root,
                                         std::vector<std::string>& unresolved);

// libexec="..." of a phasebox.bashrc text, "" when absent.
std::string snippet_libexec(std::string_view text);

// --- PORTAGE_IONICE_COMMAND ----------------------------------------------------------

struct Hook {
	bool set = false;               // the command is not empty
	bool adopt = false;             // it runs <something>/phasebox-cgroup adopt
	bool pid = false;               // with ${PID} (or $PID) before any "--"
	std::string helper;             // the phasebox-cgroup it runs, as written
	bool this_installation = false; // helper is <helpers_dir>/phasebox-cgroup (same file)
};

// Parse the command as Portage does (shlex split; ${PID} is the emerge's pid).
// `same_file` says whether a path is this installation's phasebox-cgroup (doctor compares
// device and inode); it is only asked about the word that names phasebox-cgroup.
template <class SameFile> Hook parse_hook(const std::string& command, SameFile same_file);

// shlex.split, as Portage applies it to PORTAGE_IONICE_COMMAND; nullopt for an unbalanced
// quote.
std::optional<std::vector<std::string>> shlex_split(const std::string& s);

// --- portageq's answers -------------------------------------------------------------

// `portageq envvar -v NAME*...` prints NAME=<shlex.quote(value)> lines.
std::map<std::string, std::string> parse_envvar_lines(std::string_view out);

// The tokens of "FEATURES variable contains unknown value(s): a, b" in portageq's stderr
// (colour escapes removed); empty when absent.
std::vector<std::string> unknown_features_warned(std::string_view err);

// "3.0.82" from `portageq --version` ("Portage 3.0.82"), "" for "Portage HEAD" or junk.
std::string version_from_portageq(std::string_view out);
// The version in a Portage source tree's meson.build (version : '3.0.82') or setup.py
// (version="3.0.49"); "" when neither says.
std::string version_from_build_file(std::string_view text);
// {3, 0, 82} for "3.0.82", "3.0.82.dev4+gabc"; empty for anything else.
std::vector<int> version_numbers(const std::string& v);
// a >= b, both as version_numbers(); false when a is empty.
bool version_at_least(const std::vector<int>& a, const std::vector<int>& b);

// --- Portage's own FEATURES next to phasebox's ---------------------------------------

struct OverlapInput {
	bool native = false;      // Portage's token is in FEATURES
	bool phasebox = false;    // phasebox's token is in FEATURES
	bool userpriv = false;    // FEATURES=userpriv
	bool v2_at_root = false;  // cgroup2 is mounted at /sys/fs/cgroup (Portage's cgroup test)
	std::vector<int> version; // Portage's version, empty when unknown
};

struct Overlap {
	std::string native;   // "network-sandbox", ... "cgroup"
	std::string phasebox; // "phasebox-network-sandbox", ... "phasebox-cgroup"
	bool ok = true;       // false only for a combination that fails
	std::string gives;    // what a phase gets
	std::string remedy;   // for !ok
};

// What the combination of Portage's `native` token ("network-sandbox", "ipc-sandbox",
// "pid-sandbox", "mount-sandbox" or "cgroup") with phasebox's gives.  Portage's cgroup
// (3.0.82 and later, cgroup2 at /sys/fs/cgroup) with phasebox-cgroup: phasebox nests below
// Portage's per-build cgroups (common/portage_cgroup.hh); for userpriv phases that needs the
// hook, which the "delegated route" check asks for.
Overlap overlap(const std::string& native, const OverlapInput& in);

// --- where doctor runs --------------------------------------------------------------

// Whether one of these command lines (NUL-separated argv of doctor's ancestors) is emerge,
// ebuild or a phase's ebuild.sh.
bool emerge_among(const std::vector<std::string>& cmdlines);

// ---------------------------------------------------------------------------------------

template <class SameFile> Hook parse_hook(const std::string& command, SameFile same_file)
{
	Hook h;
	auto words = shlex_split(command);
	if (!words || words->empty())
		return h;
	h.set = true;
	const auto& w = *words;
	for (size_t i = 0; i < w.size(); ++i) {
		const std::string& x = w[i];
		const size_t slash = x.rfind('/');
		const std::string base = slash == std::string::npos ? x : x.substr(slash + 1);
		if (base != "phasebox-cgroup")
			continue;
		if (i + 1 >= w.size() || w[i + 1] != "adopt")
			continue;
		h.adopt = true;
		h.helper = x;
		h.this_installation = same_file(x);
		for (size_t j = i + 2; j < w.size() && w[j] != "--"; ++j)
			if (w[j] == "${PID}" || w[j] == "$PID")
				h.pid = true;
		break;
	}
	return h;
}

} // namespace phasebox::portage
