#include "inprocess.hh"

#include "fd.hh"

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>


namespace phasebox::inprocess {
namespace {

bool on = false;
Config cfg;
std::vector<int> shell_fds; // sorted
char** shell_environ = nullptr;
char shell_comm[17] = {};
const std::string token = "<phasebox: back to the shell>";

// Every descriptor open in this process, read from /proc/self/fd (the fd used to read it
// excluded).
std::vector<int> open_fds()
{
	std::vector<int> out;
	DIR* d = ::opendir("/proc/self/fd");
	if (!d)
		return out;
	const int own = ::dirfd(d);
	while (struct dirent* e = ::readdir(d)) {
		char* end = nullptr;
		long fd = std::strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || fd == own)
			continue;
		out.push_back(static_cast<int>(fd));
	}
	::closedir(d);
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace

void enable(Config config)
{
	cfg = std::move(config);
	shell_fds = open_fds();
	shell_environ = environ;
	::prctl(PR_GET_NAME, shell_comm);
	on = true;
}

bool active() { return on; }

const std::string& dir() { return cfg.dir; }

const std::string& continue_token() { return token; }

Main find(const std::string& argv0)
{
	for (const auto& [name, m] : cfg.mains)
		if (argv0 == cfg.dir + "/" + name)
			return m;
	return nullptr;
}

void close_on_exec()
{
	for (int fd : open_fds()) {
		if (std::binary_search(shell_fds.begin(), shell_fds.end(), fd))
			continue;
		int flags = ::fcntl(fd, F_GETFD);
		if (flags >= 0 && (flags & FD_CLOEXEC))
			::close(fd);
	}
}

void install_environment(const Environment& env)
{
	// Leaked on purpose, like an exec'd program's environment: it lives as long as the
	// process (a supervisor) that got it.
	auto* strings = new std::vector<std::string>(env.entries());
	auto* ptrs = new std::vector<char*>;
	for (auto& s : *strings)
		ptrs->push_back(s.data());
	ptrs->push_back(nullptr);
	environ = ptrs->data();
}

void restore_shell()
{
	environ = shell_environ;
	::prctl(PR_SET_NAME, shell_comm);
	on = false;
}

} // namespace phasebox::inprocess
