#include "cgroup_limits.hh"

#include "file.hh"

#include <algorithm>
#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox {
namespace {

using limits::Key;

const char* controller_of(Key k)
{
	switch (k) {
	case Key::memory_max:
	case Key::memory_high:
	case Key::memory_swap_max: return "memory";
	case Key::pids_max: return "pids";
	case Key::cpu_max:
	case Key::cpu_weight: return "cpu";
	case Key::io_weight: return "io";
	}
	return "";
}

bool has_word(const std::string& text, const std::string& w)
{
	size_t i = 0;
	while (i < text.size()) {
		while (i < text.size() && (text[i] == ' ' || text[i] == '\n'))
			++i;
		size_t j = i;
		while (j < text.size() && text[j] != ' ' && text[j] != '\n')
			++j;
		if (text.compare(i, j - i, w) == 0 && j > i)
			return true;
		i = j;
	}
	return false;
}

// Limits of `l` whose controller is `ctrl`, described: "PHASEBOX_MEMORY_MAX=8G ...".
std::string wanted(const limits::Limits& l, const std::string& ctrl)
{
	std::string out;
	for (Key k : limits::all_keys)
		if (l.has(k) && ctrl == controller_of(k))
			out += (out.empty() ? "" : " ") + std::string(limits::variable(k)) + "=" + l.text(k);
	return out;
}

Error cannot_apply(const std::string& what_limits, const Error& e)
{
	return Error{e.err, what_limits + " cannot be applied: " + e.what};
}

Status write_value(int dir, const std::string& file, uint64_t v)
{
	return write_file_at(dir, file, std::to_string(v));
}

// Why an I/O weight file is missing, and what to do: BFQ adds its weight files to every
// cgroup once it is loaded (built in, or its module loaded by selecting it for a disk).
const std::string bfq_remedy = "select bfq for the build's disk: echo bfq > /sys/block/<dev>/queue/scheduler; "
			       "or unset PHASEBOX_IO_WEIGHT";

bool exists_at(int dir, const char* name)
{
	struct stat st{};
	return ::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::optional<uint64_t> read_number(int dir, const char* file)
{
	auto t = read_file_at(dir, file);
	if (!t)
		return std::nullopt;
	char* end = nullptr;
	unsigned long long v = std::strtoull(t.value().c_str(), &end, 10);
	if (end == t.value().c_str())
		return std::nullopt;
	return v;
}

std::optional<uint64_t> read_keyed(int dir, const char* file, const char* key)
{
	auto t = read_file_at(dir, file);
	if (!t)
		return std::nullopt;
	return keyed_value(t.value(), key);
}

} // namespace

std::vector<std::string> controllers_for(const limits::Limits& l)
{
	std::vector<std::string> out;
	for (Key k : limits::all_keys)
		if (l.has(k) && std::find(out.begin(), out.end(), controller_of(k)) == out.end())
			out.emplace_back(controller_of(k));
	return out;
}

Status enable_v2_controllers(int rootfd, const std::string& rel, const std::vector<std::string>& ctrls)
{
	if (ctrls.empty())
		return {};
	auto cur = cgroupfs::open_dir(rootfd, "");
	if (!cur)
		return cur.error();
	std::string done;
	size_t i = 0;
	for (;;) {
		auto offered = read_file_at(cur.value().get(), "cgroup.controllers");
		if (!offered)
			return Error{offered.error().err, offered.error().what + " of " + quote(done.empty() ? "/" : done)};
		auto enabled = read_file_at(cur.value().get(), "cgroup.subtree_control");
		if (!enabled)
			return Error{enabled.error().err, enabled.error().what + " of " + quote(done.empty() ? "/" : done)};
		for (const auto& c : ctrls) {
			if (!has_word(offered.value(), c))
				return Error{ENOTSUP, "the " + c + " controller is not offered in " +
							      quote((done.empty() ? "/" : done) + "/cgroup.controllers")};
			if (has_word(enabled.value(), c))
				continue;
			if (Status s = write_file_at(cur.value().get(), "cgroup.subtree_control", "+" + c); !s)
				return Error{s.error().err, "enable the " + c + " controller in " +
								    quote((done.empty() ? "" : done) + "/cgroup.subtree_control")};
		}
		while (i < rel.size() && rel[i] == '/')
			++i;
		if (i >= rel.size())
			return {};
		size_t j = rel.find('/', i);
		if (j == std::string::npos)
			j = rel.size();
		std::string comp = rel.substr(i, j - i);
		i = j;
		done += "/" + comp;
		auto next = cgroupfs::open_dir(cur.value().get(), comp);
		if (!next)
			return next.error();
		cur = std::move(next);
	}
}

Status write_v2_limits(int dir, const std::string& ctrl, const limits::Limits& l)
{
	if (ctrl == "memory") {
		// high before max: a max below the current usage reclaims at once.
		if (l.memory_high)
			if (Status s = write_value(dir, "memory.high", *l.memory_high); !s)
				return s;
		if (l.memory_max)
			if (Status s = write_value(dir, "memory.max", *l.memory_max); !s)
				return s;
		if (l.memory_swap_max)
			if (Status s = write_value(dir, "memory.swap.max", *l.memory_swap_max); !s)
				return s;
	} else if (ctrl == "pids") {
		if (l.pids_max)
			return write_value(dir, "pids.max", *l.pids_max);
	} else if (ctrl == "cpu") {
		if (l.cpu_quota_us)
			if (Status s = write_file_at(dir, "cpu.max", std::to_string(*l.cpu_quota_us) + " " +
									  std::to_string(limits::cpu_period_us));
			    !s)
				return s;
		if (l.cpu_weight)
			return write_value(dir, "cpu.weight", *l.cpu_weight);
	} else if (ctrl == "io") {
		if (l.io_weight) {
			// io.weight is blk-iocost's; with the BFQ scheduler it is io.bfq.weight.
			if (exists_at(dir, "io.weight"))
				return write_file_at(dir, "io.weight", "default " + std::to_string(*l.io_weight));
			if (!exists_at(dir, "io.bfq.weight"))
				return Error{ENOTSUP, "no BFQ I/O scheduler and no blk-iocost (" + bfq_remedy +
							      "): no 'io.weight' nor 'io.bfq.weight'"};
			return write_value(dir, "io.bfq.weight", std::min<uint64_t>(*l.io_weight, 1000));
		}
	}
	return {};
}

Status write_v1_limits(int dir, const std::string& ctrl, const limits::Limits& l)
{
	if (ctrl == "memory") {
		if (l.memory_swap_max && !l.memory_max)
			return Error{EINVAL, "cgroup v1 limits swap only together with memory "
					     "(memory.memsw.limit_in_bytes): set PHASEBOX_MEMORY_MAX too"};
		if (l.memory_max)
			if (Status s = write_value(dir, "memory.limit_in_bytes", *l.memory_max); !s)
				return s;
		if (l.memory_high)
			if (Status s = write_value(dir, "memory.soft_limit_in_bytes", *l.memory_high); !s)
				return s;
		if (l.memory_swap_max) {
			if (!exists_at(dir, "memory.memsw.limit_in_bytes"))
				return Error{ENOTSUP, "no 'memory.memsw.limit_in_bytes' (boot with swapaccount=1)"};
			if (Status s = write_value(dir, "memory.memsw.limit_in_bytes", *l.memory_max + *l.memory_swap_max); !s)
				return s;
		}
	} else if (ctrl == "pids") {
		if (l.pids_max)
			return write_value(dir, "pids.max", *l.pids_max);
	} else if (ctrl == "cpu") {
		if (l.cpu_quota_us) {
			if (Status s = write_value(dir, "cpu.cfs_period_us", limits::cpu_period_us); !s)
				return s;
			if (Status s = write_value(dir, "cpu.cfs_quota_us", *l.cpu_quota_us); !s)
				return s;
		}
		if (l.cpu_weight) // v1 shares: 1024 is the default share, as 100 is v2's weight
			return write_value(dir, "cpu.shares", std::max<uint64_t>(2, *l.cpu_weight * 1024 / 100));
	} else if (ctrl == "blkio") {
		if (l.io_weight) {
			// v1 has no other proportional I/O weight since CFQ went (blk-iocost is cgroup2's).
			if (!exists_at(dir, "blkio.bfq.weight"))
				return Error{ENOTSUP, "no BFQ I/O scheduler (" + bfq_remedy + "): no 'blkio.bfq.weight'"};
			return write_value(dir, "blkio.bfq.weight", std::min<uint64_t>(*l.io_weight, 1000));
		}
	}
	return {};
}

Result<Attached> attach(const AttachRequest& r, const limits::Limits& l)
{
	Attached a;
	const auto need = controllers_for(l);
	std::vector<std::string> wanted_ctrls = {"memory", "pids", "io"};
	for (const auto& c : need)
		if (std::find(wanted_ctrls.begin(), wanted_ctrls.end(), c) == wanted_ctrls.end())
			wanted_ctrls.push_back(c);
	std::string offered;
	if (r.main->kind == cgroupfs::Kind::v2)
		if (auto t = read_file_at(r.main->root.get(), "cgroup.controllers"))
			offered = t.value();

	auto fail = [&](const std::string& ctrl, const Error& e) -> std::optional<Error> {
		const bool limited = std::find(need.begin(), need.end(), ctrl) != need.end();
		if (!limited)
			return std::nullopt; // accounting only: go without
		Error err = cannot_apply(wanted(l, ctrl), e);
		if (r.warn) {
			a.dropped.push_back(err);
			return std::nullopt;
		}
		return err;
	};
	auto undo = [&](const Error& e) -> Result<Attached> {
		std::vector<Error> ignored;
		detach(a, ignored);
		return e;
	};

	std::vector<std::string> v2_ctrls;
	for (const auto& c : wanted_ctrls) {
		if (has_word(offered, c)) {
			v2_ctrls.push_back(c);
			continue;
		}
		const std::string v1 = c == "io" ? "blkio" : c;
		auto h = open_v1_hierarchy(v1);
		if (!h) {
			Error e{ENOTSUP, "no " + c + " controller: " +
						 (r.main->kind == cgroupfs::Kind::v2
							  ? "cgroup2 at " + quote(r.main->mount.target) + " does not offer it and "
							  : std::string()) +
						 h.error().what};
			if (auto f = fail(c, e))
				return undo(*f);
			continue;
		}
		auto cur = current_cgroup(h.value(), static_cast<int>(r.v1_of));
		if (!cur) {
			if (auto f = fail(c, cur.error()))
				return undo(*f);
			continue;
		}
		auto leaf = create_leaf(h.value(), cur.value(), false, r.label, r.name_pid);
		if (!leaf) {
			if (auto f = fail(c, leaf.error()))
				return undo(*f);
			continue;
		}
		std::vector<Error> ignored;
		reap_stale_leaves(leaf.value().base.get(), cgroupfs::Kind::v1, leaf.value().name,
				  std::chrono::milliseconds(10000), ignored);
		Mirror m{v1, std::move(h.value()), std::move(leaf.value())};
		Status s = write_v1_limits(m.leaf.dir.get(), v1, l);
		a.mirrors.push_back(std::move(m));
		if (!s) {
			Error e{s.error().err, s.error().what + " in " + quote(a.mirrors.back().h.mount.target +
									     a.mirrors.back().leaf.path)};
			if (auto f = fail(c, e))
				return undo(*f);
		}
	}
	if (!v2_ctrls.empty()) {
		auto rel = r.main->relative(r.base_path);
		Status en = rel ? enable_v2_controllers(r.main->root.get(), rel.value(), v2_ctrls) : Status(rel.error());
		for (const auto& c : v2_ctrls) {
			Status s = en ? write_v2_limits(r.leafdir, c, l) : en;
			if (s) {
				a.v2.push_back(c);
				continue;
			}
			if (auto f = fail(c, s.error()))
				return undo(*f);
		}
	}
	return a;
}

Status enter_mirrors(const Attached& a, pid_t pid)
{
	for (const auto& m : a.mirrors)
		if (Status s = write_file_at(m.leaf.dir.get(), "cgroup.procs", std::to_string(pid)); !s)
			return Error{s.error().err, "enter " + quote(m.h.mount.target + m.leaf.path) + ": " + s.error().what};
	return {};
}

void detach(Attached& a, std::vector<Error>& errors)
{
	for (auto& m : a.mirrors) {
		if (m.leaf.dir.valid()) {
			// Anything still there (it can only have come from the phase) goes too.
			if (Status s = cgroupfs::kill_all(m.leaf.dir.get(), cgroupfs::Kind::v1, std::chrono::milliseconds(10000)); !s)
				errors.push_back(s.error());
		}
		m.leaf.lock.reset();
		m.leaf.dir.reset();
		if (m.leaf.base.valid() && !m.leaf.name.empty())
			if (Status s = cgroupfs::remove_tree(m.leaf.base.get(), m.leaf.name); !s)
				errors.push_back(Error{s.error().err, "remove " + quote(m.h.mount.target + m.leaf.path) +
									      ": " + s.error().what});
	}
	a.mirrors.clear();
}

std::optional<uint64_t> keyed_value(const std::string& text, const std::string& key)
{
	size_t i = 0;
	while (i < text.size()) {
		size_t nl = text.find('\n', i);
		if (nl == std::string::npos)
			nl = text.size();
		if (text.compare(i, key.size(), key) == 0 && i + key.size() < nl && text[i + key.size()] == ' ') {
			const char* p = text.c_str() + i + key.size() + 1;
			char* end = nullptr;
			unsigned long long v = std::strtoull(p, &end, 10);
			if (end != p)
				return v;
		}
		i = nl + 1;
	}
	return std::nullopt;
}

std::pair<uint64_t, uint64_t> io_stat_bytes(const std::string& text)
{
	uint64_t rd = 0, wr = 0;
	for (const char* k : {"rbytes=", "wbytes="}) {
		size_t pos = 0;
		while ((pos = text.find(k, pos)) != std::string::npos) {
			pos += 7;
			uint64_t v = std::strtoull(text.c_str() + pos, nullptr, 10);
			(k[0] == 'r' ? rd : wr) += v;
		}
	}
	return {rd, wr};
}

std::pair<uint64_t, uint64_t> blkio_bytes(const std::string& text)
{
	uint64_t rd = 0, wr = 0;
	size_t i = 0;
	while (i < text.size()) {
		size_t nl = text.find('\n', i);
		if (nl == std::string::npos)
			nl = text.size();
		std::string line = text.substr(i, nl - i);
		i = nl + 1;
		auto sp = line.find(' ');
		if (sp == std::string::npos || line.compare(0, 5, "Total") == 0)
			continue;
		std::string rest = line.substr(sp + 1);
		if (rest.compare(0, 5, "Read ") == 0)
			rd += std::strtoull(rest.c_str() + 5, nullptr, 10);
		else if (rest.compare(0, 6, "Write ") == 0)
			wr += std::strtoull(rest.c_str() + 6, nullptr, 10);
	}
	return {rd, wr};
}

Usage read_usage(int leafdir, cgroupfs::Kind kind, const Attached& a)
{
	Usage u;
	auto has = [&](const char* c) { return std::find(a.v2.begin(), a.v2.end(), c) != a.v2.end(); };
	if (kind == cgroupfs::Kind::v2) {
		if (auto t = read_file_at(leafdir, "cpu.stat")) {
			if (auto v = keyed_value(t.value(), "user_usec"))
				u.cpu_user_s = static_cast<double>(*v) / 1e6;
			if (auto v = keyed_value(t.value(), "system_usec"))
				u.cpu_system_s = static_cast<double>(*v) / 1e6;
		}
		if (has("memory")) {
			u.mem_peak = read_number(leafdir, "memory.peak");
			u.oom_kills = read_keyed(leafdir, "memory.events", "oom_kill");
		}
		if (has("pids"))
			u.pids_peak = read_number(leafdir, "pids.peak");
		if (has("io"))
			if (auto t = read_file_at(leafdir, "io.stat")) {
				auto [rd, wr] = io_stat_bytes(t.value());
				u.io_read = rd;
				u.io_write = wr;
			}
	}
	for (const auto& m : a.mirrors) {
		const int d = m.leaf.dir.get();
		if (m.controller == "memory") {
			u.mem_peak = read_number(d, "memory.max_usage_in_bytes");
			u.oom_kills = read_keyed(d, "memory.oom_control", "oom_kill");
		} else if (m.controller == "pids") {
			u.pids_peak = read_number(d, "pids.peak");
		} else if (m.controller == "blkio") {
			auto t = read_file_at(d, "blkio.throttle.io_service_bytes_recursive");
			if (!t)
				t = read_file_at(d, "blkio.bfq.io_service_bytes_recursive");
			if (t) {
				auto [rd, wr] = blkio_bytes(t.value());
				u.io_read = rd;
				u.io_write = wr;
			}
		}
	}
	return u;
}

} // namespace phasebox
