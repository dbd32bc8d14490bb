// kubelet's pull intents (KubeletEnsureSecretPulledImages, KEP-4412): before
// a pull waits in kubelet's queue, kubelet writes
// <root-dir>/image_manager/pulling/sha256-<hash of the image>, holding
// {"kind":"ImagePullIntent",...,"image":"<image as in the pod spec>"}, and
// removes it when the last pull of that image ends. It is how we know a
// pull still waits for its auth file, however long the queue.
#pragma once

#include <set>
#include <string>

// The sha256 hex of the normalized repository name (the image part of
// CRI-O's auth file names) of every image kubelet intends to pull. Empty
// when the directory is missing or unreadable (feature gate off, kubelet
// < 1.33); unreadable or foreign entries are skipped. Bounded: at most
// 4096 entries of at most 64 KiB each are read.
std::set<std::string> pending_pull_hashes(const std::string& kubelet_root_dir);
