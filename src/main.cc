// crio-credential-provider: kubelet runs it once per image pull; it writes
// the pod's own mirror credentials where CRI-O picks them up for that pull.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "flags.h"
#include "log.h"
#include "protocol.h"
#include "provider.h"
#include "resolve.h"

namespace {

// Reads at most kMaxRequestBytes + 1 bytes, so an oversized request is
// detected without reading all of it.
bool ReadStdin(std::string& out) {
  char buf[16384];
  while (out.size() <= kMaxRequestBytes) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out.append(buf, n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_args(args);
  if (!parsed) {
    std::cerr << "crio-credential-provider: error: " << parsed.error().message
              << "\n";
    return 2;
  }
  const Options& options = parsed->options;
  if (options.version_json) {
    std::cout << "{\"name\":\"crio-credential-provider\",\"version\":\""
              << CCP_VERSION << "\"}\n";
    return 0;
  }
  if (options.version) {
    std::cout << "crio-credential-provider " << CCP_VERSION << "\n";
    return 0;
  }
  switch (parsed->command) {
    case Command::kResolve: return run_resolve(options);
    case Command::kMatch: return run_match(options);
    case Command::kProvider: break;
  }

  Logger log(options.log_level, /*to_syslog=*/true);
  std::string request;
  if (!ReadStdin(request)) {
    log.error("cannot read the request from stdin: kubelet passes it there");
    return 1;
  }
  auto response = run_provider(options, request, log);
  if (!response) {
    log.error(response.error().message);
    return 1;
  }
  std::fwrite(response->data(), 1, response->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
