// The environment a helper received, kept byte for byte for the next program in the chain.
#pragma once

#include <string>
#include <vector>

namespace phasebox {

class Environment {
      public:
	// Copy of `environ` as this process received it.
	static Environment capture();
	// A NULL-terminated envp for execve(2); valid while *this lives and is unchanged.
	char* const* envp();
	// Add or replace NAME=value.
	void set(const std::string& name, const std::string& value);
	// Remove NAME (every entry of it).
	void unset(const std::string& name);
	const std::vector<std::string>& entries() const { return vars_; }

      private:
	std::vector<std::string> vars_;
	std::vector<char*> ptrs_;
};

// sys-apps/sandbox's libsandbox re-reads SANDBOX_ON from this process's environment at
// every check: switch it off for the helper's own work (cgroupfs writes, uid maps).  The
// captured Environment still carries the original value to the phase.
void sandbox_off_for_self();

} // namespace phasebox
