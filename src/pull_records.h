// kubelet's image pull records (<root-dir>/image_manager/pulled/, written
// with KubeletEnsureSecretPulledImages): which cached images kubelet lets
// every pod on the node use without asking for credentials.
#pragma once

#include <string>
#include <vector>

#include "registries.h"

struct SharedPullRecord {
  std::string file;   // the record's path
  std::string image;  // the credentialMapping key (as the pod named it)
};

// Records whose credentialMapping marks an image that registries.conf
// mirrors (an entry with a mirror or a rewritten location) as
// nodePodsAccessible. An earlier provider version answered such pulls with
// no credentials, so kubelet recorded them as open to every pod; kubelet
// never narrows a record. At most `limit` records are read.
std::vector<SharedPullRecord> shared_mirrored_pull_records(
    const std::string& kubelet_root_dir, const RegistriesConf& conf,
    size_t limit = 100000);
