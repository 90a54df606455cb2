// The keeper of an adopted invocation (cgroup v2, build user not root).
//
// cgroup v2 lets a process move another one from cgroup A to B when it may write
// cgroup.procs of B and of the common ancestor of A and B; it does not check who owns the
// process moved (v1 did).  A build user allowed to move its phases from
// /phasebox/inv-N/main into a leaf could therefore move any process of main — the root
// emerge included — into a cgroup it controls, and freeze or kill it.  So nothing under
// /phasebox/inv-N is writable by the build user except the leaves themselves, and the move
// is made by root: `phasebox-cgroup adopt` (run as root by emerge, through
// PORTAGE_IONICE_COMMAND) leaves this keeper behind, a small root process in
// /phasebox/inv-N/keeper listening on /run/phasebox/inv-N.sock.
//
// A phase's supervisor (phasebox-cgroup, the build user, in inv-N/main) connects, forks
// the phase's first process (held before exec), and sends its label with a pidfd of that
// child.  The keeper moves the child into a fresh leaf below inv-N/builds only if the
// supervisor runs as the delegated user in inv-N/main and the child is the supervisor's own
// child, in inv-N/main, with every uid the delegated user's.  The leaf (its directory,
// cgroup.procs, cgroup.threads, cgroup.subtree_control) is delegated to the user, so
// nested runs work inside it; nothing else can be moved into it.  When the supervisor asks,
// or its connection closes (it died), the keeper kills what is left in the leaf and removes
// it.  When emerge ends (it exits, is killed, whatever) the keeper kills its leaves, leaves
// the invocation (back to the cgroup adopt ran in), kills whatever is still in it (what
// emerge's phases left in main when emerge did not wait for them) and removes it and its
// socket, then exits: nothing of an emerge stays behind it.  An invocation whose keeper
// could not do that (it was killed) is reaped by the next adopt.
#pragma once

#include "accounting.hh"
#include "cgroup_setup.hh"
#include "fd.hh"
#include "layout.hh"
#include "status.hh"

#include <chrono>
#include <string>
#include <sys/types.h>

namespace phasebox::keeper {

inline constexpr const char* run_dir = "/run/phasebox";

// "/run/phasebox/<inv>.sock".
std::string socket_path(const std::string& inv_name);

struct Config {
	std::string inv_name; // "inv-<pid>"
	uid_t uid = 0;        // the delegated (build) user
	gid_t gid = 0;
	unsigned kill_timeout = 10; // seconds
	std::string log = accounting::default_log; // where records go without a registered log
	std::string top = std::string(layout::top); // hierarchy path of the invocation's top
};

// Start the keeper of /phasebox/<inv_name> (which must exist, with main and builds) for
// emerge `emerge_pidfd`: a grandchild of the caller, in its own session.  Returns once it
// listens, or with the error that stopped it.
Status start(const Hierarchy& h, int emerge_pidfd, const Config& c);

// Remove the socket of a keeper that is gone (its invocation is being reaped).
void remove_socket(const std::string& inv_name);

// Kill every process in the invocation /phasebox/<inv_name> (`topfd`: /phasebox, locked
// by the caller), then remove it and its keeper's socket: what adopt does to an invocation
// whose emerge is gone, and a keeper to its own once its emerge has ended.  The caller must
// not be in it.  An invocation already gone is no error.
Status reap_invocation(const Hierarchy& h, int topfd, const std::string& inv_name,
		       std::chrono::milliseconds timeout);

// What a phase asks for (the build user's view: PHASEBOX_* as the phase sees them), or
// what root registers for a package from its pkg_setup phase (which wins).
struct Request {
	std::string label;      // "cat/pf:phase"
	limits::Limits limits;
	bool warn = false;      // PHASEBOX_FALLBACK=warn
	std::string makeopts;
	std::string log;        // registrations only; "" for the keeper's default
};

// The messages on the keeper's socket (SOCK_SEQPACKET, one message each), pure, so that
// they are fuzzed (tests/fuzz/keeper.cc):
//   R<request>   root registers a package's limits         → O | E<errno>:<text>
//   L<request>   a supervisor asks for a leaf (+ a pidfd)  → O<leaf name> | E...
//   K<release>   the supervisor's phase ended              → O<accounting JSON> | E...
namespace wire {
// "<label>\n" then key=value lines: the limits, fallback=warn, makeopts=, log=.
std::string encode(const Request& r);
// The inverse; every value is validated again (the sender may be hostile).
Result<Request> decode(const std::string& m);
// "<status>[:<orphans phasebox-reap killed>]"; reaped is capped at max_reaped.
inline constexpr size_t max_reaped = 1u << 22;
struct Release {
	int status = 0;
	size_t reaped = 0;
};
std::string encode_release(int status, size_t reaped);
Release decode_release(const std::string& m);
// The keeper's answer: the text after 'O', or the error it names.
Result<std::string> decode_answer(const std::string& answer);
} // namespace wire

// Root, from a package's pkg_setup phase: the limits of every later phase of `r.label`
// (a package, "cat/pf") in this invocation.
Status register_package(const std::string& inv_name, const Request& r);

// A leaf the keeper made for a phase, for as long as `sock` stays open.
struct Lease {
	UniqueFd sock;
	std::string name; // entry below inv/builds
	std::string path; // hierarchy path, for messages
	UniqueFd dir;     // the leaf (read-only)
};

// Ask the keeper of `inv_name` to put `child` (a pidfd of this process's child, held
// before exec) into a new leaf labelled `label`, below `base` (the invocation's builds/, or
// the build cgroup of Portage's FEATURES=cgroup the caller is in).
// The keeper applies the package's registered limits when root registered any, else the
// ones asked for, and fails the request when one cannot be applied (unless `warn`).
Result<Lease> request(const Hierarchy& h, const std::string& inv_name, const std::string& base, int child_pidfd,
		      const Request& r);

// Have the keeper kill what is left in the leaf and remove it; waits until it has.  The
// keeper writes the phase's accounting record (the phase's exit `status`, and the
// `reaped` orphans phasebox-reap killed first, as the supervisor tells them) to the log
// and returns it.
Result<accounting::Record> release(Lease& l, int status, size_t reaped);

} // namespace phasebox::keeper
