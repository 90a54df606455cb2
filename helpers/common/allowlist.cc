#include "allowlist.hh"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>

namespace phasebox::allow
{
namespace
{

bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Whitespace-separated tokens; with `comments`, '#' starts a comment to the end of the line.
std::vector<std::string> tokens(const std::string& text, bool comments)
{
	std::vector<std::string> out;
	size_t i = 0;
	while (i < text.size()) {
		char c = text[i];
		if (comments && c == '#') {
			while (i < text.size() && text[i] != '\n' && text[i] != '\r')
				++i;
			continue;
		}
		if (is_space(c)) {
			++i;
			continue;
		}
		size_t start = i;
		while (i < text.size() && !is_space(text[i]) && !(comments && text[i] == '#'))
			++i;
		out.push_back(text.substr(start, i - start));
	}
	return out;
}

bool all_digits(const std::string& s)
{
	return !s.empty() &&
	       std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// 1-65535, decimal, no sign, no leading zero.
bool parse_port(const std::string& s, unsigned& port)
{
	if (!all_digits(s) || s.size() > 5 || s[0] == '0')
		return false;
	unsigned long v = std::stoul(s);
	if (v < 1 || v > 65535)
		return false;
	port = static_cast<unsigned>(v);
	return true;
}

bool valid_limit(const std::string& s)
{
	return all_digits(s) && s.size() <= 6 && std::stoul(s) > 0;
}

bool valid_v4(const std::string& s)
{
	struct in_addr a {
	};
	// inet_pton() stops at a NUL: "127.0.0.1\0junk" (a hosts file may hold one) is no address.
	return s.find('\0') == std::string::npos && ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool valid_v6(const std::string& s)
{
	struct in6_addr a {
	};
	return s.find('\0') == std::string::npos && ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool valid_name(const std::string& s)
{
	if (s.empty() || s.size() > 253)
		return false;
	size_t label = 0;
	char prev = '.';
	for (char c : s) {
		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
			if (label == 0 && c == '-')
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		prev = c;
	}
	return prev != '-' && prev != '.';
}

Error bad(const std::string& what, const std::string& token, const std::string& why)
{
	return Error{EINVAL, what + " " + quote(token) + ": " + why};
}

void add(Parsed& p, Endpoint e)
{
	std::transform(e.host.begin(), e.host.end(), e.host.begin(),
	               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	if (std::find(p.endpoints.begin(), p.endpoints.end(), e) == p.endpoints.end())
		p.endpoints.push_back(std::move(e));
}

// The options part of a distcc host token: ",lzo,cpp" …
bool valid_options(const std::string& s)
{
	size_t i = 0;
	while (i < s.size()) {
		if (s[i] != ',')
			return false;
		size_t j = s.find(',', i + 1);
		std::string o =
		    s.substr(i + 1, j == std::string::npos ? std::string::npos : j - i - 1);
		if (o != "lzo" && o != "zstd" && o != "cpp" && o != "down" && o != "auth" &&
		    o.rfind("auth=", 0) != 0)
			return false;
		i = j == std::string::npos ? s.size() : j;
	}
	return true;
}

// One TCP host token: [v6] or HOST, then in either order :PORT and /LIMIT, then options.
Result<Endpoint> tcp_host(const std::string& tok)
{
	const std::string what = "DISTCC_HOSTS entry";
	Endpoint e;
	e.port = distcc_default_port;
	size_t i = 0;
	if (tok[0] == '[') {
		size_t close = tok.find(']');
		if (close == std::string::npos)
			return bad(what, tok, "an IPv6 address needs its closing ']'");
		e.host = tok.substr(1, close - 1);
		if (!valid_v6(e.host))
			return bad(what, tok, "not an IPv6 address in brackets");
		i = close + 1;
	} else {
		size_t end = tok.find_first_of("/=:,");
		e.host = tok.substr(0, end);
		i = end == std::string::npos ? tok.size() : end;
		if (!valid_host(e.host))
			return bad(what, tok, "not a host name or address");
	}
	bool have_port = false, have_limit = false;
	while (i < tok.size() && tok[i] != ',') {
		size_t end = tok.find_first_of("/=:,", i + 1);
		std::string part =
		    tok.substr(i + 1, end == std::string::npos ? std::string::npos : end - i - 1);
		if (tok[i] == ':' && !have_port) {
			if (!parse_port(part, e.port))
				return bad(what, tok, "the port must be 1-65535");
			have_port = true;
		} else if ((tok[i] == '/' || tok[i] == '=') && !have_limit) {
			if (!valid_limit(part))
				return bad(what, tok,
				           "the job limit after '/' must be a positive number");
			have_limit = true;
		} else {
			return bad(what, tok, "expected HOST[:PORT][/LIMIT][,OPTIONS]");
		}
		i = end == std::string::npos ? tok.size() : end;
	}
	if (!valid_options(tok.substr(i)))
		return bad(what, tok, "unknown option (distcc knows ,lzo ,zstd ,cpp ,down ,auth)");
	return e;
}

} // namespace

bool valid_host(const std::string& s)
{
	return valid_v4(s) || valid_v6(s) || valid_name(s);
}

std::string to_string(const Endpoint& e)
{
	std::string h = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
	return h + ":" + std::to_string(e.port);
}

Result<Parsed> parse_distcc_hosts(const std::string& text)
{
	Parsed p;
	for (const std::string& tok : tokens(text, true)) {
		if (tok == "--randomize" || tok.rfind("--localslots", 0) == 0)
			continue;
		if (tok == "+zeroconf") {
			p.notes.push_back(
			    "+zeroconf in DISTCC_HOSTS is not supported through the network "
			    "sandbox (mDNS discovery cannot cross it): list the hosts instead");
			continue;
		}
		if (tok == "localhost" || tok.rfind("localhost/", 0) == 0 ||
		    tok.rfind("localhost=", 0) == 0)
			continue;
		if (tok.find('@') != std::string::npos) {
			p.notes.push_back(
			    "ssh host " + quote(tok) +
			    " in DISTCC_HOSTS is not supported through the network sandbox "
			    "(use a TCP host, or RESTRICT the sandbox for this package)");
			continue;
		}
		auto e = tcp_host(tok);
		if (!e)
			return e.error();
		add(p, e.value());
	}
	return p;
}

Result<Parsed> parse_network_allow(const std::string& text)
{
	const std::string what = "PHASEBOX_NETWORK_ALLOW entry";
	Parsed p;
	for (const std::string& tok : tokens(text, false)) {
		size_t colon = tok.rfind(':');
		if (colon == std::string::npos || colon == 0)
			return bad(what, tok, "expected HOST:PORT or [IPV6]:PORT");
		Endpoint e;
		std::string host = tok.substr(0, colon);
		if (host.front() == '[') {
			if (host.back() != ']' || !valid_v6(host.substr(1, host.size() - 2)))
				return bad(what, tok, "not an IPv6 address in brackets");
			host = host.substr(1, host.size() - 2);
		} else if (!valid_v4(host) && !valid_name(host)) {
			return bad(what, tok,
			           "not a host name or IPv4 address (IPv6 goes in brackets)");
		}
		e.host = host;
		if (!parse_port(tok.substr(colon + 1), e.port))
			return bad(what, tok, "the port must be 1-65535");
		add(p, e);
	}
	return p;
}

} // namespace phasebox::allow
