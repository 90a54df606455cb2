// Portage's elog, from a helper: the lines eqawarn/ewarn/eerror append to
// ${T}/logging/${EBUILD_PHASE} (`__elog_base` in Portage's bin/isolated-functions.sh),
// which Portage collects into the end-of-emerge summary and PORTAGE_ELOG_SYSTEM
// (lib/portage/elog/messages.py: collect_ebuild_messages).  Nothing here prints or exits.
//
// The file's path is hostile: a helper may run as root (src_install, the root chain) while
// the build user owns ${T} and everything in it.  See append() and SECURITY.md.
#pragma once

#include "fd.hh"
#include "status.hh"

#include <string>
#include <string_view>

namespace phasebox::elog
{

// Portage's message classes (PORTAGE_ELOG_CLASSES: info log warn error qa).
enum class Class { info, log, warn, error, qa };

// "INFO", "LOG", "WARN", "ERROR", "QA": the first word of each line in the file.
const char* class_name(Class c);

// What __elog_base appends for `message`: one "<CLASS> <line>\n" per line of the message
// (split at '\n', an empty line kept as "<CLASS> "), the way `echo "$*" | while read -r`
// splits it; "" for an empty message (__elog_base writes nothing).  Unlike __elog_base
// (echo -e), backslashes are kept as they are: a helper's message is text, not an escape
// sequence.  Control bytes other than tab (a '\r' that Portage would keep inside an entry,
// ESC, DEL) become \xNN, so that nothing in a message (a command line, a package name)
// can rewrite the terminal that shows the summary.
std::string format(Class c, std::string_view message);

// The path rule, on the text alone: absolute, no empty, '.' or '..' component, at most
// PATH_MAX bytes, the directory named `logging` and the file named after one of Portage's
// phases (EBUILD_PHASES in lib/portage/const.py: only those files are collected).
Status check_path(const std::string& path);

// Open the file at `path` to append to it (O_WRONLY|O_APPEND|O_CLOEXEC), creating it (0644,
// umask applied) when missing.  Refused unless: check_path() holds; no component of the
// path is a symbolic link (each opened O_NOFOLLOW from '/'; Portage realpaths
// PORTAGE_TMPDIR, so ${T} has none); the directory exists (never created) and is not
// world-writable; the file is opened O_NOFOLLOW (a symbolic link planted there is never
// followed), is a regular file with one link, owned by the caller's effective uid or by
// the directory's owner.
Result<UniqueFd> open(const std::string& path);

// Write `text` (lines from format()) to a descriptor from open(): one write(2), O_APPEND.
Status write(int fd, const std::string& text);

// open() and write(), for one message.
Status append(const std::string& path, const std::string& text);

} // namespace phasebox::elog
