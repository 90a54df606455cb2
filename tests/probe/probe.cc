// phasebox-probe — a small program for the bats tests: it reports what the kernel says
// about the process it runs in, or behaves in one precise way (exit, die by a signal, leave
// daemons behind).  Plain system calls only; reports are key=value lines on stdout.
//
//   cgroup                    cgroup2=<0:: path>, freezer=<v1 freezer path>
//   caps                      CapInh/CapPrm/CapEff/CapBnd/CapAmb and NoNewPrivs (/proc/self/status)
//   ids                       uid=r,e,s gid=r,e,s groups=...
//   env FILE                  writes the environment to FILE, NUL-separated, in order
//   argv0                     argv0=<argv[0]>
//   daemonize MARKER READY    leaves a double-forked daemon and a setsid() child, both
//                             sleep(1) with argv[0]=MARKER; writes daemon=PID lines to
//                             READY (a file or a fifo) and stdout once both have exec'd
//   tree MARKER READY         PROG -> L1 -> L2 -> L3: L1 exits once L2 runs, L2 and L3
//                             sleep with argv[0]=MARKER; daemon=PID lines as above
//   exit N                    exits with status N
//   kill-self SIG             dies by signal SIG (name or number), without a core dump
//   wait-forever READY        writes pid=PID to READY, then pause()s
//   alloc MIB                 touches MIB MiB of fresh memory, writes touched=MIB, exits 0
//   forkloop N                forks up to N children that wait on a pipe, until fork fails;
//                             writes forked=K and fork_errno=E, lets them go, reaps them
//   spin SECONDS              busy-loops until its own CPU time reaches SECONDS; cpu=SECONDS
//   stamp MODE ARGS...        runs MODE, then prints exit_ns=<CLOCK_MONOTONIC ns> last, just
//                             before it exits (tests/bench/chain: how long the helpers
//                             take from the phase's exit to their own)
//
// Readiness never depends on time: every process that is to stay behind holds the write
// end of a close-on-exec pipe, writes its pid into it and execs; the probe reads pids until
// end of file, which it sees only when every such process has exec'd (or exited).
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/close_range.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

[[noreturn]] void die(const char* what)
{
	std::fprintf(stderr, "phasebox-probe: %s: %s\n", what, std::strerror(errno));
	std::exit(111);
}

[[noreturn]] void usage()
{
	std::fputs("usage: phasebox-probe cgroup|caps|ids|env FILE|argv0|daemonize MARKER READY|"
		   "tree MARKER READY|exit N|kill-self SIG|wait-forever READY\n",
		   stderr);
	std::exit(100);
}

std::string slurp(const char* path)
{
	int fd = ::open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	std::string s;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(fd, buf, sizeof buf)) > 0)
		s.append(buf, static_cast<size_t>(n));
	::close(fd);
	return s;
}

void write_all(int fd, const std::string& s)
{
	size_t off = 0;
	while (off < s.size()) {
		ssize_t n = ::write(fd, s.data() + off, s.size() - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		off += static_cast<size_t>(n);
	}
}

// Works for a regular file and for a fifo (open blocks until the test reads it).
void write_ready(const char* path, const std::string& s)
{
	int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	write_all(fd, s);
	::close(fd);
}

int cmd_cgroup()
{
	std::string s = slurp("/proc/self/cgroup");
	size_t pos = 0;
	while (pos < s.size()) {
		size_t nl = s.find('\n', pos);
		std::string line = s.substr(pos, nl - pos);
		pos = nl == std::string::npos ? s.size() : nl + 1;
		// "id:controllers:path"
		size_t c1 = line.find(':'), c2 = line.find(':', c1 + 1);
		if (c1 == std::string::npos || c2 == std::string::npos)
			continue;
		std::string ctrls = line.substr(c1 + 1, c2 - c1 - 1), path = line.substr(c2 + 1);
		if (line.compare(0, c1, "0") == 0 && ctrls.empty())
			std::printf("cgroup2=%s\n", path.c_str());
		else
			for (size_t b = 0; b <= ctrls.size();) {
				size_t e = ctrls.find(',', b);
				if (e == std::string::npos)
					e = ctrls.size();
				if (ctrls.compare(b, e - b, "freezer") == 0)
					std::printf("freezer=%s\n", path.c_str());
				b = e + 1;
			}
	}
	return 0;
}

int cmd_caps()
{
	std::string s = slurp("/proc/self/status");
	for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"}) {
		std::string k = std::string("\n") + key + ":";
		size_t p = s.find(k);
		if (p == std::string::npos)
			continue;
		p += k.size();
		while (p < s.size() && (s[p] == '\t' || s[p] == ' '))
			++p;
		std::printf("%s=%s\n", key, s.substr(p, s.find('\n', p) - p).c_str());
	}
	return 0;
}

int cmd_ids()
{
	uid_t r, e, su;
	gid_t gr, ge, gs;
	if (::getresuid(&r, &e, &su) != 0 || ::getresgid(&gr, &ge, &gs) != 0)
		die("getresuid");
	std::printf("uid=%u,%u,%u\ngid=%u,%u,%u\ngroups=", r, e, su, gr, ge, gs);
	gid_t groups[256];
	int n = ::getgroups(256, groups);
	for (int i = 0; i < n; ++i)
		std::printf("%s%u", i ? "," : "", groups[i]);
	std::printf("\n");
	return 0;
}

int cmd_env(const char* file)
{
	std::string s;
	for (char** p = environ; p && *p; ++p) {
		s += *p;
		s.push_back('\0');
	}
	write_ready(file, s);
	return 0;
}

// In a child that is to stay behind: report the pid through the pipe, then become
// `sleep 3600` with argv[0] = marker.  stdio goes to /dev/null and every other fd is
// closed on exec, so no test's output pipe is held open (bats would wait for it).
[[noreturn]] void become_daemon(const char* marker, int wfd)
{
	int null = ::open("/dev/null", O_RDWR);
	if (null >= 0) {
		::dup2(null, 0);
		::dup2(null, 1);
		::dup2(null, 2);
	}
	::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	write_all(wfd, std::to_string(::getpid()) + "\n");
	::execl("/bin/sleep", marker, "3600", static_cast<char*>(nullptr));
	::_exit(127);
}

// Read "pid\n" records until every writer has exec'd or exited.
std::string collect(int rfd)
{
	std::string all, out;
	char buf[256];
	ssize_t n;
	while ((n = ::read(rfd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		all.append(buf, static_cast<size_t>(n));
	}
	for (size_t p = 0, nl; (nl = all.find('\n', p)) != std::string::npos; p = nl + 1)
		out += "daemon=" + all.substr(p, nl - p) + "\n";
	return out;
}

int report_daemons(int rfd, const char* ready, size_t expected)
{
	std::string pids = collect(rfd);
	size_t count = 0;
	for (char c : pids)
		count += c == '\n';
	if (count != expected) {
		std::fprintf(stderr, "phasebox-probe: %zu of %zu daemons started\n", count, expected);
		return 1;
	}
	std::fputs(pids.c_str(), stdout);
	std::fflush(stdout);
	write_ready(ready, pids);
	return 0;
}

int cmd_daemonize(const char* marker, const char* ready)
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		die("pipe2");
	// Double fork: the middle process exits at once, the grandchild is re-parented.
	pid_t mid = ::fork();
	if (mid < 0)
		die("fork");
	if (mid == 0) {
		pid_t g = ::fork();
		if (g == 0)
			become_daemon(marker, p[1]);
		::_exit(g < 0 ? 1 : 0);
	}
	// A setsid() child: a session of its own, as a daemon would.
	pid_t s = ::fork();
	if (s < 0)
		die("fork");
	if (s == 0) {
		if (::setsid() < 0)
			::_exit(1);
		become_daemon(marker, p[1]);
	}
	::close(p[1]);
	::waitpid(mid, nullptr, 0);
	return report_daemons(p[0], ready, 2);
}

int cmd_tree(const char* marker, const char* ready)
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		die("pipe2");
	pid_t l1 = ::fork();
	if (l1 < 0)
		die("fork");
	if (l1 == 0) {
		pid_t l2 = ::fork();
		if (l2 == 0) {
			pid_t l3 = ::fork();
			if (l3 == 0)
				become_daemon(marker, p[1]);
			become_daemon(marker, p[1]);
		}
		::_exit(l2 < 0 ? 1 : 0);
	}
	::close(p[1]);
	::waitpid(l1, nullptr, 0);
	return report_daemons(p[0], ready, 2);
}

int signal_number(const char* s)
{
	char* end = nullptr;
	long n = std::strtol(s, &end, 10);
	if (*s && !*end)
		return static_cast<int>(n);
	if (std::strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; ++i)
		if (const char* a = sigabbrev_np(i); a && std::strcmp(a, s) == 0)
			return i;
	usage();
}

int cmd_kill_self(const char* sig)
{
	int n = signal_number(sig);
	::prctl(PR_SET_DUMPABLE, 0); // no core file, whatever core_pattern says
	struct rlimit no_core{0, 0};
	::setrlimit(RLIMIT_CORE, &no_core);
	std::signal(n, SIG_DFL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, n);
	::sigprocmask(SIG_UNBLOCK, &s, nullptr);
	::kill(::getpid(), n);
	std::fprintf(stderr, "phasebox-probe: still alive after signal %d\n", n);
	return 1;
}

int cmd_wait_forever(const char* ready)
{
	write_ready(ready, "pid=" + std::to_string(::getpid()) + "\n");
	for (;;)
		::pause();
}

int cmd_alloc(const char* mib_s)
{
	size_t mib = std::strtoul(mib_s, nullptr, 10);
	size_t len = mib << 20;
	void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	long page = ::sysconf(_SC_PAGESIZE);
	for (size_t off = 0; off < len; off += static_cast<size_t>(page))
		static_cast<volatile char*>(p)[off] = 1;
	std::printf("touched=%zu\n", mib);
	return 0;
}

int cmd_forkloop(const char* n_s)
{
	long n = std::strtol(n_s, nullptr, 10);
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		die("pipe2");
	long forked = 0;
	int err = 0;
	for (; forked < n; ++forked) {
		pid_t pid = ::fork();
		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			::close(p[1]);
			char c;
			ssize_t r = ::read(p[0], &c, 1); // end of file once the parent lets go
			::_exit(r < 0);
		}
	}
	::close(p[1]);
	for (long i = 0; i < forked; ++i)
		while (::wait(nullptr) < 0 && errno == EINTR) {
		}
	std::printf("forked=%ld\nfork_errno=%d\n", forked, err);
	return 0;
}

int cmd_spin(const char* s_s)
{
	double want = std::strtod(s_s, nullptr);
	volatile unsigned long x = 0;
	for (;;) {
		for (int i = 0; i < 1000000; ++i)
			x = x + static_cast<unsigned long>(i);
		struct timespec ts{};
		::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		if (static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9 >= want)
			break;
	}
	std::printf("cpu=%s\n", s_s);
	return 0;
}

} // namespace

int run_mode(int argc, char** argv);

int main(int argc, char** argv)
{
	if (argc >= 3 && std::string(argv[1]) == "stamp") {
		int rc = run_mode(argc - 1, argv + 1);
		struct timespec ts{};
		::clock_gettime(CLOCK_MONOTONIC, &ts);
		std::printf("exit_ns=%lld\n", static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
		std::fflush(stdout);
		return rc;
	}
	return run_mode(argc, argv);
}

int run_mode(int argc, char** argv)
{
	if (argc < 2)
		usage();
	std::string c = argv[1];
	if (c == "cgroup" && argc == 2)
		return cmd_cgroup();
	if (c == "caps" && argc == 2)
		return cmd_caps();
	if (c == "ids" && argc == 2)
		return cmd_ids();
	if (c == "env" && argc == 3)
		return cmd_env(argv[2]);
	if (c == "argv0" && argc == 2)
		return std::printf("argv0=%s\n", argv[0]) < 0;
	if (c == "daemonize" && argc == 4)
		return cmd_daemonize(argv[2], argv[3]);
	if (c == "tree" && argc == 4)
		return cmd_tree(argv[2], argv[3]);
	if (c == "exit" && argc == 3)
		return static_cast<int>(std::strtol(argv[2], nullptr, 10));
	if (c == "kill-self" && argc == 3)
		return cmd_kill_self(argv[2]);
	if (c == "wait-forever" && argc == 3)
		return cmd_wait_forever(argv[2]);
	if (c == "alloc" && argc == 3)
		return cmd_alloc(argv[2]);
	if (c == "forkloop" && argc == 3)
		return cmd_forkloop(argv[2]);
	if (c == "spin" && argc == 3)
		return cmd_spin(argv[2]);
	usage();
}
