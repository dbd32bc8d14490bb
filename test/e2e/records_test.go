package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

// pullRecordCredentials decodes kubelet's ImagePulledRecord and returns the
// credential mapping of image (a repository name).
func pullRecordCredentials(t *testing.T, record, image string) map[string]any {
	t.Helper()
	var rec struct {
		CredentialMapping map[string]map[string]any `json:"credentialMapping"`
	}
	if err := json.Unmarshal([]byte(record), &rec); err != nil {
		t.Fatalf("pull record is not JSON: %v: %q", err, record)
	}
	return rec.CredentialMapping[image]
}

// Issue 15: kubelet (KubeletEnsureSecretPulledImages, KEP-4412) must tie a
// mirror pull made with a namespace's auth file to the pod's service
// account, never record it as "accessible to every pod of the node". Its
// own pull manager and pull records decide here, under the default policy
// and AlwaysVerify, with kubelet's plugin code reading our real response.
//  1. team-a pulls its private image through the mirror with its secret:
//     the record names team-a's service account.
//  2. a team-b pod without credentials (IfNotPresent) may not use the cached
//     image: it must pull, the mirror refuses it (401) and the image is not
//     at the source, so the pull fails.
//  3. a team-a pod of the same service account without the pull secret is
//     refused the same way.
//  4. a second team-a pod with the secret reuses the cached image after a
//     verification-only provider call, whose unclaimed file the next call
//     for the namespace and image removes before any other pod's pull.
//  5. a public image pulled anonymously is recorded nodePodsAccessible and
//     reused by team-b without a pull.
func TestPullRecords(t *testing.T) {
	for _, policy := range []string{"NeverVerifyPreloadedImages", "AlwaysVerify"} {
		t.Run(policy, func(t *testing.T) { testPullRecords(t, policy) })
	}
}

func testPullRecords(t *testing.T, policy string) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "alpha-robot", Password: "alpha-pass"}
	_, mirror, a, b := pullRecordsNode(e, alpha, "records-a", "records-b")
	const private, public = "docker.io/team/app:1", "docker.io/public/app:1"
	pods := []testbed.PodSpec{
		{Namespace: a, Name: "app", Image: private, PullSecrets: []string{"mirror-creds"}},
		{Namespace: a, Name: "app2", Image: private, PullSecrets: []string{"mirror-creds"}},
		{Namespace: a, Name: "nosecret", Image: private},
		{Namespace: b, Name: "app", Image: private},
		{Namespace: a, Name: "public", Image: public},
		{Namespace: b, Name: "public", Image: public},
	}
	for _, p := range pods {
		p.Node = "node-a"
		_, err := e.CP.CreatePod(p)
		e.Must(err)
	}
	d := e.StartDriver(testbed.DriverConfig{VerificationPolicy: policy, TeeStderr: true})
	pull := func(ns, pod, image string) (nodeapi.Result, string) {
		t.Helper()
		res := d.Pull(nodeapi.Pull{Namespace: ns, Pod: pod, Image: image, IfNotPresent: true})
		return res.Results[0], res.KubeletLog
	}

	r, log := pull(a, "app", private)
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host+"/team/app", alpha)
	if r.CredentialSource != "serviceAccount:"+a+"/default" {
		t.Errorf("kubelet tracks the pull's credential as %q, want the pod's service account %s/default", r.CredentialSource, a)
	}
	if strings.Contains(log, "Pulling image without credentials") {
		t.Errorf("kubelet pulled without credentials:\n%s", log)
	}
	rec := pullRecordCredentials(t, r.PullRecord, "docker.io/team/app")
	t.Logf("pull record after team-a's mirror pull: %s", r.PullRecord)
	sas, _ := rec["kubernetesServiceAccounts"].([]any)
	if rec["nodePodsAccessible"] == true || len(sas) != 1 || sas[0].(map[string]any)["namespace"] != a {
		t.Errorf("pull record for team-a's mirror pull: %v, want only team-a's service account", rec)
	}
	assertNoLeftovers(t, e)

	for _, intruder := range []struct{ ns, pod string }{{b, "app"}, {a, "nosecret"}} {
		_, refusedBefore := mirrorUsers(mirror, "team/app")
		r, log = pull(intruder.ns, intruder.pod, private)
		if r.Reused {
			t.Errorf("%s/%s without credentials was let use team-a's cached mirror image", intruder.ns, intruder.pod)
		}
		if r.Pulled {
			t.Errorf("%s/%s pulled team-a's private image (from %q)", intruder.ns, intruder.pod, r.Origin)
		}
		if _, refused := mirrorUsers(mirror, "team/app"); refused <= refusedBefore {
			t.Errorf("%s/%s: the mirror refused nothing (%d 401s before, %d after)", intruder.ns, intruder.pod, refusedBefore, refused)
		}
		assertNoCredsFor(t, r, alpha.Username)
		assertNoLeftovers(t, e)
	}

	// Verification only: kubelet runs the provider to learn whether app2 may
	// use the cached image; no pull follows.
	r, log = pull(a, "app2", private)
	if !r.Reused {
		t.Errorf("team-a's second pod with the secret was not let use the cached image (pulled %v, %s)\n%s", r.Pulled, r.PullError, log)
	}
	if n := strings.Count(d.ProviderStderr(), "request for docker.io/team/app from pod "+a+"/app2"); n != 1 {
		t.Errorf("the provider ran %d times for the verification of %s/app2, want 1", n, a)
	}
	// That call left a file no pull claims. It cannot serve a pod it was
	// not written for: the next call for the namespace and image (here a
	// pod without the secret) replaces or removes it before the pull.
	if l := leftoverAuthFiles(e); len(l) != 1 {
		t.Errorf("after the verification-only call the auth dir holds %v, want its one unclaimed file", l)
	}
	r, _ = pull(a, "nosecret", private)
	if r.Pulled || r.AuthFile.Found {
		t.Errorf("%s/nosecret pulled (%v) or found an auth file (%v) after a verification-only call of app2", a, r.Pulled, r.AuthFile.Found)
	}
	assertNoLeftovers(t, e)

	for _, ns := range []string{a, b} {
		r, log = pull(ns, "public", public)
		if ns == a {
			assertPulledFrom(t, r, "source", log)
			if r.CredentialSource != "node" {
				t.Errorf("anonymous public pull tracked as %q, want node", r.CredentialSource)
			}
			if rec := pullRecordCredentials(t, r.PullRecord, "docker.io/public/app"); rec["nodePodsAccessible"] != true {
				t.Errorf("anonymous public pull recorded as %v, want nodePodsAccessible", rec)
			}
		} else if !r.Reused {
			t.Errorf("team-b was not let reuse the public image pulled anonymously (pulled %v)", r.Pulled)
		}
	}
}

// kubelet accepts tokenAttributes only for a v1 provider
// (pkg/credentialprovider/plugin/config.go). A v1beta1 or v1alpha1 provider,
// or a v1 one without tokenAttributes (token or node mode alike), gets no
// token: the provider cannot tell the pod, fails with a clear line and
// writes nothing; kubelet pulls without mirror credentials (the mirror
// refuses, the source serves) and records the image nodePodsAccessible,
// rightly, since no credential was used.
func TestPullRecordsWithoutToken(t *testing.T) {
	for _, c := range []struct{ name, version string }{
		{"v1", "credentialprovider.kubelet.k8s.io/v1"},
		{"v1beta1", "credentialprovider.kubelet.k8s.io/v1beta1"},
		{"v1alpha1", "credentialprovider.kubelet.k8s.io/v1alpha1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			alpha := testbed.Cred{Username: "alpha-robot", Password: "alpha-pass"}
			src := sourceRegistry(e, "team/app:1")
			mirror := mirrorRegistry(e, "mirror", []testbed.Cred{alpha}, "team/app:1")
			e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
			ns := e.Namespace("notoken-" + c.name)
			e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha}))
			e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
			_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1", PullSecrets: []string{"mirror-creds"}})
			e.Must(err)
			d := e.StartDriver(testbed.DriverConfig{ProviderAPIVersion: c.version, NoTokenAttributes: true, Args: []string{"--api-identity=node"}})
			res := d.Pull(nodeapi.Pull{Namespace: ns, Pod: "app", Image: "docker.io/team/app:1", IfNotPresent: true})
			r := res.Results[0]
			assertProviderError(t, e, r, res.KubeletLog, "no service-account token")
			assertPulledFrom(t, r, "source", res.KubeletLog)
			if r.CredentialSource != "node" {
				t.Errorf("kubelet tracks the pull as %q, want node (no credential)", r.CredentialSource)
			}
			if rec := pullRecordCredentials(t, r.PullRecord, "docker.io/team/app"); rec["nodePodsAccessible"] != true {
				t.Errorf("pull record %v, want nodePodsAccessible", rec)
			}
		})
	}
}
