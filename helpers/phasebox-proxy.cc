// phasebox-proxy — let a network-sandboxed phase reach its compile farm, and nothing else.
//
//   phasebox-proxy --socket PATH [--distcc-hosts TEXT | --distcc-hosts-file FILE...]
//                  [--allow TEXT]... [--package ATOM] [--phase PHASE] [--elog PATH]
//                  -- PROG [ARGS...]
//
// Listens on the unix socket PATH (path-named unix sockets cross network namespaces),
// forks, and the child execs PROG (the rest of the chain: phasebox-unshare, which makes the
// phase's network namespace) with the environment unchanged.  The parent stays outside the
// namespace for PROG's lifetime and relays TCP for it, event-driven (epoll), to the
// destinations of DISTCC_HOSTS (distcc's grammar) and of --allow (HOST:PORT …) only:
//   - SOCKS5 on PATH (no authentication, CONNECT): what distcc's DISTCC_SOCKS_PROXY (a
//     Gentoo patch, bug 537616) and PORTAGE_SOCKS5_PROXY users speak;
//   - listening sockets phasebox-unshare --proxy-socket creates inside the namespace, on
//     each allowed address and port, and hands over through PATH: a plain connect() there
//     (Debian's and upstream's distcc, which know no SOCKS) reaches the proxy.
// Names are resolved once, at start, outside the namespace; a SOCKS request by name must
// name an allowed host, one by address an allowed address.  Everything else is refused and
// the first refusal of each destination is logged (on stderr, and with --elog as a warning
// in Portage's elog file, opened at start: common/elog.hh).  Before PROG's first instruction runs
// the proxy holds no capability (bounding, ambient, effective, permitted and inheritable
// sets empty, verified; no_new_privs; not dumpable).  At most 128 connections with 32 KiB
// per direction each.  When PROG ends the proxy closes everything, removes PATH and exits.
// Signals sent to it alone are forwarded to PROG (a terminal's ^C reaches PROG itself).
//
// Exit status: PROG's own; 128+N when PROG was killed by signal N; 100 usage; 111 a system
// call failed before PROG ran; 126 PROG could not be executed; 127 PROG not found.
#include "common/allowlist.hh"
#include "common/cli.hh"
#include "common/environment.hh"
#include "common/exit_status.hh"
#include "common/fd.hh"
#include "common/file.hh"
#include "common/handoff.hh"
#include "common/privs.hh"
#include "common/report.hh"
#include "common/socks5.hh"
#include "common/spawn.hh"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <optional>
#include <set>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace phasebox;
namespace ex = phasebox::exit_code;

namespace
{

const char* const prog = "phasebox-proxy";
constexpr size_t max_conns = 128;
constexpr size_t buf_size = size_t{32} * 1024;
constexpr size_t max_logged = 64;

struct Options {
	std::string socket;
	std::optional<std::string> distcc_hosts;
	std::vector<std::string> distcc_hosts_files;
	std::vector<std::string> allow;
	std::string upstream_socks;
	std::string package = "unknown";
	std::string phase = "phase";
	std::string elog;
	std::vector<std::string> next;
};

std::optional<int> parse(const cli::Split& args, Options& o)
{
	CLI::App app{"Relay TCP from a network-sandboxed PROG to the allowed hosts only.\n"
	             "Usage: phasebox-proxy --socket PATH [OPTIONS] -- PROG [ARGS...]",
	             prog};
	app.add_option("--socket", o.socket,
	               "the unix socket to listen on (SOCKS5, and the hand-over)")
	    ->required();
	app.add_option("--distcc-hosts", o.distcc_hosts,
	               "allow the TCP hosts of this DISTCC_HOSTS value");
	app.add_option("--distcc-hosts-file", o.distcc_hosts_files,
	               "without --distcc-hosts: the first readable of these hosts files (as distcc "
	               "reads them)");
	app.add_option("--allow", o.allow,
	               "allow these whitespace-separated HOST:PORT / [IPV6]:PORT");
	app.add_option("--upstream-socks", o.upstream_socks,
	               "connect through this SOCKS5 unix socket (Portage's network-sandbox proxy) "
	               "instead of directly")
	    ->check([](const std::string& p) {
		    return p.empty() || p[0] != '/' || p.size() >= sizeof(sockaddr_un::sun_path)
		               ? std::string("an absolute path shorter than 108 bytes")
		               : std::string();
	    });
	app.add_option("--package", o.package, "the package (CATEGORY/PF), for messages");
	app.add_option("--phase", o.phase, "the phase (e.g. src_compile), for messages");
	cli::add_elog_option(app, o.elog);
	if (auto rc = cli::parse(app, args.own, prog))
		return rc;
	if (auto rc = cli::require_next(args, prog))
		return rc;
	o.next = args.next;
	return std::nullopt;
}

// ---- policy --------------------------------------------------------------------------

struct Addr {
	int family = 0;
	unsigned char bytes[16]{};
	unsigned port = 0;
	bool operator==(const Addr& o) const
	{
		return family == o.family && port == o.port &&
		       std::memcmp(bytes, o.bytes, family == AF_INET ? 4 : 16) == 0;
	}
};

std::string to_text(const Addr& a)
{
	char buf[INET6_ADDRSTRLEN] = "?";
	::inet_ntop(a.family, a.bytes, buf, sizeof buf);
	return a.family == AF_INET6 ? "[" + std::string(buf) + "]:" + std::to_string(a.port)
	                            : std::string(buf) + ":" + std::to_string(a.port);
}

bool from_sockaddr(const struct sockaddr_storage& ss, Addr& a)
{
	if (ss.ss_family == AF_INET) {
		auto* s = reinterpret_cast<const struct sockaddr_in*>(&ss);
		a.family = AF_INET;
		std::memcpy(a.bytes, &s->sin_addr, 4);
		a.port = ntohs(s->sin_port);
		return true;
	}
	if (ss.ss_family == AF_INET6) {
		auto* s = reinterpret_cast<const struct sockaddr_in6*>(&ss);
		a.family = AF_INET6;
		std::memcpy(a.bytes, &s->sin6_addr, 16);
		a.port = ntohs(s->sin6_port);
		return true;
	}
	return false;
}

socklen_t to_sockaddr(const Addr& a, struct sockaddr_storage& ss)
{
	ss = {};
	if (a.family == AF_INET) {
		auto* s = reinterpret_cast<struct sockaddr_in*>(&ss);
		s->sin_family = AF_INET;
		s->sin_port = htons(static_cast<uint16_t>(a.port));
		std::memcpy(&s->sin_addr, a.bytes, 4);
		return sizeof *s;
	}
	auto* s = reinterpret_cast<struct sockaddr_in6*>(&ss);
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(static_cast<uint16_t>(a.port));
	std::memcpy(&s->sin6_addr, a.bytes, 16);
	return sizeof *s;
}

struct Dest {
	allow::Endpoint endpoint;
	std::vector<Addr> addrs; // resolved at start
};

struct Policy {
	std::vector<Dest> dests;

	// The addresses a request may be relayed to: by name (an allowed name and port) or
	// by address (an allowed address and port).  Empty: refused.
	std::vector<Addr> lookup(const std::string& host, unsigned port) const
	{
		Addr lit;
		lit.port = port;
		for (int af : {AF_INET, AF_INET6})
			if (::inet_pton(af, host.c_str(), lit.bytes) == 1) {
				lit.family = af;
				return lookup(lit);
			}
		std::string lower = host;
		for (char& c : lower)
			c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		for (const Dest& d : dests)
			if (d.endpoint.host == lower && d.endpoint.port == port)
				return d.addrs;
		return {};
	}
	std::vector<Addr> lookup(const Addr& a) const
	{
		for (const Dest& d : dests)
			for (const Addr& x : d.addrs)
				if (x == a)
					return {a};
		return {};
	}
	std::vector<handoff::Listen> listens() const
	{
		std::vector<handoff::Listen> out;
		std::vector<Addr> seen;
		for (const Dest& d : dests)
			for (const Addr& a : d.addrs) {
				if (std::find(seen.begin(), seen.end(), a) != seen.end() ||
				    out.size() == handoff::max_listeners)
					continue;
				seen.push_back(a);
				char buf[INET6_ADDRSTRLEN];
				::inet_ntop(a.family, a.bytes, buf, sizeof buf);
				out.push_back({a.family, buf, a.port});
			}
		return out;
	}
};

Result<allow::Parsed> read_lists(const Options& o)
{
	allow::Parsed all;
	auto merge = [&](Result<allow::Parsed> r) -> Status {
		if (!r)
			return r.error();
		for (auto& e : r.value().endpoints)
			if (std::find(all.endpoints.begin(), all.endpoints.end(), e) ==
			    all.endpoints.end())
				all.endpoints.push_back(e);
		for (auto& n : r.value().notes)
			all.notes.push_back(n);
		return {};
	};
	if (o.distcc_hosts) {
		if (Status s = merge(allow::parse_distcc_hosts(*o.distcc_hosts)); !s)
			return s.error();
	} else {
		for (const std::string& f : o.distcc_hosts_files) {
			if (::access(f.c_str(), R_OK) != 0)
				continue;
			auto text = read_file(f);
			if (!text)
				return text.error();
			if (Status s = merge(allow::parse_distcc_hosts(text.value())); !s)
				return Error{s.error().err, quote(f) + ": " + s.error().what};
			break;
		}
	}
	for (const std::string& a : o.allow)
		if (Status s = merge(allow::parse_network_allow(a)); !s)
			return s.error();
	return all;
}

// Resolve every name now, outside the namespace: a later answer cannot widen the policy.
Policy resolve(const allow::Parsed& lists)
{
	Policy p;
	for (const allow::Endpoint& e : lists.endpoints) {
		Dest d{e, {}};
		struct addrinfo hints {
		};
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_family = AF_UNSPEC;
		struct addrinfo* res = nullptr;
		std::string port = std::to_string(e.port);
		int rc = ::getaddrinfo(e.host.c_str(), port.c_str(), &hints, &res);
		if (rc != 0) {
			report::message("cannot resolve %s (%s): connections to it will be refused",
			                allow::to_string(e).c_str(), ::gai_strerror(rc));
			continue;
		}
		for (auto* ai = res; ai; ai = ai->ai_next) {
			struct sockaddr_storage ss {
			};
			std::memcpy(&ss, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof ss));
			Addr a;
			if (from_sockaddr(ss, a) &&
			    std::find(d.addrs.begin(), d.addrs.end(), a) == d.addrs.end())
				d.addrs.push_back(a);
		}
		::freeaddrinfo(res);
		p.dests.push_back(std::move(d));
	}
	return p;
}

// ---- the unix socket -----------------------------------------------------------------

struct Listener {
	UniqueFd fd;
	dev_t dev = 0;
	ino_t ino = 0;
};

// A stale socket of ours (a killed run) is replaced; anything else at PATH is an error.
Result<Listener> listen_unix(const std::string& path)
{
	struct sockaddr_un sun {
	};
	sun.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof sun.sun_path)
		return Error{ENAMETOOLONG, "socket path " + quote(path) + " (at most " +
		                               std::to_string(sizeof sun.sun_path - 1) + " bytes)"};
	std::memcpy(sun.sun_path, path.data(), path.size());
	struct stat st {
	};
	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid())
			return Error{EEXIST,
			             quote(path) + " exists and is not a socket of this user"};
		if (::unlink(path.c_str()) != 0)
			return sys_error("remove the stale socket " + quote(path));
	}
	Listener l;
	l.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!l.fd.valid())
		return sys_error("socket(AF_UNIX)");
	mode_t old = ::umask(077);
	int rc = ::bind(l.fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun);
	int e = errno;
	::umask(old);
	if (rc != 0)
		return Error{e, "bind " + quote(path)};
	if (::listen(l.fd.get(), 128) != 0)
		return sys_error("listen on " + quote(path));
	if (::lstat(path.c_str(), &st) != 0)
		return sys_error("stat " + quote(path));
	l.dev = st.st_dev;
	l.ino = st.st_ino;
	return l;
}

void remove_unix(const std::string& path, const Listener& l)
{
	struct stat st {
	};
	if (::lstat(path.c_str(), &st) == 0 && st.st_dev == l.dev && st.st_ino == l.ino)
		::unlink(path.c_str());
}

// ---- connections ---------------------------------------------------------------------

struct Buffer {
	std::unique_ptr<uint8_t[]> data{new uint8_t[buf_size]};
	size_t off = 0, len = 0;
	size_t space() const { return buf_size - off - len; }
	uint8_t* tail() { return data.get() + off + len; }
	const uint8_t* head() const { return data.get() + off; }
	void consume(size_t n)
	{
		off += n;
		len -= n;
		if (len == 0)
			off = 0;
	}
	void compact()
	{
		if (off && len)
			std::memmove(data.get(), data.get() + off, len);
		if (off)
			off = 0;
	}
	bool append(const std::vector<uint8_t>& v)
	{
		compact();
		if (space() < v.size())
			return false;
		std::memcpy(tail(), v.data(), v.size());
		len += v.size();
		return true;
	}
};

enum class State { greeting, request, connecting, up_handshake, relay, closing };

struct Conn {
	UniqueFd client, upstream;
	State state = State::greeting;
	bool socks = true;
	pid_t peer_pid = 0;
	Buffer c2u, u2c; // client → upstream (and the SOCKS handshake), upstream → client
	bool client_eof = false, upstream_eof = false, upstream_shut = false, client_shut = false;
	std::vector<Addr> candidates;
	size_t next = 0;
	std::vector<uint8_t> hs; // the upstream SOCKS server's answer, as far as it came
	std::string dest;
	uint32_t client_ev = 0, upstream_ev = 0;
	bool dead = false;
};

constexpr uint64_t id_signal = ~0ull, id_unix = ~1ull, id_transparent = 1ull << 62;

struct Server {
	Server(const Policy& p, pid_t c, Listener& l) : policy(p), child(c), unix_listener(l) {}
	const Policy& policy;
	pid_t child;
	std::string upstream_socks; // chain through this SOCKS5 server (Portage's), or connect
	UniqueFd ep, sig;
	Listener& unix_listener;
	std::vector<std::pair<UniqueFd, Addr>> transparent;
	std::vector<std::unique_ptr<Conn>> conns = std::vector<std::unique_ptr<Conn>>(max_conns);
	std::set<std::string> logged;
	bool handed_over = false, full_logged = false, conns_logged = false;

	void refuse_log(const std::string& what)
	{
		if (logged.count(what))
			return;
		if (logged.size() == max_logged) {
			if (!full_logged)
				report::message("further refusals are not logged");
			full_logged = true;
			return;
		}
		logged.insert(what);
		report::message(
		    "refused a connection to %s: not in DISTCC_HOSTS or PHASEBOX_NETWORK_ALLOW",
		    what.c_str());
	}

	void watch(int fd, uint64_t id, uint32_t ev, uint32_t& cur)
	{
		if (fd < 0 || ev == cur)
			return;
		struct epoll_event e {
		};
		e.events = ev;
		e.data.u64 = id;
		int op = cur == ~0u ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		::epoll_ctl(ep.get(), op, fd, &e);
		cur = ev;
	}

	void update(size_t slot)
	{
		Conn& c = *conns[slot];
		uint32_t cev = 0, uev = 0;
		if (!c.client_eof && c.state != State::closing && c.c2u.space() > 0)
			cev |= EPOLLIN;
		if (c.u2c.len)
			cev |= EPOLLOUT;
		if (c.state == State::connecting)
			uev = EPOLLOUT;
		else if (c.state == State::up_handshake)
			uev = EPOLLIN;
		else if (c.state == State::relay) {
			if (!c.upstream_eof && c.u2c.space() > 0)
				uev |= EPOLLIN;
			if (c.c2u.len)
				uev |= EPOLLOUT;
		}
		watch(c.client.get(), slot << 1, cev, c.client_ev);
		if (c.upstream.valid())
			watch(c.upstream.get(), (slot << 1) | 1, uev, c.upstream_ev);
	}

	std::optional<size_t> free_slot()
	{
		for (size_t i = 0; i < conns.size(); ++i)
			if (!conns[i])
				return i;
		return std::nullopt;
	}

	std::optional<size_t> add_conn(int fd)
	{
		auto slot = free_slot();
		if (!slot) {
			if (!conns_logged)
				report::message(
				    "more than %zu connections at once: closing new ones",
				    max_conns);
			conns_logged = true;
			::close(fd);
			return std::nullopt;
		}
		conns[*slot] = std::make_unique<Conn>();
		conns[*slot]->client.reset(fd);
		conns[*slot]->client_ev = ~0u;
		conns[*slot]->upstream_ev = ~0u;
		return slot;
	}

	void socks_fail(Conn& c, uint8_t rep)
	{
		c.u2c.append(socks5::reply(rep));
		c.state = State::closing;
		c.upstream.reset();
	}

	// Connect to the next candidate; on no candidate left, fail the client.
	void start_connect(Conn& c)
	{
		c.upstream.reset();
		c.upstream_ev = ~0u;
		while (c.next < c.candidates.size()) {
			const Addr& a = c.candidates[c.next++];
			struct sockaddr_storage ss{};
			socklen_t len = to_sockaddr(a, ss);
			if (!upstream_socks.empty()) {
				auto* sun = reinterpret_cast<struct sockaddr_un*>(&ss);
				ss = {};
				sun->sun_family = AF_UNIX;
				std::memcpy(sun->sun_path, upstream_socks.data(),
				            upstream_socks.size());
				len = sizeof *sun;
			}
			UniqueFd fd(
			    ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
			if (!fd.valid())
				continue;
			c.hs.clear();
			if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&ss), len) ==
			        0 ||
			    errno == EINPROGRESS || (errno == EAGAIN && ss.ss_family == AF_UNIX)) {
				c.upstream = std::move(fd);
				c.state = State::connecting;
				return;
			}
		}
		report::message("cannot connect to %s for the phase", c.dest.c_str());
		if (c.socks)
			socks_fail(c, socks5::rep_refused);
		else
			c.dead = true;
	}

	void connected(Conn& c)
	{
		int err = 0;
		socklen_t len = sizeof err;
		if (::getsockopt(c.upstream.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			start_connect(c);
			return;
		}
		if (!upstream_socks.empty()) {
			// Greeting and CONNECT at once: a few bytes into a fresh socket's buffer.
			const Addr& a = c.candidates[c.next - 1];
			auto m = socks5::connect_request(a.family, a.bytes, a.port);
			if (::send(c.upstream.get(), m.data(), m.size(), MSG_NOSIGNAL) !=
			    static_cast<ssize_t>(m.size())) {
				start_connect(c);
				return;
			}
			c.state = State::up_handshake;
			return;
		}
		relaying(c);
	}

	void relaying(Conn& c)
	{
		c.state = State::relay;
		if (c.socks)
			c.u2c.append(socks5::reply(socks5::rep_ok));
	}

	// The upstream SOCKS server's answer; what follows it is the destination's.
	void up_answer(Conn& c)
	{
		uint8_t buf[512];
		ssize_t n = ::recv(c.upstream.get(), buf, sizeof buf, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			return start_connect(c);
		c.hs.insert(c.hs.end(), buf, buf + n);
		uint8_t rep = 0;
		size_t used = 0;
		auto r = socks5::parse_connect_answer(c.hs.data(), c.hs.size(), rep, used);
		if (r == socks5::Parse::need_more && c.hs.size() < 300)
			return;
		if (r != socks5::Parse::ok || rep != socks5::rep_ok) {
			report::message(
			    "the upstream SOCKS proxy %s did not connect to %s (reply %d)",
			    quote(upstream_socks).c_str(), c.dest.c_str(),
			    r == socks5::Parse::ok ? rep : -1);
			return start_connect(c);
		}
		std::vector<uint8_t> rest(c.hs.begin() + static_cast<long>(used), c.hs.end());
		c.hs.clear();
		relaying(c);
		c.u2c.append(rest);
	}

	void handoff(Conn& c)
	{
		c.dead = true;
		if (handed_over || c.peer_pid != child) {
			report::message("refused a hand-over of listening sockets from pid %d",
			                static_cast<int>(c.peer_pid));
			return;
		}
		handed_over = true;
		int fd = c.client.get();
		int flags = ::fcntl(fd, F_GETFL);
		::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
		struct timeval tv {
			10, 0
		};
		::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		std::vector<handoff::Listen> want = policy.listens();
		std::string list = handoff::format_list(want);
		if (::send(fd, list.data(), list.size(), MSG_NOSIGNAL) !=
		    static_cast<ssize_t>(list.size()))
			return report::ignoring(sys_error("send the list to phasebox-unshare"));
		char byte = 0;
		struct iovec iov {
			&byte, 1
		};
		alignas(
		    struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * handoff::max_listeners)];
		struct msghdr msg {
		};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		ssize_t n;
		do
			n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
		std::vector<UniqueFd> got;
		for (struct cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h))
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				     ++i) {
					int f;
					std::memcpy(&f, CMSG_DATA(h) + i * sizeof(int), sizeof f);
					got.emplace_back(f);
				}
		if (n != 1 || byte != 'F' || (msg.msg_flags & MSG_CTRUNC) ||
		    got.size() != want.size())
			return report::message("a bad hand-over of listening sockets: ignored");
		for (size_t i = 0; i < got.size(); ++i) {
			int acc = 0, proto = 0;
			socklen_t l = sizeof acc;
			struct sockaddr_storage ss {
			};
			socklen_t sl = sizeof ss;
			Addr a;
			if (::getsockopt(got[i].get(), SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) != 0 ||
			    !acc ||
			    ::getsockopt(got[i].get(), SOL_SOCKET, SO_PROTOCOL, &proto, &l) != 0 ||
			    proto != IPPROTO_TCP ||
			    ::getsockname(got[i].get(), reinterpret_cast<struct sockaddr*>(&ss),
			                  &sl) != 0 ||
			    !from_sockaddr(ss, a) || policy.lookup(a).empty())
				return report::message("a hand-over of a socket that is not an "
				                       "allowed listener: ignored");
			::fcntl(got[i].get(), F_SETFL, ::fcntl(got[i].get(), F_GETFL) | O_NONBLOCK);
			uint32_t cur = ~0u;
			watch(got[i].get(), id_transparent | transparent.size(), EPOLLIN, cur);
			transparent.emplace_back(std::move(got[i]), a);
		}
		if (::send(fd, "OK\n", 3, MSG_NOSIGNAL) != 3)
			report::ignoring(sys_error("confirm the hand-over"));
	}

	// The SOCKS handshake, from what c2u holds.
	void advance(Conn& c)
	{
		if (c.state == State::greeting) {
			if (c.c2u.len && c.c2u.head()[0] == 'P') {
				size_t h = sizeof handoff::hello - 1;
				if (c.c2u.len < h)
					return;
				if (std::memcmp(c.c2u.head(), handoff::hello, h) != 0) {
					c.dead = true;
					return;
				}
				handoff(c);
				return;
			}
			socks5::Greeting g;
			auto r = socks5::parse_greeting(c.c2u.head(), c.c2u.len, g);
			if (r == socks5::Parse::need_more)
				return;
			if (r == socks5::Parse::bad) {
				c.dead = true;
				return;
			}
			c.c2u.consume(g.consumed);
			c.u2c.append(socks5::method_reply(g.no_auth));
			if (!g.no_auth) {
				c.state = State::closing;
				return;
			}
			c.state = State::request;
		}
		if (c.state == State::request) {
			socks5::Request q;
			auto r = socks5::parse_request(c.c2u.head(), c.c2u.len, q);
			if (r == socks5::Parse::need_more)
				return;
			if (r == socks5::Parse::bad)
				return socks_fail(c, socks5::rep_general);
			c.c2u.consume(q.consumed);
			if (q.cmd != 1)
				return socks_fail(c, socks5::rep_cmd_unsupported);
			allow::Endpoint e{q.host, q.port};
			c.dest = allow::to_string(e);
			c.candidates = policy.lookup(q.host, q.port);
			if (c.candidates.empty()) {
				refuse_log(c.dest);
				return socks_fail(c, socks5::rep_not_allowed);
			}
			start_connect(c);
		}
	}

	// Read into `b` from fd; false on end of file or error (with `eof` or `dead`).
	void fill(Conn& c, int fd, Buffer& b, bool& eof)
	{
		b.compact();
		ssize_t n = ::read(fd, b.tail(), b.space());
		if (n > 0)
			b.len += static_cast<size_t>(n);
		else if (n == 0)
			eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			c.dead = true;
	}

	void drain(Conn& c, int fd, Buffer& b)
	{
		ssize_t n = ::send(fd, b.head(), b.len, MSG_NOSIGNAL);
		if (n > 0)
			b.consume(static_cast<size_t>(n));
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			c.dead = true;
	}

	void finish(Conn& c)
	{
		if (c.state == State::closing && c.u2c.len == 0)
			c.dead = true;
		if (c.state != State::relay)
			return;
		if (c.client_eof && c.c2u.len == 0 && !c.upstream_shut) {
			::shutdown(c.upstream.get(), SHUT_WR);
			c.upstream_shut = true;
		}
		if (c.upstream_eof && c.u2c.len == 0 && !c.client_shut) {
			::shutdown(c.client.get(), SHUT_WR);
			c.client_shut = true;
		}
		if (c.client_shut && c.upstream_shut)
			c.dead = true;
	}

	void on_conn(size_t slot, bool upstream_side, uint32_t ev)
	{
		Conn& c = *conns[slot];
		if (c.dead)
			return;
		if (!upstream_side) {
			if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				fill(c, c.client.get(), c.c2u, c.client_eof);
				if (c.state == State::greeting || c.state == State::request)
					advance(c);
				if (c.client_eof &&
				    (c.state == State::greeting || c.state == State::request ||
				     c.state == State::closing))
					c.dead = true;
			}
			if ((ev & EPOLLOUT) && !c.dead)
				drain(c, c.client.get(), c.u2c);
		} else if (c.state == State::connecting) {
			connected(c);
		} else if (c.state == State::up_handshake) {
			up_answer(c);
		} else if (c.state == State::relay) {
			if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
				fill(c, c.upstream.get(), c.u2c, c.upstream_eof);
			if ((ev & EPOLLOUT) && !c.dead)
				drain(c, c.upstream.get(), c.c2u);
		}
		if (!c.dead)
			finish(c);
	}

	void on_accept_unix()
	{
		for (;;) {
			int fd = ::accept4(unix_listener.fd.get(), nullptr, nullptr,
			                   SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0)
				return;
			struct ucred cred {
			};
			socklen_t l = sizeof cred;
			::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l);
			auto slot = add_conn(fd);
			if (slot) {
				conns[*slot]->peer_pid = cred.pid;
				update(*slot);
			}
		}
	}

	void on_accept_transparent(size_t i)
	{
		for (;;) {
			int fd = ::accept4(transparent[i].first.get(), nullptr, nullptr,
			                   SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0)
				return;
			auto slot = add_conn(fd);
			if (!slot)
				continue;
			Conn& c = *conns[*slot];
			c.socks = false;
			c.dest = to_text(transparent[i].second);
			c.candidates = policy.lookup(transparent[i].second);
			if (c.candidates.empty()) {
				refuse_log(c.dest);
				c.dead = true;
			} else {
				start_connect(c);
			}
			update(*slot);
		}
	}

	// True when the child has ended (its wait status in `status`).
	bool on_signal(int& status)
	{
		struct signalfd_siginfo si{};
		while (::read(sig.get(), &si, sizeof si) == sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				if (si.ssi_code != SI_KERNEL)
					::kill(child, static_cast<int>(si.ssi_signo));
				continue;
			}
		}
		return ::waitpid(child, &status, WNOHANG) == child;
	}

	int run()
	{
		int status = 0;
		for (;;) {
			struct epoll_event evs[64];
			int n = ::epoll_wait(ep.get(), evs, 64, -1);
			if (n < 0 && errno != EINTR)
				break;
			for (int i = 0; i < n; ++i) {
				uint64_t id = evs[i].data.u64;
				if (id == id_signal) {
					if (on_signal(status))
						return status;
				} else if (id == id_unix) {
					on_accept_unix();
				} else if (id & id_transparent) {
					on_accept_transparent(id & ~id_transparent);
				} else if (conns[id >> 1]) {
					on_conn(id >> 1, id & 1, evs[i].events);
				}
			}
			for (size_t s = 0; s < conns.size(); ++s)
				if (conns[s]) {
					if (conns[s]->dead)
						conns[s].reset(); // closing an fd removes it from
						                  // the epoll set
					else
						update(s);
				}
		}
		// epoll_wait failed: still wait for the child, so its status is passed on.
		while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
		}
		return status;
	}
};

Result<UniqueFd> signal_fd()
{
	sigset_t s;
	sigemptyset(&s);
	for (int sig :
	     {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCHLD})
		sigaddset(&s, sig);
	UniqueFd fd(::signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!fd.valid())
		return sys_error("signalfd");
	return fd;
}

Status setup_epoll(Server& srv)
{
	srv.ep.reset(::epoll_create1(EPOLL_CLOEXEC));
	if (!srv.ep.valid())
		return sys_error("epoll_create1");
	uint32_t cur = ~0u;
	srv.watch(srv.sig.get(), id_signal, EPOLLIN, cur);
	cur = ~0u;
	srv.watch(srv.unix_listener.fd.get(), id_unix, EPOLLIN, cur);
	return {};
}

int fail(const Error& e)
{
	report::error(e);
	return ex::syscall;
}

} // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): only CLI11's construction errors (see cli.hh)
int main(int argc, char** argv)
{
	report::init(prog);
	Environment env = Environment::capture();
	sandbox_off_for_self();
	Options o;
	if (auto rc = parse(cli::split_at_separator(argc, argv), o))
		return *rc;
	report::set_context(o.package + " " + o.phase);
	// Opened now: the proxy gives up every capability before the phase runs, and root
	// without them could no longer open a file in the build user's ${T}/logging.
	report::open_elog(o.elog);
	if (Status s = check_privilege_state(); !s)
		return fail(s.error());
	auto lists = read_lists(o);
	if (!lists) {
		report::error(lists.error());
		return ex::usage;
	}
	for (const std::string& note : lists.value().notes)
		report::message("%s", note.c_str());
	Policy policy = resolve(lists.value());
	auto listener = listen_unix(o.socket);
	if (!listener)
		return fail(listener.error());

	ChildSpec spec;
	spec.argv = o.next;
	spec.env = &env;
	// The child waits until this is done: it never runs beside a privileged proxy.
	spec.after_fork = [](pid_t) { return drop_all_capabilities(); };
	if (Status s = block_forwarded_signals(); !s)
		return fail(s.error());
	auto child = spawn(spec);
	if (!child || child.value().failed) {
		remove_unix(o.socket, listener.value());
		const SpawnFailure f =
		    child ? child.value().failure : SpawnFailure{ex::syscall, child.error()};
		report::error(f.error);
		return f.exit_code;
	}
	::signal(SIGPIPE, SIG_IGN); // the child has exec'd: only this process ignores it

	Server srv(policy, child.value().pid, listener.value());
	srv.upstream_socks = o.upstream_socks;
	auto sig = signal_fd();
	if (sig)
		srv.sig = std::move(sig.value());
	if (Status s = sig ? setup_epoll(srv) : Status(sig.error()); !s) {
		report::error(s.error());
		::kill(child.value().pid, SIGKILL);
	}
	int status = srv.run();
	remove_unix(o.socket, listener.value());
	return exit_status_from_wait(status);
}
