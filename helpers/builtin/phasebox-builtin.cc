// phasebox-builtin.so — the helper chain as a bash loadable builtin: phasebox_isolate.
//
//   enable -f LIBEXECDIR/phasebox-builtin.so phasebox_isolate
//   SANDBOX_ON=0 phasebox_isolate LIBEXECDIR/phasebox-cgroup [OPTIONS] --
//       LIBEXECDIR/phasebox-unshare [OPTIONS] -- LIBEXECDIR/phasebox-reap [OPTIONS] --
//   (one command line)
//
// The same links, options and messages as the binaries (their code, compiled in), run in
// the shell that sourced the bashrc, with no exec (common/inprocess.hh).  When it returns
// (status 0) the shell is the phase's process inside the cgroup and namespaces asked for,
// with its variables, functions, descriptors, signal dispositions and mask exactly as they
// were: the rest of ebuild.sh runs the phase there, and is not run a second time.  The
// process that called it never comes back: it is the first link's supervisor and ends with
// the phase's status, as the exec'd chain did.  A chain that cannot be set up ends it with
// the links' own exit status (111 …), after their message.
//
// Only phasebox-cgroup, phasebox-unshare and phasebox-reap, from the directory this file
// was loaded from, can be links; the last link's PROG is implied (the shell).  Status 2:
// bad arguments, nothing done; 1: called again inside an isolated shell.
//
//   phasebox_isolate --isolated
//
// Status 0 in a shell the builtin came back in (and its subshells), 1 elsewhere: how
// phasebox.eclass's phasebox_has knows the phase was isolated in place.
#include "common/inprocess.hh"
#include "common/spawn.hh"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <sys/prctl.h>
#include <string>
#include <vector>

int phasebox_cgroup_main(int, char**);
int phasebox_unshare_main(int, char**);
int phasebox_reap_main(int, char**);

// bash's loadable-builtin ABI (builtins.h, command.h of bash 4 and 5: unchanged since 2.0).
extern "C" {
struct pb_word_desc {
	char* word;
	int flags;
};
struct pb_word_list {
	pb_word_list* next;
	pb_word_desc* word;
};
struct pb_builtin {
	const char* name;
	int (*function)(pb_word_list*);
	int flags;
	const char* const* long_doc;
	const char* short_doc;
	char* handle;
};
}

namespace {

const char* const name = "phasebox_isolate";
bool isolated = false;

std::string loaded_from_dir()
{
	Dl_info info{};
	if (::dladdr(reinterpret_cast<void*>(&loaded_from_dir), &info) == 0 || !info.dli_fname)
		return "";
	char buf[4096];
	if (!::realpath(info.dli_fname, buf))
		return "";
	std::string p(buf);
	return p.substr(0, p.rfind('/'));
}

struct SignalState {
	struct sigaction actions[NSIG]{};
	sigset_t mask{};
};

void save(SignalState& s)
{
	::sigprocmask(SIG_BLOCK, nullptr, &s.mask);
	for (int sig = 1; sig < NSIG; ++sig)
		::sigaction(sig, nullptr, &s.actions[sig]);
}

void restore(const SignalState& s)
{
	for (int sig = 1; sig < NSIG; ++sig)
		if (sig != SIGKILL && sig != SIGSTOP)
			::sigaction(sig, &s.actions[sig], nullptr);
	::sigprocmask(SIG_SETMASK, &s.mask, nullptr);
}

int isolate(pb_word_list* list)
{
	std::vector<std::string> args;
	for (; list; list = list->next)
		args.emplace_back(list->word && list->word->word ? list->word->word : "");
	if (args.size() == 1 && args[0] == "--isolated")
		return isolated ? 0 : 1;
	if (isolated) {
		std::fprintf(stderr, "%s: this shell already is an isolated phase\n", name);
		return 1;
	}
	const std::string dir = loaded_from_dir();
	phasebox::inprocess::Config cfg{dir,
					{{"phasebox-cgroup", phasebox_cgroup_main},
					 {"phasebox-unshare", phasebox_unshare_main},
					 {"phasebox-reap", phasebox_reap_main}}};
	phasebox::inprocess::enable(cfg);
	phasebox::inprocess::Main first = args.empty() ? nullptr : phasebox::inprocess::find(args[0]);
	if (dir.empty() || !first || args.back() != "--") {
		phasebox::inprocess::restore_shell();
		std::fprintf(stderr,
			     "%s: usage: %s %s/phasebox-{cgroup,unshare,reap} [OPTIONS] -- ... -- "
			     "(the chain of links, each from %s, the last one ending with --)\n",
			     name, name, dir.c_str(), dir.c_str());
		return 2;
	}
	args.push_back(phasebox::inprocess::continue_token());
	// This process is the first link's supervisor from now on: named so in ps (the shell
	// gets its own name back when it comes back).
	::prctl(PR_SET_NAME, args[0].substr(args[0].rfind('/') + 1).c_str());
	SignalState shell;
	save(shell);
	// bash's SIGCHLD handler reaps any child: the links wait for their own.
	::signal(SIGCHLD, SIG_DFL);
	std::fflush(stdout);
	std::fflush(stderr);
	std::vector<char*> argv = phasebox::argv_pointers(args);
	int rc;
	try {
		rc = first(static_cast<int>(args.size()), argv.data());
	} catch (const phasebox::inprocess::Continue&) {
		// This process is the phase now; the links' stacks have unwound.
		phasebox::inprocess::close_on_exec();
		restore(shell);
		isolated = true;
		return 0;
	} catch (const std::exception& e) {
		std::fprintf(stderr, "%s: %s\n", name, e.what());
		rc = 111;
	}
	// The first link's supervisor (or a chain that failed before the phase): the end of
	// this process, with the link's status, as the exec'd helper's would have been.
	::_exit(rc);
}

const char* const doc[] = {
	"Run the rest of this shell (the phase) through phasebox's helper chain.",
	"",
	"The arguments are the chain, each link from the directory this builtin was",
	"loaded from, the last one ending with --; see phasebox(8).  Returns 0 in the",
	"isolated phase; the calling process ends with the phase's status.",
	"With --isolated: whether this shell is such an isolated phase.",
	nullptr,
};

} // namespace

extern "C" {
__attribute__((visibility("default"))) pb_builtin phasebox_isolate_struct = {
	name, isolate, 1 /* BUILTIN_ENABLED */, doc,
	"phasebox_isolate LIBEXECDIR/phasebox-LINK [OPTIONS] -- ... -- | --isolated", nullptr};
}
