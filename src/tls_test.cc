// Tests of our TLS policy (tls.h) through the HTTPS client, against a real
// OpenSSL server on loopback.
#include "tls.h"

#include "http.h"
#include "tls_test_server.h"

namespace {

using namespace tls_test_server;

TEST(HttpClientTls, VerificationTable) {
  const Pki& pki = TestPki();
  TempDir dir;
  const std::string ca_file = dir.Write("ca.crt", pki.ca.cert_pem);
  const std::string other_ca_file =
      dir.Write("other.crt", pki.other_ca.cert_pem);
  struct Case {
    std::string name;
    const Cert* server_cert;
    std::string host;  // in the URL
    std::function<void(HttpClientConfig&)> configure;
    bool ok;
    std::string error_part;  // in the kTls message
  };
  const Case cases[] = {
      {"inline CA, IP", &pki.server, "127.0.0.1",
       [&](HttpClientConfig& c) { c.ca_pem = pki.ca.cert_pem; }, true, ""},
      {"CA file, name", &pki.server, "localhost",
       [&](HttpClientConfig& c) { c.ca_file = ca_file; }, true, ""},
      {"CA file and other inline CA", &pki.server, "127.0.0.1",
       [&](HttpClientConfig& c) {
         c.ca_file = ca_file;
         c.ca_pem = pki.other_ca.cert_pem;
       },
       true, ""},
      {"wrong CA", &pki.server, "127.0.0.1",
       [&](HttpClientConfig& c) { c.ca_file = other_ca_file; }, false,
       "certificate verify failed: unable to get local issuer certificate"},
      {"system trust store", &pki.server, "127.0.0.1",
       [&](HttpClientConfig&) {}, false, "certificate verify failed"},
      {"IP mismatch", &pki.wrong_name, "127.0.0.1",
       [&](HttpClientConfig& c) { c.ca_pem = pki.ca.cert_pem; }, false,
       "certificate verify failed: IP address mismatch (the server "
       "certificate is not valid for 127.0.0.1)"},
      {"hostname mismatch", &pki.wrong_name, "localhost",
       [&](HttpClientConfig& c) { c.ca_pem = pki.ca.cert_pem; }, false,
       "certificate verify failed: hostname mismatch"},
      {"insecure skip, wrong CA and name", &pki.wrong_name, "127.0.0.1",
       [&](HttpClientConfig& c) {
         c.ca_pem = pki.other_ca.cert_pem;
         c.insecure_skip_tls_verify = true;
       },
       true, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(*c.server_cert), Ok200);
    ASSERT_TRUE(server.ok());
    HttpClientConfig config;
    config.server = "https://" + c.host + ":" + std::to_string(server.port());
    c.configure(config);
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get("/x", In(5000));
    ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? "" : r.error().message);
    if (c.ok) {
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, R"({"ok":true})");
    } else {
      EXPECT_EQ(r.error().kind, HttpError::Kind::kTls);
      EXPECT_NE(r.error().message.find(c.error_part), std::string::npos)
          << r.error().message;
      EXPECT_EQ(r.error().message.find("TLS handshake failed: "), 0u)
          << r.error().message;
    }
  }
}

TEST(HttpClientTls, ClientCertificateTable) {
  const Pki& pki = TestPki();
  struct Case {
    std::string name;
    bool with_cert;
    bool ok;
  };
  const Case cases[] = {{"with client certificate", true, true},
                        {"without client certificate", false, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer::Options o = ServeWith(pki.server);
    o.client_ca = &pki.client_ca;
    TestServer server(o, Ok200);
    ASSERT_TRUE(server.ok());
    HttpClientConfig config = Trusting(server.url());
    if (c.with_cert) {
      config.client_cert_pem = pki.client.cert_pem;
      config.client_key_pem = pki.client.key_pem;
    }
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get("/x", In(5000));
    ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? "" : r.error().message);
    if (c.ok) {
      EXPECT_EQ(server.client_cns(),
                std::vector<std::string>{"system:node:node1"});
    } else {
      EXPECT_EQ(r.error().kind, HttpError::Kind::kTls) << r.error().message;
      EXPECT_NE(r.error().message.find("certificate required"),
                std::string::npos)
          << r.error().message;
      EXPECT_TRUE(server.client_cns().empty());
    }
  }
}

TEST(HttpClientTls, ConfigErrorsTable) {
  const Pki& pki = TestPki();
  TempDir dir;
  const std::string not_pem = dir.Write("junk.crt", "not a certificate\n");
  struct Case {
    std::string name;
    std::function<void(HttpClientConfig&)> configure;
    std::string error_part;
  };
  const Case cases[] = {
      {"missing CA file",
       [](HttpClientConfig& c) { c.ca_file = "/nonexistent/ca.crt"; },
       "cannot read CA file /nonexistent/ca.crt: No such file or directory"},
      {"CA file without certificates",
       [&](HttpClientConfig& c) { c.ca_file = not_pem; },
       "no PEM certificate found"},
      {"inline CA without certificates",
       [](HttpClientConfig& c) { c.ca_pem = "garbage"; },
       "CA data: no PEM certificate found"},
      {"certificate without key",
       [&](HttpClientConfig& c) { c.client_cert_pem = pki.client.cert_pem; },
       "must be given together"},
      {"key that does not match",
       [&](HttpClientConfig& c) {
         c.client_cert_pem = pki.client.cert_pem;
         c.client_key_pem = pki.server.key_pem;
       },
       "client key does not match the client certificate"},
      {"key that is not PEM",
       [&](HttpClientConfig& c) {
         c.client_cert_pem = pki.client.cert_pem;
         c.client_key_pem = "nope";
       },
       "client key: cannot read PEM private key"},
      {"token with a newline",
       [](HttpClientConfig& c) { c.bearer_token = "abc\r\nX-Evil: 1"; },
       "bearer token has a control character"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpClientConfig config;
    config.server = "https://127.0.0.1:1";
    c.configure(config);
    auto client = HttpClient::create(config);
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.error().kind, HttpError::Kind::kConfig);
    EXPECT_NE(client.error().message.find(c.error_part), std::string::npos)
        << client.error().message;
  }
}

TEST(HttpClientTls, Ipv6Literal) {
  TestServer::Options o = ServeWith(TestPki().server);
  o.ipv6 = true;
  TestServer server(o, Ok200);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback";
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  auto r = client->get("/v6", In(5000));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(server.heads().size(), 1u);
  EXPECT_NE(server.heads()[0].find(
                "\r\nHost: [::1]:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos);
}

}  // namespace
