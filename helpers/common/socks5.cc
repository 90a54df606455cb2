#include "socks5.hh"

#include <arpa/inet.h>
#include <cctype>
#include <sys/socket.h>

namespace phasebox::socks5
{

Parse parse_greeting(const uint8_t* p, size_t n, Greeting& out)
{
	if (n < 1)
		return Parse::need_more;
	if (p[0] != 5)
		return Parse::bad;
	if (n < 2)
		return Parse::need_more;
	size_t methods = p[1];
	if (methods == 0)
		return Parse::bad;
	if (n < 2 + methods)
		return Parse::need_more;
	out.no_auth = false;
	for (size_t i = 0; i < methods; ++i)
		if (p[2 + i] == 0)
			out.no_auth = true;
	out.consumed = 2 + methods;
	return Parse::ok;
}

Parse parse_request(const uint8_t* p, size_t n, Request& out)
{
	if (n < 4)
		return n >= 1 && p[0] != 5 ? Parse::bad : Parse::need_more;
	if (p[0] != 5 || p[2] != 0)
		return Parse::bad;
	out.cmd = p[1];
	size_t addr_len;
	size_t at = 4;
	switch (p[3]) {
	case 1:
		addr_len = 4;
		break;
	case 4:
		addr_len = 16;
		break;
	case 3:
		if (n < 5)
			return Parse::need_more;
		addr_len = p[4];
		at = 5;
		if (addr_len == 0)
			return Parse::bad;
		break;
	default:
		return Parse::bad;
	}
	if (n < at + addr_len + 2)
		return Parse::need_more;
	out.atyp = static_cast<Atyp>(p[3]);
	if (out.atyp == Atyp::domain) {
		out.host.assign(reinterpret_cast<const char*>(p + at), addr_len);
		for (char c : out.host)
			if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
			    c != '_' && c != ':')
				return Parse::bad;
	} else {
		char buf[INET6_ADDRSTRLEN];
		int af = out.atyp == Atyp::ipv4 ? AF_INET : AF_INET6;
		if (!::inet_ntop(af, p + at, buf, sizeof buf))
			return Parse::bad;
		out.host = buf;
	}
	out.port = (static_cast<unsigned>(p[at + addr_len]) << 8) | p[at + addr_len + 1];
	out.consumed = at + addr_len + 2;
	return Parse::ok;
}

std::vector<uint8_t> method_reply(bool no_auth)
{
	return {5, static_cast<uint8_t>(no_auth ? 0x00 : 0xff)};
}

std::vector<uint8_t> connect_request(int family, const uint8_t* addr, unsigned port)
{
	const size_t len = family == AF_INET ? 4 : 16;
	std::vector<uint8_t> m;
	m.reserve(9 + len);
	for (uint8_t b : {5, 1, 0, 5, 1, 0})
		m.push_back(b);
	m.push_back(static_cast<uint8_t>(family == AF_INET ? 1 : 4));
	for (size_t i = 0; i < len; ++i)
		m.push_back(addr[i]);
	m.push_back(static_cast<uint8_t>(port >> 8));
	m.push_back(static_cast<uint8_t>(port & 0xff));
	return m;
}

Parse parse_connect_answer(const uint8_t* p, size_t n, uint8_t& rep, size_t& consumed)
{
	if (n >= 1 && p[0] != 5)
		return Parse::bad;
	if (n >= 2 && p[1] != 0)
		return Parse::bad;
	if (n < 6)
		return n >= 3 && p[2] != 5 ? Parse::bad : Parse::need_more;
	if (p[2] != 5 || p[4] != 0)
		return Parse::bad;
	size_t addr;
	switch (p[5]) {
	case 1:
		addr = 4;
		break;
	case 4:
		addr = 16;
		break;
	case 3:
		if (n < 7)
			return Parse::need_more;
		addr = 1 + static_cast<size_t>(p[6]);
		break;
	default:
		return Parse::bad;
	}
	if (n < 6 + addr + 2)
		return Parse::need_more;
	rep = p[3];
	consumed = 6 + addr + 2;
	return Parse::ok;
}

std::vector<uint8_t> reply(uint8_t rep)
{
	return {5, rep, 0, 1, 0, 0, 0, 0, 0, 0};
}

} // namespace phasebox::socks5
