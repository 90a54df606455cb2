#include "elog.hh"

#include "fd.hh"

#include <array>
#include <climits>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace phasebox::elog
{
namespace
{

// EBUILD_PHASES (lib/portage/const.py): the names collect_ebuild_messages() accepts; any
// other file in ${T}/logging is "an invalid log file" to Portage, and is not collected.
constexpr std::array<std::string_view, 18> portage_phases = {
    "pretend", "setup",   "unpack",  "prepare",  "configure", "compile",
    "test",    "install", "package", "instprep", "preinst",   "postinst",
    "prerm",   "postrm",  "nofetch", "config",   "info",      "other"};

// The components of an absolute path ("/a/b" -> a, b); check_path() has vetted it.
std::vector<std::string> components(const std::string& path)
{
	std::vector<std::string> out;
	size_t pos = 1;
	while (pos <= path.size()) {
		size_t end = path.find('/', pos);
		if (end == std::string::npos)
			end = path.size();
		out.push_back(path.substr(pos, end - pos));
		pos = end + 1;
	}
	return out;
}

bool is_symlink_at(int dirfd, const std::string& name)
{
	struct stat st {
	};
	return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

} // namespace

const char* class_name(Class c)
{
	switch (c) {
	case Class::info:
		return "INFO";
	case Class::log:
		return "LOG";
	case Class::warn:
		return "WARN";
	case Class::error:
		return "ERROR";
	case Class::qa:
		return "QA";
	}
	return "LOG";
}

std::string format(Class c, std::string_view message)
{
	std::string out;
	if (message.empty())
		return out;
	const std::string prefix = std::string(class_name(c)) + " ";
	size_t pos = 0;
	for (;;) {
		const size_t nl = message.find('\n', pos);
		const std::string_view line = message.substr(
		    pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
		out += prefix;
		for (const char ch : line) {
			const auto u = static_cast<unsigned char>(ch);
			if ((u < 0x20 && u != '\t') || u == 0x7f) {
				char buf[8];
				std::snprintf(buf, sizeof buf, "\\x%02x", u);
				out += buf;
			} else {
				out.push_back(ch);
			}
		}
		out.push_back('\n');
		if (nl == std::string_view::npos)
			break;
		pos = nl + 1;
	}
	return out;
}

Status check_path(const std::string& path)
{
	const std::string what = "the elog file " + quote(path);
	if (path.empty() || path[0] != '/')
		return Error{EINVAL, what + " is not an absolute path"};
	if (path.size() >= PATH_MAX || path.find('\0') != std::string::npos)
		return Error{EINVAL, what + " is too long or holds a NUL byte"};
	const auto comps = components(path);
	for (const auto& c : comps)
		if (c.empty() || c == "." || c == "..")
			return Error{EINVAL, what + " has an empty, '.' or '..' component"};
	if (comps.size() < 2 || comps[comps.size() - 2] != "logging")
		return Error{
		    EINVAL,
		    what + " is not in a directory named 'logging' (${T}/logging/${EBUILD_PHASE})"};
	for (const auto p : portage_phases)
		if (comps.back() == p)
			return {};
	return Error{
	    EINVAL,
	    what + " is not named after one of Portage's phases (${T}/logging/${EBUILD_PHASE})"};
}

Result<UniqueFd> open(const std::string& path)
{
	if (Status s = check_path(path); !s)
		return s.error();
	const auto comps = components(path);
	UniqueFd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (!dir.valid())
		return sys_error("open '/'");
	// Component by component, never following a symbolic link: the build user owns ${T}
	// and could have put one anywhere below it (a root helper would then write where the
	// link points).  Each step is relative to the directory opened before, so nothing can
	// be swapped in between.
	std::string so_far;
	for (size_t i = 0; i + 1 < comps.size(); ++i) {
		so_far += "/" + comps[i];
		const int fd = ::openat(dir.get(), comps[i].c_str(),
		                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			Error e = sys_error("open " + quote(so_far));
			if (is_symlink_at(dir.get(), comps[i]))
				return Error{
				    ELOOP, quote(so_far) +
				               " is a symbolic link (refused: the elog file's path "
				               "may have none)"};
			return e;
		}
		dir.reset(fd);
	}
	struct stat dst {
	};
	if (::fstat(dir.get(), &dst) != 0)
		return sys_error("stat " + quote(so_far));
	if (dst.st_mode & S_IWOTH)
		return Error{EPERM, quote(so_far) + " is writable by everyone (refused)"};
	const std::string& name = comps.back();
	// O_NONBLOCK: a FIFO planted there neither blocks the helper nor gets written (it is
	// refused below, or the open fails with ENXIO when nothing reads it).
	UniqueFd f(::openat(
	    dir.get(), name.c_str(),
	    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644));
	if (!f.valid()) {
		Error e = sys_error("open " + quote(path));
		if (is_symlink_at(dir.get(), name))
			return Error{ELOOP,
			             quote(path) + " is a symbolic link (refused, never followed)"};
		return e;
	}
	struct stat fst {
	};
	if (::fstat(f.get(), &fst) != 0)
		return sys_error("stat " + quote(path));
	if (!S_ISREG(fst.st_mode))
		return Error{EINVAL, quote(path) + " is not a regular file (refused)"};
	// A hard link is another name of someone else's file (without fs.protected_hardlinks
	// the build user could link root's files there).
	if (fst.st_nlink != 1)
		return Error{EPERM, quote(path) + " has " + std::to_string(fst.st_nlink) +
		                        " links (refused)"};
	if (fst.st_uid != ::geteuid() && fst.st_uid != dst.st_uid)
		return Error{EPERM, quote(path) + " belongs to uid " + std::to_string(fst.st_uid) +
		                        ", neither this process's (" + std::to_string(::geteuid()) +
		                        ") nor its directory's owner (" +
		                        std::to_string(dst.st_uid) + ") (refused)"};
	return f;
}

Status write(int fd, const std::string& text)
{
	size_t done = 0;
	while (done < text.size()) {
		const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sys_error("write");
		if (n == 0)
			return Error{EIO, "short write"};
		done += static_cast<size_t>(n);
	}
	return {};
}

Status append(const std::string& path, const std::string& text)
{
	auto f = open(path);
	if (!f)
		return f.error();
	return write(f.value().get(), text);
}

} // namespace phasebox::elog
