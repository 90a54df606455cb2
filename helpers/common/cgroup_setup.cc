#include "cgroup_setup.hh"

#include "file.hh"
#include "proc_cgroup.hh"

#include <algorithm>
#include <dirent.h>
#include <sstream>
#include <sys/xattr.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox {

Result<std::string> Hierarchy::relative(const std::string& cgroup_path) const
{
	std::string fs = cgroup_fs_path(mount, cgroup_path);
	if (fs.empty())
		return Error{ENOENT, "cgroup " + quote(cgroup_path) + " is not visible below " +
					     quote(mount.target)};
	std::string rel = fs.substr(mount.target.size());
	while (!rel.empty() && rel[0] == '/')
		rel.erase(0, 1);
	return rel;
}

Result<Hierarchy> open_hierarchy(HierarchyChoice choice)
{
	auto mounts = cgroup_mounts();
	if (!mounts)
		return mounts.error();
	Hierarchy h;
	const auto& m = mounts.value();
	if (choice != HierarchyChoice::v1 && !m.unified.empty()) {
		h.kind = cgroupfs::Kind::v2;
		h.mount = m.unified;
	} else if (choice != HierarchyChoice::v2 && m.v1.count("freezer")) {
		h.kind = cgroupfs::Kind::v1;
		h.mount = m.v1.at("freezer");
	} else {
		return Error{ENOENT, choice == HierarchyChoice::v1
					     ? "no cgroup v1 freezer hierarchy is mounted"
				     : choice == HierarchyChoice::v2
					     ? "no cgroup2 file system is mounted"
					     : "no cgroup2 file system and no cgroup v1 freezer "
					       "hierarchy is mounted"};
	}
	auto fd = cgroupfs::open_root(h.mount.target, h.kind);
	if (!fd)
		return fd.error();
	h.root = std::move(fd.value());
	return h;
}

Result<Hierarchy> open_v1_hierarchy(const std::string& controller)
{
	auto mounts = cgroup_mounts();
	if (!mounts)
		return mounts.error();
	auto it = mounts.value().v1.find(controller);
	if (it == mounts.value().v1.end())
		return Error{ENOENT, "no cgroup v1 " + controller + " hierarchy is mounted"};
	Hierarchy h;
	h.kind = cgroupfs::Kind::v1;
	h.mount = it->second;
	h.v1_name = controller;
	auto fd = cgroupfs::open_root(h.mount.target, h.kind);
	if (!fd)
		return fd.error();
	h.root = std::move(fd.value());
	return h;
}

Result<std::string> current_cgroup(const Hierarchy& h, int pid)
{
	auto pc = read_proc_cgroup(pid);
	if (!pc)
		return pc.error();
	if (h.kind == cgroupfs::Kind::v2) {
		if (pc.value().unified.empty())
			return Error{ENOENT, "no cgroup2 entry in /proc/<pid>/cgroup"};
		return pc.value().unified;
	}
	auto it = pc.value().v1.find(h.controller());
	if (it == pc.value().v1.end())
		return Error{ENOENT, "no " + h.controller() + " entry in /proc/<pid>/cgroup"};
	return it->second;
}

Result<Leaf> create_leaf(const Hierarchy& h, const std::string& base_path, bool create_base,
			 const std::string& label, long name_pid)
{
	auto rel = h.relative(base_path);
	if (!rel)
		return rel.error();
	auto base = cgroupfs::open_dir(h.root.get(), rel.value(), create_base, 0755);
	if (!base)
		return Error{base.error().err, base.error().what + " below " + quote(h.mount.target)};
	Leaf leaf;
	leaf.base = std::move(base.value());
	// "/name" below the root, not "//name" (a mirror below a phase in v1's root cgroup)
	const std::string below = base_path == "/" ? std::string() : base_path;
	// Shared lock on the base: only excludes a concurrent reaper, which takes it
	// exclusively, between our mkdir and the lock on the new leaf.
	if (::flock(leaf.base.get(), LOCK_SH) != 0)
		return sys_error("lock " + quote(base_path));
	for (unsigned n = 0; n < 100; ++n) {
		std::string name = layout::leaf_name(label, name_pid ? name_pid : ::getpid(), n);
		if (::mkdirat(leaf.base.get(), name.c_str(), 0755) == 0) {
			leaf.name = name;
			break;
		}
		if (errno != EEXIST)
			return sys_error("mkdir " + quote(below + "/" + name));
	}
	if (leaf.name.empty())
		return Error{EEXIST, "no free leaf name below " + quote(base_path)};
	leaf.path = below + "/" + leaf.name;
	leaf.dir.reset(::openat(leaf.base.get(), leaf.name.c_str(),
				O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
	if (!leaf.dir.valid())
		return sys_error("open " + quote(leaf.path));
	leaf.lock.reset(::openat(leaf.dir.get(), "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!leaf.lock.valid() || ::flock(leaf.lock.get(), LOCK_EX) != 0)
		return sys_error("lock " + quote(leaf.path + "/cgroup.procs"));
	::flock(leaf.base.get(), LOCK_UN);
	return leaf;
}

std::vector<Reaped> reap_stale_leaves(int basefd, cgroupfs::Kind kind, const std::string& keep,
				      std::chrono::milliseconds timeout, std::vector<Error>& errors)
{
	std::vector<Reaped> out;
	if (::flock(basefd, LOCK_EX | LOCK_NB) != 0)
		return out;
	int dup = ::openat(basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
	if (!d) {
		if (dup >= 0)
			::close(dup);
		::flock(basefd, LOCK_UN);
		return out;
	}
	std::vector<std::string> names;
	while (struct dirent* e = ::readdir(d))
		if (e->d_type == DT_DIR && e->d_name != keep && layout::is_leaf_name(e->d_name))
			names.emplace_back(e->d_name);
	::closedir(d);
	for (const auto& n : names) {
		UniqueFd fd(::openat(basefd, n.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
		if (!fd.valid())
			continue;
		UniqueFd lock(::openat(fd.get(), "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
		if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
			continue; // gone, or its supervisor is alive
		Reaped r{n, 0};
		if (auto pids = cgroupfs::list_pids(fd.get(), kind == cgroupfs::Kind::v2 ? "cgroup.procs" : "tasks", true))
			r.killed = pids.value().size();
		if (auto s = cgroupfs::kill_all(fd.get(), kind, timeout); !s) {
			errors.push_back({s.error().err, "reap stale leaf " + quote(n) + ": " + s.error().what});
			continue;
		}
		lock.reset();
		fd.reset();
		if (auto s = cgroupfs::remove_tree(basefd, n); !s) {
			errors.push_back({s.error().err, "remove stale leaf " + quote(n) + ": " + s.error().what});
			continue;
		}
		out.push_back(r);
	}
	::flock(basefd, LOCK_UN);
	return out;
}

namespace {

std::vector<std::string> words_of(const std::string& s)
{
	std::vector<std::string> out;
	std::istringstream in(s);
	for (std::string w; in >> w;)
		out.push_back(w);
	return out;
}

bool all_in(const std::vector<std::string>& wanted, const std::vector<std::string>& have)
{
	for (const auto& w : wanted)
		if (std::find(have.begin(), have.end(), w) == have.end())
			return false;
	return true;
}

bool delegated(int dirfd)
{
	for (const char* attr : {"user.delegate", "trusted.delegate"}) {
		char v[16];
		ssize_t n = ::fgetxattr(dirfd, attr, v, sizeof v);
		if (n == 0 || (n > 0 && !(n == 1 && v[0] == '0')))
			return true;
	}
	return false;
}

std::vector<std::string> words_at(int dirfd, const char* file)
{
	auto r = read_file_at(dirfd, file);
	return r ? words_of(r.value()) : std::vector<std::string>{};
}

} // namespace

Anchor choose_anchor(const Hierarchy& h, pid_t pid)
{
	Anchor a;
	if (h.kind != cgroupfs::Kind::v2)
		return a;
	auto cur = current_cgroup(h, static_cast<int>(pid));
	if (!cur)
		return a;
	std::string path = cur.value();
	const std::string scope = "/init.scope";
	if (path.size() > scope.size() && path.compare(path.size() - scope.size(), scope.size(), scope) == 0)
		path.resize(path.size() - scope.size());
	if (path.empty() || path == "/" || layout::classify(path).where != layout::Where::outside)
		return a;
	auto rel = h.relative(path);
	if (!rel)
		return a;
	auto dir = cgroupfs::open_dir(h.root.get(), rel.value());
	if (!dir)
		return a;
	for (const auto& c : words_at(h.root.get(), "cgroup.controllers"))
		if (c == "cpu" || c == "io" || c == "memory" || c == "pids")
			a.wanted.push_back(c);
	a.delegated = delegated(dir.value().get());
	const bool usable = a.delegated ? all_in(a.wanted, words_at(dir.value().get(), "cgroup.controllers"))
					: !a.wanted.empty() && all_in(a.wanted, words_at(dir.value().get(), "cgroup.subtree_control"));
	if (usable)
		a.path = path;
	return a;
}

Status prepare_anchor(const Hierarchy& h, const Anchor& a)
{
	if (a.path == "/" || a.path.empty())
		return {};
	auto rel = h.relative(a.path);
	if (!rel)
		return rel.error();
	auto dir = cgroupfs::open_dir(h.root.get(), rel.value());
	if (!dir)
		return dir.error();
	const int fd = dir.value().get();
	if (all_in(a.wanted, words_at(fd, "cgroup.subtree_control")))
		return {};
	auto scope = cgroupfs::open_dir(fd, "init.scope", true, 0755);
	if (!scope)
		return scope.error();
	if (Status s = cgroupfs::move_all(fd, scope.value().get()); !s)
		return Error{s.error().err, "move the processes of " + quote(a.path) + " into its init.scope: " +
						    s.error().what};
	for (const auto& c : a.wanted)
		if (Status s = write_file_at(fd, "cgroup.subtree_control", "+" + c); !s)
			return Error{s.error().err, "enable the " + c + " controller in " + quote(a.path + "/cgroup.subtree_control") +
							    ": " + s.error().what};
	return {};
}

} // namespace phasebox
