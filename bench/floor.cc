// The floor for one provider invocation: a process that makes one verified
// TLS GET with the same OpenSSL and exits. bench/ execs it the way kubelet
// execs the provider and reports the provider's time as a ratio to this one.
// Not part of the product. Usage: floor HOST PORT CA_FILE PATH
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace {

int Fail(const char* what) {
  std::fprintf(stderr, "floor: %s\n", what);
  ERR_print_errors_fp(stderr);
  return 1;
}

int Connect(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      // As the provider does: no Nagle delay between the TLS Finished and
      // the request.
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      break;
    }
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return Fail("usage: floor HOST PORT CA_FILE PATH");
  const char* host = argv[1];
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Fail("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, argv[3], nullptr) != 1) {
    return Fail("cannot load the CA file");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  int fd = Connect(host, argv[2]);
  if (fd < 0) return Fail("cannot connect");
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  // The host is an IP literal in the bench: verify it as one.
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
  if (SSL_connect(ssl) != 1) return Fail("TLS handshake failed");
  std::string request = std::string("GET ") + argv[4] +
                        " HTTP/1.1\r\nHost: " + host + ":" + argv[2] +
                        "\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0) {
    return Fail("write failed");
  }
  std::string response;
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  if (response.compare(0, 12, "HTTP/1.1 200") != 0) {
    return Fail("no 200 response");
  }
  // No close_notify: the provider sends none either (HTTP framing ends the
  // exchange), and the bench proxy would count it as one more flight.
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  // The provider reports its own VmHWM the same way; bench/ reads both.
  if (FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, status) != nullptr) {
      long kib = 0;
      if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) {
        std::fprintf(stderr, "peak RSS %ld KiB\n", kib);
      }
    }
    std::fclose(status);
  }
  return 0;
}
