// Reading a whole file with a size cap: every file we read comes from an
// operator or a tenant, so none may grow our memory without bound.
#pragma once

#include <cstddef>
#include <string>

#include "result.h"

struct FileReadError {
  int err = 0;  // errno of the failed open or read; 0 when the file is too big
  // "No such file or directory", "larger than 4 MiB": a fragment for the
  // caller's "cannot read <what> <path>: ..." line.
  std::string message;
};

// Everything `fd` still holds, failing once more than `max_bytes` arrive.
Result<std::string, FileReadError> read_fd(int fd, std::size_t max_bytes);

// The whole file at `path`, failing (never truncating) beyond `max_bytes`.
Result<std::string, FileReadError> read_file(const std::string& path,
                                         std::size_t max_bytes);

// "4 MiB", "1500 bytes": a size for messages.
std::string format_size(std::size_t bytes);
