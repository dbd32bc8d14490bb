package e2e

import (
	"fmt"
	"strings"
	"testing"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

// Scenario 10: 50 pods in 5 namespaces pull at once through one kubelet.
// Every pull is served by the mirror with its own namespace's credentials;
// no file is left behind and none is corrupt. The 10 pods of a namespace
// pull 10 different images and every namespace pulls the same 10 (CRI-O has
// one auth file per namespace and image: two simultaneous pulls of one image
// in one namespace share it by design).
func TestBurst(t *testing.T) {
	e := newEnv(t)
	const namespaces, podsPerNS = 5, 10
	var repos []string
	for i := 0; i < podsPerNS; i++ {
		repos = append(repos, fmt.Sprintf("team/app-%d:1", i))
	}
	creds := map[string]testbed.Cred{}
	var all []testbed.Cred
	for n := 0; n < namespaces; n++ {
		ns := e.Namespace(fmt.Sprintf("burst-%d", n))
		creds[ns] = testbed.Cred{Username: ns + "-robot", Password: fmt.Sprintf("pass-%d", n)}
		all = append(all, creds[ns])
	}
	src := sourceRegistry(e, repos...)
	mirror := mirrorRegistry(e, "mirror", all, repos...)
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))

	var pulls []nodeapi.Pull
	for ns, c := range creds {
		e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: c}))
		e.Must(e.CP.CreateServiceAccount(ns, "default", "mirror-creds"))
		e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
		for i := 0; i < podsPerNS; i++ {
			pod := fmt.Sprintf("app-%d", i)
			image := fmt.Sprintf("docker.io/team/app-%d:1", i)
			_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: pod, Node: "node-a", Image: image})
			e.Must(err)
			pulls = append(pulls, nodeapi.Pull{Namespace: ns, Pod: pod, Image: image})
		}
	}
	d := e.StartDriver(testbed.DriverConfig{})
	res := d.Pull(pulls...)
	if len(res.Results) != namespaces*podsPerNS {
		t.Fatalf("%d results, want %d", len(res.Results), namespaces*podsPerNS)
	}
	for _, r := range res.Results {
		var others []string
		for ns, c := range creds {
			if ns != r.Pull.Namespace {
				others = append(others, c.Username)
			}
		}
		assertPulledFrom(t, r, "mirror", providerError(res.KubeletLog))
		assertAuthFileUsed(t, r, mirror.Host+"/team/"+strings.TrimSuffix(strings.TrimPrefix(r.Pull.Image, "docker.io/team/"), ":1"), creds[r.Pull.Namespace], others...)
	}
	assertNoLeftovers(t, e)
	served := map[string]int{}
	refusedTotal := 0
	for i := 0; i < podsPerNS; i++ {
		users, refused := mirrorUsers(mirror, fmt.Sprintf("team/app-%d", i))
		refusedTotal += refused
		for _, u := range users {
			served[u]++
		}
	}
	for ns, c := range creds {
		if served[c.Username] < podsPerNS {
			t.Errorf("mirror served %s (%s) %d manifests, want >= %d", c.Username, ns, served[c.Username], podsPerNS)
		}
	}
	if refusedTotal != 0 {
		t.Errorf("mirror refused %d manifest requests", refusedTotal)
	}
	for i := 0; i < podsPerNS; i++ {
		if n := clientManifestGets(src, fmt.Sprintf("team/app-%d", i)); n != 0 {
			t.Errorf("source served team/app-%d %d times", i, n)
		}
	}
}
