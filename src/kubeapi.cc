#include "kubeapi.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>
#include <utility>

#include "base64.h"
#include "http.h"
#include "json.h"

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
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

// One printable line of at most kMaxMessage bytes.
std::string OneLine(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= kMaxMessage) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < ' ' || u == 0x7f ? ' ' : c);
  }
  return out;
}

std::string FormatMs(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + "s";
  return std::to_string(ms.count()) + "ms";
}

Kind FromHttpKind(HttpError::Kind k) {
  switch (k) {
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
  std::string reason;
  std::string message;
  if (auto parsed = parse_json(r.body); parsed && parsed->is_object()) {
    const Json& j = *parsed;
    {
      auto it = j.find("reason");
      if (it != j.end() && it->is_string()) reason = it->get<std::string>();
      it = j.find("message");
      if (it != j.end() && it->is_string()) message = it->get<std::string>();
    }
  }  // else not a Status (a proxy's page, say): keep just the status line.
  if (message.empty()) {
    message = "HTTP " + std::to_string(r.status);
    if (!r.reason.empty()) message += " " + r.reason;
  }
  return MakeError(Kind::kHttp, t, OneLine(message), r.status, OneLine(reason));
}

// Object member `key` when present and not null.
const Json* Member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// Reads an optional string member; false when it has another type.
bool OptString(const Json& obj, const char* key, std::string* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  *out = v->get<std::string>();
  return true;
}

// names of a `[{name: ...}]` list (LocalObjectReference); false on bad type.
bool NameList(const Json& obj, const char* key, std::vector<std::string>* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return true;
  if (!v->is_array()) return false;
  for (const Json& ref : *v) {
    if (!ref.is_object()) return false;
    std::string name;
    if (!OptString(ref, "name", &name)) return false;
    if (!name.empty()) out->push_back(std::move(name));
  }
  return true;
}

ApiResult<Json> ParseBody(const HttpResponse& r, const Target& t) {
  auto parsed = parse_json(r.body);
  if (!parsed)
    return MakeError(Kind::kDecode, t, "response is " + parsed.error().message);
  if (!parsed->is_object())
    return MakeError(Kind::kDecode, t, "response is not a JSON object");
  return std::move(*parsed);
}

// A Secret object into a PullSecret; only the pull-secret key is decoded.
// Errors only when metadata.name or type has the wrong JSON type.
ApiResult<PullSecret> ToPullSecret(const Json& obj, const Target& t) {
  PullSecret s;
  const Json* meta = Member(obj, "metadata");
  if (meta != nullptr && !OptString(*meta, "name", &s.name)) {
    return MakeError(Kind::kDecode, t, "secret metadata.name is not a string");
  }
  if (!OptString(obj, "type", &s.type)) {
    return MakeError(Kind::kDecode, t,
                     "secret \"" + s.name + "\": type is not a string");
  }
  const char* key = s.type == kDockerConfigJson ? ".dockerconfigjson"
                    : s.type == kDockerCfg      ? ".dockercfg"
                                                : nullptr;
  // Bad data (not an object, a value that is not base64) leaves config
  // empty, as a missing key does: the caller skips that one secret with a
  // warning instead of failing the whole call.
  const Json* data = Member(obj, "data");
  if (key != nullptr && data != nullptr && data->is_object()) {
    const Json* value = Member(*data, key);
    if (value != nullptr && value->is_string()) {
      auto decoded = base64_decode(value->get_ref<const std::string&>());
      if (decoded) s.config = std::move(*decoded);
    }
  }
  return s;
}

}  // namespace

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
      return MakeError(FromHttpKind(setup_error->kind), t,
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
            return MakeError(FromHttpKind(e.kind), t, e.message);
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

ApiResult<Pod> ParsePod(const ApiResult<HttpResponse>& resp, const Target& t) {
  if (!resp) return resp.error();
  auto j = ParseBody(*resp, t);
  if (!j) return j.error();
  Pod pod;
  const Json* meta = Member(*j, "metadata");
  if (meta != nullptr && !OptString(*meta, "uid", &pod.uid)) {
    return MakeError(Kind::kDecode, t, "pod metadata.uid is not a string");
  }
  const Json* spec = Member(*j, "spec");
  if (spec != nullptr) {
    if (!OptString(*spec, "nodeName", &pod.node_name)) {
      return MakeError(Kind::kDecode, t, "pod spec.nodeName is not a string");
    }
    if (!OptString(*spec, "serviceAccountName", &pod.service_account)) {
      return MakeError(Kind::kDecode, t,
                       "pod spec.serviceAccountName is not a string");
    }
    if (pod.service_account.empty() &&
        !OptString(*spec, "serviceAccount", &pod.service_account)) {
      return MakeError(Kind::kDecode, t,
                       "pod spec.serviceAccount is not a string");
    }
    if (!NameList(*spec, "imagePullSecrets", &pod.image_pull_secrets)) {
      return MakeError(Kind::kDecode, t,
                       "pod spec.imagePullSecrets is not a list of names");
    }
  }
  return pod;
}

ApiResult<std::vector<std::string>> ParseServiceAccount(
    const ApiResult<HttpResponse>& resp, const Target& t) {
  if (!resp) return resp.error();
  auto j = ParseBody(*resp, t);
  if (!j) return j.error();
  std::vector<std::string> names;
  if (!NameList(*j, "imagePullSecrets", &names)) {
    return MakeError(Kind::kDecode, t,
                     "serviceaccount imagePullSecrets is not a list of names");
  }
  return names;
}

ApiResult<std::optional<PullSecret>> ParseSecret(
    const ApiResult<HttpResponse>& resp, const Target& t) {
  if (!resp) {
    if (resp.error().kind == Kind::kHttp && resp.error().status == 404) {
      return std::optional<PullSecret>();
    }
    return resp.error();
  }
  auto j = ParseBody(*resp, t);
  if (!j) return j.error();
  auto secret = ToPullSecret(*j, t);
  if (!secret) return secret.error();
  if (secret->name.empty()) secret->name = t.name;
  return std::optional<PullSecret>(std::move(*secret));
}

// Appends the pull secrets of one LIST answer to `out`.
ApiResult<Ok> ParseSecretList(const ApiResult<HttpResponse>& resp,
                              const Target& t, std::vector<PullSecret>* out) {
  if (!resp) return resp.error();
  auto j = ParseBody(*resp, t);
  if (!j) return j.error();
  const Json* items = Member(*j, "items");
  if (items == nullptr) return Ok{};
  if (!items->is_array()) {
    return MakeError(Kind::kDecode, t, "secret list items is not a list");
  }
  for (const Json& item : *items) {
    if (!item.is_object()) {
      return MakeError(Kind::kDecode, t, "secret list item is not an object");
    }
    auto secret = ToPullSecret(item, t);
    if (!secret) return secret.error();
    out->push_back(std::move(*secret));
  }
  return Ok{};
}

}  // namespace

ApiResult<Pod> ApiSession::get_pod(const std::string& ns,
                                   const std::string& name) {
  Target t{"get", "pods", ns, name};
  if (ns.empty() || name.empty()) {
    return MakeError(Kind::kConfig, t, "empty namespace or pod name");
  }
  return ParsePod(
      impl_->Get(impl_->NamespacePath(ns) + "/pods/" + PercentEncode(name), t),
      t);
}

ApiResult<std::vector<std::string>>
ApiSession::get_service_account_pull_secrets(const std::string& ns,
                                             const std::string& name) {
  Target t{"get", "serviceaccounts", ns, name};
  if (ns.empty() || name.empty()) {
    return MakeError(Kind::kConfig, t,
                     "empty namespace or service account name");
  }
  return ParseServiceAccount(
      impl_->Get(
          impl_->NamespacePath(ns) + "/serviceaccounts/" + PercentEncode(name),
          t),
      t);
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
  return {ParsePod(answers[0], pt), ParseServiceAccount(answers[1], st)};
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
  std::vector<std::string> paths;
  for (const char* type : {kDockerConfigJson, kDockerCfg}) {
    paths.push_back(impl_->NamespacePath(ns) + "/secrets?fieldSelector=" +
                    PercentEncode(std::string("type=") + type));
  }
  auto answers = impl_->GetAll(paths, {t, t});
  std::vector<PullSecret> out;
  for (const auto& answer : answers) {
    if (auto parsed = ParseSecretList(answer, t, &out); !parsed) {
      return parsed.error();
    }
  }
  return out;
}
