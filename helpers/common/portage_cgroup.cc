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

// Move what `from` holds into `to`, one pid a write; a pid gone meanwhile is no error.
// Returns how many were listed.
Result<size_t> move_all(int from, int to)
{
	auto pids = cgroupfs::list_pids(from, "cgroup.procs", false);
	if (!pids)
		return pids.error();
	for (pid_t p : pids.value())
		if (Status s = write_file_at(to, "cgroup.procs", std::to_string(p)); !s && s.error().err != ESRCH)
			return s.error();
	return pids.value().size();
}

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
	// A process forking while its siblings move can leave a child behind: a few rounds.
	for (int round = 0; round < 8; ++round) {
		auto n = move_all(buildfd, hold.value().get());
		if (!n)
			return Error{n.error().err, "move the processes of " + quote(path) + " into " + quote(holder) +
							    ": " + n.error().what};
		if (n.value() == 0)
			return {};
	}
	return Error{EBUSY, "processes keep appearing in " + quote(path)};
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
	for (int round = 0; round < 8; ++round) {
		auto n = move_all(hold.value().get(), buildfd);
		if (!n) {
			errors.push_back(Error{n.error().err, "move the processes of " + quote(path + "/" + holder) +
								      " back: " + n.error().what});
			return;
		}
		if (n.value() == 0)
			break;
	}
	hold.value().reset();
	if (::unlinkat(buildfd, holder.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && errno != EBUSY)
		errors.push_back(sys_error("remove " + quote(path + "/" + holder)));
}

} // namespace phasebox::portage_cgroup
