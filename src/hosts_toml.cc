#include "hosts_toml.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "log.h"
#include "reference.h"

namespace {

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string hosts_toml(std::string_view gateway_url, std::string_view ca_file) {
  std::string out =
      "# Written by crio-credential-provider hosts-toml. Every pull of this\n"
      "# registry goes to the node's mirror gateway, which redeems kubelet's\n"
      "# ticket and fetches from the mirrors of registries.conf. The empty\n"
      "# [host] table keeps containerd from falling back to the registry\n"
      "# itself with the pull's credential.\n"
      "server = " +
      Quoted(gateway_url) + "\nca = " + Quoted(ca_file) + "\n";
  out += "capabilities = [\"pull\", \"resolve\"]\n\n[host]\n";
  return out;
}

std::vector<std::string> gateway_registries(
    const RegistriesConf& conf, const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  auto add = [&](const std::string& domain) {
    if (is_domain(domain) &&
        std::find(out.begin(), out.end(), domain) == out.end())
      out.push_back(domain);
  };
  for (const Registry& r : conf.registries) {
    if (r.prefix.starts_with("*.")) continue;
    bool rewrite = r.endpoint.location != r.prefix;
    if (r.mirrors.empty() && !rewrite) continue;
    add(r.prefix.substr(0, r.prefix.find('/')));
  }
  for (const std::string& e : extra) add(e);
  return out;
}

int run_hosts_toml(const HostsTomlOptions& o) {
  Logger log(o.log_level, /*to_syslog=*/false);
  auto conf = load_registries(o.registries);
  if (!conf) {
    log.error(conf.error().message);
    return 1;
  }
  std::string url =
      o.gateway_url.empty() ? "https://" + o.listen : o.gateway_url;
  if (!url.starts_with("https://")) {
    log.error(
        "--gateway must be an https:// URL: the gateway serves TLS "
        "only, with the certificate hosts.toml pins as `ca`");
    return 1;
  }
  std::string content = hosts_toml(url, o.tls_cert);
  for (const std::string& registry :
       gateway_registries(*conf, o.extra_registries)) {
    std::filesystem::path dir = std::filesystem::path(o.config_path) / registry;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::filesystem::path temp = dir / ".hosts.toml.tmp";
    {
      std::ofstream f(temp, std::ios::trunc);
      f << content;
      f.close();
      if (!f) ec = std::make_error_code(std::errc::io_error);
    }
    if (!ec) std::filesystem::rename(temp, dir / "hosts.toml", ec);
    if (ec) {
      log.error("cannot write " + (dir / "hosts.toml").string() + ": " +
                ec.message() + ": fix --config-path");
      return 1;
    }
    std::cout << (dir / "hosts.toml").string() << "\n";
  }
  return 0;
}
