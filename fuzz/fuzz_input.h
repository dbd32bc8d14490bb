// Helpers shared by the fuzz targets: one input holding several documents,
// and a private scratch directory for the parsers that read files.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

// The documents of a fuzz input, separated by lines "====" (the dictionaries
// carry the separator so that mutations can add and remove documents).
inline std::vector<std::string_view> split_documents(const uint8_t* data,
                                                     size_t size,
                                                     size_t max_parts) {
  constexpr std::string_view kSeparator = "\n====\n";
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(rest);
  return parts;
}

// A directory of this process's own, made once (under /dev/shm when there is
// one: the targets rewrite their files on every input).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string templ = base + "/ccp-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) abort();
    return templ;
  }();
  [[maybe_unused]] static const bool cleanup_registered = [] {
    return std::atexit([] {
             std::error_code ec;
             std::filesystem::remove_all(dir, ec);
           }) == 0;
  }();
  return dir;
}

// Writes `content` to `path`, or removes `path` when `present` is false.
inline void put_file(const std::string& path, std::string_view content,
                     bool present = true) {
  if (!present) {
    unlink(path.c_str());
    return;
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) abort();
  if (!content.empty() &&
      std::fwrite(content.data(), 1, content.size(), f) != content.size())
    abort();
  std::fclose(f);
}
