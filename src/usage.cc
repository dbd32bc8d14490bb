#include "usage.h"

#include <algorithm>
#include <sstream>

namespace {

constexpr std::string_view kBinary = "crio-credential-provider";
constexpr unsigned kRegistries =
    kForProvider | kForResolve | kForKubeletConfig | kForDoctor;
constexpr unsigned kCluster = kForProvider | kForKubeletConfig | kForDoctor;

// `code` spans as plain text, for the terminal and the man page.
std::string Plain(std::string_view text) {
  std::string out;
  for (char c : text)
    if (c != '`') out += c;
  return out;
}

// Greedy word wrap of `text` into lines of at most `width` columns, each
// line after the first indented by `indent` spaces.
std::string Wrap(std::string_view text, size_t indent, size_t width) {
  std::string out, line;
  std::istringstream words{std::string(text)};
  for (std::string word; words >> word;) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

std::string FlagSpelling(const FlagDoc& f) {
  std::string s = "--" + std::string(f.name);
  if (!f.value.empty()) (s += ' ') += f.value;
  return s;
}

std::vector<const FlagDoc*> FlagsOf(Command command) {
  std::vector<const FlagDoc*> flags;
  for (const FlagDoc& f : flag_docs())
    if (f.commands & command_bit(command)) flags.push_back(&f);
  return flags;
}

std::string MarkdownCell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string MarkdownBlock(Command command) {
  const CommandDoc& doc = command_doc(command);
  std::string out = "    " + std::string(kBinary) + " " +
                    std::string(doc.synopsis) + "\n\n" +
                    std::string(doc.summary) + "\n\n" +
                    "| flag | default | meaning |\n| --- | --- | --- |\n";
  for (const FlagDoc* f : FlagsOf(command))
    out += "| `" + MarkdownCell(FlagSpelling(*f)) + "` | " +
           MarkdownCell(f->default_value) + " | " + MarkdownCell(f->meaning) +
           " |\n";
  return out;
}

// roff: a backslash doubled, '-' as the ASCII minus, and no line starting
// with a control character.
std::string Roff(std::string_view text) {
  std::string out;
  for (char c : Plain(text)) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

}  // namespace

const std::vector<CommandDoc>& command_docs() {
  static const std::vector<CommandDoc> docs = {
      {Command::kProvider, "", "[flags] < CredentialProviderRequest",
       "What kubelet runs for each image pull: reads the pod's mirror "
       "credentials from its pull secrets and writes them to the auth file "
       "CRI-O uses for that pull; answers kubelet on stdout."},
      {Command::kResolve, "resolve",
       "resolve [--json] [--namespace NS] [flags] IMAGE",
       "What a pull of IMAGE would use: its normalized name, auth file, "
       "registries.conf entry, pull sources and the credentials each needs. "
       "No API calls, no secrets."},
      {Command::kMatch, "match", "match [--json] --dockercfg FILE... IMAGE",
       "kubelet's keyring lookup: which keys of the given pull secrets match "
       "IMAGE, in kubelet's order. Passwords are never printed."},
      {Command::kKubeletConfig, "kubelet-config",
       "kubelet-config [--audience AUD] [flags]",
       "Prints the CredentialProviderConfig for kubelet: matchImages derived "
       "from registries.conf (every source prefix with a mirror or a "
       "rewritten location), tokenAttributes, and the provider flags given "
       "here as args."},
      {Command::kDoctor, "doctor", "doctor [--json] [flags]",
       "Checks this node: kubelet's CredentialProviderConfig, the feature "
       "gate, CRI-O's version and namespaced_auth_dir, registries.conf, the "
       "API server and its CA, the node identity, and kubelet pull records "
       "that share mirrored images with every pod. One line per check: OK, "
       "WARN or FAIL with the fix; exit 1 on any FAIL."},
      {Command::kGateway, "gateway", "gateway [flags]",
       "The mirror gateway for containerd: serves the OCI distribution API "
       "(GET and HEAD of `/v2/`, manifests, blobs; `Range` passed through) on "
       "a loopback address only, redeems the tickets the provider stores in "
       "`--ticket-dir` and fetches from each ticket's sources with their own "
       "credentials (see [containerd.md](containerd.md)). SIGTERM or SIGINT "
       "drains: no new connections, requests in flight finish, exit 0."},
      {Command::kHostsToml, "hosts-toml", "hosts-toml [flags]",
       "Writes containerd's `<config-path>/<registry>/hosts.toml` for every "
       "registry of registries.conf with mirrors or a rewrite (wildcard "
       "prefixes skipped) and every `--registry`, sending each only to the "
       "gateway, and prints the paths."},
  };
  return docs;
}

const std::vector<FlagDoc>& flag_docs() {
  static const std::vector<FlagDoc> docs = {
      {"registries-conf", "PATH", "`/etc/containers/registries.conf`",
       "main registries.conf; given explicitly it must exist. "
       "`CONTAINERS_REGISTRIES_CONF` overrides it and turns drop-ins off",
       kRegistries | kForHostsToml},
      {"registries-conf-dir", "DIR", "`/etc/containers/registries.conf.d`",
       "drop-in directory (`*.conf`, name order)", kRegistries | kForHostsToml},
      {"auth-dir", "DIR", "`/etc/crio/auth`", "CRI-O's `namespaced_auth_dir`",
       kForProvider | kForKubeletConfig | kForDoctor},
      {"global-auth-file", "PATH", "`/var/lib/kubelet/config.json`",
       "merged under our credentials (missing = empty)",
       kForProvider | kForResolve | kForKubeletConfig},
      {"api-server", "URL",
       "from `<kube-config-dir>/apiserver-url.env`, else "
       "`https://localhost:6443`",
       "API server", kCluster},
      {"kube-config-dir", "DIR", "`/etc/kubernetes`",
       "where `apiserver-url.env` and `pki/ca.crt` are looked for", kCluster},
      {"ca-file", "PATH",
       "`<kube-config-dir>/pki/ca.crt` if present, else system trust store",
       "CA bundle to verify the API server", kCluster},
      {"insecure-skip-tls-verify", "", "off",
       "do not verify the API server (logged as a warning)", kCluster},
      {"api-identity", "token|node", "`token`",
       "read the API as the pod's service account (token) or as the node "
       "(kubeconfig client cert)",
       kCluster},
      {"kubeconfig", "PATH",
       "first of `/var/lib/kubelet/kubeconfig`, `/etc/kubernetes/kubelet.conf`",
       "the node's kubeconfig, for `--api-identity=node`", kCluster},
      {"secrets", "pod|namespace", "`pod`",
       "pod: secrets named by the pod's and its service account's "
       "`imagePullSecrets`; namespace: every pull secret of the namespace",
       kForProvider | kForKubeletConfig},
      {"mirror-registry", "HOST[/PATH]", "all mirrors",
       "repeatable; only mirrors at or under these locations get credentials",
       kRegistries},
      {"cache-duration", "DURATION", "`0s`",
       "`cacheDuration` of the response; only `0s` is accepted (a usage "
       "error otherwise): kubelet would cache the answer and not run the "
       "provider for the next pulls of the image, which would then find no "
       "auth file, as CRI-O uses each file for one pull",
       kForProvider | kForKubeletConfig},
      {"stale-after", "DURATION", "`5m`",
       "other calls' unclaimed auth files older than this are removed, "
       "unless kubelet holds a pull intent for their image; never the file "
       "this call wrote",
       kForProvider | kForKubeletConfig},
      {"timeout", "DURATION", "`10s`", "budget for all API calls",
       kForProvider | kForKubeletConfig | kForDoctor},
      {"runtime", "crio|containerd", "`crio`",
       "crio: write CRI-O's auth file; containerd: store a single-pull "
       "ticket for the mirror gateway (see [containerd.md](containerd.md))",
       kForProvider | kForKubeletConfig},
      {"ticket-dir", "DIR", "`/run/crio-credential-provider/tickets`",
       "containerd: where the provider stores tickets (created 0700; files "
       "0600) and the gateway redeems them (it must exist, owned by the "
       "gateway's user, mode 0700)",
       kForProvider | kForKubeletConfig | kForGateway},
      {"ticket-ttl", "DURATION", "`5m`",
       "containerd: an unredeemed ticket is worthless after this",
       kForProvider | kForKubeletConfig},
      {"log-level", "error|warn|info|debug", "`info`",
       "stderr and syslog (`crio-credential-provider`)",
       kForProvider | kForKubeletConfig | kForGateway | kForHostsToml},
      {"listen", "ADDR:PORT", "`127.0.0.1:5443`",
       "the gateway's address, loopback only; hosts-toml: the gateway to "
       "name when `--gateway` is not given",
       kForGateway | kForHostsToml},
      {"tls-cert", "PATH", "`/etc/crio-credential-provider/gateway.crt`",
       "the gateway's certificate, made (EC P-256, self-signed for "
       "127.0.0.1, ::1, localhost) when missing; hosts-toml names it as "
       "`ca`",
       kForGateway | kForHostsToml},
      {"tls-key", "PATH", "`/etc/crio-credential-provider/gateway.key`",
       "the gateway's private key (0600)", kForGateway},
      {"mirror-ca-file", "PATH", "system trust store",
       "trust anchors for the mirrors and their token services, instead of "
       "the system store",
       kForGateway},
      {"pull-idle", "DURATION", "`60s`",
       "a redeemed ticket's pull ends after this long without a request",
       kForGateway},
      {"pull-max", "DURATION", "`1h`",
       "a redeemed ticket's pull ends at the latest this long after "
       "redemption",
       kForGateway},
      {"io-timeout", "DURATION", "`60s`",
       "deadline of each network step, downstream and upstream (lookup, "
       "connect, handshake, each read or write): a client that stops "
       "reading is dropped",
       kForGateway},
      {"drain-timeout", "DURATION", "`30s`",
       "on SIGTERM/SIGINT: how long requests in flight may finish before "
       "the gateway exits",
       kForGateway},
      {"max-connections", "N", "`512`",
       "further connections are closed at once", kForGateway},
      {"config-path", "DIR", "`/etc/containerd/certs.d`",
       "containerd's `registry.config_path`", kForHostsToml},
      {"gateway", "URL", "`https://<listen>`",
       "the gateway as containerd reaches it", kForHostsToml},
      {"registry", "HOST", "none",
       "repeatable; also write hosts.toml for this registry", kForHostsToml},
      {"json", "", "off", "print JSON instead of text",
       kForResolve | kForMatch | kForDoctor},
      {"namespace", "NS", "`default`",
       "the pod's namespace (names the auth file)", kForResolve},
      {"dockercfg", "FILE", "none",
       "repeatable; a pull secret's content (`{\"auths\":{...}}` or legacy "
       "`{KEY:{...}}`), in order",
       kForResolve | kForMatch},
      {"auth-file-out", "PATH", "none",
       "write the auth file the provider would write there (remove PATH when "
       "there is nothing to write)",
       kForResolve},
      {"audience", "AUD", "`https://kubernetes.default.svc.cluster.local`",
       "`tokenAttributes.serviceAccountTokenAudience`: an audience the API "
       "server accepts (its `--api-audiences`, by default its "
       "service-account issuer)",
       kForKubeletConfig},
      {"credential-provider-config", "PATH",
       "kubelet's `--image-credential-provider-config`, else "
       "`/etc/kubernetes/credential-provider.yaml`",
       "the CredentialProviderConfig to check; the provider flags in its "
       "`args` are the ones checked",
       kForDoctor},
      {"credential-provider-bin-dir", "DIR",
       "kubelet's `--image-credential-provider-bin-dir`, else this binary's "
       "directory",
       "where kubelet looks for the provider binary", kForDoctor},
      {"kubelet-root-dir", "DIR",
       "`/var/lib/kubelet` (doctor: kubelet's `--root-dir` if it runs)",
       "kubelet's `--root-dir`: its pull intents (`image_manager/pulling/`) "
       "show which files a queued pull still needs; doctor reads its pull "
       "records (`image_manager/pulled/`)",
       kForProvider | kForKubeletConfig | kForDoctor},
      {"kubelet-bin", "PATH", "`kubelet` in `PATH`",
       "kubelet, asked for its `--version`", kForDoctor},
      {"crio-bin", "PATH", "`crio` in `PATH`", "CRI-O, asked for its version",
       kForDoctor},
      {"crio-config", "PATH", "`/etc/crio/crio.conf`",
       "CRI-O's main configuration file", kForDoctor},
      {"crio-config-dir", "DIR", "`/etc/crio/crio.conf.d`",
       "CRI-O's drop-in directory (`*.conf`, name order, later wins)",
       kForDoctor},
      {"version", "", "", "print the version and exit", kForProvider},
      {"version-json", "", "", "print the version as JSON and exit",
       kForProvider},
      {"help", "", "", "print this help (`-h` too) and exit", kForAll},
  };
  return docs;
}

unsigned command_bit(Command command) {
  switch (command) {
    case Command::kProvider:
      return kForProvider;
    case Command::kResolve:
      return kForResolve;
    case Command::kMatch:
      return kForMatch;
    case Command::kKubeletConfig:
      return kForKubeletConfig;
    case Command::kDoctor:
      return kForDoctor;
    case Command::kGateway:
      return kForGateway;
    case Command::kHostsToml:
      return kForHostsToml;
  }
  return 0;
}

const CommandDoc& command_doc(Command command) {
  for (const CommandDoc& doc : command_docs())
    if (doc.command == command) return doc;
  return command_docs().front();
}

std::string help_text(Command command) {
  const CommandDoc& doc = command_doc(command);
  std::string out = "Usage: " + std::string(kBinary) + " " +
                    std::string(doc.synopsis) + "\n\n" +
                    Wrap(Plain(doc.summary), 0, 79) + "\n";
  if (command == Command::kProvider) {
    out += "\nCommands:\n";
    for (const CommandDoc& c : command_docs()) {
      if (c.name.empty()) continue;
      std::string name = "  " + std::string(c.name);
      name.resize(std::max<size_t>(name.size() + 2, 18), ' ');
      std::string first = Plain(c.summary);
      first = first.substr(0, first.find(": "));
      first = first.substr(0, first.find(". "));
      out += name + Wrap(first, 18, 79) + "\n";
    }
  }
  out += "\nFlags (--flag=value or --flag value):\n";
  for (const FlagDoc* f : FlagsOf(command)) {
    std::string text = Plain(f->meaning);
    if (!f->default_value.empty())
      text += " (default: " + Plain(f->default_value) + ")";
    out += "  " + FlagSpelling(*f) + "\n      " + Wrap(text, 6, 79) + "\n";
  }
  out += "\nDocumentation: crio-credential-provider(8), docs/interface.md\n";
  return out;
}

std::string regenerate_interface_markdown(std::string_view markdown) {
  constexpr std::string_view kBegin = "<!-- generated: ";
  constexpr std::string_view kEnd = "<!-- end generated -->";
  std::string out;
  size_t at = 0;
  while (true) {
    size_t begin = markdown.find(kBegin, at);
    if (begin == std::string_view::npos) break;
    size_t close = markdown.find(" -->\n", begin);
    size_t end = markdown.find(kEnd, begin);
    if (close == std::string_view::npos || end == std::string_view::npos) break;
    std::string_view name =
        markdown.substr(begin + kBegin.size(), close - begin - kBegin.size());
    out += markdown.substr(at, close + 5 - at);
    for (const CommandDoc& doc : command_docs())
      if ((doc.name.empty() ? std::string_view("provider") : doc.name) == name)
        ((out += '\n') += MarkdownBlock(doc.command)) += '\n';
    at = end;
  }
  out += markdown.substr(at);
  return out;
}

std::string man_page() {
  std::string out =
      ".\\\" Generated from src/usage.cc by `cmake --build build --target "
      "docs`; do not edit.\n"
      ".TH CRIO\\-CREDENTIAL\\-PROVIDER 8 \"\" "
      "\"crio\\-credential\\-provider " +
      Roff(CCP_VERSION) +
      "\" \"System Administration\"\n"
      ".SH NAME\n"
      "crio\\-credential\\-provider \\- namespace\\-scoped registry mirror "
      "credentials for CRI\\-O, as a kubelet image credential provider\n"
      ".SH SYNOPSIS\n";
  for (const CommandDoc& doc : command_docs())
    out += ".B crio\\-credential\\-provider\n" + Roff(doc.synopsis) + "\n.br\n";
  out +=
      ".SH DESCRIPTION\n"
      "Each team keeps its mirror credentials in a pull secret of its own "
      "namespace. kubelet runs the provider once per image pull with the "
      "pod's service\\-account token; the provider reads the pod's pull "
      "secrets over verified TLS and writes the credentials for the "
      "mirrors in registries.conf to the auth file CRI\\-O claims for that "
      "pull (mode 0600, deleted by CRI\\-O after the pull).\n"
      ".SH COMMANDS\n";
  for (const CommandDoc& doc : command_docs()) {
    out += ".SS " +
           (doc.name.empty() ? std::string("provider mode (no command)")
                             : Roff(doc.name)) +
           "\n" + Roff(doc.summary) + "\n";
    for (const FlagDoc* f : FlagsOf(doc.command)) {
      out += ".TP\n.B " + Roff(FlagSpelling(*f)) + "\n" + Roff(f->meaning);
      if (!f->default_value.empty())
        out += " (default: " + Roff(f->default_value) + ")";
      out += "\n";
    }
  }
  out +=
      ".SH EXIT STATUS\n"
      "0 on success; 1 on failure, with one line on standard error naming "
      "the fix (doctor: any check FAILed); 2 on a usage error.\n"
      ".SH FILES\n"
      ".TP\n/etc/crio/auth/<namespace>\\-<sha256 of the image name>.json\n"
      "the auth file written for one pull\n"
      ".TP\n/etc/containers/registries.conf, "
      "/etc/containers/registries.conf.d/*.conf\n"
      "mirrors and rewrites\n"
      ".TP\n/usr/share/doc/crio\\-credential\\-provider/"
      "credential\\-provider.yaml\n"
      "an example CredentialProviderConfig for kubelet\n"
      ".SH SEE ALSO\n"
      ".BR crio (8),\n.BR kubelet (1),\n"
      ".BR containers\\-registries.conf (5)\n";
  return out;
}
