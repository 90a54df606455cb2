#include "mounts.hh"

#include <libmount.h>
#include <memory>
#include <optional>
#include <sys/stat.h>

namespace phasebox {
namespace {

struct TableDeleter {
	void operator()(libmnt_table* t) const { mnt_unref_table(t); }
};
struct IterDeleter {
	void operator()(libmnt_iter* i) const { mnt_free_iter(i); }
};

// Controllers a v1 mount carries, from its super-block options ("rw,freezer").
const char* const v1_controllers[] = {"cpu",     "cpuacct", "cpuset",     "memory", "devices",
				      "freezer", "blkio",   "pids",       "net_cls", "net_prio",
				      "hugetlb", "perf_event", "rdma",     "misc"};

bool preferred_over(const std::string& candidate, const std::string& current)
{
	// On pure v2 hosts cgroup2 is /sys/fs/cgroup; on hybrid hosts /sys/fs/cgroup/unified.
	auto rank = [](const std::string& t) {
		if (t == "/sys/fs/cgroup")
			return 0;
		if (t == "/sys/fs/cgroup/unified")
			return 1;
		return 2;
	};
	return rank(candidate) < rank(current);
}

} // namespace

Result<CgroupMounts> find_cgroup_mounts(const std::string& mountinfo)
{
	std::unique_ptr<libmnt_table, TableDeleter> tb(mnt_new_table());
	if (!tb)
		return sys_error("mnt_new_table");
	int rc = mnt_table_parse_file(tb.get(), mountinfo.c_str());
	if (rc != 0)
		return Error{rc < 0 ? -rc : EINVAL, "parse " + quote(mountinfo)};
	std::unique_ptr<libmnt_iter, IterDeleter> it(mnt_new_iter(MNT_ITER_FORWARD));
	if (!it)
		return sys_error("mnt_new_iter");

	CgroupMounts out;
	libmnt_fs* fs = nullptr;
	while (mnt_table_next_fs(tb.get(), it.get(), &fs) == 0) {
		const char* type = mnt_fs_get_fstype(fs);
		const char* target = mnt_fs_get_target(fs);
		// The kernel writes absolute mount points; the helpers open these paths, so
		// anything else (found by tests/fuzz/mountinfo) is skipped, never resolved.
		if (!type || !target || target[0] != '/')
			continue;
		const char* root = mnt_fs_get_root(fs);
		const char* vfs_opts = mnt_fs_get_vfs_options(fs);
		CgroupMount m{target, root ? root : "/",
			      vfs_opts && mnt_optstr_get_option(vfs_opts, "ro", nullptr, nullptr) == 0};
		std::string t(type);
		// A later mount on the same target is stacked over the earlier one and is the one
		// visible there (findmnt searches the table backwards for the same reason).
		if (t == "cgroup2") {
			if (out.unified.empty() || m.target == out.unified.target ||
			    preferred_over(m.target, out.unified.target))
				out.unified = m;
		} else if (t == "cgroup") {
			const char* fs_opts = mnt_fs_get_fs_options(fs);
			if (!fs_opts)
				continue;
			auto add = [&](const std::string& key) {
				auto [slot, added] = out.v1.emplace(key, m);
				if (!added && slot->second.target == m.target)
					slot->second = m;
			};
			for (const char* c : v1_controllers)
				if (mnt_optstr_get_option(fs_opts, c, nullptr, nullptr) == 0)
					add(c);
			char* name = nullptr;
			size_t len = 0;
			if (mnt_optstr_get_option(fs_opts, "name", &name, &len) == 0 && name)
				add("name=" + std::string(name, len));
		}
	}
	return out;
}

Result<CgroupMounts> cgroup_mounts()
{
	static std::optional<CgroupMounts> cached;
	static ino_t cached_ns = 0;
	struct stat st{};
	const bool known_ns = ::stat("/proc/self/ns/mnt", &st) == 0;
	if (known_ns && cached && st.st_ino == cached_ns)
		return *cached;
	auto m = find_cgroup_mounts();
	if (m && known_ns) {
		cached = m.value();
		cached_ns = st.st_ino;
	}
	return m;
}

std::string cgroup_fs_path(const CgroupMount& m, const std::string& cgroup)
{
	if (m.empty() || cgroup.empty() || cgroup[0] != '/')
		return "";
	if (m.root == "/")
		return cgroup == "/" ? m.target : m.target + cgroup;
	if (cgroup == m.root)
		return m.target;
	if (cgroup.compare(0, m.root.size(), m.root) == 0 && cgroup.size() > m.root.size() &&
	    cgroup[m.root.size()] == '/')
		return m.target + cgroup.substr(m.root.size());
	return "";
}

} // namespace phasebox
