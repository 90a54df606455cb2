#include "orphan_count.hh"

#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox::orphan_count {

Result<Channel> open()
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		return sys_error("pipe2");
	Channel c;
	c.rd.reset(p[0]);
	c.wr.reset(p[1]);
	if (::fcntl(c.rd.get(), F_SETFL, O_NONBLOCK) != 0)
		return sys_error("fcntl");
	return c;
}

Status pass(const Channel& c, Environment& env)
{
	int fd = ::dup(c.wr.get()); // dup(2) clears FD_CLOEXEC
	if (fd < 0)
		return sys_error("dup");
	env.set(variable, std::to_string(fd));
	return {};
}

size_t read(Channel& c)
{
	c.wr.reset();
	char buf[32];
	ssize_t n = ::read(c.rd.get(), buf, sizeof buf - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return std::strtoul(buf, nullptr, 10);
}

int take(Environment& env)
{
	std::string value;
	bool found = false;
	const std::string prefix = std::string(variable) + "=";
	for (const auto& v : env.entries())
		if (v.compare(0, prefix.size(), prefix) == 0) {
			value = v.substr(prefix.size());
			found = true;
		}
	if (!found)
		return -1;
	env.unset(variable);
	if (value.empty())
		return -1;
	char* end = nullptr;
	long fd = std::strtol(value.c_str(), &end, 10);
	if (*end != '\0' || fd < 3 || fd > 1 << 20)
		return -1;
	struct stat st{};
	if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISFIFO(st.st_mode))
		return -1;
	::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
	return static_cast<int>(fd);
}

void send(int fd, size_t n)
{
	if (fd < 0)
		return;
	std::string s = std::to_string(n) + "\n";
	ssize_t w = ::write(fd, s.data(), s.size());
	(void)w;
	::close(fd);
}

} // namespace phasebox::orphan_count
