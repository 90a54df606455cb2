#include "portage_config.hh"

#include "fd.hh"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox::portage
{
namespace
{

bool is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_glob_char(char c)
{
	return c == '*' || c == '?' || c == '[';
}

// c is one of `set` (never the terminating NUL).
bool one_of(const char* set, char c)
{
	return c != '\0' && std::strchr(set, c) != nullptr;
}

// --- the lexer ------------------------------------------------------------------------

struct Lexer {
	std::string_view s;
	size_t i = 0;
	int line = 1;
	int nesting = 0; // of command substitutions being classified (bounded)
	std::vector<ShCommand> out;
	ShCommand cur;
	bool in_dbracket = false;
	struct HereDoc {
		std::string delim;
		bool strip_tabs = false;
	};
	std::vector<HereDoc> heredocs;

	char at(size_t k) const { return k < s.size() ? s[k] : '\0'; }

	void end_command(const std::string& term)
	{
		cur.terminator = term;
		out.push_back(std::move(cur));
		cur = ShCommand{};
		in_dbracket = false;
	}

	void word(ShWord w)
	{
		if (cur.words.empty())
			cur.line = line;
		if (w.raw == "[[" && !in_dbracket)
			in_dbracket = true;
		else if (w.raw == "]]" && in_dbracket)
			in_dbracket = false;
		cur.words.push_back(std::move(w));
	}

	// After the opening quote: up to the closing one, counting lines.
	void single_quoted(std::string& raw)
	{
		while (i < s.size() && s[i] != '\'') {
			if (s[i] == '\n')
				++line;
			raw += s[i++];
		}
		if (i < s.size())
			raw += s[i++];
	}

	// After the opening "(" of $( or <( or >(, or after "((": the text up to the matching
	// ")", quotes and nested parentheses understood.  `close` is ")" or "))".
	std::string balanced(std::string& raw, bool dbl)
	{
		std::string inner;
		int depth = dbl ? 2 : 1;
		while (i < s.size()) {
			char c = s[i];
			if (c == '\\' && i + 1 < s.size()) {
				inner += c;
				inner += s[i + 1];
				raw += c;
				raw += s[i + 1];
				if (s[i + 1] == '\n')
					++line;
				i += 2;
				continue;
			}
			if (c == '\'' || c == '"') {
				const char q = c;
				inner += c;
				raw += c;
				++i;
				while (i < s.size() && s[i] != q) {
					if (q == '"' && s[i] == '\\' && i + 1 < s.size()) {
						inner += s[i];
						raw += s[i++];
					}
					if (s[i] == '\n')
						++line;
					inner += s[i];
					raw += s[i++];
				}
				if (i < s.size()) {
					inner += s[i];
					raw += s[i++];
				}
				continue;
			}
			if (c == '\n')
				++line;
			if (c == '(')
				++depth;
			if (c == ')' && --depth == 0) {
				raw += c;
				++i;
				if (dbl && !inner.empty() && inner.back() == ')')
					inner.pop_back();
				return inner;
			}
			inner += c;
			raw += c;
			++i;
		}
		return inner;
	}

	// After "${": up to the matching "}".
	void braced(std::string& raw)
	{
		int depth = 1;
		while (i < s.size()) {
			char c = s[i];
			raw += c;
			++i;
			if (c == '\\' && i < s.size()) {
				raw += s[i++];
				continue;
			}
			if (c == '\n')
				++line;
			if (c == '{')
				++depth;
			if (c == '}' && --depth == 0)
				return;
		}
	}

	// After a backquote: up to the closing one.
	std::string backquoted(std::string& raw)
	{
		std::string inner;
		while (i < s.size() && s[i] != '`') {
			if (s[i] == '\\' && i + 1 < s.size()) {
				raw += s[i];
				++i;
			}
			if (s[i] == '\n')
				++line;
			inner += s[i];
			raw += s[i++];
		}
		if (i < s.size())
			raw += s[i++];
		return inner;
	}

	bool harmful(const std::string& inner) const;

	// "$..." at s[i] == '$'.
	// NOLINTNEXTLINE(misc-no-recursion): bounded, see harmful()
	void dollar(ShWord& w)
	{
		w.raw += '$';
		++i;
		const char c = at(i);
		if (c == '(') {
			w.raw += '(';
			++i;
			if (at(i) == '(') { // $(( arithmetic ))
				w.raw += '(';
				++i;
				balanced(w.raw, true);
				return;
			}
			if (harmful(balanced(w.raw, false)))
				w.subst = true;
		} else if (c == '{') {
			w.raw += '{';
			++i;
			braced(w.raw);
		} else if (c == '\'') { // $'...': backslash escapes
			w.raw += '\'';
			++i;
			while (i < s.size() && s[i] != '\'') {
				if (s[i] == '\\' && i + 1 < s.size())
					w.raw += s[i++];
				if (s[i] == '\n')
					++line;
				w.raw += s[i++];
			}
			if (i < s.size())
				w.raw += s[i++];
		}
	}

	// NOLINTNEXTLINE(misc-no-recursion): bounded, see harmful()
	void double_quoted(ShWord& w)
	{
		while (i < s.size() && s[i] != '"') {
			const char c = s[i];
			if (c == '\\' && i + 1 < s.size()) {
				w.raw += c;
				w.raw += s[i + 1];
				if (s[i + 1] == '\n')
					++line;
				i += 2;
			} else if (c == '$') {
				dollar(w);
			} else if (c == '`') {
				w.raw += c;
				++i;
				if (harmful(backquoted(w.raw)))
					w.subst = true;
			} else {
				if (c == '\n')
					++line;
				w.raw += c;
				++i;
			}
		}
		if (i < s.size())
			w.raw += s[i++];
	}

	bool breaks_word(char c) const
	{
		if (c == ' ' || c == '\t' || c == '\n')
			return true;
		if (in_dbracket)
			return false;
		return c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' ||
		       c == '>';
	}

	// NOLINTNEXTLINE(misc-no-recursion): bounded, see harmful()
	ShWord read_word()
	{
		ShWord w;
		while (i < s.size()) {
			const char c = s[i];
			if ((c == '<' || c == '>') && at(i + 1) == '(' && !in_dbracket) {
				// <(...) >(...): process substitution, part of the word
				w.raw += c;
				w.raw += '(';
				i += 2;
				if (harmful(balanced(w.raw, false)))
					w.subst = true;
				continue;
			}
			if (breaks_word(c))
				break;
			if (c == '\\') {
				if (at(i + 1) == '\n') {
					i += 2;
					++line;
					continue;
				}
				w.raw += c;
				if (i + 1 < s.size())
					w.raw += s[i + 1];
				i += 2;
				continue;
			}
			if (c == '\'') {
				w.raw += c;
				++i;
				single_quoted(w.raw);
			} else if (c == '"') {
				w.raw += c;
				++i;
				double_quoted(w);
			} else if (c == '$') {
				dollar(w);
			} else if (c == '`') {
				w.raw += c;
				++i;
				if (harmful(backquoted(w.raw)))
					w.subst = true;
			} else {
				w.raw += c;
				++i;
			}
		}
		return w;
	}

	// A redirection at s[i] ('<', '>', or "&>"): its operator and target are dropped; a
	// here-document's delimiter is remembered.
	// NOLINTNEXTLINE(misc-no-recursion): bounded, see harmful()
	void redirection()
	{
		std::string op;
		while (i < s.size() && (s[i] == '<' || s[i] == '>' || s[i] == '&' || s[i] == '|' ||
		                        (s[i] == '-' && op.size() >= 2 && op.substr(0, 2) == "<<")))
			op += s[i++];
		while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
			++i;
		if (i >= s.size() || breaks_word(s[i]))
			return;
		ShWord target = read_word();
		if (target.subst)
			word(ShWord{"", true}); // the substitution still runs
		if (op == "<<" || op == "<<-")
			heredocs.push_back({unquote(target.raw), op == "<<-"});
	}

	void skip_heredocs()
	{
		for (const auto& h : heredocs) {
			while (i < s.size()) {
				size_t end = s.find('\n', i);
				if (end == std::string_view::npos)
					end = s.size();
				std::string_view l = s.substr(i, end - i);
				i = end < s.size() ? end + 1 : end;
				++line;
				if (h.strip_tabs)
					while (!l.empty() && l.front() == '\t')
						l.remove_prefix(1);
				if (l == h.delim)
					break;
			}
		}
		heredocs.clear();
	}

	// NOLINTNEXTLINE(misc-no-recursion): bounded, see harmful()
	void run()
	{
		while (i < s.size()) {
			const char c = s[i];
			if (c == '\\' && at(i + 1) == '\n') {
				i += 2;
				++line;
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\r') {
				++i;
				continue;
			}
			if (c == '\n') {
				end_command("\n");
				++i;
				++line;
				skip_heredocs();
				continue;
			}
			if (c == '#') {
				while (i < s.size() && s[i] != '\n')
					++i;
				continue;
			}
			if (!in_dbracket &&
			    (c == '<' || c == '>' || (c == '&' && at(i + 1) == '>')) &&
			    at(i + 1) != '(') {
				redirection();
				continue;
			}
			if (!in_dbracket &&
			    (c == ';' || c == '&' || c == '|' || c == '(' || c == ')')) {
				if (c == '(' && at(i + 1) == '(' &&
				    cur.words.empty()) { // (( arithmetic ))
					ShWord w{"((", false};
					i += 2;
					balanced(w.raw, true);
					word(std::move(w));
					continue;
				}
				std::string op(1, c);
				const char n = at(i + 1);
				if ((c == ';' && (n == ';' || n == '&')) ||
				    (c == '&' && n == '&') || (c == '|' && (n == '|' || n == '&')))
					op += n;
				if (op == ";;" && at(i + 2) == '&')
					op += '&';
				i += op.size();
				end_command(op);
				continue;
			}
			word(read_word());
		}
		if (!cur.words.empty())
			end_command("");
	}
};

// --- classification -------------------------------------------------------------------

const std::set<std::string>& harmless_builtins()
{
	static const std::set<std::string> b{
	    "[[",    "[",      "test",  "true",    "false",   ":",        "continue",
	    "break", "return", "local", "declare", "typeset", "readonly", "export",
	    "unset", "shopt",  "set",   "type",    "hash",    "((",
	};
	return b;
}

bool is_assignment(const std::string& raw)
{
	if (raw.empty() || !is_name_start(raw[0]))
		return false;
	size_t k = 1;
	while (k < raw.size() && is_name_char(raw[k]))
		++k;
	if (k < raw.size() && raw[k] == '[') {
		k = raw.find(']', k);
		if (k == std::string::npos)
			return false;
		++k;
	}
	if (k < raw.size() && raw[k] == '+')
		++k;
	return k < raw.size() && raw[k] == '=';
}

const std::set<std::string>& keywords()
{
	static const std::set<std::string> k{"if",    "then", "elif", "else", "while",
	                                     "until", "do",   "!",    "time", "{",
	                                     "}",     "fi",   "done", "esac"};
	return k;
}

// The first word of each command after leading keywords and assignments, for a command
// substitution's text: harmful when any is not a harmless builtin (echo and printf only
// print into the substitution).
// A command substitution is lexed by a Lexer of its own, at most 8 deep.
// NOLINTNEXTLINE(misc-no-recursion): bounded, as said
bool Lexer::harmful(const std::string& inner) const
{
	if (nesting > 8)
		return true;
	Lexer l;
	l.s = inner;
	l.nesting = nesting + 1;
	l.run();
	for (const auto& c : l.out) {
		size_t k = 0;
		while (k < c.words.size() && keywords().count(c.words[k].raw))
			++k;
		while (k < c.words.size() && is_assignment(c.words[k].raw))
			++k;
		for (size_t j = k; j < c.words.size(); ++j)
			if (c.words[j].subst)
				return true;
		if (k >= c.words.size())
			continue;
		const std::string cw = unquote(c.words[k].raw);
		if (cw == "for" || cw == "in" || cw == "case")
			continue;
		if (!harmless_builtins().count(cw) && cw != "echo" && cw != "printf")
			return true;
	}
	return false;
}

std::string trimmed(std::string_view text, int line)
{
	// The line `line` (1-based) of text, without leading blanks, at most 100 characters.
	size_t pos = 0;
	for (int l = 1; l < line && pos != std::string_view::npos; ++l) {
		pos = text.find('\n', pos);
		if (pos != std::string_view::npos)
			++pos;
	}
	if (pos == std::string_view::npos || pos > text.size())
		return "";
	size_t end = text.find('\n', pos);
	std::string_view l =
	    text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
	while (!l.empty() && (l.front() == ' ' || l.front() == '\t'))
		l.remove_prefix(1);
	while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r'))
		l.remove_suffix(1);
	std::string r(l.substr(0, 100));
	if (l.size() > 100)
		r += "…";
	return r;
}

// --- reading files safely ---------------------------------------------------------------

// A regular file (symlinks followed, as bash's `source` does), at most max_file_bytes;
// O_NONBLOCK so that opening a FIFO never waits.
std::optional<std::string> read_regular(const std::string& path)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
	if (!fd.valid())
		return std::nullopt;
	struct stat st {
	};
	if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
	    static_cast<size_t>(st.st_size) > max_file_bytes)
		return std::nullopt;
	std::string out;
	char buf[8192];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out.append(buf, static_cast<size_t>(n));
		if (out.size() > max_file_bytes)
			return std::nullopt;
	}
	return out;
}

bool is_dir(const std::string& path)
{
	struct stat st {
	};
	return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path)
{
	struct stat st {
	};
	return ::stat(path.c_str(), &st) == 0;
}

std::string real(const std::string& path)
{
	char* r = ::realpath(path.c_str(), nullptr);
	if (!r)
		return path;
	std::string s = r;
	std::free(r);
	return s;
}

std::string basename_of(const std::string& p)
{
	const size_t slash = p.rfind('/');
	return slash == std::string::npos ? p : p.substr(slash + 1);
}

// Directory entries (names, no "." or ".."), sorted bytewise, at most `limit`.
std::vector<std::string> entries(const std::string& dir, size_t limit)
{
	std::vector<std::string> names;
	UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK));
	if (!fd.valid())
		return names;
	DIR* d = ::fdopendir(fd.get());
	if (!d)
		return names;
	(void)fd.release();
	while (struct dirent* e = ::readdir(d)) { // NOLINT(concurrency-mt-unsafe): one thread
		const std::string n = e->d_name;
		if (n == "." || n == "..")
			continue;
		names.push_back(n);
		if (names.size() >= limit)
			break;
	}
	::closedir(d);
	std::sort(names.begin(), names.end());
	return names;
}

bool has_glob(const std::string& pattern)
{
	for (size_t k = 0; k < pattern.size(); ++k) {
		if (pattern[k] == '\\') {
			++k;
			continue;
		}
		if (is_glob_char(pattern[k]))
			return true;
	}
	return false;
}

std::string unescape(const std::string& pattern)
{
	std::string o;
	for (size_t k = 0; k < pattern.size(); ++k) {
		if (pattern[k] == '\\' && k + 1 < pattern.size())
			++k;
		o += pattern[k];
	}
	return o;
}

std::string join_path(const std::string& dir, const std::string& rel)
{
	if (rel.empty())
		return dir;
	if (rel[0] == '/')
		return rel;
	return dir + (dir.empty() || dir.back() == '/' ? "" : "/") + rel;
}

// --- the scan -------------------------------------------------------------------------

struct LoopVar {
	std::vector<std::string> words; // raw
	std::string where;              // "FILE:LINE"
};

class Scanner
{
      public:
	Scanner(BashrcScan& r, std::map<std::string, std::string> vars, bool collect_code)
	    : r_(r), vars_(std::move(vars)), collect_code_(collect_code)
	{
	}

	// Sets where the snippets found go (the scan's own list, or per_package).
	void to_per_package() { per_package_ = true; }
	void profile(bool p) { profile_ = p; }
	bool snippet_seen() const { return seen_; }

	// A sourced file is scanned by the same Scanner, at most 16 deep, never one being scanned.
	// NOLINTNEXTLINE(misc-no-recursion): bounded, as said
	void file(const std::string& path)
	{
		if (depth_ > 16 || r_.files.size() > 4096)
			return;
		const std::string key = real(path);
		if (active_.count(key))
			return;
		auto text = read_regular(path);
		if (!text)
			return;
		r_.files.push_back(path);
		active_.insert(key);
		++depth_;
		commands(path, *text);
		--depth_;
		active_.erase(key);
	}

      private:
	BashrcScan& r_;
	std::map<std::string, std::string> vars_;
	std::map<std::string, LoopVar> loops_;
	std::set<std::string> active_;
	int depth_ = 0;
	bool collect_code_ = true;
	bool per_package_ = false;
	bool profile_ = false;
	bool seen_ = false;

	void code(const std::string& file, std::string_view text, int line)
	{
		if (seen_ || !collect_code_)
			return;
		auto& slot = profile_ ? r_.profile_code : r_.first_code;
		if (!slot)
			slot = Place{file, line, trimmed(text, line), ""};
	}

	void snippet(Place at, const std::string& path)
	{
		SnippetUse u{std::move(at), path, false, ""};
		if (auto t = read_regular(path)) {
			u.exists = true;
			u.libexec = snippet_libexec(*t);
		}
		(per_package_ ? r_.per_package : r_.snippets).push_back(std::move(u));
		seen_ = true;
	}

	static bool names_snippet(const std::string& path)
	{
		if (basename_of(path) == "phasebox.bashrc" ||
		    basename_of(real(path)) == "phasebox.bashrc")
			return true;
		auto t = read_regular(path);
		return t && t->rfind(std::string(snippet_marker), 0) == 0;
	}

	// `source PATH` (PATH as expanded) at `at`.
	// NOLINTNEXTLINE(misc-no-recursion): bounded, see file()
	void sourced(const Place& at, const std::string& path)
	{
		if (names_snippet(path))
			snippet(at, path);
		else if (exists(path))
			file(path);
		// A missing file sources nothing.
	}

	// NOLINTNEXTLINE(misc-no-recursion): bounded, see file()
	void loop(const LoopVar& lv)
	{
		for (const auto& raw : lv.words) {
			auto w = expand_word(raw, vars_);
			if (!w) {
				r_.unresolved.push_back("the loop at " + lv.where + ": " +
				                        unquote(raw));
				continue;
			}
			if (!has_glob(*w)) {
				Place p{unescape(*w), 0, "", "the loop at " + lv.where};
				sourced(p, unescape(*w));
				continue;
			}
			const size_t slash = w->rfind('/');
			const std::string dir =
			    slash == std::string::npos ? "." : w->substr(0, slash);
			const std::string pat =
			    slash == std::string::npos ? *w : w->substr(slash + 1);
			if (has_glob(dir)) {
				r_.unresolved.push_back("the loop at " + lv.where + ": " +
				                        unquote(raw));
				continue;
			}
			const std::string d = unescape(dir.empty() ? "/" : dir);
			for (const auto& n : entries(d, 4096)) {
				if (::fnmatch(pat.c_str(), n.c_str(), FNM_PERIOD) != 0)
					continue;
				const std::string p = join_path(d, n);
				sourced(Place{p, 0, "", "the loop at " + lv.where}, p);
			}
		}
	}

	// Whether `raw` is exactly $NAME or ${NAME} (quoted or not); NAME in `name`.
	static bool variable_only(const std::string& raw, std::string& name)
	{
		std::string t = unquote(raw);
		if (t.size() < 2 || t[0] != '$')
			return false;
		if (t[1] == '{') {
			if (t.back() != '}')
				return false;
			t = t.substr(2, t.size() - 3);
		} else {
			t = t.substr(1);
		}
		if (t.empty() || !is_name_start(t[0]) ||
		    !std::all_of(t.begin(), t.end(), [](char c) { return is_name_char(c); }))
			return false;
		name = t;
		return true;
	}

	void assign(const std::string& raw)
	{
		const size_t eq = raw.find('=');
		std::string name = raw.substr(0, eq);
		if (!name.empty() && name.back() == '+')
			return; // appending: leave the value as it was
		if (name.find('[') != std::string::npos)
			return;
		auto v = expand_word(raw.substr(eq + 1), vars_);
		if (v)
			vars_[name] = unescape(*v);
		else
			vars_.erase(name);
	}

	// NOLINTNEXTLINE(misc-no-recursion): bounded, see file()
	void commands(const std::string& file, std::string_view text)
	{
		auto cmds = lex_shell(text);
		std::vector<bool> frames; // true: a function body
		bool func_pending = false;
		int functions = 0;
		bool pattern_expected = false;
		int cases = 0;
		for (size_t k = 0; k < cmds.size(); ++k) {
			const ShCommand& c = cmds[k];
			auto& w = c.words;
			size_t a = 0;
			// name ( ) — a function definition; its body is the next compound command.
			if (w.size() == 1 && c.terminator == "(" && k + 1 < cmds.size() &&
			    cmds[k + 1].words.empty() && cmds[k + 1].terminator == ")") {
				func_pending = true;
				++k;
				continue;
			}
			if (cases > 0 && pattern_expected && c.terminator == ")") {
				pattern_expected = false;
				continue;
			}
			for (; a < w.size() && keywords().count(w[a].raw); ++a) {
				const std::string& kw = w[a].raw;
				if (kw == "{") {
					frames.push_back(func_pending);
					functions += func_pending ? 1 : 0;
					func_pending = false;
				} else if (kw == "}") {
					if (!frames.empty()) {
						functions -= frames.back() ? 1 : 0;
						frames.pop_back();
					}
				} else if (kw == "esac") {
					cases = std::max(0, cases - 1);
					pattern_expected = false;
				}
			}
			if (c.terminator == ";;" || c.terminator == ";&" || c.terminator == ";;&")
				pattern_expected = cases > 0;
			if (a >= w.size())
				continue;
			const std::string first = unquote(w[a].raw);
			const int line = c.line;
			const Place here{file, line, trimmed(text, line), ""};
			if (first == "function") {
				func_pending = true;
				if (w.back().raw == "{") {
					frames.push_back(true);
					++functions;
					func_pending = false;
				}
				continue;
			}
			if (first == "for" || first == "select") {
				// for NAME in WORDS; — the words are sourced where a `source $NAME`
				// says so
				if (a + 2 < w.size() && !w[a + 1].raw.empty() &&
				    is_name_start(w[a + 1].raw[0]) && w[a + 2].raw == "in") {
					LoopVar lv{{}, file + ":" + std::to_string(line)};
					bool subst = false;
					for (size_t j = a + 3; j < w.size(); ++j) {
						lv.words.push_back(w[j].raw);
						subst = subst || w[j].subst;
					}
					loops_[w[a + 1].raw] = lv;
					if (subst && functions == 0)
						code(file, text, line);
				}
				continue;
			}
			if (first == "case") {
				++cases;
				pattern_expected = true;
				if (a + 1 < w.size() && w[a + 1].subst && functions == 0)
					code(file, text, line);
				continue;
			}
			size_t b = a;
			bool subst = false;
			for (size_t j = a; j < w.size(); ++j)
				subst = subst || w[j].subst;
			for (; b < w.size() && is_assignment(w[b].raw); ++b)
				if (functions == 0)
					assign(w[b].raw);
			if (b >= w.size()) {
				if (subst && functions == 0)
					code(file, text, line);
				continue;
			}
			const std::string cw = unquote(w[b].raw);
			if (cw == "source" || cw == ".") {
				if (b + 1 >= w.size())
					continue;
				const std::string& arg = w[b + 1].raw;
				std::string name;
				if (variable_only(arg, name) && loops_.count(name)) {
					loop(loops_[name]);
					continue;
				}
				auto p = expand_word(arg, vars_);
				if (p && !has_glob(*p)) {
					sourced(here, unescape(*p));
				} else if (basename_of(unquote(arg)) == "phasebox.bashrc") {
					snippet(here, unquote(arg));
				} else {
					r_.unresolved.push_back(file + ":" + std::to_string(line) +
					                        ": " + cw + " " + unquote(arg));
					if (functions == 0)
						code(file, text, line);
				}
				continue;
			}
			if (cw == "local" || cw == "declare" || cw == "typeset" || cw == "export" ||
			    cw == "readonly") {
				for (size_t j = b + 1; j < w.size(); ++j)
					if (is_assignment(w[j].raw) && functions == 0)
						assign(w[j].raw);
			}
			if (harmless_builtins().count(cw) && !subst)
				continue;
			if (functions == 0)
				code(file, text, line);
		}
	}
};

// --- profiles ---------------------------------------------------------------------------

// Lines of a Portage list file: comments and blank lines dropped.
std::vector<std::string> grab_lines(const std::string& text)
{
	std::vector<std::string> lines;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t end = text.find('\n', pos);
		if (end == std::string::npos)
			end = text.size();
		std::string l = text.substr(pos, end - pos);
		pos = end + 1;
		if (auto hash = l.find('#'); hash != std::string::npos)
			l.erase(hash);
		const size_t b = l.find_first_not_of(" \t\r");
		if (b == std::string::npos)
			continue;
		const size_t e = l.find_last_not_of(" \t\r");
		lines.push_back(l.substr(b, e - b + 1));
	}
	return lines;
}

// repos.conf (a file, or a directory of files): section name -> location.
std::map<std::string, std::string> repo_locations(const std::string& config_root)
{
	std::map<std::string, std::string> locs{{"gentoo", config_root + "var/db/repos/gentoo"}};
	const std::string rc = config_root + "etc/portage/repos.conf";
	std::vector<std::string> files;
	if (is_dir(rc)) {
		for (const auto& n : entries(rc, 256))
			if (n[0] != '.' && n.back() != '~')
				files.push_back(rc + "/" + n);
	} else {
		files.push_back(rc);
	}
	for (const auto& f : files) {
		auto t = read_regular(f);
		if (!t)
			continue;
		std::string section;
		for (const auto& l : grab_lines(*t)) {
			if (l.front() == '[' && l.back() == ']') {
				section = l.substr(1, l.size() - 2);
				continue;
			}
			const size_t eq = l.find('=');
			if (eq == std::string::npos || section.empty() || section == "DEFAULT")
				continue;
			std::string k = l.substr(0, eq), v = l.substr(eq + 1);
			k.erase(k.find_last_not_of(" \t") + 1);
			v.erase(0, v.find_first_not_of(" \t"));
			if (k == "location" && !v.empty())
				locs[section] = v;
		}
	}
	return locs;
}

// The repository holding a profile directory: the part of its real path before the last
// "/profiles/".
std::string repo_of(const std::string& profile)
{
	const std::string r = real(profile) + "/";
	const size_t at = r.rfind("/profiles/");
	return at == std::string::npos ? "" : r.substr(0, at);
}

// NOLINTNEXTLINE(misc-no-recursion): parents first, at most 32 deep, each profile once
void add_profile(const std::string& node, const std::map<std::string, std::string>& repos,
                 std::vector<std::string>& out, std::set<std::string>& seen,
                 std::vector<std::string>& unresolved, int depth)
{
	const std::string key = real(node);
	if (depth > 32 || seen.count(key) || out.size() > 256)
		return;
	seen.insert(key);
	if (auto t = read_regular(node + "/parent")) {
		for (const auto& p : grab_lines(*t)) {
			std::string path;
			const size_t colon = p.find(':');
			if (p[0] == '/') {
				path = p;
			} else if (colon == 0) {
				const std::string repo = repo_of(node);
				if (repo.empty()) {
					unresolved.push_back("profile parent '" + p + "' of " +
					                     node);
					continue;
				}
				path = repo + "/profiles/" + p.substr(1);
			} else if (colon != std::string::npos) {
				auto r = repos.find(p.substr(0, colon));
				if (r == repos.end()) {
					unresolved.push_back("profile parent '" + p + "' of " +
					                     node);
					continue;
				}
				path = r->second + "/profiles/" + p.substr(colon + 1);
			} else {
				path = real(node) + "/" + p;
			}
			if (!is_dir(path)) {
				unresolved.push_back("profile parent '" + p + "' of " + node);
				continue;
			}
			add_profile(real(path), repos, out, seen, unresolved, depth + 1);
		}
	}
	out.push_back(node);
}

// --- small parsers ----------------------------------------------------------------------

// One shlex word at s[i] (quotes: '...' literal; "..." with \\ and \" escapes; \x outside
// quotes), up to unquoted whitespace — or, with `bash` (as portageq envvar -v writes a
// value: shlex.quote, or before Portage 3.0.77 portage._shell_quote's "..." with \$ and \`
// escaped too), only up to an unquoted newline.  nullopt for an unbalanced quote.
std::optional<std::string> shlex_word(const std::string& s, size_t& i, bool bash)
{
	const bool stop_at_newline = bash;
	const char* dq_escapes = bash ? "\\\"$`\n" : "\\\"";
	std::string w;
	while (i < s.size()) {
		const char c = s[i];
		if (c == '\n' || (!stop_at_newline && (c == ' ' || c == '\t' || c == '\r')))
			break;
		if (c == '\\' && i + 1 < s.size()) {
			w += s[i + 1];
			i += 2;
			continue;
		}
		if (c == '\'' || c == '"') {
			const size_t close = [&] {
				size_t k = i + 1;
				while (k < s.size() && s[k] != c) {
					if (c == '"' && s[k] == '\\' && k + 1 < s.size())
						++k;
					++k;
				}
				return k;
			}();
			if (close >= s.size())
				return std::nullopt;
			for (size_t k = i + 1; k < close; ++k) {
				if (c == '"' && s[k] == '\\' && k + 1 < close &&
				    one_of(dq_escapes, s[k + 1]))
					++k;
				w += s[k];
			}
			i = close + 1;
			continue;
		}
		w += c;
		++i;
	}
	return w;
}

std::string strip_escapes(std::string_view s)
{
	std::string o;
	for (size_t k = 0; k < s.size(); ++k) {
		if (s[k] == '\x1b' && k + 1 < s.size() && s[k + 1] == '[') {
			k += 2;
			while (k < s.size() && !((s[k] >= '@' && s[k] <= '~')))
				++k;
			continue;
		}
		o += s[k];
	}
	return o;
}

} // namespace

// ---------------------------------------------------------------------------------------

std::vector<ShCommand> lex_shell(std::string_view text)
{
	Lexer l;
	l.s = text;
	l.run();
	return std::move(l.out);
}

std::string unquote(const std::string& raw)
{
	std::string o;
	char q = 0;
	for (size_t k = 0; k < raw.size(); ++k) {
		const char c = raw[k];
		if (q == '\'') {
			if (c == '\'')
				q = 0;
			else
				o += c;
		} else if (q == '"') {
			if (c == '"')
				q = 0;
			else if (c == '\\' && k + 1 < raw.size() && one_of("$`\"\\\n", raw[k + 1]))
				o += raw[++k];
			else
				o += c;
		} else if (c == '\'' || c == '"') {
			q = c;
		} else if (c == '\\' && k + 1 < raw.size()) {
			o += raw[++k];
		} else {
			o += c;
		}
	}
	return o;
}

std::optional<std::string> expand_word(const std::string& raw,
                                       const std::map<std::string, std::string>& vars)
{
	std::string o;
	auto literal = [&o](char c, bool quoted) {
		if (quoted && (is_glob_char(c) || c == '\\'))
			o += '\\';
		o += c;
	};
	auto value = [&vars](const std::string& n) {
		auto v = vars.find(n);
		return v == vars.end() ? std::string() : v->second;
	};
	// $... at raw[k] == '$'; appends the value; false for what is not supported.
	auto dollar = [&](size_t& k, bool quoted) -> bool {
		++k;
		if (k >= raw.size()) {
			literal('$', quoted);
			return true;
		}
		std::string v;
		if (raw[k] == '{') {
			const size_t close = raw.find('}', k);
			if (close == std::string::npos)
				return false;
			const std::string in = raw.substr(k + 1, close - k - 1);
			k = close + 1;
			size_t n = 0;
			while (n < in.size() &&
			       (n == 0 ? is_name_start(in[n]) : is_name_char(in[n])))
				++n;
			if (n == 0)
				return false;
			const std::string name = in.substr(0, n), op = in.substr(n);
			v = value(name);
			if (op == "%/" || op == "%%/") {
				if (!v.empty() && v.back() == '/')
					v.pop_back();
			} else if (op.rfind(":-", 0) == 0 || op.rfind('-', 0) == 0) {
				const std::string def = op.substr(op[0] == ':' ? 2 : 1);
				if (def.find_first_of("$`\\'\"") != std::string::npos)
					return false;
				if (v.empty() && (op[0] == ':' || !vars.count(name)))
					v = def;
			} else if (!op.empty()) {
				return false;
			}
		} else if (is_name_start(raw[k])) {
			size_t n = k;
			while (n < raw.size() && is_name_char(raw[n]))
				++n;
			v = value(raw.substr(k, n - k));
			k = n;
		} else {
			return false;
		}
		for (char c : v)
			literal(c, quoted);
		return true;
	};
	if (!raw.empty() && raw[0] == '~')
		return std::nullopt;
	size_t k = 0;
	while (k < raw.size()) {
		const char c = raw[k];
		if (c == '`')
			return std::nullopt;
		if (c == '\\') {
			if (k + 1 < raw.size())
				literal(raw[k + 1], true);
			k += 2;
		} else if (c == '\'') {
			const size_t close = raw.find('\'', k + 1);
			if (close == std::string::npos)
				return std::nullopt;
			for (size_t j = k + 1; j < close; ++j)
				literal(raw[j], true);
			k = close + 1;
		} else if (c == '"') {
			++k;
			while (k < raw.size() && raw[k] != '"') {
				if (raw[k] == '`')
					return std::nullopt;
				if (raw[k] == '\\' && k + 1 < raw.size() &&
				    one_of("$`\"\\\n", raw[k + 1])) {
					literal(raw[k + 1], true);
					k += 2;
				} else if (raw[k] == '$') {
					if (!dollar(k, true))
						return std::nullopt;
				} else {
					literal(raw[k], true);
					++k;
				}
			}
			if (k >= raw.size())
				return std::nullopt;
			++k;
		} else if (c == '$') {
			if (!dollar(k, false))
				return std::nullopt;
		} else {
			o += c;
			++k;
		}
	}
	return o;
}

std::string snippet_libexec(std::string_view text)
{
	const std::string_view key = "local libexec=\"";
	const size_t at = text.find(key);
	if (at == std::string_view::npos)
		return "";
	const size_t start = at + key.size();
	const size_t end = text.find('"', start);
	if (end == std::string_view::npos)
		return "";
	return std::string(text.substr(start, end - start));
}

std::vector<std::string> profile_bashrcs(const std::string& config_root,
                                         std::vector<std::string>& unresolved)
{
	std::vector<std::string> nodes;
	std::set<std::string> seen;
	const auto repos = repo_locations(config_root);
	std::string top = config_root + "etc/portage/make.profile";
	if (!is_dir(top))
		top = config_root + "etc/make.profile";
	if (is_dir(top))
		add_profile(top, repos, nodes, seen, unresolved, 0);
	if (is_dir(config_root + "etc/portage/profile"))
		nodes.push_back(config_root + "etc/portage/profile");
	std::vector<std::string> bashrcs;
	for (const auto& n : nodes) {
		const std::string b = n + "/profile.bashrc";
		struct stat st {
		};
		if (::stat(b.c_str(), &st) == 0 && S_ISREG(st.st_mode))
			bashrcs.push_back(b);
	}
	return bashrcs;
}

BashrcScan scan_bashrcs(const ScanInput& in)
{
	BashrcScan r;
	r.profile_bashrcs = in.profile_bashrcs;
	r.bashrc = in.config_root + "etc/portage/bashrc";
	r.bashrc_exists = read_regular(r.bashrc).has_value();
	Scanner s(r, in.vars, true);
	s.profile(true);
	for (const auto& p : in.profile_bashrcs)
		s.file(p);
	s.profile(false);
	s.file(r.bashrc);
	// /etc/portage/env/<category>/<file>: sourced after bashrc for the matching package.
	const std::string env = in.config_root + "etc/portage/env";
	size_t n = 0;
	for (const auto& cat : entries(env, 1024)) {
		const std::string d = env + "/" + cat;
		if (!is_dir(d))
			continue;
		for (const auto& f : entries(d, 1024)) {
			if (++n > 4096)
				break;
			BashrcScan local;
			Scanner ps(local, in.vars, false);
			ps.to_per_package();
			ps.file(d + "/" + f);
			for (auto& u : local.per_package)
				r.per_package.push_back(std::move(u));
		}
	}
	return r;
}

std::optional<std::vector<std::string>> shlex_split(const std::string& s)
{
	std::vector<std::string> words;
	size_t i = 0;
	while (i < s.size()) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			++i;
			continue;
		}
		auto w = shlex_word(s, i, false);
		if (!w)
			return std::nullopt;
		words.push_back(*w);
	}
	return words;
}

std::map<std::string, std::string> parse_envvar_lines(std::string_view out)
{
	std::map<std::string, std::string> vars;
	const std::string s(out);
	size_t i = 0;
	while (i < s.size()) {
		size_t n = i;
		while (n < s.size() && is_name_char(s[n]))
			++n;
		if (n == i || n >= s.size() || s[n] != '=' || !is_name_start(s[i])) {
			const size_t nl = s.find('\n', i);
			i = nl == std::string::npos ? s.size() : nl + 1;
			continue;
		}
		const std::string name = s.substr(i, n - i);
		i = n + 1;
		auto v = shlex_word(s, i, true);
		if (!v)
			break;
		vars[name] = *v;
		if (i < s.size() && s[i] == '\n')
			++i;
	}
	return vars;
}

std::vector<std::string> unknown_features_warned(std::string_view err)
{
	const std::string t = strip_escapes(err);
	const std::string key = "FEATURES variable contains unknown value(s): ";
	std::vector<std::string> tokens;
	const size_t at = t.find(key);
	if (at == std::string::npos)
		return tokens;
	size_t end = t.find('\n', at);
	if (end == std::string::npos)
		end = t.size();
	std::string list = t.substr(at + key.size(), end - at - key.size());
	size_t pos = 0;
	while (pos <= list.size()) {
		size_t comma = list.find(',', pos);
		if (comma == std::string::npos)
			comma = list.size();
		std::string tok = list.substr(pos, comma - pos);
		tok.erase(0, tok.find_first_not_of(" \t\r"));
		tok.erase(tok.find_last_not_of(" \t\r") + 1);
		if (!tok.empty())
			tokens.push_back(tok);
		pos = comma + 1;
	}
	return tokens;
}

std::vector<int> version_numbers(const std::string& v)
{
	std::vector<int> n;
	size_t k = 0;
	while (k < v.size() && v[k] >= '0' && v[k] <= '9') {
		long x = 0;
		while (k < v.size() && v[k] >= '0' && v[k] <= '9' && x < 100000)
			x = x * 10 + (v[k++] - '0');
		n.push_back(static_cast<int>(x));
		if (k < v.size() && v[k] == '.' && k + 1 < v.size() && v[k + 1] >= '0' &&
		    v[k + 1] <= '9')
			++k;
		else
			break;
	}
	if (n.size() < 2)
		n.clear();
	return n;
}

bool version_at_least(const std::vector<int>& a, const std::vector<int>& b)
{
	if (a.empty())
		return false;
	for (size_t k = 0; k < std::max(a.size(), b.size()); ++k) {
		const int x = k < a.size() ? a[k] : 0, y = k < b.size() ? b[k] : 0;
		if (x != y)
			return x > y;
	}
	return true;
}

std::string version_from_portageq(std::string_view out)
{
	const std::string t = strip_escapes(out);
	const size_t at = t.find("Portage ");
	if (at == std::string::npos)
		return "";
	size_t end = t.find_first_of(" \t\r\n", at + 8);
	std::string v =
	    t.substr(at + 8, end == std::string::npos ? std::string::npos : end - at - 8);
	return version_numbers(v).empty() ? "" : v;
}

std::string version_from_build_file(std::string_view text)
{
	size_t at = 0;
	while ((at = text.find("version", at)) != std::string_view::npos) {
		size_t k = at + 7;
		at = k;
		while (k < text.size() && (text[k] == ' ' || text[k] == '\t'))
			++k;
		if (k >= text.size() || (text[k] != ':' && text[k] != '='))
			continue;
		++k;
		while (k < text.size() && (text[k] == ' ' || text[k] == '\t'))
			++k;
		if (k >= text.size() || (text[k] != '\'' && text[k] != '"'))
			continue;
		const size_t close = text.find(text[k], k + 1);
		if (close == std::string_view::npos)
			return "";
		std::string v(text.substr(k + 1, close - k - 1));
		if (!version_numbers(v).empty())
			return v;
	}
	return "";
}

Overlap overlap(const std::string& native, const OverlapInput& in)
{
	Overlap o{native, "phasebox-" + native, true, "", ""};
	const std::string theirs = "Portage's " + native, ours = o.phasebox;
	if (native == "cgroup") {
		const bool known = !in.version.empty();
		const bool removed = known && version_at_least(in.version, {3, 0, 50}) &&
		                     !version_at_least(in.version, {3, 0, 82});
		const bool old_v1 = known && !version_at_least(in.version, {3, 0, 50});
		if (!in.native) {
			o.gives =
			    in.phasebox ? ours + " alone: a cgroup per phase" : "neither is on";
		} else if (removed) {
			o.gives = "this Portage has no cgroup feature (removed in 3.0.50, back in "
			          "3.0.82 for cgroup2): the token does nothing" +
			          std::string(in.phasebox ? "; " + ours +
			                                        " alone gives each phase its cgroup"
			                                  : "");
		} else if (old_v1) {
			o.gives =
			    in.phasebox
			        ? "both apply, side by side: Portage's cgroup (before 3.0.50, a v1 "
			          "hierarchy name=portage of its own) and " +
			              ours + "'s own"
			        : theirs + " alone (a v1 hierarchy name=portage)";
		} else if (!in.v2_at_root) {
			o.gives = theirs +
			          " does nothing here: cgroup2 is not mounted at /sys/fs/cgroup" +
			          std::string(in.phasebox ? "; " + ours +
			                                        " alone gives each phase its cgroup"
			                                  : "");
		} else if (in.phasebox) {
			o.gives =
			    "both apply where emerge runs as root: Portage puts each build into its "
			    "per-build cgroup (<root>/emerge-<pid>/<cpv>) and " +
			    ours +
			    " nests each src_* phase's leaf below it, so Portage's per-build totals "
			    "include the phases and phasebox's limits, accounting and orphan kill "
			    "hold" +
			    std::string(in.userpriv ? "; the userpriv phases get their leaves from the "
			                              "keeper of 'phasebox-cgroup adopt' (the delegated "
			                              "route)"
			                            : "");
		} else {
			o.gives = theirs +
			          " alone: one cgroup per build, accounting only, where emerge "
			          "runs as root";
		}
		if (in.native && !known)
			o.gives += " (Portage's version unknown: taken as 3.0.82 or later)";
		return o;
	}
	const std::string ns = native == "network-sandbox" ? "network"
	                       : native == "ipc-sandbox"   ? "IPC"
	                       : native == "pid-sandbox"   ? "pid"
	                                                   : "mount";
	if (in.native && in.phasebox) {
		o.gives = "both apply where emerge runs as root: Portage's " + ns +
		          " namespace, then phasebox's inside it (the phase sees phasebox's)";
		if (native == "pid-sandbox")
			o.gives +=
			    "; phasebox's pid 1 kills and names what the phase leaves behind";
		if (native == "network-sandbox")
			o.gives += "; both follow the same exceptions";
	} else if (in.native) {
		o.gives = theirs +
		          " alone, where emerge runs as root (where it cannot have the "
		          "namespace it prints 'Unable to unshare' and runs the phase without)";
	} else if (in.phasebox) {
		o.gives = ours + " alone (the src_* phases)";
	} else {
		o.gives = "neither is on";
	}
	return o;
}

bool emerge_among(const std::vector<std::string>& cmdlines)
{
	for (const auto& c : cmdlines) {
		size_t pos = 0;
		for (int arg = 0; arg < 2 && pos < c.size(); ++arg) {
			size_t end = c.find('\0', pos);
			if (end == std::string::npos)
				end = c.size();
			const std::string a = c.substr(pos, end - pos);
			pos = end + 1;
			const std::string b = basename_of(a);
			if (b == "emerge" || b == "ebuild" || b == "ebuild.sh")
				return true;
		}
	}
	return false;
}

} // namespace phasebox::portage
