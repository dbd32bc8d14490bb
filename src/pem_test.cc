#include "pem.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gtest/gtest.h"
#include "test_pki.h"

namespace {

using tls_test_server::TestPki;

TEST(Pem, CertificatesSkipOtherBlocks) {
  const auto& pki = TestPki();
  // A key between two certificates, as in kubelet-client-current.pem.
  std::string pem =
      "junk\n" + pki.ca.cert_pem + pki.client.key_pem + pki.other_ca.cert_pem;
  auto certs = read_pem_certificates(pem);
  ASSERT_TRUE(certs.ok()) << certs.error().message;
  EXPECT_EQ(certs->size(), 2u);
}

TEST(Pem, NoCertificateIsAnError) {
  auto certs = read_pem_certificates(TestPki().client.key_pem);
  ASSERT_FALSE(certs.ok());
  EXPECT_EQ(certs.error().message, "no PEM certificate found");
}

TEST(Pem, KeyAfterACertificate) {
  const auto& pki = TestPki();
  auto key = read_pem_private_key(pki.client.cert_pem + pki.client.key_pem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(EVP_PKEY_eq(key->get(), pki.client.key.get()), 1);
}

TEST(Pem, KeyErrorsTable) {
  const auto& pki = TestPki();
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(bio, pki.client.key.get(), EVP_aes_256_cbc(),
                                nullptr, 0, nullptr, const_cast<char*>("pass"));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string encrypted(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  struct Case {
    std::string name, pem, error;
  };
  const Case cases[] = {
      {"no key", pki.client.cert_pem, "no PEM private key found"},
      {"encrypted", encrypted,
       "the private key is encrypted, which is not supported"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto key = read_pem_private_key(c.pem);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().message, c.error);
  }
}

}  // namespace
