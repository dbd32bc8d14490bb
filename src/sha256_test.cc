#include "sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace {

std::string OpenSslSha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    char buf[3];
    snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      sha256_hex("docker.io/library/nginx"),  // docs/contracts.md section 3
      "7e59ad64326bc321517fb6fc6586de5ee149178394d9edfa2a877176cdf6fad5");
}

TEST(Sha256, AgreesWithOpenSslAtEveryPaddingBoundary) {
  std::string data;
  for (int n = 0; n <= 300; ++n) {
    EXPECT_EQ(sha256_hex(data), OpenSslSha256(data)) << "length " << n;
    data.push_back(static_cast<char>('a' + n % 26 + (n % 7 == 0 ? 128 : 0)));
  }
}
