package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/credentialprovider"
	kubeletconfig "k8s.io/kubernetes/pkg/kubelet/apis/config"
	"k8s.io/kubernetes/pkg/kubelet/images/pullmanager"
	"k8s.io/kubernetes/pkg/util/parsers"
)

// pullRecords is kubelet's KubeletEnsureSecretPulledImages bookkeeping
// (KEP-4412): its own pull manager and file-system pull records under
// <root>/image_manager, and the node's image cache as kubelet's GetImageRef
// sees it (image with tag -> image ref).
type pullRecords struct {
	root    string
	manager *pullmanager.PullManager

	mu     sync.Mutex
	cached map[string]string
}

func newPullRecords(root string, policy string) (*pullRecords, error) {
	enforcer, err := pullmanager.NewImagePullCredentialVerificationPolicy(kubeletconfig.ImagePullCredentialsVerificationPolicy(policy), nil)
	if err != nil {
		return nil, err
	}
	accessor, err := pullmanager.NewFSPullRecordsAccessor(klog.Background(), root)
	if err != nil {
		return nil, err
	}
	// The image service is used only to reconcile pull intents left by an
	// earlier kubelet; this root starts empty.
	m, err := pullmanager.NewImagePullManager(context.Background(), accessor, enforcer, nil, 10)
	if err != nil {
		return nil, err
	}
	return &pullRecords{root: root, manager: m, cached: map[string]string{}}, nil
}

// withDefaultTag is images.applyDefaultImageTag: the image string kubelet
// records pulls under.
func withDefaultTag(image string) (string, error) {
	_, tag, digest, err := parsers.ParseImageName(image)
	if err != nil {
		return "", err
	}
	if digest == "" && tag != "" && !strings.HasSuffix(image, ":"+tag) {
		image += ":" + tag
	}
	return image, nil
}

func (r *pullRecords) imageRef(image string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cached[image]
}

func (r *pullRecords) pulled(image, ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cached[image] = ref
}

// podCredentials is the getPodCredentials closure of
// imageManager.EnsureImageExists: the pod's secrets and service account as
// the keyring tracked them; node-wide credentials do not count.
func podCredentials(lookup func() ([]credentialprovider.TrackedAuthConfig, error)) pullmanager.GetPodCredentials {
	return func() ([]kubeletconfig.ImagePullSecret, *kubeletconfig.ImagePullServiceAccount, error) {
		creds, err := lookup()
		if err != nil {
			return nil, nil, err
		}
		var secrets []kubeletconfig.ImagePullSecret
		var sa *kubeletconfig.ImagePullServiceAccount
		for _, c := range creds {
			switch {
			case c.Source == nil:
			case c.Source.Secret != nil:
				secrets = append(secrets, kubeletconfig.ImagePullSecret{
					UID: c.Source.Secret.UID, Name: c.Source.Secret.Name,
					Namespace: c.Source.Secret.Namespace, CredentialHash: c.AuthConfigHash,
				})
			case c.Source.ServiceAccount != nil && sa == nil:
				sa = &kubeletconfig.ImagePullServiceAccount{
					UID: c.Source.ServiceAccount.UID, Name: c.Source.ServiceAccount.Name,
					Namespace: c.Source.ServiceAccount.Namespace,
				}
			}
		}
		return secrets, sa, nil
	}
}

// recordedCredentials is images.trackedToImagePullCreds: what kubelet writes
// into the pull record for the credential the pull succeeded with (nil: the
// pull went without credentials).
func recordedCredentials(c *credentialprovider.TrackedAuthConfig) *kubeletconfig.ImagePullCredentials {
	ret := &kubeletconfig.ImagePullCredentials{}
	switch {
	case c == nil, c.Source == nil:
		ret.NodePodsAccessible = true
	case c.Source.Secret != nil:
		ret.KubernetesSecrets = []kubeletconfig.ImagePullSecret{{
			UID: c.Source.Secret.UID, Name: c.Source.Secret.Name,
			Namespace: c.Source.Secret.Namespace, CredentialHash: c.AuthConfigHash,
		}}
	case c.Source.ServiceAccount != nil:
		ret.KubernetesServiceAccounts = []kubeletconfig.ImagePullServiceAccount{{
			UID: c.Source.ServiceAccount.UID, Name: c.Source.ServiceAccount.Name,
			Namespace: c.Source.ServiceAccount.Namespace,
		}}
	}
	return ret
}

// describeSource names a tracked credential's source for the tests:
// "serviceAccount:<ns>/<name>", "secret:<ns>/<name>" or "node".
func describeSource(c *credentialprovider.TrackedAuthConfig) string {
	switch {
	case c == nil, c.Source == nil:
		return "node"
	case c.Source.Secret != nil:
		return "secret:" + c.Source.Secret.Namespace + "/" + c.Source.Secret.Name
	case c.Source.ServiceAccount != nil:
		return "serviceAccount:" + c.Source.ServiceAccount.Namespace + "/" + c.Source.ServiceAccount.Name
	}
	return "unknown"
}

// recordFile returns kubelet's pulled record for imageRef as written on
// disk (the credentialMapping JSON), or "" when there is none.
func (r *pullRecords) recordFile(imageRef string) string {
	dir := filepath.Join(r.root, "image_manager", "pulled")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var rec struct {
			ImageRef string `json:"imageRef"`
		}
		if json.Unmarshal(b, &rec) == nil && rec.ImageRef == imageRef {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

func (r *pullRecords) String() string { return fmt.Sprintf("pull records in %s", r.root) }
