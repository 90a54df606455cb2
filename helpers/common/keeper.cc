#include "keeper.hh"

#include "cgroupfs.hh"
#include "file.hh"
#include "layout.hh"
#include "portage_cgroup.hh"

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <optional>
#include <poll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace phasebox::keeper {
namespace {

constexpr size_t max_message = 8192;
constexpr size_t max_clients = 512;

// The decimal number at the start of s, 0 when there is none or it does not fit an int.
// (std::atoi's overflow is undefined behaviour, and these texts come from another
// process: the release from the supervisor a build runs under.)
int leading_int(const char* s)
{
	int v = 0;
	std::from_chars(s, s + std::strlen(s), v);
	return v;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_alive(int pidfd) { return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0; }

// The pid a pidfd refers to, in this process's pid namespace (-1: it has exited).
Result<pid_t> pidfd_pid(int pidfd)
{
	auto info = read_file("/proc/self/fdinfo/" + std::to_string(pidfd));
	if (!info)
		return info.error();
	auto pos = info.value().find("\nPid:");
	if (pos == std::string::npos)
		return Error{EBADF, "not a pidfd"};
	long pid = std::strtol(info.value().c_str() + pos + 5, nullptr, 10);
	if (pid <= 0)
		return Error{ESRCH, "the process has exited"};
	return static_cast<pid_t>(pid);
}

// PPid and the four uids (real, effective, saved, file system) of `pid`.
struct Ids {
	pid_t ppid = -1;
	long uid[4] = {-1, -1, -1, -1};
};

Result<Ids> process_ids(pid_t pid)
{
	auto st = read_file("/proc/" + std::to_string(pid) + "/status");
	if (!st)
		return st.error();
	Ids ids;
	const std::string& s = st.value();
	auto p = s.find("\nPPid:");
	auto u = s.find("\nUid:");
	if (p == std::string::npos || u == std::string::npos)
		return Error{EINVAL, "unreadable /proc/" + std::to_string(pid) + "/status"};
	ids.ppid = static_cast<pid_t>(std::strtol(s.c_str() + p + 6, nullptr, 10));
	const char* c = s.c_str() + u + 5;
	for (long& v : ids.uid) {
		char* end = nullptr;
		v = std::strtol(c, &end, 10);
		c = end;
	}
	return ids;
}

Status send_reply(int fd, const std::string& msg)
{
	// Never blocks: a client that does not read its answers (its receive queue, or the
	// keeper's send buffer, full) is dropped instead of stopping the keeper for every phase.
	if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return sys_error("send to the phasebox keeper's client");
	return {};
}

std::string error_reply(const Error& e) { return "E" + std::to_string(e.err) + ":" + e.what; }

std::string one_line(std::string s)
{
	for (char& c : s)
		if (c == '\n' || c == '\0')
			c = ' ';
	return s;
}

} // namespace

std::string wire::encode(const Request& r)
{
	std::string m = one_line(r.label) + "\n" + r.limits.to_lines();
	if (r.warn)
		m += "fallback=warn\n";
	if (!r.makeopts.empty())
		m += "makeopts=" + one_line(r.makeopts) + "\n";
	if (!r.log.empty())
		m += "log=" + one_line(r.log) + "\n";
	return m;
}

Result<Request> wire::decode(const std::string& m)
{
	// encode() never sends one (one_line()); the label and MAKEOPTS reach records and logs.
	if (m.find('\0') != std::string::npos)
		return Error{EINVAL, "a NUL in the request"};
	Request r;
	auto nl = m.find('\n');
	r.label = m.substr(0, nl);
	std::string lim;
	size_t i = nl == std::string::npos ? m.size() : nl + 1;
	while (i < m.size()) {
		size_t j = m.find('\n', i);
		if (j == std::string::npos)
			j = m.size();
		std::string line = m.substr(i, j - i);
		i = j + 1;
		if (line.rfind("fallback=", 0) == 0) {
			if (line != "fallback=warn" && line != "fallback=fail")
				return Error{EINVAL, "bad fallback " + quote(line.substr(9))};
			r.warn = line == "fallback=warn";
		} else if (line.rfind("makeopts=", 0) == 0) {
			r.makeopts = line.substr(9, 1000);
		} else if (line.rfind("log=", 0) == 0) {
			r.log = line.substr(4);
			if (Status s = accounting::check_log_path(r.log); !s)
				return s.error();
		} else {
			lim += line + "\n";
		}
	}
	auto l = limits::parse_lines(lim, limits::ram_bytes());
	if (!l)
		return l.error();
	r.limits = std::move(l.value());
	return r;
}

wire::Release wire::decode_release(const std::string& m)
{
	Release r;
	r.status = leading_int(m.c_str());
	auto colon = m.find(':');
	size_t reaped = colon == std::string::npos ? 0 : std::strtoul(m.c_str() + colon + 1, nullptr, 10);
	r.reaped = std::min<size_t>(reaped, max_reaped);
	return r;
}

std::string wire::encode_release(int status, size_t reaped)
{
	return std::to_string(status) + ":" + std::to_string(reaped);
}

Result<std::string> wire::decode_answer(const std::string& r)
{
	if (!r.empty() && r[0] == 'O')
		return r.substr(1);
	if (!r.empty() && r[0] == 'E') {
		auto colon = r.find(':');
		int err = leading_int(r.c_str() + 1);
		return Error{err, "the phasebox keeper refused: " + (colon == std::string::npos ? r : r.substr(colon + 1))};
	}
	return Error{EPROTO, "unexpected answer from the phasebox keeper"};
}

namespace {

double now_s()
{
	struct timespec ts{};
	::clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// --- the keeper process ------------------------------------------------------------

struct Client {
	UniqueFd sock;
	UniqueFd peer; // pidfd of the connecting process
	pid_t peer_pid = -1;
	bool root = false; // may register, may not lease
	std::optional<Leaf> leaf;
	std::optional<Attached> att;
	UniqueFd nest;          // Portage's build cgroup the leaf is below (FEATURES=cgroup)
	std::string nest_path;
	Request req;      // what is in force for the leaf
	std::string log;  // where its record goes
	double start = 0;
};

class Keeper {
      public:
	Keeper(const Hierarchy& h, const Config& c)
		: h_(h), c_(c), inv_path_(c.top + "/" + c.inv_name),
		  main_path_(inv_path_ + "/main"), builds_path_(inv_path_ + "/builds")
	{
	}

	Status open_builds()
	{
		auto rel = h_.relative(builds_path_);
		if (!rel)
			return rel.error();
		auto b = cgroupfs::open_dir(h_.root.get(), rel.value());
		if (!b)
			return b.error();
		builds_ = std::move(b.value());
		return {};
	}

	// Serve until emerge ends (true) or poll fails (false).
	bool loop(int listen_fd, int emerge_pidfd)
	{
		for (;;) {
			std::vector<struct pollfd> pfds;
			pfds.push_back({emerge_pidfd, POLLIN, 0});
			pfds.push_back({listen_fd, POLLIN, 0});
			std::vector<int> order;
			for (auto& [fd, cl] : clients_) {
				pfds.push_back({fd, POLLIN, 0});
				order.push_back(fd);
			}
			if (::poll(pfds.data(), pfds.size(), -1) < 0) {
				if (errno == EINTR)
					continue;
				return false;
			}
			if (pfds[0].revents)
				return true; // emerge has ended (exited, or was killed)
			if (pfds[1].revents & POLLIN)
				accept_one(listen_fd);
			for (size_t i = 0; i < order.size(); ++i)
				if (pfds[i + 2].revents)
					serve(order[i]);
		}
	}

	// emerge has ended: nothing of its phases stays.
	void shutdown()
	{
		for (auto& [fd, cl] : clients_)
			drop_leaf(cl);
		clients_.clear();
	}

      private:
	void accept_one(int listen_fd)
	{
		UniqueFd s(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
		if (!s.valid())
			return;
		if (clients_.size() >= max_clients) {
			(void)send_reply(s.get(), error_reply({EMFILE, "too many phases at once"}));
			return;
		}
		struct ucred cred{};
		socklen_t len = sizeof cred;
		if (::getsockopt(s.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
			return;
		if (static_cast<uid_t>(cred.uid) != c_.uid && cred.uid != 0) {
			(void)send_reply(s.get(), error_reply({EPERM, "uid " + std::to_string(cred.uid) +
									 " is not the build user this invocation was delegated to (uid " +
									 std::to_string(c_.uid) + ")"}));
			return;
		}
		// Only a supervisor in main ever has a request to make (root's registrations come
		// from pkg_setup, in main too, and root's src_install is root anyway): a build in
		// its leaf is refused at once, so it cannot hold the keeper's max_clients slots and
		// starve the phases of its emerge.
		if (cred.uid != 0)
			if (auto in = home_of(cred.pid, "the supervisor"); !in) {
				(void)send_reply(s.get(), error_reply(in.error()));
				return;
			}
		Client cl;
		// The connecting process itself, pinned: a pidfd from the socket where the
		// kernel has one (6.5), else opened now and checked below to be the same pid.
		int pfd = -1;
		len = sizeof pfd;
		if (::getsockopt(s.get(), SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) != 0)
			pfd = pidfd_open(cred.pid);
		cl.peer.reset(pfd);
		cl.peer_pid = cred.pid;
		cl.root = cred.uid == 0;
		if (!cl.peer.valid())
			return;
		int fd = s.get();
		cl.sock = std::move(s);
		clients_.emplace(fd, std::move(cl));
	}

	void serve(int fd)
	{
		Client& cl = clients_.at(fd);
		char buf[max_message + 1];
		alignas(struct cmsghdr) char cbuf[CMSG_SPACE(4 * sizeof(int))];
		struct iovec iov{buf, max_message};
		struct msghdr m{};
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		ssize_t n = ::recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		// Every descriptor that came is taken, so that each is closed: one left open for
		// every request that brought two would add up to the keeper's RLIMIT_NOFILE.
		std::vector<UniqueFd> fds;
		for (struct cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
					int got;
					std::memcpy(&got, CMSG_DATA(h) + i * sizeof got, sizeof got);
					fds.emplace_back(got);
				}
		UniqueFd passed = fds.size() == 1 ? std::move(fds[0]) : UniqueFd();
		if (n < 0 || (n == 0 && closed(fd))) {
			// Closed: the supervisor has exited or died.
			drop_leaf(cl);
			clients_.erase(fd);
			return;
		}
		std::string msg(buf, static_cast<size_t>(n));
		std::string reply;
		// A malformed message is refused whole, never parsed in part: what the kernel cut
		// (MSG_TRUNC: the rest of a SOCK_SEQPACKET record is gone), more descriptors than
		// the one a lease takes (those past the buffer the kernel closed: MSG_CTRUNC), an
		// empty one (which recvmsg() tells from the end of the connection only by the
		// hang-up).
		if (m.msg_flags & MSG_TRUNC)
			reply = error_reply({EMSGSIZE, "a request of more than " + std::to_string(max_message) + " bytes"});
		else if ((m.msg_flags & MSG_CTRUNC) || fds.size() > 1)
			reply = error_reply({EPROTO, "more than one file descriptor passed with a request"});
		else if (msg.empty())
			reply = error_reply({EPROTO, "an empty request"});
		else if (msg[0] == 'R' && cl.root) {
			auto r = wire::decode(msg.substr(1));
			if (r) {
				regs_[r.value().label] = r.value();
				reply = "O";
			} else {
				reply = error_reply(r.error());
			}
		} else if (msg[0] == 'R') {
			reply = error_reply({EPERM, "only root may register limits, not uid " + std::to_string(c_.uid)});
		} else if (msg[0] == 'L' && cl.root) {
			reply = error_reply({EPERM, "uid 0 is not the build user this invocation was delegated to (uid " +
							    std::to_string(c_.uid) + "); root may only register limits"});
		} else if (msg[0] == 'L' && !cl.leaf && passed.valid()) {
			auto req = wire::decode(msg.substr(1));
			auto r = req ? lease(cl, passed.get(), req.value()) : Result<std::string>(req.error());
			reply = r ? "O" + r.value() : error_reply(r.error());
		} else if (msg[0] == 'K' && cl.leaf) {
			auto k = wire::decode_release(msg.substr(1));
			auto rec = drop_leaf(cl, k.status, k.reaped);
			reply = rec ? "O" + rec.value() : error_reply(rec.error());
		} else {
			reply = error_reply({EPROTO, "unexpected request"});
		}
		if (!send_reply(fd, reply).ok() || reply[0] == 'E') {
			drop_leaf(cl);
			clients_.erase(fd);
		}
	}

	// Whether the peer has closed its end (a zero-length read is also an empty message).
	static bool closed(int fd)
	{
		struct pollfd p{fd, POLLIN | POLLRDHUP, 0};
		int r = ::poll(&p, 1, 0);
		return r < 0 || (r == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)));
	}

	// Where a phase of this invocation starts: main (""), or, with Portage's FEATURES=cgroup,
	// the per-build cgroup of this invocation's emerge Portage put it into (or that cgroup's
	// holder, where it waits while another leaf is below it): that cgroup's path.
	Result<std::string> home_of(pid_t pid, const char* who)
	{
		auto cg = current_cgroup(h_, static_cast<int>(pid));
		if (!cg)
			return cg.error();
		if (cg.value() == main_path_)
			return std::string();
		auto b = layout::portage_build(cg.value());
		if (b && b->emerge == emerge_ && (b->rest.empty() || b->rest == layout::portage_holder))
			return b->path;
		return Error{EPERM, std::string(who) + " is in " + quote(cg.value()) + ", not in " + quote(main_path_) +
					    " nor in a build cgroup Portage made for emerge " + std::to_string(emerge_)};
	}

	Result<std::string> lease(Client& cl, int child_pidfd, const Request& asked)
	{
		const std::string& label = asked.label;
		// What root registered for the package from its pkg_setup wins over what the
		// build user's side asks for.
		Request req = asked;
		const std::string pkg = label.substr(0, label.rfind(':'));
		if (auto it = regs_.find(pkg); it != regs_.end()) {
			req.limits = it->second.limits;
			req.warn = it->second.warn;
			req.log = it->second.log;
		} else {
			req.log.clear();
		}
		if (!pidfd_alive(cl.peer.get()))
			return Error{ESRCH, "the supervisor has exited"};
		auto peer_pid = pidfd_pid(cl.peer.get());
		if (!peer_pid)
			return peer_pid.error();
		if (peer_pid.value() != cl.peer_pid)
			return Error{ESRCH, "the supervisor has exited"};
		auto child = pidfd_pid(child_pidfd);
		if (!child)
			return child.error();
		const pid_t pid = child.value();
		auto home = home_of(cl.peer_pid, "the supervisor");
		if (!home)
			return home.error();
		auto child_home = home_of(pid, "the process to move");
		if (!child_home)
			return child_home.error();
		if (child_home.value() != home.value())
			return Error{EPERM, "process " + std::to_string(pid) + " is not where the supervisor is"};
		auto ids = process_ids(pid);
		if (!ids)
			return ids.error();
		if (ids.value().ppid != cl.peer_pid)
			return Error{EPERM, "process " + std::to_string(pid) + " is not the supervisor's child"};
		for (long u : ids.value().uid)
			if (u != static_cast<long>(c_.uid))
				return Error{EPERM, "process " + std::to_string(pid) + " does not run as uid " +
							    std::to_string(c_.uid) + " alone"};
		// Everything read above was read of this very process: it is still there (a
		// child its parent has not reaped keeps its pid even when dead, and the
		// supervisor does not reap before the keeper has answered).
		if (!pidfd_alive(child_pidfd))
			return Error{ESRCH, "process " + std::to_string(pid) + " has exited"};
		// Below Portage's build cgroup, its processes wait in its holder while the leaf
		// exists (common/portage_cgroup.hh); given back when the lease ends, or now.
		const std::string& base_path = home.value().empty() ? builds_path_ : home.value();
		UniqueFd nest;
		if (!home.value().empty()) {
			auto b = portage_cgroup::open_build(h_, base_path);
			if (!b)
				return b.error();
			nest = std::move(b.value());
			if (Status s = portage_cgroup::make_room(nest.get(), base_path); !s) {
				give_back(nest, base_path);
				return s.error();
			}
		}
		auto leaf = create_leaf(h_, base_path, false, label, cl.peer_pid);
		if (!leaf) {
			give_back(nest, base_path);
			return leaf.error();
		}
		Leaf& l = leaf.value();
		auto undo = [&]() {
			l.lock.reset();
			l.dir.reset();
			(void)cgroupfs::remove_tree(l.base.get(), l.name);
			give_back(nest, base_path);
		};
		for (const char* f : {".", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"})
			if (::fchownat(l.dir.get(), f, c_.uid, c_.gid, AT_SYMLINK_NOFOLLOW) != 0) {
				Error e = sys_error("chown " + quote(l.path + "/" + f));
				undo();
				return e;
			}
		AttachRequest ar;
		ar.main = &h_;
		ar.base_path = base_path;
		ar.leafdir = l.dir.get();
		ar.label = label;
		ar.v1_of = pid;
		ar.name_pid = cl.peer_pid;
		ar.warn = req.warn;
		auto att = attach(ar, req.limits);
		if (!att) {
			undo();
			return att.error();
		}
		Status moved = enter_mirrors(att.value(), pid);
		if (moved)
			moved = write_file_at(l.dir.get(), "cgroup.procs", std::to_string(pid));
		if (!moved || !pidfd_alive(child_pidfd)) {
			// Whatever went in must be that process; if it died meanwhile, its pid may
			// name another process by now: back to where it came from with it.
			auto main_rel = h_.relative(home.value().empty() ? main_path_
									 : base_path + "/" + std::string(layout::portage_holder));
			auto main_fd = main_rel ? cgroupfs::open_dir(h_.root.get(), main_rel.value())
						: Result<UniqueFd>(main_rel.error());
			if (auto pids = cgroupfs::list_pids(l.dir.get(), "cgroup.procs", false); pids && main_fd)
				for (pid_t p : pids.value())
					(void)write_file_at(main_fd.value().get(), "cgroup.procs", std::to_string(p));
			std::vector<Error> ignored;
			detach(att.value(), ignored);
			undo();
			return moved ? Error{ESRCH, "process " + std::to_string(pid) + " has exited"}
				     : Error{moved.error().err, "move " + std::to_string(pid) + " into " +
									quote(l.path) + ": " + moved.error().what};
		}
		std::string name = l.name;
		cl.leaf = std::move(l);
		cl.att = std::move(att.value());
		cl.nest = std::move(nest);
		cl.nest_path = base_path;
		cl.log = req.log.empty() ? c_.log : req.log;
		cl.req = std::move(req);
		cl.start = now_s();
		return name;
	}

	// Kill what is left, account, remove.  `status` is the phase's exit status as the
	// supervisor tells it (-1: the supervisor went away).  Returns the record's JSON.
	Result<std::string> drop_leaf(Client& cl, int status = -1, size_t reaped = 0)
	{
		if (!cl.leaf)
			return std::string();
		Leaf l = std::move(*cl.leaf);
		cl.leaf.reset();
		Attached att = cl.att ? std::move(*cl.att) : Attached{};
		cl.att.reset();
		accounting::Record rec;
		rec.wall_s = now_s() - cl.start;
		rec.start = cl.start;
		if (auto pids = cgroupfs::list_pids(l.dir.get(), "cgroup.procs", true))
			rec.orphans = pids.value().size();
		rec.orphans += reaped;
		Status killed = cgroupfs::kill_all(l.dir.get(), cgroupfs::Kind::v2,
						   std::chrono::milliseconds(c_.kill_timeout * 1000ULL));
		if (!killed)
			return Error{killed.error().err, "kill what is left in " + quote(l.path) + ": " +
								 killed.error().what};
		rec.usage = read_usage(l.dir.get(), cgroupfs::Kind::v2, att);
		const std::string& label = cl.req.label;
		rec.package = label.substr(0, label.rfind(':'));
		rec.phase = label.rfind(':') == std::string::npos ? "" : label.substr(label.rfind(':') + 1);
		rec.uid = static_cast<long>(c_.uid);
		rec.status = status;
		rec.limits = cl.req.limits;
		for (const auto& e : att.dropped)
			rec.dropped.push_back(e.what);
		rec.makeopts = cl.req.makeopts;
		rec.writer = "phasebox-keeper";
		std::vector<Error> errors;
		detach(att, errors);
		l.lock.reset();
		l.dir.reset();
		Status removed = cgroupfs::remove_tree(l.base.get(), l.name);
		give_back(cl.nest, cl.nest_path);
		if (!removed)
			return Error{removed.error().err, "remove " + quote(l.path) + ": " + removed.error().what};
		std::string line = accounting::to_json(rec);
		if (Status s = accounting::append(cl.log, line); !s)
			return Error{s.error().err, "append to the accounting log: " + s.error().what};
		return line;
	}

	// Portage's build cgroup back as Portage made it, once no leaf is below it.
	static void give_back(UniqueFd& nest, const std::string& path)
	{
		if (!nest.valid())
			return;
		// Nothing to say it to (the keeper's stderr is the emerge's terminal, or gone):
		// what is left there, Portage removes with its build cgroup.
		std::vector<Error> ignored;
		portage_cgroup::give_back(nest.get(), path, ignored);
		nest.reset();
	}

	const Hierarchy& h_;
	Config c_;
	long emerge_ = layout::parse_pid(c_.inv_name.substr(4)).value_or(-1);
	std::string inv_path_, main_path_, builds_path_;
	UniqueFd builds_;
	std::map<int, Client> clients_;
	std::map<std::string, Request> regs_; // package -> what root registered
};

// /run/phasebox, root's own: created 0755 when missing by the keeper.  Whoever opens it (the
// keeper to listen, root to register, a supervisor to ask, adopt to remove a stale socket)
// refuses it when anyone but root could have put something there: a symbolic link in its
// place (never followed), another owner, group or world write permission.
Result<UniqueFd> open_run_dir(bool create)
{
	if (create && ::mkdir(run_dir, 0755) != 0 && errno != EEXIST)
		return sys_error("mkdir " + quote(run_dir));
	UniqueFd d(::open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!d.valid()) {
		struct stat lst{};
		if (errno == ELOOP || (errno == ENOTDIR && ::lstat(run_dir, &lst) == 0 && S_ISLNK(lst.st_mode)))
			return Error{ELOOP, quote(run_dir) + " is a symbolic link, not root's directory: refusing to follow it"};
		return sys_error("open " + quote(run_dir));
	}
	struct stat st{};
	if (::fstat(d.get(), &st) != 0)
		return sys_error("stat " + quote(run_dir));
	char mode[8];
	std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
	if (st.st_uid != 0)
		return Error{EPERM, quote(run_dir) + " belongs to uid " + std::to_string(st.st_uid) +
					    ", not root: refusing to use it (remove it)"};
	if (st.st_mode & 022)
		return Error{EPERM, quote(run_dir) + " has mode " + mode +
					    ", writable by others than root: refusing to use it (chmod 755 it)"};
	return d;
}

// Bind the listening socket as <run_dir>/<inv>.sock, mode 0666 (who may be served is
// decided per connection).
Result<UniqueFd> listen_on(int dirfd, const std::string& name)
{
	UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	if (!s.valid())
		return sys_error("socket");
	if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
		return sys_error("remove the old " + quote(std::string(run_dir) + "/" + name));
	struct sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::string p = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
	if (p.size() >= sizeof a.sun_path)
		return Error{ENAMETOOLONG, "socket path " + quote(p)};
	std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
	if (::bind(s.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
		return sys_error("bind " + quote(std::string(run_dir) + "/" + name));
	if (::fchmodat(dirfd, name.c_str(), 0666, 0) != 0)
		return sys_error("chmod " + quote(std::string(run_dir) + "/" + name));
	if (::listen(s.get(), 64) != 0)
		return sys_error("listen");
	return s;
}

// Out of the invocation: back into the cgroup adopt ran in (emerge's before adopt moved it,
// where a process may be: its init.scope once the anchor gives controllers to the top),
// unless that is below a top of phasebox's or gone; else the hierarchy's root.
Status leave(const Hierarchy& h, const std::string& origin)
{
	if (!origin.empty() && layout::classify(origin).where == layout::Where::outside)
		for (const std::string& to : {origin, origin + "/init.scope"})
			if (auto rel = h.relative(to))
				if (auto d = cgroupfs::open_dir(h.root.get(), rel.value()))
					if (cgroupfs::enter(d.value().get(), h.kind))
						return {};
	return cgroupfs::enter(h.root.get(), h.kind);
}

extern "C" void phasebox_keeper_on_alarm(int /*sig*/) {}

// flock(fd, LOCK_EX), giving up after `seconds`: anyone who may open /phasebox may hold
// its lock, and the keeper must not wait for ever.
bool lock_within(int fd, unsigned seconds)
{
	struct sigaction sa{};
	struct sigaction old{};
	sa.sa_handler = phasebox_keeper_on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; // no SA_RESTART: the alarm interrupts the flock
	if (::sigaction(SIGALRM, &sa, &old) != 0)
		return false;
	::alarm(seconds);
	const int r = ::flock(fd, LOCK_EX);
	::alarm(0);
	(void)::sigaction(SIGALRM, &old, nullptr);
	return r == 0;
}

// emerge has ended: nothing of it stays.  Under the lock adopt holds while it reaps and
// creates invocations (waited for at most the kill timeout), and only while the socket at
// `sock_name` is still the one this keeper bound (else a later adopt reaped the invocation
// already, or took its name again for an emerge that got the same pid): leave the
// invocation, then kill what is left in it (whatever its phases left in main, when emerge
// did not wait for them) and remove it and the socket.  A keeper that cannot leave kills
// what is left in main and builds, and leaves the empty invocation to the next adopt.
void end_invocation(const Hierarchy& h, const Config& c, const std::string& origin, int rundir,
		    const std::string& sock_name, const struct stat& bound)
{
	auto top_rel = h.relative(c.top);
	auto top = top_rel ? cgroupfs::open_dir(h.root.get(), top_rel.value()) : Result<UniqueFd>(top_rel.error());
	if (top)
		(void)lock_within(top.value().get(), c.kill_timeout);
	struct stat now{};
	if (::fstatat(rundir, sock_name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 ||
	    now.st_dev != bound.st_dev || now.st_ino != bound.st_ino)
		return; // not this keeper's any more
	(void)::unlinkat(rundir, sock_name.c_str(), 0);
	if (!top)
		return;
	const auto timeout = std::chrono::milliseconds(c.kill_timeout * 1000ULL);
	if (leave(h, origin)) {
		(void)reap_invocation(h, top.value().get(), c.inv_name, timeout);
		return;
	}
	for (const char* part : {"main", "builds"})
		if (auto d = cgroupfs::open_dir(top.value().get(), c.inv_name + "/" + part))
			(void)cgroupfs::kill_all(d.value().get(), h.kind, timeout);
}

[[noreturn]] void keeper_main(const Hierarchy& h, int emerge_pidfd, const Config& c, int ready)
{
	auto fail = [&](const Error& e) {
		std::string m = error_reply(e);
		ssize_t n = ::write(ready, m.data(), m.size());
		(void)n;
		::_exit(1);
	};
	// Nothing else emerge passed down stays open here.
	if (DIR* d = ::opendir("/proc/self/fd")) {
		std::vector<int> fds;
		while (struct dirent* e = ::readdir(d))
			if (int fd = leading_int(e->d_name); fd > 2 && fd != ::dirfd(d))
				fds.push_back(fd);
		::closedir(d);
		for (int fd : fds)
			if (fd != ready && fd != emerge_pidfd && fd != h.root.get())
				::close(fd);
	}
	::prctl(PR_SET_NAME, "phasebox-keeper");
	::signal(SIGPIPE, SIG_IGN);
	::signal(SIGHUP, SIG_IGN);
	::signal(SIGINT, SIG_IGN);
	::signal(SIGQUIT, SIG_IGN);
	if (::chdir("/") != 0)
		fail(sys_error("chdir /"));
	// None of emerge's descriptors: a pipe emerge's output goes to must see its end when
	// emerge's own writers are gone.  What goes wrong is told to the clients.
	UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
	if (!null.valid() || ::dup2(null.get(), 0) < 0 || ::dup2(null.get(), 1) < 0 || ::dup2(null.get(), 2) < 0)
		fail(sys_error("/dev/null"));
	// Where adopt ran (emerge's cgroup before adopt), to go back to at the end.
	auto from = current_cgroup(h);
	const std::string origin = from ? from.value() : std::string();
	// Out of main (whose emptiness tells a stale invocation) and out of anything a build
	// can reach.
	auto inv_rel = h.relative(c.top + "/" + c.inv_name);
	if (!inv_rel)
		fail(inv_rel.error());
	auto inv = cgroupfs::open_dir(h.root.get(), inv_rel.value());
	if (!inv)
		fail(inv.error());
	auto own = cgroupfs::open_dir(inv.value().get(), "keeper", true, 0755);
	if (!own)
		fail(own.error());
	if (Status s = write_file_at(own.value().get(), "cgroup.procs", "0"); !s)
		fail(s.error());
	Keeper k(h, c);
	if (Status s = k.open_builds(); !s)
		fail(s.error());
	auto dir = open_run_dir(true);
	if (!dir)
		fail(dir.error());
	const std::string name = c.inv_name + ".sock";
	auto sock = listen_on(dir.value().get(), name);
	if (!sock)
		fail(sock.error());
	struct stat bound{};
	if (::fstatat(dir.value().get(), name.c_str(), &bound, AT_SYMLINK_NOFOLLOW) != 0)
		fail(sys_error("stat " + quote(socket_path(c.inv_name))));
	if (::write(ready, "R", 1) != 1)
		::_exit(1);
	::close(ready);
	const bool ended = k.loop(sock.value().get(), emerge_pidfd);
	k.shutdown();
	sock.value().reset(); // no new client from here on
	if (ended)
		end_invocation(h, c, origin, dir.value().get(), name, bound);
	else
		(void)::unlinkat(dir.value().get(), name.c_str(), 0);
	::_exit(0);
}

} // namespace

std::string socket_path(const std::string& inv_name) { return std::string(run_dir) + "/" + inv_name + ".sock"; }

void remove_socket(const std::string& inv_name)
{
	if (auto d = open_run_dir(false))
		(void)::unlinkat(d.value().get(), (inv_name + ".sock").c_str(), 0);
}

Status reap_invocation(const Hierarchy& h, int topfd, const std::string& inv_name, std::chrono::milliseconds timeout)
{
	if (!layout::is_invocation_name(inv_name))
		return Error{EINVAL, "not an invocation: " + quote(inv_name)};
	auto inv = cgroupfs::open_dir(topfd, inv_name);
	if (!inv)
		return inv.error().err == ENOENT ? Status{} : Status{inv.error()};
	if (Status s = cgroupfs::kill_all(inv.value().get(), h.kind, timeout); !s)
		return Error{s.error().err, "kill what is left in " + quote(inv_name) + ": " + s.error().what};
	inv.value().reset();
	remove_socket(inv_name);
	if (Status s = cgroupfs::remove_tree(topfd, inv_name); !s)
		return Error{s.error().err, "remove " + quote(inv_name) + ": " + s.error().what};
	return {};
}

Status start(const Hierarchy& h, int emerge_pidfd, const Config& c)
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		return sys_error("pipe2");
	UniqueFd rd(p[0]), wr(p[1]);
	pid_t first = ::fork();
	if (first < 0)
		return sys_error("fork");
	if (first == 0) {
		rd.reset();
		// Its own session, and not emerge's child: a terminal's ^C or hangup does not
		// reach it, and emerge never waits for it.
		::setsid();
		pid_t second = ::fork();
		if (second < 0)
			::_exit(1);
		if (second > 0)
			::_exit(0);
		keeper_main(h, emerge_pidfd, c, wr.get());
	}
	wr.reset();
	int st = 0;
	while (::waitpid(first, &st, 0) < 0 && errno == EINTR) {
	}
	char buf[max_message];
	ssize_t n;
	do
		n = ::read(rd.get(), buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n == 1 && buf[0] == 'R')
		return {};
	if (n > 1 && buf[0] == 'E') {
		std::string m(buf + 1, static_cast<size_t>(n - 1));
		auto colon = m.find(':');
		return Error{leading_int(m.c_str()), "phasebox keeper: " + (colon == std::string::npos ? m : m.substr(colon + 1))};
	}
	return Error{EPIPE, "the phasebox keeper did not start"};
}

namespace {

// The keeper of `inv_name`, and no one else: its socket is a socket of root's in root's
// /run/phasebox (connected through the directory's fd, so that nothing is swapped in
// between), and the process listening on it is root's (SO_PEERCRED of a connected
// socket: the listener's credentials).  A socket another user planted is never spoken to:
// root would hand it the package's limits, a supervisor its child.
Result<UniqueFd> connect_keeper(const std::string& inv_name)
{
	const std::string path = socket_path(inv_name);
	const std::string name = inv_name + ".sock";
	auto dir = open_run_dir(false);
	if (!dir)
		return Error{dir.error().err, "connect to the phasebox keeper at " + quote(path) + ": " + dir.error().what};
	struct stat st{};
	if (::fstatat(dir.value().get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
		return sys_error("connect to the phasebox keeper at " + quote(path));
	if (!S_ISSOCK(st.st_mode))
		return Error{EPERM, "connect to the phasebox keeper at " + quote(path) + ": not a socket"};
	if (st.st_uid != 0)
		return Error{EPERM, "connect to the phasebox keeper at " + quote(path) + ": the socket belongs to uid " +
					    std::to_string(st.st_uid) + ", not root: refusing to talk to it"};
	UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	if (!s.valid())
		return sys_error("socket");
	struct sockaddr_un a{};
	a.sun_family = AF_UNIX;
	const std::string p = "/proc/self/fd/" + std::to_string(dir.value().get()) + "/" + name;
	if (p.size() >= sizeof a.sun_path)
		return Error{ENAMETOOLONG, "socket path " + quote(p)};
	std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
	if (::connect(s.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
		return sys_error("connect to the phasebox keeper at " + quote(path));
	struct ucred cred{};
	socklen_t len = sizeof cred;
	if (::getsockopt(s.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return sys_error("connect to the phasebox keeper at " + quote(path) + ": SO_PEERCRED");
	if (cred.uid != 0)
		return Error{EPERM, "connect to the phasebox keeper at " + quote(path) + ": it is served by uid " +
					    std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) +
					    "), not root: refusing to talk to it"};
	return s;
}

Result<std::string> exchange(int fd, const std::string& msg, int pass_fd)
{
	struct iovec iov{const_cast<char*>(msg.data()), msg.size()};
	struct msghdr m{};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
	if (pass_fd >= 0) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		struct cmsghdr* h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(h), &pass_fd, sizeof pass_fd);
	}
	ssize_t n;
	do
		n = ::sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sys_error("send to the phasebox keeper");
	char buf[max_message];
	// A keeper that refuses a client at connect answers and closes before reading the
	// request: the kernel reports that as ECONNRESET once, then hands over the answer.
	bool reset = false;
	do {
		n = ::recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == ECONNRESET && !reset) {
			reset = true;
			errno = EINTR;
		}
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return sys_error("receive from the phasebox keeper");
	if (n == 0)
		return Error{ECONNRESET, "the phasebox keeper closed the connection"};
	return wire::decode_answer(std::string(buf, static_cast<size_t>(n)));
}

} // namespace

Status register_package(const std::string& inv_name, const Request& req)
{
	auto sock = connect_keeper(inv_name);
	if (!sock)
		return sock.error();
	auto r = exchange(sock.value().get(), "R" + wire::encode(req), -1);
	if (!r)
		return r.error();
	return {};
}

Result<Lease> request(const Hierarchy& h, const std::string& inv_name, const std::string& base, int child_pidfd,
		      const Request& req)
{
	Lease l;
	auto sock = connect_keeper(inv_name);
	if (!sock)
		return sock.error();
	l.sock = std::move(sock.value());
	auto r = exchange(l.sock.get(), "L" + wire::encode(req), child_pidfd);
	if (!r)
		return r.error();
	l.name = r.value();
	if (!cgroupfs::is_plain_name(l.name) || !layout::is_leaf_name(l.name))
		return Error{EPROTO, "the phasebox keeper answered a bad leaf name " + quote(l.name)};
	l.path = base + "/" + l.name;
	auto rel = h.relative(l.path);
	if (!rel)
		return rel.error();
	auto d = cgroupfs::open_dir(h.root.get(), rel.value());
	if (!d)
		return d.error();
	l.dir = std::move(d.value());
	return l;
}

Result<accounting::Record> release(Lease& l, int status, size_t reaped)
{
	auto r = exchange(l.sock.get(), "K" + wire::encode_release(status, reaped), -1);
	l.dir.reset();
	l.sock.reset();
	if (!r)
		return r.error();
	return accounting::from_json(r.value());
}

} // namespace phasebox::keeper
