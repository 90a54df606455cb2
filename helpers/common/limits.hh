// Per-phase resource limits: what the PHASEBOX_* limit variables accept, parsed strictly.
//
//   PHASEBOX_MEMORY_MAX       size    hard memory limit (v2 memory.max, v1 memory.limit_in_bytes)
//   PHASEBOX_MEMORY_HIGH      size    throttling point (v2 memory.high, v1 memory.soft_limit_in_bytes)
//   PHASEBOX_MEMORY_SWAP_MAX  size    swap on top of memory (v2 memory.swap.max, v1 memsw = max + swap)
//   PHASEBOX_PIDS_MAX         1..4194304 tasks (pids.max)
//   PHASEBOX_CPU_MAX          CPUs, e.g. 4 or 2.5 (v2 cpu.max, v1 cpu.cfs_quota_us)
//   PHASEBOX_CPU_WEIGHT       1..10000, default 100 (v2 cpu.weight, v1 cpu.shares)
//   PHASEBOX_IO_WEIGHT        1..10000, default 100 (v2 io.weight, v1 blkio.bfq.weight)
//
// A size is a whole number of bytes, a number (up to 3 decimals) with K, M, G or T (powers
// of 1024), or a whole percentage of RAM from 1% to 100%.  The text as given is kept for
// messages ("hit PHASEBOX_MEMORY_MAX=8G").
#pragma once

#include "status.hh"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace phasebox::limits {

enum class Key { memory_max, memory_high, memory_swap_max, pids_max, cpu_max, cpu_weight, io_weight };
inline constexpr std::array<Key, 7> all_keys = {Key::memory_max, Key::memory_high, Key::memory_swap_max,
						Key::pids_max,   Key::cpu_max,     Key::cpu_weight,
						Key::io_weight};

// "PHASEBOX_MEMORY_MAX", "memory-max" (the helpers' option without "--"), "memory_max"
// (the JSON and keeper-protocol key), and the sentence saying what is accepted.
const char* variable(Key k);
const char* option(Key k);
const char* json_key(Key k);
const char* accepted(Key k);
std::optional<Key> key_from_json(std::string_view s);

inline constexpr uint64_t cpu_period_us = 100000;

struct Limits {
	std::optional<uint64_t> memory_max, memory_high, memory_swap_max; // bytes
	std::optional<uint64_t> pids_max;
	std::optional<uint64_t> cpu_quota_us; // per cpu_period_us
	std::optional<uint64_t> cpu_weight, io_weight;
	std::array<std::string, all_keys.size()> raw; // as given; "" when unset

	bool empty() const;
	bool has(Key k) const { return !raw[static_cast<size_t>(k)].empty(); }
	const std::string& text(Key k) const { return raw[static_cast<size_t>(k)]; }
	bool any_memory() const { return memory_max || memory_high || memory_swap_max; }
	bool any_cpu() const { return cpu_quota_us || cpu_weight; }
	// "PHASEBOX_MEMORY_MAX=8G PHASEBOX_PIDS_MAX=500", "" when none.
	std::string describe() const;
	// key=raw lines, for the keeper's protocol; parse_lines() reverses it (re-validating).
	std::string to_lines() const;
};

Result<uint64_t> parse_size(std::string_view s, uint64_t ram_bytes);
Result<uint64_t> parse_count(std::string_view s, uint64_t lo, uint64_t hi);
// CPUs to a quota of microseconds per cpu_period_us ("2.5" -> 250000).
Result<uint64_t> parse_cpus(std::string_view s);

// Set one limit from its text.  The error names the variable, the value and what is
// accepted: "PHASEBOX_MEMORY_MAX='8X' is not valid: expected ...".
Status set(Limits& l, Key k, std::string_view text, uint64_t ram_bytes);

// Lines "key=value" as to_lines() writes them; an unknown key or a bad value is an error.
Result<Limits> parse_lines(std::string_view lines, uint64_t ram_bytes);

// Total RAM, from sysinfo(2).
uint64_t ram_bytes();

// "8.0 GiB", "512.0 MiB", "12 KiB", "0 B".
std::string human_bytes(uint64_t b);

} // namespace phasebox::limits
