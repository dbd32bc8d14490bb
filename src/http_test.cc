// Tests of the HTTPS client (http.h) against a real OpenSSL server on
// loopback: request headers, framing, caps, keep-alive, deadlines.
#include "http.h"

#include "tls_test_server.h"

namespace {

using namespace tls_test_server;

// ---- Requests and responses ------------------------------------------------

TEST(HttpClient, RequestHeaders) {
  TestServer server(ServeWith(TestPki().server), Ok200);
  ASSERT_TRUE(server.ok());
  struct Case {
    std::string token;
    std::string path;
    std::string base;
  };
  const Case cases[] = {{"tok.en-1", "/api/v1/x?a=b", ""},
                        {"", "/api/v1/y", ""},
                        {"t", "/api/v1/z", "/prefix"}};
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    HttpClientConfig config = Trusting(server.url() + c.base);
    config.bearer_token = c.token;
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get(c.path, In(5000));
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::string head = server.heads().at(i++);
    std::string port = std::to_string(server.port());
    EXPECT_EQ(head.substr(0, head.find("\r\n")),
              "GET " + c.base + c.path + " HTTP/1.1");
    EXPECT_NE(head.find("\r\nHost: 127.0.0.1:" + port + "\r\n"),
              std::string::npos);
    EXPECT_NE(head.find("\r\nAccept: application/json"), std::string::npos);
    EXPECT_NE(head.find("\r\nUser-Agent: crio-credential-provider/"),
              std::string::npos);
    EXPECT_EQ(
        (head + "\r\n").find("Authorization: Bearer " + c.token + "\r\n") !=
            std::string::npos,
        !c.token.empty())
        << head;
    EXPECT_EQ(head.find("Authorization") != std::string::npos,
              !c.token.empty());
  }
}

TEST(HttpClient, BodyFramingTable) {
  struct Case {
    std::string name;
    std::string response;  // raw bytes after the request
    int status;
    std::string body;
    std::string header;  // "name=value" expected, or empty
  };
  const Case cases[] = {
      {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
       200, "hello", ""},
      {"chunked with extension and trailer",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  b \r\n\r\n"
       "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
       "Trailer: x\r\n\r\n",
       200, "helloabcdefghijklmnopqrstuvwxyz", "x-a=b"},
      {"100 continue first",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
       "content-length: 2\r\n\r\n{}",
       201, "{}", ""},
      {"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", ""},
      {"error read to close",
       "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n"
       "until the end",
       503, "until the end", "content-type=text/plain"},
      {"status without reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
       404, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Reply{c.response, true};
                      });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    auto r = client->get("/", In(5000));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->body, c.body);
    if (!c.header.empty()) {
      std::string name = c.header.substr(0, c.header.find('='));
      EXPECT_EQ(r->header(name).value_or("<none>"),
                c.header.substr(c.header.find('=') + 1));
    }
  }
}

TEST(HttpClient, ProtocolErrorsTable) {
  struct Case {
    std::string name;
    std::string response;
    std::size_t max_body;
    HttpError::Kind kind;
    std::string error_part;
  };
  const std::size_t k16MiB = 16u << 20;
  const Case cases[] = {
      {"content-length above 16 MiB",
       "HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n{", k16MiB,
       HttpError::Kind::kProtocol, "exceeds 16 MiB"},
      {"chunked above the cap",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "400\r\n" +
           std::string(1024, 'a') + "\r\n400\r\n" + std::string(1024, 'b') +
           "\r\n0\r\n\r\n",
       1500, HttpError::Kind::kProtocol, "exceeds 1500 bytes"},
      {"read-to-close above the cap",
       "HTTP/1.0 500 Oops\r\n\r\n" + std::string(3000, 'c'), 1500,
       HttpError::Kind::kProtocol, "exceeds 1500 bytes"},
      // Read to EOF, a truncated body would pass for a whole one.
      {"unframed 200 read to close",
       "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
       k16MiB, HttpError::Kind::kProtocol, "no Content-Length"},
      {"unframed 200 on HTTP/1.1",
       "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"items\":[", k16MiB,
       HttpError::Kind::kProtocol, "is not chunked"},
      {"unframed 203 after 100 continue",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 203 OK\r\n\r\n{}", k16MiB,
       HttpError::Kind::kProtocol, "no Content-Length"},
      {"bad status line", "HTTP/1.1 OK\r\n\r\n", k16MiB,
       HttpError::Kind::kProtocol, "bad status"},
      {"bad chunk size",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", k16MiB,
       HttpError::Kind::kProtocol, "bad chunk size"},
      {"truncated content-length body",
       "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", k16MiB,
       HttpError::Kind::kTransport, "connection closed by 127.0.0.1"},
      {"closed before a response", "", k16MiB, HttpError::Kind::kTransport,
       "before a complete response"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Reply{c.response, true};
                      });
    ASSERT_TRUE(server.ok());
    HttpClientConfig config = Trusting(server.url());
    config.max_body_bytes = c.max_body;
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get("/", In(5000));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, c.kind) << r.error().message;
    EXPECT_NE(r.error().message.find(c.error_part), std::string::npos)
        << r.error().message;
  }
}

TEST(HttpClient, PostSendsAJsonBodyWithItsLength) {
  TestServer server(ServeWith(TestPki().server), Ok200);
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url() + "/prefix"));
  ASSERT_NE(client, nullptr);
  const std::string body = R"({"kind":"SelfSubjectReview"})";
  auto r = client->post("/apis/x", body, In(5000));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(server.heads().size(), 1u);
  std::string head = server.heads()[0] + "\r\n";
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "POST /prefix/apis/x HTTP/1.1");
  EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"),
            std::string::npos);
  EXPECT_NE(
      head.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
      std::string::npos);
  EXPECT_FALSE(client->post("/apis/x", "", In(5000)).ok());
}

TEST(HttpClient, PostIsNeverResent) {
  // The server drops the second request of the first connection: a GET is
  // sent again on a fresh connection, a POST is an error.
  TestServer server(ServeWith(TestPki().server),
                    [](const std::string&, int conn, int req) {
                      if (conn == 0 && req == 1) {
                        return Reply{"", false, false, true};
                      }
                      return Respond(200, "OK", "{}");
                    });
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->get("/one", In(5000)).ok());
  auto r = client->post("/two", "{}", In(5000));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(client->requests_sent(), 2);
}

// ---- Connections -----------------------------------------------------------

TEST(HttpClient, KeepAliveReusesOneConnection) {
  TestServer server(ServeWith(TestPki().server), Ok200);
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto r = client->get("/n" + std::to_string(i), In(5000));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client->connections_opened(), 1);
  EXPECT_EQ(client->requests_sent(), 3);
  EXPECT_EQ(server.paths(), (std::vector<std::string>{"/n0", "/n1", "/n2"}));
}

// Answers each request with its path as the body.
Reply EchoPath(const std::string& head, int, int) {
  return Respond(200, "OK", head.substr(4, head.find(' ', 4) - 4));
}

// Pipelines /a, /b, /c and checks each answer is its own, in order.
void ExpectPipelinedInOrder(HttpClient& client) {
  auto results = client.get_pipelined({"/a", "/b", "/c"}, In(5000));
  ASSERT_EQ(results.size(), 3u);
  const char* want[] = {"/a", "/b", "/c"};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error().message;
    EXPECT_EQ(results[i]->body, want[i]);
  }
}

TEST(HttpClient, PipelinedRequestsShareOneConnectionAndKeepOrder) {
  TestServer server(ServeWith(TestPki().server), EchoPath);
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  ExpectPipelinedInOrder(*client);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client->requests_sent(), 3);
  // The connection stays usable for the next request.
  auto next = client->get("/d", In(5000));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->body, "/d");
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, PipelinedFallsBackWhenTheServerCloses) {
  struct Case {
    std::string name;
    Reply first;  // the answer to the first request of connection 0
  };
  Reply close_after = Respond(200, "OK", "/a");
  close_after.close_after = true;
  Reply announced = Respond(200, "OK", "/a", "Connection: close\r\n");
  announced.close_after = true;
  const Case cases[] = {
      {"closed after one answer", close_after},
      {"Connection: close", announced},
      {"dropped without an answer", Reply{"", false, false, true}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string& head, int conn, int req) {
                        if (conn == 0 && req == 0) return c.first;
                        return EchoPath(head, conn, req);
                      });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    ExpectPipelinedInOrder(*client);
    EXPECT_GE(server.connections(), 2);
  }
}

TEST(HttpClient, ReconnectsTable) {
  struct Case {
    std::string name;
    Reply first;   // answer to the first request of connection 0
    Reply second;  // answer to a second request on connection 0
    int wait_closed;
    int requests_sent;
  };
  const Reply ok = Respond(200, "OK", "{}");
  Reply ok_close = ok;
  ok_close.close_after = true;
  Reply connection_close = Respond(200, "OK", "{}", "Connection: close\r\n");
  const Case cases[] = {
      // The server closed the idle connection; the client notices first.
      {"closed while idle", ok_close, ok, 1, 2},
      // The server announced the close.
      {"Connection: close", connection_close, ok, 1, 2},
      // The client sent on a connection the server then dropped: resend.
      {"dropped on reuse", ok, Reply{"", false, false, true}, 0, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int conn, int req) {
                        if (conn == 0) return req == 0 ? c.first : c.second;
                        return ok;
                      });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    auto r1 = client->get("/one", In(5000));
    ASSERT_TRUE(r1.ok()) << r1.error().message;
    if (c.wait_closed > 0) {
      ASSERT_TRUE(server.WaitClosed(c.wait_closed));
    }
    auto r2 = client->get("/two", In(5000));
    ASSERT_TRUE(r2.ok()) << r2.error().message;
    EXPECT_EQ(r2->status, 200);
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(client->connections_opened(), 2);
    EXPECT_EQ(client->requests_sent(), c.requests_sent);
  }
}

// A GET from a server started with `options` that answers every request
// with `reply` fails as a timeout at `deadline` (within `slack`), its
// message naming the step it was `during` (when given).
void ExpectTimesOutAtTheDeadline(const TestServer::Options& options,
                                 const Reply& reply, milliseconds deadline,
                                 milliseconds slack,
                                 const std::string& during = "") {
  TestServer server(options,
                    [&](const std::string&, int, int) { return reply; });
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  auto start = Clock::now();
  auto r = client->get("/", start + deadline);
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, HttpError::Kind::kTimeout) << r.error().message;
  EXPECT_NE(r.error().message.find(during), std::string::npos)
      << r.error().message;
  EXPECT_GE(elapsed, deadline - milliseconds(5));
  EXPECT_LT(elapsed, deadline + slack);
}

TEST(HttpClient, DeadlinesTable) {
  struct Case {
    std::string name;
    bool silent;  // TCP accepted, TLS never answered
    std::string during;
  };
  const Case cases[] = {
      {"server never answers the request", false, "waiting for the response"},
      {"server never answers the handshake", true, "TLS handshake"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer::Options o = ServeWith(TestPki().server);
    o.silent = c.silent;
    ExpectTimesOutAtTheDeadline(o, Reply{"", false, true}, milliseconds(300),
                                milliseconds(200), c.during);
  }
}

// The deadline bounds the whole call, however the server paces its bytes.
TEST(HttpClient, DeadlineHoldsAgainstSlowServers) {
  struct Case {
    std::string name;
    Reply reply;
  };
  const std::string chunks = [] {
    std::string s;
    for (int i = 0; i < 2000; ++i) s += "1\r\na\r\n";
    return s;
  }();
  const Case cases[] = {
      {"body dripped a byte at a time",
       Reply{"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n" +
                 std::string(4000, 'a'),
             false, false, false, milliseconds(1)}},
      {"endless 1-byte chunks",
       Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks,
             false, false, false, milliseconds(1)}},
      {"slow endless 100 Continue",
       Reply{"HTTP/1.1 100 Continue\r\n\r\n", false, false, false,
             milliseconds(10), true}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectTimesOutAtTheDeadline(ServeWith(TestPki().server), c.reply,
                                milliseconds(400), milliseconds(300));
  }
}

// A server that answers only with interim responses is refused after a
// few, not read until the deadline.
TEST(HttpClient, EndlessInterimResponsesAreCapped) {
  TestServer server(ServeWith(TestPki().server),
                    [](const std::string&, int, int) {
                      Reply r{"HTTP/1.1 100 Continue\r\n\r\n"};
                      r.repeat = true;
                      return r;
                    });
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  auto start = Clock::now();
  auto r = client->get("/", start + milliseconds(5000));
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, HttpError::Kind::kProtocol) << r.error().message;
  EXPECT_NE(r.error().message.find("more than 5 interim (1xx) responses"),
            std::string::npos)
      << r.error().message;
  EXPECT_LT(elapsed, milliseconds(2000));
}

TEST(HttpClient, ConnectionRefused) {
  HttpClientConfig config =
      Trusting("https://127.0.0.1:" + std::to_string(ClosedPort()));
  auto client = MustCreate(config);
  ASSERT_NE(client, nullptr);
  auto r = client->get("/", In(2000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, HttpError::Kind::kTransport);
  EXPECT_NE(r.error().message.find("Connection refused"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(client->requests_sent(), 0);
}

}  // namespace
