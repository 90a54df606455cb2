#include "layout.hh"

#include <charconv>
#include <vector>

namespace phasebox::layout {
namespace {

bool allowed(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '+' || c == ':' || c == ',' || c == '=' || c == '@' ||
	       c == '-';
}

bool all_digits(std::string_view s)
{
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

std::vector<std::string_view> split(std::string_view path)
{
	std::vector<std::string_view> out;
	while (!path.empty()) {
		if (path[0] == '/') {
			path.remove_prefix(1);
			continue;
		}
		auto slash = path.find('/');
		out.push_back(path.substr(0, slash));
		path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
	}
	return out;
}

} // namespace

std::string sanitize(std::string_view name)
{
	std::string out;
	for (unsigned char c : name) {
		if (out.size() >= 160)
			break;
		out.push_back(c == '/' ? ':' : allowed(c) ? static_cast<char>(c) : '_');
	}
	if (out.empty())
		out = "phase";
	if (out[0] == '.')
		out[0] = '_';
	return out;
}

std::string leaf_name(std::string_view name, long pid, unsigned collision)
{
	std::string out = sanitize(name) + ".pb" + std::to_string(pid);
	if (collision)
		out += "-" + std::to_string(collision);
	return out;
}

bool is_leaf_name(std::string_view e)
{
	auto dot = e.rfind(".pb");
	if (dot == std::string_view::npos || dot == 0)
		return false;
	std::string_view tail = e.substr(dot + 3);
	auto dash = tail.find('-');
	if (dash != std::string_view::npos) {
		if (!all_digits(tail.substr(dash + 1)))
			return false;
		tail = tail.substr(0, dash);
	}
	if (!all_digits(tail))
		return false;
	for (unsigned char c : e.substr(0, dot))
		if (!allowed(c))
			return false;
	return true;
}

std::string invocation_name(long pid) { return "inv-" + std::to_string(pid); }

bool is_invocation_name(std::string_view e)
{
	return e.size() > 4 && e.substr(0, 4) == "inv-" && parse_pid(e.substr(4)).has_value();
}

std::optional<long> parse_pid(std::string_view s)
{
	if (s.empty() || s.size() > 10 || !all_digits(s) || s[0] == '0')
		return std::nullopt;
	long v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc{} || p != s.data() + s.size() || v <= 0 || v > 0x3fffffff)
		return std::nullopt;
	return v;
}

static bool portage_name(std::string_view s)
{
	if (s.empty() || s == "." || s == "..")
		return false;
	for (unsigned char c : s)
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '+' || c == '-'))
			return false;
	return true;
}

std::optional<PortageBuild> portage_build(std::string_view current)
{
	auto parts = split(current);
	for (auto part : parts)
		if (part == "." || part == "..")
			return std::nullopt;
	// The first "emerge-<pid>" followed by a name: Portage's per-build cgroups are never
	// nested, and what is below one is phasebox's.
	for (size_t i = 0; i + 1 < parts.size(); ++i) {
		if (parts[i].substr(0, 7) != "emerge-")
			continue;
		auto pid = parse_pid(parts[i].substr(7));
		if (!pid || !portage_name(parts[i + 1]))
			continue;
		PortageBuild b;
		for (size_t j = 0; j <= i + 1; ++j)
			b.path += "/" + std::string(parts[j]);
		b.emerge = *pid;
		for (size_t j = i + 2; j < parts.size(); ++j)
			b.rest += (j == i + 2 ? "" : "/") + std::string(parts[j]);
		return b;
	}
	return std::nullopt;
}

std::string top_below(std::string_view anchor)
{
	std::string out;
	for (auto part : split(anchor))
		out += "/" + std::string(part);
	return out + std::string(top);
}

std::string invocation_of(std::string_view path)
{
	auto parts = split(path);
	if (parts.size() < 2 || !is_invocation_name(parts[parts.size() - 2]))
		return "";
	return std::string(parts[parts.size() - 2]);
}

namespace {

Placement classify_portage(std::string_view current)
{
	auto b = portage_build(current);
	if (!b)
		return {Where::outside, ""};
	if (b->rest.empty() || b->rest == portage_holder)
		return {Where::portage_build, b->path};
	const std::string_view first = std::string_view(b->rest).substr(0, b->rest.find('/'));
	if (is_leaf_name(first))
		return {Where::in_leaf, b->path + "/" + b->rest};
	return {Where::inner_node, ""};
}

bool portage_emerge_at(const std::vector<std::string_view>& parts, size_t i)
{
	return i + 1 < parts.size() && parts[i].substr(0, 7) == "emerge-" && parse_pid(parts[i].substr(7)) &&
	       portage_name(parts[i + 1]);
}

} // namespace

Placement classify(std::string_view current)
{
	auto all = split(current);
	// "." and ".." never appear in a path the kernel writes; refused rather than resolved,
	// since "/phasebox/leaves/x.pb1/.." would put a leaf above the leaf.
	for (auto part : all)
		if (part == "." || part == "..")
			return {Where::inner_node, ""};
	size_t k = 0;
	while (k < all.size() && all[k] != top.substr(1)) {
		if (portage_emerge_at(all, k))
			return classify_portage(current);
		++k;
	}
	if (k == all.size())
		return {Where::outside, ""};
	// The top and what is below it, and the prefix (the anchor) above it; every base is
	// rebuilt from the components, so that it is canonical however the path was written
	// (no empty component, absolute).
	std::string anchor;
	for (size_t i = 0; i < k; ++i)
		anchor += "/" + std::string(all[i]);
	std::vector<std::string_view> parts(all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
	std::string canonical = anchor;
	for (auto part : parts)
		canonical += "/" + std::string(part);
	const std::string top_path = anchor + std::string(top);
	// <top>/leaves/<leaf>[/...]
	if (parts.size() >= 3 && parts[1] == "leaves" && is_leaf_name(parts[2]))
		return {Where::in_leaf, canonical};
	if (parts.size() >= 3 && is_invocation_name(parts[1])) {
		std::string inv = top_path + "/" + std::string(parts[1]);
		if (parts[2] == "main")
			return {Where::adopted_main, inv + "/builds"};
		if (parts[2] == "builds" && parts.size() >= 4 && is_leaf_name(parts[3]))
			return {Where::in_leaf, canonical};
	}
	return {Where::inner_node, ""};
}

} // namespace phasebox::layout
