// crio-credential-provider: kubelet runs it once per image pull; it writes
// the pod's own mirror credentials where CRI-O picks them up for that pull.
#include <malloc.h>
#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "doctor.h"
#include "flags.h"
#include "gateway.h"
#include "hosts_toml.h"
#include "kubelet_config.h"
#include "log.h"
#include "protocol.h"
#include "provider.h"
#include "resolve.h"
#include "usage.h"

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

// VmHWM of this process image: unlike getrusage's ru_maxrss it does not
// inherit the peak of whatever forked us.
std::string PeakRss() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmHWM:")) {
      size_t digits = line.find_first_of("0123456789");
      return digits == std::string::npos ? "" : line.substr(digits);
    }
  return "";
}

// Written without allocating: it also reports running out of memory.
void PrintFatal(std::string_view message) {
  std::string_view prefix = "crio-credential-provider: error: ";
  char line[512];
  size_t n = 0;
  for (std::string_view part : {prefix, message, std::string_view("\n")})
    for (char c : part)
      if (n < sizeof line) line[n++] = c;
  ssize_t ignored = ::write(STDERR_FILENO, line, n);
  (void)ignored;
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_args(args);
  if (!parsed) {
    std::cerr << "crio-credential-provider: error: "
              << log_safe(parsed.error().message) << "\n";
    return 2;
  }
  if (parsed->help) {
    std::cout << help_text(parsed->command);
    return 0;
  }
  if (parsed->version_json) {
    std::cout << "{\"name\":\"crio-credential-provider\",\"version\":\""
              << CCP_VERSION << "\"}\n";
    return 0;
  }
  if (parsed->version) {
    std::cout << "crio-credential-provider " << CCP_VERSION << "\n";
    return 0;
  }
  switch (parsed->command) {
    case Command::kResolve:
      return run_resolve(std::get<ResolveOptions>(parsed->options));
    case Command::kMatch:
      return run_match(std::get<MatchOptions>(parsed->options));
    case Command::kKubeletConfig:
      return run_kubelet_config(
          std::get<KubeletConfigOptions>(parsed->options));
    case Command::kDoctor:
      return run_doctor(std::get<DoctorOptions>(parsed->options));
    case Command::kGateway:
      return run_gateway(std::get<GatewayOptions>(parsed->options));
    case Command::kHostsToml:
      return run_hosts_toml(std::get<HostsTomlOptions>(parsed->options));
    case Command::kProvider:
      break;
  }
  const auto& options = std::get<ProviderOptions>(parsed->options);

  auto start = std::chrono::steady_clock::now();
  Logger log(options.log_level, /*to_syslog=*/true);
  std::string request;
  if (!ReadStdin(request)) {
    log.error("cannot read the request from stdin: kubelet passes it there");
    return 1;
  }
  auto response = run_provider(options, request, log);
  if (log.enabled(LogLevel::kDebug)) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    log.debug("finished in " + std::to_string(us.count()) + " us, peak RSS " +
              PeakRss());
  }
  if (!response) {
    log.error(response.error().message);
    return 1;
  }
  std::fwrite(response->data(), 1, response->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A core dump would hold the service-account token and the pull secrets;
  // not dumpable also keeps other processes of our user out of /proc/PID.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // One short pass, then exit: fastbins only defer the coalescing of freed
  // small blocks to one malloc_consolidate over all of them, which freeing
  // the TOML tree of a 100,000-entry registries.conf made a quarter of
  // `resolve`. Without them a free coalesces at once (30-38% less CPU
  // there, perf stat task-clock); tcache still serves the common small sizes.
  ::mallopt(M_MXFAST, 0);
  // OpenSSL's settings, before its first use (this sets flags; no TLS or
  // crypto starts here, so the no-mirror path stays TLS-free). No clean-up
  // at exit: freeing every table it built costs a call about 1.3M
  // instructions (6%) in a process that is ending anyway.
  // No legacy cipher table: libssl fetches its ciphers from the provider by
  // name, and building that table and copying all its names into the
  // provider's name map costs about 2.5M instructions (12%). Digests stay:
  // certificate checks look signature digests up in the legacy table.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_ADD_ALL_CIPHERS,
                      nullptr);
  // An exception leaving a noexcept function or another thread ends in
  // std::terminate, whose default handler prints what(): one line instead.
  std::set_terminate([] {
    PrintFatal(
        "internal error: the provider was terminated (the reason is withheld "
        "as it may quote secret data): please report it with the provider's "
        "version");
    std::_Exit(1);
  });
  // Nothing is meant to throw past Run(); if something does, one line and
  // exit 1 instead of std::terminate's abort. The exception's text is not
  // printed: a library's message may quote the input (a secret).
  try {
    return Run(argc, argv);
  } catch (const std::bad_alloc&) {
    PrintFatal(
        "out of memory: the provider needs a few tens of MiB; check the "
        "memory limits of kubelet's cgroup");
  } catch (...) {
    PrintFatal(
        "internal error: an unexpected exception stopped the provider (its "
        "text is withheld as it may quote secret data): please report it "
        "with the provider's version");
  }
  return 1;
}
