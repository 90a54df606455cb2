#include "environment.hh"

#include "inprocess.hh"

#include <cstdlib>
#include <unistd.h> // environ (_GNU_SOURCE)

namespace phasebox {

Environment Environment::capture()
{
	Environment e;
	for (char** p = environ; p && *p; ++p)
		e.vars_.emplace_back(*p);
	return e;
}

char* const* Environment::envp()
{
	ptrs_.clear();
	for (auto& v : vars_)
		ptrs_.push_back(v.data());
	ptrs_.push_back(nullptr);
	return ptrs_.data();
}

void Environment::set(const std::string& name, const std::string& value)
{
	std::string prefix = name + "=";
	for (auto& v : vars_)
		if (v.compare(0, prefix.size(), prefix) == 0) {
			v = prefix + value;
			return;
		}
	vars_.push_back(prefix + value);
}

void Environment::unset(const std::string& name)
{
	std::string prefix = name + "=";
	std::vector<std::string> kept;
	for (auto& v : vars_)
		if (v.compare(0, prefix.size(), prefix) != 0)
			kept.push_back(std::move(v));
	vars_ = std::move(kept);
}

void sandbox_off_for_self()
{
	// In the shell builtin, getenv()/setenv() are bash's own, on its variables: the phase's
	// SANDBOX_ON must not change.  The bashrc runs the builtin with SANDBOX_ON=0 in front
	// (a temporary assignment, which bash's getenv, and so libsandbox, sees).
	if (inprocess::active())
		return;
	if (std::getenv("SANDBOX_ON"))
		::setenv("SANDBOX_ON", "0", 1);
}

} // namespace phasebox
