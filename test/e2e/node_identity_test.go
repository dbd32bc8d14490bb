package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

// Issue 5: --api-identity=node reads the pod and its pull secrets with the
// kubelet's own client certificate (system:node:node-a), limited by the Node
// authorizer. No Role or RoleBinding exists for any service account.
func TestNodeIdentity(t *testing.T) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "node-alpha-robot", Password: "alpha-pass"}
	beta := testbed.Cred{Username: "node-beta-robot", Password: "beta-pass"}
	other := testbed.Cred{Username: "node-other-robot", Password: "other-pass"}
	unref := testbed.Cred{Username: "node-unref-robot", Password: "unref-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{alpha, beta, other, unref}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
	nodeA, nodeB := e.Node("node-a"), e.Node("node-b")

	pod := func(name, node string, c testbed.Cred, podSecrets []string, saSecrets []string) string {
		ns := e.Namespace(name)
		e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: c}))
		e.Must(e.CP.PutPullSecret(ns, "unrelated", map[string]testbed.Cred{"registry.unrelated.example": {Username: "u", Password: "p"}}))
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: node, Image: "docker.io/team/app:1", PullSecrets: podSecrets})
		e.Must(err)
		if saSecrets != nil {
			// After the pod exists, so that ServiceAccount admission did not
			// copy them into the pod.
			e.Must(e.CP.CreateServiceAccount(ns, "default", saSecrets...))
		}
		return ns
	}
	nsAlpha := pod("node-alpha", "node-a", alpha, []string{"mirror-creds"}, nil)
	nsBeta := pod("node-beta", "node-a", beta, []string{"mirror-creds"}, nil)
	nsOther := pod("node-other", "node-b", other, []string{"mirror-creds"}, nil)
	nsUnref := pod("node-unref", "node-a", unref, []string{"unrelated"}, []string{"mirror-creds"})
	for _, ns := range []string{nsAlpha, nsBeta, nsOther, nsUnref} {
		rb, err := e.CP.Admin.RbacV1().RoleBindings(ns).List(context.Background(), metav1.ListOptions{})
		e.Must(err)
		roles, err := e.CP.Admin.RbacV1().Roles(ns).List(context.Background(), metav1.ListOptions{})
		e.Must(err)
		if len(rb.Items)+len(roles.Items) != 0 {
			t.Fatalf("namespace %s has Roles/RoleBindings; node identity must need none", ns)
		}
	}

	args := []string{"--api-identity=node", "--kubeconfig=" + nodeA.Kubeconfig}
	onA := e.StartDriver(testbed.DriverConfig{Node: nodeA, Args: args, TeeStderr: true})

	t.Run("pod-on-node", func(t *testing.T) {
		r, log := onA.PullOne(nsAlpha, "app", "docker.io/team/app:1")
		assertPulledFrom(t, r, "mirror", log)
		assertAuthFileUsed(t, r, mirror.Host+"/team/app", alpha, beta.Username, other.Username, unref.Username)
		if u, _ := mirrorUsers(mirror, "team/app"); len(u) == 0 || u[len(u)-1] != alpha.Username {
			t.Errorf("mirror served %v, want %s", u, alpha.Username)
		}
	})
	t.Run("two-tenants", func(t *testing.T) {
		res := onA.Pull(
			nodeapi.Pull{Namespace: nsAlpha, Pod: "app", Image: "docker.io/team/app:1"},
			nodeapi.Pull{Namespace: nsBeta, Pod: "app", Image: "docker.io/team/app:1"},
		)
		for _, r := range res.Results {
			assertPulledFrom(t, r, "mirror", res.KubeletLog)
			if r.Pull.Namespace == nsAlpha {
				assertAuthFileUsed(t, r, mirror.Host+"/team/app", alpha, beta.Username, other.Username, unref.Username)
			} else {
				assertAuthFileUsed(t, r, mirror.Host+"/team/app", beta, alpha.Username, other.Username, unref.Username)
			}
		}
	})
	// The kubeconfig forms a node really has: inline data, and the rotated
	// kubelet-client-current.pem (certificate and key in one file).
	inline := filepath.Join(e.Dir, "node-a-inline.kubeconfig")
	e.Must(nodeA.KubeconfigInline(inline))
	rotated, err := nodeA.KubeconfigRotatedPEM(filepath.Join(e.Dir, "node-a-rotated"))
	e.Must(err)
	for name, kc := range map[string]string{"kubeconfig-inline-data": inline, "kubeconfig-rotated-pem": rotated} {
		t.Run(name, func(t *testing.T) {
			d := e.StartDriver(testbed.DriverConfig{Node: nodeA, Args: []string{"--api-identity=node", "--kubeconfig=" + kc}})
			r, log := d.PullOne(nsBeta, "app", "docker.io/team/app:1")
			assertPulledFrom(t, r, "mirror", log)
			assertAuthFileUsed(t, r, mirror.Host+"/team/app", beta, alpha.Username, other.Username, unref.Username)
		})
	}
	t.Run("expired-certificate", func(t *testing.T) {
		kc, err := e.CP.NodeKubeconfigExpiring("node-a", filepath.Join(e.Dir, "node-a-expired"), time.Now().Add(-time.Hour))
		e.Must(err)
		d := e.StartDriver(testbed.DriverConfig{Node: nodeA, Args: []string{"--api-identity=node", "--kubeconfig=" + kc}})
		r, log := d.PullOne(nsBeta, "app", "docker.io/team/app:1")
		assertProviderError(t, e, r, log, "expired", "certificate")
		assertNoCredsFor(t, r, beta.Username)
	})
	t.Run("secret-not-referenced-by-pod", func(t *testing.T) {
		before := len(onA.ProviderStderr())
		_, refusedBefore := mirrorUsers(mirror, "team/app")
		r, log := onA.PullOne(nsUnref, "app", "docker.io/team/app:1")
		assertNoCredsFor(t, r, unref.Username, alpha.Username, beta.Username, other.Username)
		assertPulledFrom(t, r, "source", log)
		msg := providerError(log) + onA.ProviderStderr()[before:]
		assertMentions(t, msg, "mirror-creds", "forbidden|not referenced|may not|cannot read|not allowed")
		if _, refused := mirrorUsers(mirror, "team/app"); refused <= refusedBefore {
			t.Errorf("the mirror was not asked without credentials")
		}
	})
	t.Run("pod-on-other-node", func(t *testing.T) {
		// kubelet of node-b gets the pod-bound token (only it may); the
		// provider runs with node-a's identity.
		onB := e.StartDriver(testbed.DriverConfig{Node: nodeB, Args: args, TeeStderr: true})
		r, log := onB.PullOne(nsOther, "app", "docker.io/team/app:1")
		assertNoCredsFor(t, r, other.Username, alpha.Username, beta.Username, unref.Username)
		assertPulledFrom(t, r, "source", log)
		msg := providerError(log) + onB.ProviderStderr()
		assertMentions(t, msg, "node-a|node-b|another node|not bound|forbidden")
	})
	assertNoLeftovers(t, e)
}
