#include "report.hh"

#include <cstdio>
#include <cstring>
#include <vector>

namespace phasebox::report {
namespace {
const char* g_prog = "phasebox";
std::string g_context;

std::string prefix()
{
	std::string p = g_prog;
	p += ": ";
	if (!g_context.empty())
		p += g_context + ": ";
	return p;
}
} // namespace

void init(const char* prog) { g_prog = prog; }
void set_context(std::string context) { g_context = std::move(context); }

void error(const Error& e, const std::string& hint)
{
	std::string line = prefix() + e.what;
	if (e.err)
		line += std::string(": ") + std::strerror(e.err);
	std::fprintf(stderr, "%s\n", line.c_str());
	if (!hint.empty())
		std::fprintf(stderr, "%s%s\n", prefix().c_str(), hint.c_str());
}

// printf-style on purpose (no <format> in g++ 12); report.hh gives it the format attribute,
// so that every call is checked.
// NOLINTNEXTLINE(cert-dcl50-cpp)
void message(const char* fmt, ...)
{
	std::string p = prefix();
	std::fputs(p.c_str(), stderr);
	va_list ap;
	va_start(ap, fmt);
	std::vfprintf(stderr, fmt, ap);
	va_end(ap);
	std::fputc('\n', stderr);
}

void ignoring(const Error& e)
{
	std::fprintf(stderr, "%s%s, ignoring%s%s\n", prefix().c_str(), e.what.c_str(),
		     e.err ? ": " : "", e.err ? std::strerror(e.err) : "");
}

void lines(const std::vector<std::string>& ls)
{
	for (const auto& l : ls)
		std::fprintf(stderr, "%s\n", l.c_str());
}

} // namespace phasebox::report
