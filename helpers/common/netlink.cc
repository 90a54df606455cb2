#include "netlink.hh"

#include "fd.hh"

#include <arpa/inet.h>
#include <cstring>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace phasebox::netlink {
namespace {

Status link_up(const char* ifname)
{
	UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (!s.valid())
		return sys_error("socket(AF_INET)");
	struct ifreq ifr{};
	std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0)
		return sys_error(std::string("get flags of ") + ifname);
	ifr.ifr_flags |= IFF_UP;
	if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0)
		return sys_error(std::string("bring ") + ifname + " up");
	return {};
}

Status add_address(int family, const void* addr, size_t addrlen, unsigned char prefix, unsigned ifindex)
{
	UniqueFd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
	if (!s.valid())
		return sys_error("socket(AF_NETLINK)");
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req{};
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = static_cast<unsigned char>(family);
	req.ifa.ifa_prefixlen = prefix;
	req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	// No duplicate address detection: a "tentative" IPv6 address cannot be bound until DAD
	// ends (EADDRNOTAVAIL), and nothing else can hold a loopback address of a new namespace.
	if (family == AF_INET6)
		req.ifa.ifa_flags = IFA_F_NODAD;
	req.ifa.ifa_index = ifindex;
	for (unsigned short type : {IFA_LOCAL, IFA_ADDRESS}) {
		auto* rta = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.nh.nlmsg_len));
		rta->rta_type = type;
		rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(addrlen));
		std::memcpy(RTA_DATA(rta), addr, addrlen);
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	}
	struct sockaddr_nl nl{};
	nl.nl_family = AF_NETLINK;
	if (::sendto(s.get(), &req, req.nh.nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&nl), sizeof nl) < 0)
		return sys_error("send RTM_NEWADDR");
	char buf[4096];
	ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
	if (n < 0)
		return sys_error("receive the RTM_NEWADDR answer");
	auto* nh = reinterpret_cast<struct nlmsghdr*>(buf);
	if (!NLMSG_OK(nh, static_cast<unsigned>(n)) || nh->nlmsg_type != NLMSG_ERROR)
		return Error{EPROTO, "unexpected answer to RTM_NEWADDR"};
	int err = -static_cast<struct nlmsgerr*>(NLMSG_DATA(nh))->error;
	if (err != 0 && err != EEXIST)
		return Error{err, "RTM_NEWADDR"};
	return {};
}

} // namespace

Status add_loopback_address(int family, const void* addr)
{
	unsigned idx = ::if_nametoindex("lo");
	if (idx == 0)
		return sys_error("if_nametoindex(lo)");
	char text[INET6_ADDRSTRLEN] = "?";
	::inet_ntop(family, addr, text, sizeof text);
	bool v4 = family == AF_INET;
	if (Status s = add_address(family, addr, v4 ? sizeof(struct in_addr) : sizeof(struct in6_addr),
				   v4 ? 32 : 128, idx);
	    !s)
		return Error{s.error().err, std::string("add ") + text + " to lo: " + s.error().what};
	return {};
}

Status configure_loopback()
{
	if (Status s = link_up("lo"); !s)
		return s;
	unsigned idx = ::if_nametoindex("lo");
	if (idx == 0)
		return sys_error("if_nametoindex(lo)");
	struct in_addr v4{};
	::inet_pton(AF_INET, "10.0.0.1", &v4);
	if (Status s = add_address(AF_INET, &v4, sizeof v4, 8, idx); !s)
		return Error{s.error().err, "add 10.0.0.1/8 to lo: " + s.error().what};
	struct in6_addr v6{};
	::inet_pton(AF_INET6, "fd::1", &v6);
	if (Status s = add_address(AF_INET6, &v6, sizeof v6, 8, idx); !s) {
		// A kernel without IPv6 (or ipv6.disable=1) has nothing to configure.
		if (s.error().err != EAFNOSUPPORT)
			return Error{s.error().err, "add fd::1/8 to lo: " + s.error().what};
	}
	return {};
}

} // namespace phasebox::netlink
