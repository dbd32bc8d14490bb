// Package containerd runs the containerd path end to end with real parts:
// Debian's containerd 1.6 and containerd 2.x built from its module (each with
// a private root, state and socket, the native snapshotter, no CNI, and
// hosts.toml from `crio-credential-provider hosts-toml`), driven
// through its CRI PullImage by kubelet's own credential-provider code (the
// e2e-node helper), the real kube-apiserver, docker-registry mirrors with
// htpasswd and TLS, the provider in --runtime=containerd mode and the mirror
// gateway. The upstream registry is a logging TLS stand-in in front of a
// docker-registry: every request it gets is recorded with its
// Authorization header.
//
// Needs: /usr/bin/containerd (Debian package containerd), docker-registry,
// the provider binary ($CRIO_CREDENTIAL_PROVIDER_BIN), root (containerd).
//
// Run: cd test && go test -count=1 -v ./containerd/
package containerd

import (
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// sharedBed starts (once per test binary) the control plane and builds
// the helpers on a test's first sharedBed.Get.
var sharedBed = testbed.NewSharedBed("ccp-containerd-")

func TestMain(m *testing.M) { sharedBed.Main(m) }
