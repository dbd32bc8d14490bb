// The kubelet's kubeconfig (--api-identity=node): YAML, base64 *-data, PEM
// certificates and keys, files relative to the kubeconfig. Input: documents
// separated by "====" lines: the kubeconfig, then the files ca.crt,
// client.crt and client.key beside it (a kubeconfig may name them).
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "kubeconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kFiles[] = {"kubeconfig", "ca.crt", "client.crt",
                                       "client.key"};
  auto parts = split_documents(data, size, 4);
  const std::string& dir = scratch_dir();
  for (size_t i = 0; i < 4; ++i)
    put_file(dir + "/" + kFiles[i], i < parts.size() ? parts[i] : "",
             i < parts.size());
  (void)load_kubeconfig(dir + "/kubeconfig");
  return 0;
}
