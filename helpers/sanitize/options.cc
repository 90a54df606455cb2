// Sanitizer defaults of the helpers, linked into them by `make SANITIZE=1` only.
//
// The helpers run with the environment of a Portage phase (the tests replay it with
// env -i), so ASAN_OPTIONS cannot be relied on: the defaults are compiled in.
// - verify_asan_link_order=0: a phase's environment carries LD_PRELOAD (libsandbox.so), and
//   ASan would refuse to start when a preloaded library comes before its runtime.
// - detect_leaks=0: LeakSanitizer stops the world with a ptrace-ing thread, which fails in
//   the pid namespaces and under the no_new_privs/user-namespace states the helpers run
//   in ("LeakSanitizer has encountered a fatal error").  The unit tests keep it.
// NOLINTBEGIN(bugprone-reserved-identifier): the name is ASan's hook, looked up by its runtime
extern "C" const char* __asan_default_options();
extern "C" const char* __asan_default_options() { return "verify_asan_link_order=0:detect_leaks=0"; }
// NOLINTEND(bugprone-reserved-identifier)
