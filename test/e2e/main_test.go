// Package e2e runs the provider end to end: a real kube-apiserver (Node,RBAC,
// NodeRestriction) on embedded etcd, a real CRI-O daemon (CCP_E2E_CRIO_VERSION,
// default v1.36.3, built from the Go module proxy) with namespaced_auth_dir,
// docker-registry mirrors with htpasswd and TLS, and two kubelets: kubelet's
// own credential-provider code in a helper process that calls CRI-O's
// PullImage as kubelet's image manager does (test/cmd/e2e-node), and the real
// kubelet v1.36.3 for the main scenarios.
//
// Scenarios (issue 3 / issue 5): TestMirrorHit (1), TestTwoTenants (2),
// TestRotation (3), TestRevocation (4), TestRewrite (5),
// TestWildcardPathScopedSchemeGlobPort (6), TestNoMirror (7),
// TestSecretsModes (8), TestErrorsAudience, TestErrorsAPIDown,
// TestErrorsWrongCA (9), TestBurst (10), TestNodeIdentity (issue 5).
// Issue 13: TestConcurrentSameImage, TestPullFailsAtMirror,
// TestSourceCredentialFirst (what only CRI-O shows) and
// TestKubeletMainScenarios (the real kubelet: mirror hit, two tenants, no
// secret -> 401, rotation, revocation). Issue 15 with the real kubelet:
// TestKubeletPullRecords.
//
// Needs root, Go, gcc, /usr/bin/docker-registry, Debian's conmon and runc
// (.ci/run installs them), and the provider ($CRIO_CREDENTIAL_PROVIDER_BIN,
// default ../build/crio-credential-provider; a test fails, not skips,
// without it). Only loopback is used. kube-apiserver, CRI-O (+ pinns), the
// real kubelet and the e2e-node helper are built on first use into
// $CCP_E2E_BIN_DIR (default <GOCACHE>/../ccp-e2e-bin), keyed by go.sum (CRI-O:
// by its version; kubelet: by kubelet.mod/kubelet.sum) and their sources, so
// later runs start in seconds.
//
// Run everything:   cd test && go test -count=1 -timeout 60m ./e2e/...
// Run one scenario: cd test && go test -count=1 -v -run TestMirrorHit ./e2e/
package e2e

import (
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// sharedBed starts (once per test binary) the control plane and builds
// the helpers on a test's first sharedBed.Get.
var sharedBed = testbed.NewSharedBed("ccp-e2e-")

func TestMain(m *testing.M) { sharedBed.Main(m) }

// newEnv returns a fresh node environment for t; the provider binary must
// exist (the test fails, not skips, when it does not).
func newEnv(t *testing.T) *testbed.Env {
	t.Helper()
	testbed.RequireProvider(t)
	return sharedBed.Get(t).NewEnv(t)
}
