package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// realKubelet starts the real kubelet and its CRI-O for a fresh node name;
// CRI-O pulls its pause image from reg with the pusher's credentials.
func realKubelet(e *testbed.Env, reg *testbed.Registry, policy string) *testbed.Kubelet {
	e.T.Helper()
	e.Push(reg, "pause", pusherCred, "pause:1")
	pauseAuth := filepath.Join(e.Dir, "pause-auth.json")
	e.WriteFile(pauseAuth, string(testbed.DockerConfigJSON(map[string]testbed.Cred{reg.Host: *pusherCred})))
	return e.StartKubelet(testbed.KubeletConfig{
		VerificationPolicy: policy,
		PauseImage:         reg.Host + "/pause:1",
		PauseImageAuthFile: pauseAuth,
	})
}

// pullCounts is a snapshot of what the registries saw for repo.
type pullCounts struct {
	served  map[string]int
	refused int
	source  int
}

func countPulls(mirror, src *testbed.Registry, repo string) pullCounts {
	users, refused := mirrorUsers(mirror, repo)
	c := pullCounts{served: map[string]int{}, refused: refused, source: clientManifestGets(src, repo)}
	for _, u := range users {
		c.served[u]++
	}
	return c
}

// TestKubeletMainScenarios drives the main scenarios with the real kubelet
// (v1.36.3) and CRI-O: a mirror hit for two tenants, a namespace without a
// secret (the mirror says 401, the source serves), rotation and revocation.
// Each step is a new pod with imagePullPolicy Always, deleted once kubelet
// reported its pull (its container cannot start here, and every retry pulls
// again, with the same pod's credentials).
func TestKubeletMainScenarios(t *testing.T) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "kl-alpha", Password: "alpha-pass"}
	beta := testbed.Cred{Username: "kl-beta", Password: "beta-pass"}
	rotated := testbed.Cred{Username: "kl-alpha", Password: "rotated-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{alpha, beta}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
	tenant := func(name string, cred *testbed.Cred) string {
		ns := e.Namespace(name)
		if cred != nil {
			e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: *cred}))
			e.Must(e.CP.CreateServiceAccount(ns, "default", "mirror-creds"))
		}
		e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
		return ns
	}
	nsAlpha, nsBeta, nsGamma := tenant("kl-alpha", &alpha), tenant("kl-beta", &beta), tenant("kl-gamma", nil)
	k := realKubelet(e, mirror, "")
	const image = "docker.io/team/app:1"
	const repo = "team/app"

	// pull runs a pod and returns its outcome and how the registries'
	// counts moved.
	pull := func(t *testing.T, ns, pod string) (testbed.PullOutcome, pullCounts) {
		t.Helper()
		before := countPulls(mirror, src, repo)
		crioLog := len(k.CRIO.Log())
		k.RunPod(testbed.KubeletPod{Namespace: ns, Name: pod, Image: image})
		out := k.WaitPull(ns, pod)
		k.DeletePod(ns, pod) // before it pulls again
		after := countPulls(mirror, src, repo)
		d := pullCounts{served: map[string]int{}, refused: after.refused - before.refused, source: after.source - before.source}
		for u, n := range after.served {
			if n > before.served[u] {
				d.served[u] = n - before.served[u]
			}
		}
		t.Logf("%s/%s: pulled=%v %q; mirror served %v, refused %d; source GETs %d; CRI-O used an auth file: %v",
			ns, pod, out.Pulled, out.Message, d.served, d.refused, d.source,
			strings.Contains(k.CRIO.Log()[crioLog:], "Using auth file for namespace "+ns+":"))
		if !out.Pulled {
			t.Fatalf("%s/%s not pulled: %s\nevents: %v", ns, pod, out.Message, out.Events)
		}
		return out, d
	}
	mirrorHit := func(t *testing.T, ns, pod string, user string) {
		t.Helper()
		_, d := pull(t, ns, pod)
		if d.served[user] == 0 || len(d.served) != 1 || d.refused != 0 || d.source != 0 {
			t.Errorf("want the mirror to serve only %s: served %v, refused %d, source GETs %d", user, d.served, d.refused, d.source)
		}
		assertNoLeftovers(t, e)
	}

	t.Run("mirror-hit", func(t *testing.T) { mirrorHit(t, nsAlpha, "app", alpha.Username) })
	t.Run("second-tenant", func(t *testing.T) { mirrorHit(t, nsBeta, "app", beta.Username) })
	t.Run("no-secret-401", func(t *testing.T) {
		_, d := pull(t, nsGamma, "app")
		if len(d.served) != 0 || d.refused == 0 || d.source == 0 {
			t.Errorf("want the mirror to refuse (401) and the source to serve: served %v, refused %d, source GETs %d", d.served, d.refused, d.source)
		}
		assertNoLeftovers(t, e)
	})
	t.Run("rotation", func(t *testing.T) {
		e.Must(mirror.SetUsers(users(rotated, beta)))
		e.Must(e.CP.PutPullSecret(nsAlpha, "mirror-creds", map[string]testbed.Cred{mirror.Host: rotated}))
		mirrorHit(t, nsAlpha, "app-rotated", rotated.Username)
	})
	t.Run("revocation", func(t *testing.T) {
		e.Must(e.CP.DeleteSecret(nsBeta, "mirror-creds"))
		_, d := pull(t, nsBeta, "app-revoked")
		if d.served[beta.Username] != 0 || d.refused == 0 || d.source == 0 {
			t.Errorf("want the revoked tenant refused by the mirror and served by the source: served %v, refused %d, source GETs %d", d.served, d.refused, d.source)
		}
		assertNoLeftovers(t, e)
	})
}
