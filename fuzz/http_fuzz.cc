// The HTTP/1.1 response read loop (src/http_response.cc: Beast's parser and
// our policy on top) over a hostile server's bytes. Input: one byte that
// sets how many bytes each read returns (as a server's segments would
// split them), then the bytes the server sends; responses are read one
// after the other while the connection stays usable, as pipelining does.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  std::size_t at = 0;
  ReadSome read_some = [&](char* into, std::size_t capacity, std::string_view) {
    ReadChunk chunk;
    chunk.bytes = std::min({step, capacity, stream.size() - at});
    std::copy_n(stream.data() + at, chunk.bytes, into);
    at += chunk.bytes;
    return chunk;
  };
  // A small cap, so that the fuzzer reaches it.
  const ResponseLimits limits{4096, "fuzz:443"};
  std::string pending;
  for (int i = 0; i < 4; ++i) {
    ResponseEnd end;
    auto resp = read_response(pending, read_some, limits, &end);
    if (!resp) {
      if (resp.error().message.empty()) abort();
      break;
    }
    // Never an interim or 101 response, never a body over the cap.
    if (resp->status < 200 || resp->status > 999) abort();
    if (resp->body.size() > limits.max_body_bytes) abort();
    for (const auto& [name, value] : resp->headers) {
      for (char c : name)
        if (c >= 'A' && c <= 'Z') abort();
    }
    if (!end.keep_alive) break;
  }
  // Nothing is read that the stream did not hold.
  if (at > stream.size()) abort();
  return 0;
}
