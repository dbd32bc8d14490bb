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
	nsAlpha := tenantNamespace(e, "kl-alpha", "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha})
	nsBeta := tenantNamespace(e, "kl-beta", "mirror-creds", map[string]testbed.Cred{mirror.Host: beta})
	nsGamma := tenantNamespace(e, "kl-gamma", "mirror-creds", nil)
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

// Issue 15, point 4, with the real kubelet and CRI-O, under kubelet's
// default imagePullCredentialsVerificationPolicy and AlwaysVerify: team-a's
// pull through the mirror is recorded for team-a's service account, so a
// team-b pod without credentials and a team-a pod of the same service
// account without the pull secret must pull themselves and are refused (the
// mirror's 401; the source does not have the image); a public image pulled
// anonymously stays shared and is reused without a pull. The test logs the
// pull records kubelet writes under <root>/image_manager/pulled/.
func TestKubeletPullRecords(t *testing.T) {
	for _, policy := range []string{"", "AlwaysVerify"} {
		name := policy
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) { testKubeletPullRecords(t, policy) })
	}
}

func testKubeletPullRecords(t *testing.T, policy string) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "rec-alpha", Password: "alpha-pass"}
	src, mirror, a, b := pullRecordsNode(e, alpha, "krec-a", "krec-b")
	k := realKubelet(e, mirror, policy)
	const private, public = "docker.io/team/app:1", "docker.io/public/app:1"
	run := func(ns, pod, image string, secrets ...string) testbed.PullOutcome {
		t.Helper()
		k.RunPod(testbed.KubeletPod{Namespace: ns, Name: pod, Image: image, PullSecrets: secrets, PullPolicy: "IfNotPresent"})
		out := k.WaitPull(ns, pod)
		k.DeletePod(ns, pod)
		t.Logf("%s/%s %s: pulled=%v %q", ns, pod, image, out.Pulled, out.Message)
		return out
	}
	t.Logf("pull records before: %v", k.PullRecords())

	if out := run(a, "app", private, "mirror-creds"); !out.Pulled || strings.Contains(out.Message, "already present") {
		t.Fatalf("team-a's pull through the mirror: %q %v", out.Message, out.Events)
	}
	recs := k.PullRecords()
	t.Logf("pull records after team-a's mirror pull: %v", recs)
	found := false
	for _, r := range recs {
		if strings.Contains(r, `"docker.io/team/app"`) {
			found = true
			if strings.Contains(r, "nodePodsAccessible") || !strings.Contains(r, `"namespace":"`+a+`"`) {
				t.Errorf("team-a's mirror pull recorded as %s, want only team-a's service account", r)
			}
		}
	}
	if !found {
		t.Errorf("kubelet wrote no pull record for docker.io/team/app")
	}

	for _, intruder := range []struct{ ns, pod string }{{b, "app"}, {a, "nosecret"}} {
		_, refusedBefore := mirrorUsers(mirror, "team/app")
		out := run(intruder.ns, intruder.pod, private)
		if out.Pulled {
			t.Errorf("%s/%s without credentials got team-a's image: %q", intruder.ns, intruder.pod, out.Message)
		}
		if _, refused := mirrorUsers(mirror, "team/app"); refused <= refusedBefore {
			t.Errorf("%s/%s: the mirror refused nothing", intruder.ns, intruder.pod)
		}
	}

	if out := run(a, "public", public); !out.Pulled || strings.Contains(out.Message, "already present") {
		t.Fatalf("team-a's anonymous pull of the public image: %q", out.Message)
	}
	before := clientManifestGets(src, "public/app")
	if out := run(b, "public", public); !out.Pulled || !strings.Contains(out.Message, "already present") {
		t.Errorf("team-b did not reuse the public image pulled anonymously: %q", out.Message)
	}
	if after := clientManifestGets(src, "public/app"); after != before {
		t.Errorf("team-b's pod pulled the public image again (%d -> %d manifest GETs)", before, after)
	}
	t.Logf("pull records at the end: %v", k.PullRecords())
}
