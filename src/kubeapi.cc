#include "kubeapi.h"

#include <memory>
#include <string_view>
#include <thread>
#include <utility>

#include "api_objects.h"
#include "http.h"
#include "log.h"

namespace {

using Clock = std::chrono::steady_clock;
using Kind = ApiError::Kind;

constexpr int kMaxAttempts = 3;
constexpr std::chrono::milliseconds kBackoff[] = {
    std::chrono::milliseconds(100), std::chrono::milliseconds(400)};
constexpr std::size_t kMaxMessage = 512;

constexpr char kDockerConfigJson[] = "kubernetes.io/dockerconfigjson";
constexpr char kDockerCfg[] = "kubernetes.io/dockercfg";

// The request an error is about.
struct Target {
  std::string verb, resource, ns, name;
};

ApiError MakeError(Kind kind, const Target& t, std::string message,
                   int status = 0, std::string reason = "") {
  ApiError e{
      kind, status, std::move(reason), std::move(message), t.verb, t.resource,
      t.ns, t.name};
  return e;
}

// RFC 3986 unreserved characters pass; everything else is %XX.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// A server's text (Status message and reason) for an error message: made
// safe as every log line is (log_safe), and cut to kMaxMessage bytes, so
// a 16 MiB message stays one short line.
std::string ServerText(std::string_view s) {
  if (s.size() <= kMaxMessage) return log_safe(s);
  return log_safe(s.substr(0, kMaxMessage)) + "...";
}

std::string FormatMs(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + "s";
  return std::to_string(ms.count()) + "ms";
}

// Seconds of a delta-seconds Retry-After; nullopt for dates or junk.
std::optional<std::chrono::milliseconds> RetryAfter(const HttpResponse& r) {
  auto v = r.header("retry-after");
  if (!v || v->empty() || v->size() > 9) return std::nullopt;
  long long secs = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    secs = secs * 10 + (c - '0');
  }
  return std::chrono::milliseconds(secs * 1000);
}

// A non-2xx answer: the Status object when there is one.
ApiError StatusError(const HttpResponse& r, const Target& t) {
  ApiStatus status = decode_status(r.body);
  std::string message = std::move(status.message);
  if (message.empty()) {  // not a Status (a proxy's page, say)
    message = "HTTP " + std::to_string(r.status);
    if (!r.reason.empty()) message += " " + r.reason;
  }
  return MakeError(Kind::kHttp, t, ServerText(message), r.status,
                   ServerText(status.reason));
}

// A 2xx answer's body decoded by `decode`, or the error it had.
template <class T>
ApiResult<T> Decode(const ApiResult<HttpResponse>& resp, const Target& t,
                    Result<T> (*decode)(std::string_view)) {
  if (!resp) return resp.error();
  auto decoded = decode(resp->body);
  if (!decoded) return MakeError(Kind::kDecode, t, decoded.error().message);
  return std::move(*decoded);
}

}  // namespace

ApiError::Kind api_error_kind(HttpError::Kind kind) {
  switch (kind) {
    case HttpError::Kind::kConfig:
      return Kind::kConfig;
    case HttpError::Kind::kTls:
      return Kind::kTls;
    case HttpError::Kind::kTimeout:
      return Kind::kTimeout;
    case HttpError::Kind::kTransport:
    case HttpError::Kind::kProtocol:
      return Kind::kTransport;
  }
  return Kind::kTransport;
}

HttpClientConfig http_client_config(const ApiConfig& config) {
  HttpClientConfig hc;
  hc.server = config.server;
  hc.ca_file = config.ca_file;
  hc.ca_pem = config.ca_pem;
  hc.insecure_skip_tls_verify = config.insecure_skip_tls_verify;
  hc.client_cert_pem = config.client_cert_pem;
  hc.client_key_pem = config.client_key_pem;
  hc.bearer_token = config.bearer_token;
  return hc;
}

struct ApiSession::Impl {
  ApiConfig config;
  Clock::time_point deadline;
  std::unique_ptr<HttpClient> client;
  std::optional<HttpError> setup_error;

  explicit Impl(ApiConfig c)
      : config(std::move(c)), deadline(Clock::now() + config.timeout) {
    auto created = HttpClient::create(http_client_config(config));
    if (created) {
      client = std::move(*created);
    } else {
      setup_error = created.error();
    }
  }

  ApiError Timeout(const Target& t, const std::string& detail) const {
    std::string msg = detail.empty()
                          ? "the budget of " + FormatMs(config.timeout) +
                                " was used up by earlier requests"
                          : detail;
    return MakeError(Kind::kTimeout, t, msg);
  }

  // GET with retries. Success is a 2xx response; anything else an error
  // (kHttp for a non-2xx answer, with Status.code/reason/message). `first`,
  // when given, is the answer to the first attempt, already received.
  ApiResult<HttpResponse> Get(
      const std::string& path, const Target& t,
      std::optional<HttpResult<HttpResponse>> first = std::nullopt) {
    if (setup_error) {
      return MakeError(api_error_kind(setup_error->kind), t,
                       setup_error->message);
    }
    std::optional<ApiError> last;
    for (int attempt = 1;; ++attempt) {
      if (!(attempt == 1 && first) && Clock::now() >= deadline) {
        return Timeout(
            t, last ? "still failing after the wait: " + last->message : "");
      }
      auto r = attempt == 1 && first ? std::move(*first)
                                     : client->get(path, deadline);
      std::chrono::milliseconds wait = kBackoff[std::min(attempt, 2) - 1];
      if (!r) {
        const HttpError& e = r.error();
        switch (e.kind) {
          case HttpError::Kind::kTransport:
            last = MakeError(Kind::kTransport, t, e.message);
            break;  // retried
          case HttpError::Kind::kTimeout:
            return Timeout(t, e.message);
          default:  // TLS, configuration, protocol: retrying cannot help
            return MakeError(api_error_kind(e.kind), t, e.message);
        }
      } else {
        const HttpResponse& resp = *r;
        if (resp.status >= 200 && resp.status < 300) return std::move(*r);
        last = StatusError(resp, t);
        if (resp.status == 429) {
          if (auto ra = RetryAfter(resp)) wait = *ra;
        } else if (resp.status < 500) {
          return *last;
        }
      }
      if (attempt >= kMaxAttempts) break;
      // Not enough budget left to wait and ask again: the last answer is
      // more useful than a timeout.
      if (Clock::now() + wait >= deadline) return *last;
      std::this_thread::sleep_for(wait);
    }
    if (last->kind == Kind::kTransport) {
      last->message += " (" + std::to_string(kMaxAttempts) + " attempts)";
    }
    return *last;
  }

  // GETs that do not depend on each other, pipelined on the one connection
  // (one round trip); each answer Get would retry is retried as Get does.
  std::vector<ApiResult<HttpResponse>> GetAll(
      const std::vector<std::string>& paths,
      const std::vector<Target>& targets) {
    std::vector<ApiResult<HttpResponse>> out;
    if (setup_error || paths.size() < 2) {
      for (std::size_t i = 0; i < paths.size(); ++i) {
        out.push_back(Get(paths[i], targets[i]));
      }
      return out;
    }
    auto first = client->get_pipelined(paths, deadline);
    for (std::size_t i = 0; i < paths.size(); ++i) {
      out.push_back(Get(paths[i], targets[i], std::move(first[i])));
    }
    return out;
  }

  std::string NamespacePath(const std::string& ns) const {
    return "/api/v1/namespaces/" + PercentEncode(ns);
  }
};

ApiSession::ApiSession(ApiConfig config) : impl_(new Impl(std::move(config))) {}

ApiSession::~ApiSession() { delete impl_; }

int ApiSession::requests() const {
  return impl_->client ? impl_->client->requests_sent() : 0;
}

namespace {

ApiResult<std::optional<PullSecret>> ParseSecret(
    const ApiResult<HttpResponse>& resp, const Target& t) {
  if (!resp && resp.error().kind == Kind::kHttp && resp.error().status == 404) {
    return std::optional<PullSecret>();
  }
  auto secret = Decode(resp, t, decode_secret);
  if (!secret) return secret.error();
  if (secret->name.empty()) secret->name = t.name;
  return std::optional<PullSecret>(std::move(*secret));
}

}  // namespace

ApiResult<Pod> ApiSession::get_pod(const std::string& ns,
                                   const std::string& name) {
  Target t{"get", "pods", ns, name};
  if (ns.empty() || name.empty()) {
    return MakeError(Kind::kConfig, t, "empty namespace or pod name");
  }
  return Decode(
      impl_->Get(impl_->NamespacePath(ns) + "/pods/" + PercentEncode(name), t),
      t, decode_pod);
}

ApiResult<std::vector<std::string>>
ApiSession::get_service_account_pull_secrets(const std::string& ns,
                                             const std::string& name) {
  Target t{"get", "serviceaccounts", ns, name};
  if (ns.empty() || name.empty()) {
    return MakeError(Kind::kConfig, t,
                     "empty namespace or service account name");
  }
  return Decode(impl_->Get(impl_->NamespacePath(ns) + "/serviceaccounts/" +
                               PercentEncode(name),
                           t),
                t, decode_service_account_pull_secrets);
}

PodAndServiceAccount ApiSession::get_pod_and_service_account(
    const std::string& ns, const std::string& pod,
    const std::string& service_account) {
  Target pt{"get", "pods", ns, pod};
  Target st{"get", "serviceaccounts", ns, service_account};
  if (ns.empty() || pod.empty() || service_account.empty()) {
    return {get_pod(ns, pod),
            get_service_account_pull_secrets(ns, service_account)};
  }
  auto answers =
      impl_->GetAll({impl_->NamespacePath(ns) + "/pods/" + PercentEncode(pod),
                     impl_->NamespacePath(ns) + "/serviceaccounts/" +
                         PercentEncode(service_account)},
                    {pt, st});
  return {Decode(answers[0], pt, decode_pod),
          Decode(answers[1], st, decode_service_account_pull_secrets)};
}

ApiResult<std::optional<PullSecret>> ApiSession::get_secret(
    const std::string& ns, const std::string& name) {
  return std::move(get_secrets(ns, {name})[0]);
}

std::vector<ApiResult<std::optional<PullSecret>>> ApiSession::get_secrets(
    const std::string& ns, const std::vector<std::string>& names) {
  std::vector<ApiResult<std::optional<PullSecret>>> out;
  std::vector<std::string> paths;
  std::vector<Target> targets;
  for (const std::string& name : names) {
    Target t{"get", "secrets", ns, name};
    if (ns.empty() || name.empty()) {
      return std::vector<ApiResult<std::optional<PullSecret>>>(
          names.size(),
          MakeError(Kind::kConfig, t, "empty namespace or secret name"));
    }
    paths.push_back(impl_->NamespacePath(ns) + "/secrets/" +
                    PercentEncode(name));
    targets.push_back(std::move(t));
  }
  auto answers = impl_->GetAll(paths, targets);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    out.push_back(ParseSecret(answers[i], targets[i]));
  }
  return out;
}

ApiResult<std::vector<PullSecret>> ApiSession::list_pull_secrets(
    const std::string& ns) {
  Target t{"list", "secrets", ns, ""};
  if (ns.empty()) return MakeError(Kind::kConfig, t, "empty namespace");
  // One paged LIST per pull-secret type. Each round asks for the next page
  // of every list not yet done, pipelined: the first round costs one round
  // trip for both, as before paging.
  struct List {
    std::string path;  // with the selector and the page size
    std::string continue_token;
    bool done = false;
  };
  std::vector<List> lists;
  for (const char* type : {kDockerConfigJson, kDockerCfg}) {
    lists.push_back({impl_->NamespacePath(ns) + "/secrets?fieldSelector=" +
                         PercentEncode(std::string("type=") + type) +
                         "&limit=" + std::to_string(kListPageSize),
                     "", false});
  }
  std::vector<PullSecret> out;
  int pages = 0;
  for (;;) {
    std::vector<List*> round;
    std::vector<std::string> paths;
    for (List& list : lists) {
      if (list.done) continue;
      round.push_back(&list);
      paths.push_back(list.path);
      if (!list.continue_token.empty()) {
        paths.back() += "&continue=" + PercentEncode(list.continue_token);
      }
    }
    if (round.empty()) return out;
    pages += static_cast<int>(round.size());
    if (pages > kMaxListPages) {
      return MakeError(Kind::kDecode, t,
                       "the lists took more than " +
                           std::to_string(kMaxListPages) +
                           " pages; use --secrets=pod, which reads only the "
                           "secrets the pod names");
    }
    auto answers = impl_->GetAll(paths, std::vector<Target>(paths.size(), t));
    for (std::size_t i = 0; i < round.size(); ++i) {
      auto page = Decode(answers[i], t, decode_secret_list);
      if (!page) return page.error();
      if (page->items.size() > kMaxListItems - out.size()) {
        return MakeError(Kind::kDecode, t,
                         "the namespace has more than " +
                             std::to_string(kMaxListItems) +
                             " pull secrets; use --secrets=pod, which reads "
                             "only the secrets the pod names");
      }
      for (PullSecret& secret : page->items) out.push_back(std::move(secret));
      List& list = *round[i];
      // A server that hands back the token it was given would page forever.
      if (!page->continue_token.empty() &&
          page->continue_token == list.continue_token) {
        return MakeError(Kind::kDecode, t,
                         "the server answered a page with the same continue "
                         "token it was asked for");
      }
      list.continue_token = std::move(page->continue_token);
      list.done = list.continue_token.empty();
    }
  }
}
