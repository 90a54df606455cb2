// Error values for library code: it returns them, never prints and never exits.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace phasebox {

struct Error {
	int err = 0;      // errno value, 0 when the failure is not a system call's
	std::string what; // "<what failed>", e.g. "mkdir '/sys/fs/cgroup/phasebox'"
};

// Build an Error from the current errno.  Saves errno first.
inline Error sys_error(std::string what)
{
	int e = errno;
	return Error{e, std::move(what)};
}

class Status {
      public:
	Status() = default;
	Status(Error e) : err_(std::move(e)), failed_(true) {}
	bool ok() const { return !failed_; }
	explicit operator bool() const { return ok(); }
	const Error& error() const { return err_; }

      private:
	Error err_;
	bool failed_ = false;
};

template <class T> class Result {
      public:
	Result(T v) : v_(std::move(v)) {}
	Result(Error e) : v_(std::move(e)) {}
	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	T& value() { return std::get<0>(v_); }
	const T& value() const { return std::get<0>(v_); }
	const Error& error() const { return std::get<1>(v_); }

      private:
	std::variant<T, Error> v_;
};

// "'<path>'" — file names are quoted in every message.
inline std::string quote(const std::string& s) { return "'" + s + "'"; }

} // namespace phasebox
