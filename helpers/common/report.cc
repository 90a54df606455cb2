#include "report.hh"

#include <cstdio>
#include <cstring>
#include <vector>

namespace phasebox::report {
namespace {
const char* g_prog = "phasebox";
std::string g_context;
std::string g_elog;
UniqueFd g_elog_fd; // open_elog()'s
bool g_elog_failed = false;

std::string prefix()
{
	std::string p = g_prog;
	p += ": ";
	if (!g_context.empty())
		p += g_context + ": ";
	return p;
}

// The elog file cannot be written: said once, on stderr only (never through elog again);
// the messages themselves are not lost, they are on stderr.
void elog_failed(const Error& e)
{
	g_elog_failed = true;
	std::string line = prefix() + "elog: " + e.what + ", ignoring";
	if (e.err)
		line += std::string(": ") + std::strerror(e.err);
	std::fprintf(stderr, "%s\n", line.c_str());
}

// To the phase's elog file too, when there is one.
void to_elog(elog::Class c, const std::string& text)
{
	if (g_elog.empty() || g_elog_failed || text.empty())
		return;
	const std::string lines = elog::format(c, text);
	const Status s = g_elog_fd.valid() ? elog::write(g_elog_fd.get(), lines) : elog::append(g_elog, lines);
	if (!s)
		elog_failed(s.error());
}

std::string vformat(const char* fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	const int n = std::vsnprintf(nullptr, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return fmt;
	std::string out(static_cast<size_t>(n) + 1, '\0');
	std::vsnprintf(out.data(), out.size(), fmt, ap);
	out.resize(static_cast<size_t>(n));
	return out;
}

void say(elog::Class c, const std::string& text)
{
	const std::string line = prefix() + text;
	std::fprintf(stderr, "%s\n", line.c_str());
	to_elog(c, line);
}
} // namespace

void init(const char* prog)
{
	g_prog = prog;
	g_context.clear();
	g_elog.clear();
	g_elog_fd.reset();
	g_elog_failed = false;
}
void set_context(std::string context) { g_context = std::move(context); }
void set_elog(std::string path)
{
	g_elog = std::move(path);
	g_elog_fd.reset();
	g_elog_failed = false;
}

void open_elog(std::string path)
{
	set_elog(std::move(path));
	if (g_elog.empty())
		return;
	auto f = elog::open(g_elog);
	if (f)
		g_elog_fd = std::move(f.value());
	else
		elog_failed(f.error());
}

void error(const Error& e, const std::string& hint)
{
	std::string line = prefix() + e.what;
	if (e.err)
		line += std::string(": ") + std::strerror(e.err);
	std::fprintf(stderr, "%s\n", line.c_str());
	if (!hint.empty()) {
		std::fprintf(stderr, "%s%s\n", prefix().c_str(), hint.c_str());
		line += "\n" + prefix() + hint;
	}
	to_elog(elog::Class::error, line);
}

// printf-style on purpose (no <format> in g++ 12); report.hh gives them the format
// attribute, so that every call is checked.
// NOLINTNEXTLINE(cert-dcl50-cpp)
void failure(const char* fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const std::string text = vformat(fmt, ap);
	va_end(ap);
	say(elog::Class::error, text);
}

// NOLINTNEXTLINE(cert-dcl50-cpp)
void message(const char* fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const std::string text = vformat(fmt, ap);
	va_end(ap);
	say(elog::Class::warn, text);
}

void ignoring(const Error& e)
{
	std::string text = e.what + ", ignoring";
	if (e.err)
		text += std::string(": ") + std::strerror(e.err);
	say(elog::Class::warn, text);
}

void notice(elog::Class c, const std::vector<std::string>& ls)
{
	if (ls.empty())
		return;
	std::string text;
	for (size_t i = 0; i < ls.size(); ++i) {
		std::fprintf(stderr, "%s\n", ls[i].c_str());
		text += (i ? "\n" : "") + (ls[i].rfind(" * ", 0) == 0 ? ls[i].substr(3) : ls[i]);
	}
	to_elog(c, text);
}

void lines(const std::vector<std::string>& ls)
{
	for (const auto& l : ls)
		std::fprintf(stderr, "%s\n", l.c_str());
}

} // namespace phasebox::report
