#include "trust_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string_view>

namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A directory c_rehash has filled: it holds "<8 hex digits>.<n>" names.
bool IsHashedDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return false;
  bool hashed = false;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name.size() >= 10 && name[8] == '.' &&
        name.substr(0, 8).find_first_not_of("0123456789abcdef") ==
            std::string_view::npos) {
      hashed = true;
      break;
    }
  }
  ::closedir(dir);
  return hashed;
}

}  // namespace

TrustStore find_trust_store(const std::string& root, const char* env_file,
                            const char* env_dir) {
  TrustStore store;
  if (env_file && *env_file) {
    store.file = env_file;
    store.source = "SSL_CERT_FILE=" + store.file;
  }
  if (env_dir && *env_dir) {
    store.dir = env_dir;
    store.source += (store.source.empty() ? "" : ", ") +
                    std::string("SSL_CERT_DIR=") + store.dir;
  }
  if (!store.source.empty()) return store;
  std::string prefix = root == "/" ? "" : root;
  if (IsHashedDir(prefix + "/etc/ssl/certs")) {
    store.dir = prefix + "/etc/ssl/certs";
    store.source = store.dir + " (hashed directory)";
    return store;
  }
  for (const char* bundle :
       {"/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem"}) {
    if (IsFile(prefix + bundle)) {
      store.file = prefix + bundle;
      store.source = store.file;
      return store;
    }
  }
  return store;
}

TrustStore system_trust_store() {
  return find_trust_store("/", std::getenv("SSL_CERT_FILE"),
                          std::getenv("SSL_CERT_DIR"));
}
