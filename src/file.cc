#include "file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

std::string format_size(std::size_t bytes) {
  if (bytes != 0 && bytes % (1u << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  if (bytes != 0 && bytes % (1u << 10) == 0) {
    return std::to_string(bytes >> 10) + " KiB";
  }
  return std::to_string(bytes) + " bytes";
}

Result<std::string, FileReadError> read_fd(int fd, std::size_t max_bytes) {
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileReadError{errno, std::strerror(errno)};
    if (n == 0) return data;
    if (data.size() + static_cast<std::size_t>(n) > max_bytes) {
      return FileReadError{0, "larger than " + format_size(max_bytes)};
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
}

Result<std::string, FileReadError> read_file(const std::string& path,
                                         std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileReadError{errno, std::strerror(errno)};
  auto data = read_fd(fd, max_bytes);
  ::close(fd);
  return data;
}
