#include "json.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

namespace {

std::string Nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// `unit` repeated inside an array to about `bytes` bytes.
std::string ArrayOf(std::string_view unit, size_t bytes) {
  std::string out = "[";
  while (out.size() < bytes) (out += unit) += ',';
  out += unit;
  return out + "]";
}

// A JSON string of `n` x's, built in place: GCC 12 at -O3 takes
// `"\"" + std::string(n, 'x')` (operator+ inlined into an insert at
// position 0) for a memcpy of overlapping, impossibly large ranges and
// fails the build with a false -Werror=restrict.
std::string QuotedXs(size_t n) {
  std::string out(n + 2, 'x');
  out.front() = out.back() = '"';
  return out;
}

long StatusKiB(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  long kib = 0;
  char line[256];
  while (f && std::fgets(line, sizeof line, f))
    if (std::string_view(line).starts_with(field))
      std::sscanf(line + std::strlen(field), "%ld", &kib);
  if (f) std::fclose(f);
  return kib;
}

// Peak RSS growth of `work`, in MiB, measured in a child process: its
// high-water mark starts at its RSS, and the free heap pages it inherits
// are released first so that reusing them shows as growth.
long PeakGrowthMiB(const std::function<void()>& work) {
  malloc_trim(0);
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  pid_t child = ::fork();
  if (child == 0) {
    long before = StatusKiB("VmRSS:");
    work();
    long growth = (StatusKiB("VmHWM:") - before) / 1024;
    ssize_t ignored = ::write(fds[1], &growth, sizeof growth);
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  long growth = -1;
  if (::read(fds[0], &growth, sizeof growth) != sizeof growth) growth = -1;
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  return growth;
}

}  // namespace

TEST(Json, ParsesWhatGoAccepts) {
  auto doc = parse_json(R"({"auths":{"a":{"auth":"eDp5"}}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ((*doc)["auths"]["a"]["auth"], "eDp5");
  // Go's encoding/json allows 10000 levels and refuses the next one.
  EXPECT_TRUE(parse_json(Nested(kMaxJsonDepth)));
  auto deeper = parse_json(Nested(kMaxJsonDepth + 1));
  ASSERT_FALSE(deeper);
  EXPECT_EQ(deeper.error().message, "nested deeper than 10000 levels");
  EXPECT_EQ(parse_json("{\"a\":").error().message, "not valid JSON");
  EXPECT_EQ(parse_json("").error().message, "not valid JSON");
}

// Runs `body` on a thread with a stack of `bytes`.
void WithStack(std::size_t bytes, const std::function<void()>& body) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, bytes);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run,
                           const_cast<std::function<void()>*>(&body)),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(Json, DeepestAcceptedValueDumpsAndCopies) {
  // dump(), copies and == recurse: the depth bound keeps them off the
  // end of the stack (100,000 levels crashed build_auth_file).
  auto check = [] {
    std::string text = "{\"x\":" + Nested(kMaxJsonDepth - 1) + "}";
    auto doc = parse_json(text);
    ASSERT_TRUE(doc);
    nlohmann::json copy = *doc;
    EXPECT_EQ(copy, *doc);
    EXPECT_EQ(copy.dump(), text);
  };
#ifdef CCP_SANITIZERS  // CMakeLists.txt, SANITIZE=ON
  // AddressSanitizer's redzones make each of the 10,000 frames several
  // times larger: more than the main thread's 8 MiB. The product's frames
  // fit (this test, without ASan); under ASan it gets a larger stack.
  WithStack(256u << 20, check);
#else
  check();
#endif
}

// Issue 9 budget: peak RSS <= 64 MiB for any input. Bodies are capped at
// 16 MiB; whatever their shape, parsing one costs a few tens of MiB at
// most and a refused one is refused early.
TEST(Json, SixteenMebibytesOfAnyShapeStayWithinBudget) {
  const size_t k16MiB = 16u << 20;
  struct Body {
    std::string text;
    bool refused;
  } bodies[] = {
      {std::string(k16MiB, '['), true},
      {ArrayOf("0", k16MiB), true},
      {ArrayOf("{}", k16MiB), true},
      {ArrayOf("[]", k16MiB), true},
      {ArrayOf("\"\"", k16MiB), true},
      {ArrayOf("{\"k\":null}", k16MiB), true},
      {ArrayOf("{\"" + std::string(20, 'k') + "\":null}", k16MiB), true},
      // Long strings cost about their size: such a body is kept.
      {ArrayOf(QuotedXs(1000), k16MiB), false},
  };
  for (const Body& body : bodies) {
    EXPECT_EQ(parse_json(body.text).ok(), !body.refused)
        << body.text.substr(0, 20);
    long mib = PeakGrowthMiB([&] { (void)parse_json(body.text); });
    EXPECT_GE(mib, 0);
    EXPECT_LE(mib, 40) << body.text.substr(0, 20);
    std::printf("%-24s peak growth %ld MiB\n", body.text.substr(0, 20).c_str(),
                mib);
  }
}

TEST(Json, RealisticDocumentsFit) {
  // A pull secret of 4,000 registries and a 1 MiB base64 value.
  std::string secret = "{\"auths\":{";
  for (int i = 0; i < 4000; ++i)
    secret += "\"registry-" + std::to_string(i) +
              ".example.com\":{\"auth\":\"dXNlcjpwYXNzd29yZA==\"},";
  secret += "\"big\":{\"auth\":\"" + std::string(1 << 20, 'A') + "\"}}}";
  EXPECT_TRUE(parse_json(secret));
}
