#include "provider.h"

#include <algorithm>
#include <optional>
#include <set>

#include "api_errors.h"
#include "cluster.h"
#include "credentials.h"
#include "kubeapi.h"
#include "protocol.h"
#include "pullintent.h"
#include "reference.h"
#include "ticket.h"
#include "token.h"

namespace {

ApiErrorContext ErrorContext(const ClusterOptions& o,
                             const ClusterAccess& access,
                             const PodIdentity& pod) {
  ApiErrorContext c = api_error_context(access, o);
  c.pod_namespace = pod.ns;
  c.service_account = pod.service_account;
  return c;
}

// The pull secrets of the pod, in kubelet's order: the pod's own, then its
// service account's not already named.
Result<std::vector<PullSecret>> FetchSecrets(ApiSession& api, SecretsMode mode,
                                             const ClusterOptions& o,
                                             const ClusterAccess& access,
                                             const PodIdentity& pod,
                                             const Logger& log) {
  auto fail = [&](const ApiError& e) -> Result<std::vector<PullSecret>> {
    return describe_api_error(e, ErrorContext(o, access, pod));
  };
  if (mode == SecretsMode::kNamespace) {
    auto list = api.list_pull_secrets(pod.ns);
    if (!list) return fail(list.error());
    std::sort(list->begin(), list->end(),
              [](const PullSecret& a, const PullSecret& b) {
                return a.name < b.name;
              });
    return std::move(*list);
  }

  // The token names the pod's service account: ask for both at once.
  std::string token_sa =
      pod.service_account.empty() ? "default" : pod.service_account;
  auto both = api.get_pod_and_service_account(pod.ns, pod.pod_name, token_sa);
  auto& p = both.pod;
  if (!p) return fail(p.error());
  if (!pod.pod_uid.empty() && p->uid != pod.pod_uid)
    return Error{
        "pod " + pod.ns + "/" + pod.pod_name +
        " was replaced since kubelet issued its token: kubelet retries "
        "the pull with a new token"};
  if (!access.node_name.empty() && p->node_name != access.node_name)
    return Error{"pod " + pod.ns + "/" + pod.pod_name + " is bound to node \"" +
                 p->node_name + "\", not to this node \"" + access.node_name +
                 "\": a node reads only its own pods' pull secrets; check "
                 "--kubeconfig"};
  std::vector<std::string> names = p->image_pull_secrets;
  size_t from_pod = names.size();
  std::string sa =
      p->service_account.empty() ? pod.service_account : p->service_account;
  if (sa.empty()) sa = "default";
  auto sa_secrets = sa == token_sa
                        ? std::move(both.service_account_pull_secrets)
                        : api.get_service_account_pull_secrets(pod.ns, sa);
  if (sa_secrets) {
    for (const std::string& n : *sa_secrets)
      if (std::find(names.begin(), names.end(), n) == names.end())
        names.push_back(n);
  } else if (sa_secrets.error().kind == ApiError::Kind::kHttp &&
             (sa_secrets.error().status == 404 ||
              // A node may read its pods' service accounts only while the
              // feature gate for provider tokens is on; the pod's own
              // secrets still serve.
              (sa_secrets.error().status == 403 &&
               o.api_identity == ApiIdentity::kNode))) {
    log.warn(
        "skipping the pull secrets of service account " + pod.ns + "/" + sa +
        ": " +
        describe_api_error(sa_secrets.error(), ErrorContext(o, access, pod))
            .message);
  } else {
    return fail(sa_secrets.error());
  }

  std::vector<std::string> valid;
  std::vector<bool> valid_from_pod;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!is_dns1123_subdomain(names[i])) {
      log.warn("skipping pull secret \"" + names[i].substr(0, 253) +
               "\": not a valid secret name");
      continue;
    }
    valid.push_back(names[i]);
    valid_from_pod.push_back(i < from_pod);
  }
  auto fetched = api.get_secrets(pod.ns, valid);
  std::vector<PullSecret> secrets;
  for (size_t i = 0; i < valid.size(); ++i) {
    auto& s = fetched[i];
    if (!s) {
      bool optional =
          !valid_from_pod[i] && o.api_identity == ApiIdentity::kNode &&
          s.error().kind == ApiError::Kind::kHttp && s.error().status == 403;
      if (!optional) return fail(s.error());
      log.warn("skipping pull secret " + pod.ns + "/" + valid[i] +
               " of the service account: the pod does not reference it, so "
               "the node may not read it");
      continue;
    }
    if (!s->has_value()) {
      log.warn("pull secret " + pod.ns + "/" + valid[i] +
               " does not exist: create it or remove it from imagePullSecrets");
      continue;
    }
    secrets.push_back(std::move(**s));
  }
  return secrets;
}

Result<std::string> ReadAndWrite(const std::string& global_auth_file,
                                 const AuthDir& dir,
                                 const std::string& file_name,
                                 const std::vector<AuthEntry>& entries,
                                 const Logger& log) {
  auto global = read_global_auth_file(global_auth_file);
  if (!global) return global.error();
  auto content = build_auth_file(*global, entries);
  if (!content) {
    log.warn("ignoring the global auth file \"" + global_auth_file +
             "\": " + content.error().message);
    content = build_auth_file("", entries);
    if (!content) return content.error();
  }
  if (auto written = write_auth_file(dir, file_name, *content); !written)
    return written.error();
  return file_name;
}

// Each secret is released once it is in the keyring: with a namespace's
// 100,000 pull secrets, holding both at once would double the peak RSS.
Keyring BuildKeyring(std::vector<PullSecret> secrets, const std::string& ns,
                     const Logger& log) {
  Keyring keyring;
  for (PullSecret& s : secrets) {
    auto entries = parse_pull_secret(s.type, s.config);
    if (!entries) {
      log.warn("skipping pull secret " + ns + "/" + s.name + ": " +
               entries.error().message);
    } else {
      keyring_add(keyring, *entries, s.name);
    }
    PullSecret released = std::move(s);  // its buffers go with it
  }
  return keyring;
}

// What either runtime needs before the API: a mode that can work and
// registries.conf.
Result<RegistriesConf> LoadConfig(const ProviderOptions& o) {
  if (o.cluster.api_identity == ApiIdentity::kNode &&
      o.secrets == SecretsMode::kNamespace)
    return Error{
        "--api-identity=node reads only the secrets a pod references: "
        "use --secrets=pod with it"};
  return load_registries(o.registries);
}

// secrets -> match: kubelet's keyring over the pod's pull secrets, read
// from the API with the pod's token (or the node's identity).
Result<Keyring> PodKeyring(const ProviderOptions& o,
                           const CredentialProviderRequest& request,
                           const PodIdentity& pod, const Logger& log) {
  auto access = cluster_access(o.cluster, request.service_account_token, log);
  if (!access) return access.error();
  ApiSession api(access->api);
  auto secrets = FetchSecrets(api, o.secrets, o.cluster, *access, pod, log);
  if (!secrets) return secrets.error();
  log.debug(std::to_string(api.requests()) + " API request(s)");
  return BuildKeyring(std::move(*secrets), pod.ns, log);
}

// containerd mode: the chosen credentials go into a ticket file, kubelet
// gets the ticket (docs/containerd.md).
Result<std::string> IssueTicket(const ProviderOptions& o,
                                const CredentialProviderRequest& request,
                                const Reference& name, const PodIdentity& pod,
                                const Logger& log) {
  if (o.cache_duration.count() != 0)
    return Error{
        "--cache-duration must be 0s with --runtime=containerd: a ticket "
        "serves one pull, kubelet must ask again for the next"};
  auto conf = LoadConfig(o);
  if (!conf) return conf.error();
  auto keyring = PodKeyring(o, request, pod, log);
  if (!keyring) return keyring.error();

  std::vector<TicketSource> sources =
      ticket_sources(*conf, name, o.registries.mirror_registries, *keyring);
  const TicketOptions& t = o.ticket;
  int stale = remove_stale_tickets(t.ticket_dir, t.ticket_ttl);
  if (stale)
    log.info("removed " + std::to_string(stale) + " expired ticket(s)");
  if (sources.empty()) {
    log.info("every source of " + name.name() +
             " is blocked; no ticket issued");
    return make_response(request.api_version, o.cache_duration);
  }
  auto issued = new_ticket(pod.ns, name.name(), t.ticket_ttl,
                           std::chrono::system_clock::now());
  if (!issued) return issued.error();
  Ticket& ticket = issued->ticket;
  const TicketCredential& credential = issued->credential;
  ticket.sources = std::move(sources);
  if (auto written = write_ticket(t.ticket_dir, ticket); !written)
    return written.error();
  int with_credential = 0;
  for (const TicketSource& s : ticket.sources)
    with_credential += !s.username.empty();
  log.info("issued ticket " + ticket.id + " for " + name.name() + " in " +
           pod.ns + ": " + std::to_string(ticket.sources.size()) +
           " source(s), " + std::to_string(with_credential) +
           " with a credential");
  return make_response(
      request.api_version, o.cache_duration,
      {{request.image, credential.username, credential.password}});
}

// The auth-file entries for the pod's pull of `name`: the pipeline from
// registries.conf to the chosen credentials (empty: nothing to write).
Result<std::vector<AuthEntry>> CredentialsFor(
    const ProviderOptions& o, const CredentialProviderRequest& request,
    const Reference& name, const PodIdentity& pod, const Logger& log) {
  auto conf = LoadConfig(o);
  if (!conf) return conf.error();
  auto sources =
      sources_needing_credentials(*conf, name, o.registries.mirror_registries);
  if (sources.empty()) {
    log.info("no mirror or rewrite of " + name.name() +
             " needs credentials; nothing to write");
    return std::vector<AuthEntry>{};
  }
  for (const PullSource& s : sources)
    log.debug("pull source " + s.reference.name() +
              (s.mirror ? " (mirror)" : " (rewrite)"));

  auto keyring = PodKeyring(o, request, pod, log);
  if (!keyring) return keyring.error();
  auto choices = choose_credentials(sources, *keyring);
  for (const SourceCredential& c : choices)
    log.info(c.match ? "source " + c.source.reference.name() + ": key \"" +
                           c.match->key + "\" of secret " +
                           c.match->credential->source
                     : "source " + c.source.reference.name() +
                           ": no matching pull secret");
  return auth_entries(choices);
}

// Leaves the auth file of this call in one of two states, whatever
// happened: written by this call, or absent. A file from an earlier call
// (a failed pull, a verification-only call) never serves this pull.
Result<bool> PlaceAuthFile(const ProviderOptions& o, const AuthDir& dir,
                           const std::string& file_name,
                           const Result<std::vector<AuthEntry>>& entries,
                           const Logger& log) {
  if (entries && !entries->empty()) {
    auto written =
        ReadAndWrite(o.global_auth_file, dir, file_name, *entries, log);
    if (written) {
      log.info("wrote " + dir.path() + "/" + file_name +
               " with credentials for " + std::to_string(entries->size()) +
               " source(s)");
      return true;
    }
    if (auto removed = remove_auth_file(dir, file_name); removed && *removed)
      log.info("removed the previous auth file " + file_name);
    return written.error();
  }
  auto removed = remove_auth_file(dir, file_name);
  if (!removed) return removed.error();
  if (*removed) log.info("removed the previous auth file " + file_name);
  return false;
}

}  // namespace

Result<std::string> run_provider(const ProviderOptions& o,
                                 std::string_view request_text,
                                 const Logger& log) {
  // Until the token names the namespace there is no file to speak for:
  // these errors touch nothing.
  auto request = parse_request(request_text);
  if (!request) return request.error();
  auto image = parse_normalized_named(request->image);
  if (!image)
    return Error{image.error().message +
                 ": kubelet passes the pod's image; check the pod spec"};
  Reference name = *image;
  name.tag.clear();
  name.digest.clear();

  if (request->service_account_token.empty())
    return Error{
        "kubelet sent no service-account token: enable the "
        "KubeletServiceAccountTokenForCredentialProviders feature gate "
        "(kubelet >= 1.33) and set "
        "tokenAttributes.serviceAccountTokenAudience for this provider "
        "in the CredentialProviderConfig"};
  auto pod = identity_from_token(request->service_account_token);
  if (!pod) return pod.error();
  if (o.runtime == Runtime::kContainerd) {
    log.info("request for " + name.name() + " from pod " + pod->ns + "/" +
             pod->pod_name + " (containerd ticket)");
    return IssueTicket(o, *request, name, *pod, log);
  }
  std::string file_name = auth_file_name(pod->ns, name.name());
  log.info("request for " + name.name() + " from pod " + pod->ns + "/" +
           pod->pod_name + " (auth file " + file_name + ")");

  auto dir = open_auth_dir(o.crio.auth_dir);
  if (!dir) return dir.error();
  auto entries = CredentialsFor(o, *request, name, *pod, log);
  auto wrote = PlaceAuthFile(o, *dir, file_name, entries, log);
  if (!entries) return entries.error();
  if (!wrote) return wrote.error();

  std::optional<std::set<std::string>> pending;
  int stale = remove_stale_auth_files(
      *dir, o.crio.stale_after, file_name, [&](std::string_view hash) {
        if (!pending) pending = pending_pull_hashes(o.crio.kubelet_root_dir);
        return pending->count(std::string(hash)) > 0;
      });
  if (stale)
    log.info("removed " + std::to_string(stale) + " unclaimed auth file(s)");
  // Only a written file ties the pull to the pod: a pull without one is
  // anonymous, and kubelet may share its image with every pod.
  return make_response(
      request->api_version, o.cache_duration,
      *wrote ? pod_bound_auth(request->image) : std::vector<ResponseAuth>{});
}
