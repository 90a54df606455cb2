#include "portage_cgroup.hh"

#include "cgroupfs.hh"
#include "file.hh"
#include "layout.hh"

#include <dirent.h>
#include <sstream>
#include <sys/stat.h>

namespace phasebox::portage_cgroup {
namespace {

const std::string holder(layout::portage_holder);

// Whether any cgroup but the holder is below the build cgroup (a phasebox leaf).
bool has_leaves(int buildfd)
{
	int dup = ::openat(buildfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
	if (!d)
		return true; // unknown: leave it as it is
	bool found = false;
	while (struct dirent* e = ::readdir(d))
		if (e->d_type == DT_DIR && std::string(e->d_name) != "." && std::string(e->d_name) != ".." &&
		    e->d_name != holder)
			found = true;
	::closedir(d);
	return found;
}

} // namespace

Result<UniqueFd> open_build(const Hierarchy& h, const std::string& path)
{
	auto rel = h.relative(path);
	if (!rel)
		return rel.error();
	auto dir = cgroupfs::open_dir(h.root.get(), rel.value());
	if (!dir)
		return dir.error();
	struct stat st{};
	if (::fstat(dir.value().get(), &st) != 0)
		return sys_error("stat " + quote(path));
	if (st.st_uid != 0)
		return Error{EPERM, quote(path) + " looks like Portage's per-build cgroup but belongs to uid " +
					    std::to_string(st.st_uid) + ", not to root (Portage makes it as root)"};
	return dir;
}

Status make_room(int buildfd, const std::string& path)
{
	auto hold = cgroupfs::open_dir(buildfd, holder, true, 0755);
	if (!hold)
		return Error{hold.error().err, "make " + quote(path + "/" + holder) + ": " + hold.error().what};
	if (Status s = cgroupfs::move_all(buildfd, hold.value().get()); !s)
		return Error{s.error().err, "move the processes of " + quote(path) + " into " + quote(holder) + ": " +
						    s.error().what};
	return {};
}

void give_back(int buildfd, const std::string& path, std::vector<Error>& errors)
{
	if (has_leaves(buildfd))
		return;
	auto enabled = read_file_at(buildfd, "cgroup.subtree_control");
	if (!enabled) {
		errors.push_back(enabled.error());
		return;
	}
	std::istringstream words(enabled.value());
	std::string off;
	for (std::string c; words >> c;)
		off += (off.empty() ? "-" : " -") + c;
	if (!off.empty())
		if (Status s = write_file_at(buildfd, "cgroup.subtree_control", off); !s) {
			errors.push_back(Error{s.error().err, "disable " + quote(off) + " in " + quote(path + "/cgroup.subtree_control") +
								      ": " + s.error().what});
			return;
		}
	auto hold = cgroupfs::open_dir(buildfd, holder);
	if (!hold)
		return; // never made, or gone
	// What keeps appearing there stays (Portage removes the build cgroup with all below it).
	if (Status s = cgroupfs::move_all(hold.value().get(), buildfd); !s && s.error().err != EBUSY) {
		errors.push_back(Error{s.error().err, "move the processes of " + quote(path + "/" + holder) +
							      " back: " + s.error().what});
		return;
	}
	hold.value().reset();
	if (::unlinkat(buildfd, holder.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && errno != EBUSY)
		errors.push_back(sys_error("remove " + quote(path + "/" + holder)));
}

} // namespace phasebox::portage_cgroup
