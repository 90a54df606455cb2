#include "handoff.hh"

#include "fd.hh"
#include "netlink.hh"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace phasebox::handoff
{
namespace
{

bool ends_with(const std::string& s, const std::string& end)
{
	return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// Read until `done(text)`, at most `max` bytes.
template <class Done> Status read_until(int fd, std::string& text, Done done, size_t max)
{
	char buf[512];
	while (!done(text)) {
		if (text.size() > max)
			return Error{EPROTO, "the proxy's answer is too long"};
		ssize_t n = ::read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sys_error("read the proxy's answer");
		if (n == 0)
			return Error{EPROTO, "the proxy closed the connection"};
		text.append(buf, static_cast<size_t>(n));
	}
	return {};
}

Result<UniqueFd> listener(const Listen& l)
{
	unsigned char addr[sizeof(struct in6_addr)];
	if (::inet_pton(l.family, l.address.c_str(), addr) != 1)
		return Error{EINVAL, "bad address " + quote(l.address)};
	if (Status s = netlink::add_loopback_address(l.family, addr); !s)
		return s.error();
	UniqueFd fd(::socket(l.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return sys_error("socket");
	int one = 1;
	::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_storage ss {
	};
	socklen_t len;
	if (l.family == AF_INET) {
		auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(static_cast<uint16_t>(l.port));
		std::memcpy(&sin->sin_addr, addr, 4);
		len = sizeof *sin;
	} else {
		::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(static_cast<uint16_t>(l.port));
		std::memcpy(&sin6->sin6_addr, addr, 16);
		len = sizeof *sin6;
	}
	std::string where = (l.family == AF_INET6 ? "[" + l.address + "]" : l.address) + ":" +
	                    std::to_string(l.port);
	if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&ss), len) != 0)
		return sys_error("bind " + where + " in the network namespace");
	if (::listen(fd.get(), 128) != 0)
		return sys_error("listen on " + where);
	return fd;
}

} // namespace

std::string format_list(const std::vector<Listen>& l)
{
	std::string out;
	for (const Listen& x : l)
		out += x.address + " " + std::to_string(x.port) + "\n";
	return out + ".\n";
}

Result<std::vector<Listen>> parse_list(const std::string& text)
{
	std::vector<Listen> out;
	size_t i = 0;
	for (;;) {
		size_t nl = text.find('\n', i);
		if (nl == std::string::npos)
			return Error{EPROTO, "the list has no end line"};
		std::string line = text.substr(i, nl - i);
		i = nl + 1;
		if (line == ".") {
			if (i != text.size())
				return Error{EPROTO, "bytes after the end of the list"};
			return out;
		}
		if (out.size() == max_listeners)
			return Error{EPROTO, "more than " + std::to_string(max_listeners) +
			                         " destinations"};
		size_t sp = line.find(' ');
		if (sp == std::string::npos)
			return Error{EPROTO, "bad line " + quote(line)};
		Listen l;
		l.address = line.substr(0, sp);
		std::string port = line.substr(sp + 1);
		unsigned char a[16];
		if (l.address.find('\0') != std::string::npos) // inet_pton() would stop there
			return Error{EPROTO, "a NUL in " + quote(line)};
		if (::inet_pton(AF_INET, l.address.c_str(), a) == 1)
			l.family = AF_INET;
		else if (::inet_pton(AF_INET6, l.address.c_str(), a) == 1)
			l.family = AF_INET6;
		else
			return Error{EPROTO, "not a numeric address in " + quote(line)};
		if (port.empty() || port.size() > 5 ||
		    port.find_first_not_of("0123456789") != std::string::npos || port[0] == '0' ||
		    std::stoul(port) > 65535)
			return Error{EPROTO, "bad port in " + quote(line)};
		l.port = static_cast<unsigned>(std::stoul(port));
		out.push_back(l);
	}
}

Status hand_over(const std::string& socket_path)
{
	struct sockaddr_un sun {
	};
	sun.sun_family = AF_UNIX;
	if (socket_path.size() >= sizeof sun.sun_path)
		return Error{ENAMETOOLONG, "proxy socket " + quote(socket_path)};
	std::memcpy(sun.sun_path, socket_path.data(), socket_path.size());
	UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!s.valid())
		return sys_error("socket(AF_UNIX)");
	struct timeval tv {
		10, 0
	};
	::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (::connect(s.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) != 0)
		return sys_error("connect to the proxy at " + quote(socket_path));
	if (::send(s.get(), hello, sizeof hello - 1, MSG_NOSIGNAL) !=
	    static_cast<ssize_t>(sizeof hello - 1))
		return sys_error("send to the proxy");
	std::string text;
	auto complete = [](const std::string& t) { return t == ".\n" || ends_with(t, "\n.\n"); };
	if (Status st = read_until(s.get(), text, complete, max_listeners * 64); !st)
		return st;
	auto list = parse_list(text);
	if (!list)
		return list.error();
	std::vector<UniqueFd> fds;
	for (const Listen& l : list.value()) {
		auto fd = listener(l);
		if (!fd)
			return fd.error();
		fds.push_back(std::move(fd.value()));
	}
	char byte = 'F';
	struct iovec iov {
		&byte, 1
	};
	struct msghdr msg {
	};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_listeners)];
	if (!fds.empty()) {
		msg.msg_control = control;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
		struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
		for (size_t i = 0; i < fds.size(); ++i) {
			int fd = fds[i].get();
			std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
		}
	}
	if (::sendmsg(s.get(), &msg, MSG_NOSIGNAL) != 1)
		return sys_error("hand the listening sockets to the proxy");
	std::string ok;
	if (Status st = read_until(
	        s.get(), ok, [](const std::string& t) { return ends_with(t, "\n"); }, 16);
	    !st)
		return st;
	if (ok != "OK\n")
		return Error{EPROTO, "the proxy refused the listening sockets"};
	return {};
}

} // namespace phasebox::handoff
