#include "install.hh"

#include <sys/stat.h>
#include <unistd.h>

#ifndef PHASEBOX_LIBEXECDIR
#error "PHASEBOX_LIBEXECDIR is set by the Makefile"
#endif

namespace phasebox::install
{

namespace
{

// "/a/b" -> "/a"; "/a" -> ""; "" when there is no slash.
std::string parent(const std::string& p)
{
	const auto slash = p.rfind('/');
	return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

// An executable regular file phasebox-cgroup in `dir`.
bool has_helpers(const std::string& dir)
{
	const std::string f = dir + "/phasebox-cgroup";
	struct stat st {
	};
	return !dir.empty() && ::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
	       ::access(f.c_str(), X_OK) == 0;
}

} // namespace

std::string self_exe()
{
	char buf[4096];
	const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
	return n > 0 && buf[0] == '/' ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

const char* built_libexecdir()
{
	return PHASEBOX_LIBEXECDIR;
}

Helpers helpers_for(const std::string& exe, const std::string& built)
{
	if (!exe.empty() && exe[0] == '/') {
		const std::string here = parent(exe);
		for (const std::string& c : {parent(here) + "/libexec/phasebox", here})
			if (has_helpers(c))
				return {c, false};
	}
	return {built, true};
}

Helpers helpers()
{
	return helpers_for(self_exe(), built_libexecdir());
}

} // namespace phasebox::install
