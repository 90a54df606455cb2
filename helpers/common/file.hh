// Small file helpers: whole-file reads and writes with O_CLOEXEC, relative to dirfds.
#pragma once

#include "status.hh"

#include <fcntl.h>
#include <string>

namespace phasebox {

// Read a whole (small, possibly pseudo-) file.
Result<std::string> read_file(const std::string& path);
Result<std::string> read_file_at(int dirfd, const std::string& name);

// Write `data` to an existing file with one write(2) (cgroupfs wants one write per value).
Status write_file_at(int dirfd, const std::string& name, const std::string& data);

// Read everything from an open fd starting at offset 0 (pread).
Result<std::string> pread_all(int fd);

} // namespace phasebox
