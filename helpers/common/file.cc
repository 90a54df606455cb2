#include "file.hh"

#include "fd.hh"

#include <unistd.h>

namespace phasebox {

Result<std::string> pread_all(int fd)
{
	std::string out;
	char buf[4096];
	off_t off = 0;
	for (;;) {
		ssize_t n = ::pread(fd, buf, sizeof buf, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_error("read");
		}
		if (n == 0)
			break;
		out.append(buf, static_cast<size_t>(n));
		off += n;
	}
	return out;
}

Result<std::string> read_file_at(int dirfd, const std::string& name)
{
	UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid())
		return sys_error("open " + quote(name));
	auto r = pread_all(fd.get());
	if (!r)
		return Error{r.error().err, "read " + quote(name)};
	return r;
}

Result<std::string> read_file(const std::string& path) { return read_file_at(AT_FDCWD, path); }

Status write_file_at(int dirfd, const std::string& name, const std::string& data)
{
	UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid())
		return sys_error("open " + quote(name));
	ssize_t n;
	do
		n = ::write(fd.get(), data.data(), data.size());
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sys_error("write " + quote(name));
	if (static_cast<size_t>(n) != data.size())
		return Error{EIO, "short write to " + quote(name)};
	return {};
}

} // namespace phasebox
