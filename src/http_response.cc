#include "http_response.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "file.h"
#include "text.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Kind = HttpError::Kind;
using ErrorCode = beast::error_code;

constexpr std::size_t kReadChunk = 16384;

HttpError Fail(Kind kind, std::string message) {
  return HttpError{kind, std::move(message)};
}

// Beast's parse errors as the one-line reasons our messages use.
std::string DescribeParseError(const ErrorCode& ec) {
  if (ec == http::error::bad_version) return "bad status line";
  if (ec == http::error::bad_status) return "bad status code";
  if (ec == http::error::bad_reason) return "bad reason phrase";
  if (ec == http::error::bad_field) return "bad header name";
  if (ec == http::error::bad_value) return "bad header value";
  if (ec == http::error::bad_line_ending) return "bad line ending";
  if (ec == http::error::bad_content_length) return "bad content-length";
  if (ec == http::error::bad_transfer_encoding) {
    return "bad transfer-encoding";
  }
  if (ec == http::error::bad_chunk) return "bad chunk size or chunk framing";
  if (ec == http::error::bad_chunk_extension) return "bad chunk extension";
  return ec.message();
}

// Go's client, and so kubelet, accepts a status line without the space
// before an empty reason ("HTTP/1.1 404"), as a proxy in front of the API
// server may send it; Beast (1.74) requires the space. Adds it to the status
// line, which ends at `line_end` ('\n').
void AddMissingReasonSpace(std::string& pending, std::size_t line_end) {
  std::string_view line(pending.data(), line_end + 1);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() == 14 && line.starts_with("HTTP/") && line[8] == ' ' &&
      digit(line[9]) && digit(line[10]) && digit(line[11]) &&
      line.substr(12) == "\r\n") {
    pending.insert(12, 1, ' ');
  }
}

HttpError TooLarge(const ResponseLimits& limits) {
  return Fail(Kind::kProtocol, "response body from " + limits.peer +
                                   " exceeds " +
                                   format_size(limits.max_body_bytes));
}

HttpError ParseError(const ErrorCode& ec, const ResponseLimits& limits) {
  if (ec == http::error::body_limit) return TooLarge(limits);
  if (ec == http::error::header_limit) {
    return Fail(Kind::kProtocol,
                "response headers from " + limits.peer + " are too large");
  }
  return Fail(Kind::kProtocol, "malformed response from " + limits.peer + ": " +
                                   DescribeParseError(ec));
}

// Our policy on a parsed header: checked once, before the body is used.
std::optional<HttpError> CheckHeader(
    const http::response_parser<http::string_body>& parser,
    const ResponseLimits& limits) {
  // Read to EOF, a body cut short by a dropped connection looks whole:
  // refuse it where we would use the body.
  const int code = parser.get().result_int();
  if (code >= 200 && code < 300 && parser.need_eof()) {
    return Fail(Kind::kProtocol,
                "response from " + limits.peer +
                    " has no Content-Length and is not chunked, so a "
                    "truncated body cannot be told from a whole one; serve "
                    "it with length framing");
  }
  // Beast (1.74) compares Content-Length with the body limit when the header
  // ends, but its put() goes on past that error (read_response keeps the
  // parser out of eager mode until here so that it stops): so the check is
  // ours.
  auto length = parser.content_length();
  if (length && *length > limits.max_body_bytes) return TooLarge(limits);
  auto te = parser.get()[http::field::transfer_encoding];
  if (!te.empty() && !parser.chunked()) {
    return Fail(Kind::kProtocol,
                "unsupported transfer-encoding \"" +
                    ascii_lower(std::string_view(te.data(), te.size())) +
                    "\" from " + limits.peer);
  }
  return std::nullopt;
}

HttpResponse ToResponse(http::response<http::string_body>& msg) {
  HttpResponse resp;
  resp.status = msg.result_int();
  resp.reason = std::string(msg.reason().data(), msg.reason().size());
  for (const auto& field : msg) {
    auto name = field.name_string();
    auto value = field.value();
    resp.headers.emplace_back(
        ascii_lower(std::string_view(name.data(), name.size())),
        std::string(trim(std::string_view(value.data(), value.size()))));
  }
  resp.body = std::move(msg.body());
  return resp;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (equals_ignore_case(k, name)) return v;
  }
  return std::nullopt;
}

HttpResult<HttpResponse> read_response(std::string& pending,
                                       const ReadSome& read_some,
                                       const ResponseLimits& limits,
                                       ResponseEnd* end) {
  *end = ResponseEnd{};
  for (int interim = 0;; ++interim) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxResponseHeaderBytes);
    parser.body_limit(limits.max_body_bytes);
    // Not eager until the header is checked: an eager put() given body bytes
    // with the header goes on to reserve Content-Length bytes for the body
    // (fuzz: 9999999900, one 10 GB malloc) before the limit is looked at.
    parser.eager(false);
    // The status line goes to the parser whole, so that the shim above
    // sees it, however the server split it across reads.
    bool status_line_whole = false;
    std::size_t scanned = 0;  // of `pending`, for the status line's end
    bool header_checked = false;
    // Gives the parser what is pending; an error, or nothing.
    auto feed = [&]() -> std::optional<HttpError> {
      // A body without Content-Length (chunked) grows by doubling: 16 MiB
      // would take 32 MiB of room, and 48 while it moves. Past 1 MiB it
      // gets the cap's room at once.
      std::string& body = parser.get().body();
      if (body.size() > (1u << 20) && body.capacity() < limits.max_body_bytes) {
        body.reserve(limits.max_body_bytes);
      }
      ErrorCode ec;
      std::size_t used =
          parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
      pending.erase(0, used);
      if (ec && ec != http::error::need_more) return ParseError(ec, limits);
      if (parser.is_header_done() && !header_checked) {
        header_checked = true;
        if (auto bad = CheckHeader(parser, limits)) return bad;
        parser.eager(true);
      }
      return std::nullopt;
    };
    while (!parser.is_done()) {
      if (!status_line_whole) {
        std::size_t nl = pending.find('\n', scanned);
        scanned = pending.size();
        if (nl != std::string::npos) AddMissingReasonSpace(pending, nl);
        status_line_whole = nl != std::string::npos ||
                            pending.size() >= kMaxResponseHeaderBytes;
      }
      if (status_line_whole && !pending.empty()) {
        std::size_t before = pending.size();
        if (auto bad = feed()) return *bad;
        if (parser.is_done()) break;
        if (pending.size() != before) continue;
      }
      const std::string during = parser.is_header_done()
                                     ? "reading the response body"
                                     : "waiting for the response";
      const std::size_t old = pending.size();
      pending.resize(old + kReadChunk);
      ReadChunk chunk = read_some(pending.data() + old, kReadChunk, during);
      pending.resize(old + std::min(chunk.bytes, kReadChunk));
      if (chunk.bytes != 0) continue;
      const bool nothing_yet = !parser.got_some() && pending.empty();
      if (chunk.error) {
        end->nothing_read =
            nothing_yet && chunk.error->kind == Kind::kTransport;
        return *chunk.error;
      }
      // The end of the stream.
      if (nothing_yet) {
        end->nothing_read = true;
        return Fail(Kind::kTransport, "connection closed by " + limits.peer +
                                          " before a complete response");
      }
      if (!pending.empty()) {  // a status line without its end
        if (auto bad = feed()) return *bad;
      }
      ErrorCode eof;
      parser.put_eof(eof);
      if (eof == http::error::body_limit) return TooLarge(limits);
      if (eof) {
        return Fail(Kind::kTransport,
                    "connection closed by " + limits.peer + " " +
                        (parser.is_header_done()
                             ? during
                             : std::string("before a complete response")));
      }
      break;
    }
    auto& msg = parser.get();
    const int status = msg.result_int();
    if (status < 200 && status != 101) {  // interim response
      if (interim + 1 > kMaxInterimResponses) {
        return Fail(Kind::kProtocol,
                    "more than " + std::to_string(kMaxInterimResponses) +
                        " interim (1xx) responses from " + limits.peer);
      }
      continue;
    }
    if (status == 101) {
      return Fail(Kind::kProtocol,
                  "unexpected 101 Switching Protocols from " + limits.peer);
    }
    end->keep_alive = msg.keep_alive() && !parser.need_eof();
    return ToResponse(msg);
  }
}
