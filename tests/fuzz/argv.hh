// Shared by the command-line harnesses: the fuzz input as an argv (NUL-separated words
// after argv[0]), the words the grammar must pass on (after the first "--"), and the
// helpers' stdout/stderr silenced while they parse (--help and usage errors print).
#pragma once

#include "fuzz.hh"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace fuzzargv
{

class Argv
{
      public:
	Argv(const uint8_t* data, size_t size, const char* argv0)
	{
		words_.emplace_back(argv0);
		std::string w;
		for (size_t i = 0; i < size && words_.size() < 40; ++i) {
			if (data[i] == '\0') {
				words_.push_back(w);
				w.clear();
			} else {
				w += static_cast<char>(data[i]);
			}
		}
		if (!w.empty() && words_.size() < 40)
			words_.push_back(w);
		for (auto& s : words_)
			ptrs_.push_back(s.data());
		ptrs_.push_back(nullptr);
		for (size_t i = 1; i < words_.size(); ++i)
			if (words_[i] == "--") {
				separator_ = true;
				next_.assign(words_.begin() + static_cast<long>(i) + 1,
				             words_.end());
				break;
			}
	}
	int argc() const { return static_cast<int>(words_.size()); }
	char** argv() { return ptrs_.data(); }
	const std::string& word(size_t i) const { return words_[i]; }
	bool separator() const { return separator_; }
	// What followed the first "--", exactly.
	const std::vector<std::string>& next() const { return next_; }

      private:
	std::vector<std::string> words_;
	std::vector<char*> ptrs_;
	std::vector<std::string> next_;
	bool separator_ = false;
};

// stdout and stderr to /dev/null for as long as it lives (FUZZ_REQUIRE prints after).
class Quiet
{
      public:
	Quiet() : out_(stdout), err_(stderr)
	{
		static FILE* null = std::fopen("/dev/null", "we");
		stdout = null;
		stderr = null;
	}
	~Quiet()
	{
		std::fflush(stdout);
		stdout = out_;
		stderr = err_;
	}
	Quiet(const Quiet&) = delete;
	Quiet& operator=(const Quiet&) = delete;

      private:
	FILE* out_;
	FILE* err_;
};

// The grammar's contract: stop with 0 (--help) or 100 (usage), or go on.
inline void require_stop_or_go_on(const std::optional<int>& rc)
{
	FUZZ_REQUIRE(!rc || *rc == 0 || *rc == 100);
}

inline bool one_of(const std::string& s, std::initializer_list<const char*> set)
{
	for (const char* x : set)
		if (s == x)
			return true;
	return false;
}

} // namespace fuzzargv
