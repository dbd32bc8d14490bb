// Package nodeapi is the line-delimited JSON protocol between the e2e tests
// and the e2e-node helper (kubelet's credential-provider code + the CRI
// PullImage calls to CRI-O). Each request line is a batch of pulls run concurrently; each
// response line answers one batch, in order.
package nodeapi

// Batch is one request line.
type Batch struct {
	Pulls []Pull `json:"pulls"`
}

// Pull asks for one image pull on behalf of a pod, as kubelet's image
// manager does it, against a real CRI-O.
type Pull struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// Image as written in the pod spec.
	Image string `json:"image"`
	// RefreshPod drops the driver's cached copy of the pod (kubelet gets pod
	// updates through its watch).
	RefreshPod bool `json:"refreshPod,omitempty"`
	// IfNotPresent is imagePullPolicy IfNotPresent: when this kubelet pulled
	// the image before, its pull manager (KubeletEnsureSecretPulledImages)
	// decides from its pull records and the pod's credentials whether the
	// pod may use the cached image or must pull. Otherwise the image is
	// pulled (Always).
	IfNotPresent bool `json:"ifNotPresent,omitempty"`
}

// Result is the outcome of one Pull.
type Result struct {
	Pull Pull `json:"pull"`
	// Error is set when the driver could not even start the pull (pod not
	// found, ...). Pull failures are in PullError.
	Error string `json:"error,omitempty"`
	// KubeletCredentials are the usernames kubelet passed in the CRI request
	// (pull secrets matched against the source image), in order.
	KubeletCredentials []string `json:"kubeletCredentials,omitempty"`
	// CredentialSource is how kubelet tracks the credential the pull
	// succeeded with: "serviceAccount:<ns>/<name>", "secret:<ns>/<name>",
	// or "node" (no credential, or a node-wide one: the pull record says
	// nodePodsAccessible).
	CredentialSource string `json:"credentialSource,omitempty"`
	// Reused: the image was cached and kubelet's pull manager let the pod
	// use it without a pull ("already present on machine and can be
	// accessed by the pod").
	Reused bool `json:"reused,omitempty"`
	// PullRecord is kubelet's ImagePulledRecord file for the image after
	// this pull (JSON, as on disk under <root>/image_manager/pulled).
	PullRecord string `json:"pullRecord,omitempty"`
	// AuthFile is CRI-O's namespaced auth file for this pull.
	AuthFile AuthFile `json:"authFile"`
	// Pulled is true when CRI-O's PullImage succeeded.
	Pulled    bool   `json:"pulled"`
	PullError string `json:"pullError,omitempty"`
	// Origin is the "e2e.origin" label of the pulled image's config: which
	// registry's copy of the content was served.
	Origin string `json:"origin,omitempty"`
	// Digest of the pulled manifest (from CRI-O's repo digests).
	Digest string `json:"digest,omitempty"`
	// ImageID is CRI-O's image ID.
	ImageID string `json:"imageID,omitempty"`
	// InUseRemoved is true when, after the pull, neither the auth file nor
	// an in-use copy of it is left.
	InUseRemoved bool `json:"inUseRemoved"`
}

// AuthFile describes the namespaced auth file CRI-O looked for.
type AuthFile struct {
	// Path is <auth-dir>/<namespace>-<sha256(name)>.json.
	Path string `json:"path"`
	// Name is the normalized image name that was hashed.
	Name string `json:"name"`
	// Found: the file existed when the driver called PullImage.
	Found bool `json:"found"`
	// UsedByCRIO: CRI-O logged that it took this file for the pull.
	UsedByCRIO bool `json:"usedByCRIO"`
	// Content is the file just before the CRI PullImage call (for the
	// test's assertions).
	Content string `json:"content,omitempty"`
}

// BatchResult is one response line.
type BatchResult struct {
	Results []Result `json:"results"`
	// KubeletLog is what kubelet's code logged (klog) while the batch ran.
	KubeletLog string `json:"kubeletLog"`
}

// PushRequest is the argument of `e2e-node push` (JSON on stdin).
type PushRequest struct {
	// Origin is written as the "e2e.origin" label and into the layer.
	Origin string `json:"origin"`
	// Destinations: docker references (host:port/repo:tag) to push to.
	Destinations []string `json:"destinations"`
	Username     string   `json:"username,omitempty"`
	Password     string   `json:"password,omitempty"`
	// CertsDir is a certs.d-style directory; Insecure allows plain HTTP.
	CertsDir string `json:"certsDir,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
}
