package e2e

import (
	"fmt"
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// Scenario 5: a registry whose location differs from its prefix (a
// rewrite, no mirror): the credentials reach the rewritten location.
func TestRewrite(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "rewrite-robot", Password: "rewrite-pass"}
	target := mirrorRegistry(e, "rewritten", []testbed.Cred{cred}, "internal/acme/tool:2")
	e.WriteFile(e.RegistriesConf, regConf(`
[[registry]]
prefix = "quay.io/acme"
location = "%s/internal/acme"
`, target.Host))
	ns := tenantNamespace(e, "rewrite", "registry-creds", map[string]testbed.Cred{target.Host + "/internal": cred})
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "tool", Node: "node-a", Image: "quay.io/acme/tool:2"})
	e.Must(err)

	d := e.StartDriver(testbed.DriverConfig{})
	r, log := d.PullOne(ns, "tool", "quay.io/acme/tool:2")
	assertPulledFrom(t, r, "rewritten", log)
	assertAuthFileUsed(t, r, target.Host+"/internal/acme/tool", cred)
	assertNoLeftovers(t, e)
	if u, refused := mirrorUsers(target, "internal/acme/tool"); len(u) == 0 || u[0] != cred.Username || refused != 0 {
		t.Errorf("rewritten location served %v (refused %d), want %s", u, refused, cred.Username)
	}
}

// Scenario 6: a wildcard prefix (*.corp.example) mirrored to a host whose
// secret key has a scheme, a glob host and a port (next to a decoy key with
// another port), and a path-scoped mirror (mirror/team-a, mirror/team-b on
// one host) with path-scoped keys: each pull gets the right credentials.
func TestWildcardPathScopedSchemeGlobPort(t *testing.T) {
	e := newEnv(t)
	wild := testbed.Cred{Username: "wild-robot", Password: "wild-pass"}
	decoy := testbed.Cred{Username: "decoy-robot", Password: "decoy-pass"}
	teamA := testbed.Cred{Username: "team-a-robot", Password: "team-a-pass"}
	teamB := testbed.Cred{Username: "team-b-robot", Password: "team-b-pass"}
	src := sourceRegistry(e, "team-a/app:1", "team-b/app:1")
	wm := mirrorRegistry(e, "wildcard-mirror", []testbed.Cred{wild, decoy}, "corp/team/app:1")
	pm := mirrorRegistry(e, "path-mirror", []testbed.Cred{teamA, teamB}, "team-a/app:1", "team-b/app:1")
	other, err := testbed.FreePort()
	e.Must(err)
	e.WriteFile(e.RegistriesConf, regConf(`
[[registry]]
prefix = "*.corp.example"
[[registry.mirror]]
location = "%[1]s/corp"

[[registry]]
prefix = "docker.io/team-a"
location = "%[3]s/team-a"
insecure = true
[[registry.mirror]]
location = "%[2]s/team-a"

[[registry]]
prefix = "docker.io/team-b"
location = "%[3]s/team-b"
insecure = true
[[registry.mirror]]
location = "%[2]s/team-b"
`, wm.Host, pm.Host, src.Host))

	ns := tenantNamespace(e, "wildcard", "mirror-creds", map[string]testbed.Cred{
		fmt.Sprintf("https://127.0.*.1:%d", wm.Port): wild,
		fmt.Sprintf("https://127.0.*.1:%d", other):   decoy,
		pm.Host + "/team-a":                          teamA,
		pm.Host + "/team-b":                          teamB,
	})
	cases := []struct {
		pod, image, origin, repo string
		reg                      *testbed.Registry
		cred                     testbed.Cred
		notUsers                 []string
	}{
		{"wild", "registry.corp.example/team/app:1", "wildcard-mirror", "corp/team/app", wm, wild, []string{decoy.Username, teamA.Username, teamB.Username}},
		{"team-a", "docker.io/team-a/app:1", "path-mirror", "team-a/app", pm, teamA, []string{teamB.Username, wild.Username, decoy.Username}},
		{"team-b", "docker.io/team-b/app:1", "path-mirror", "team-b/app", pm, teamB, []string{teamA.Username, wild.Username, decoy.Username}},
	}
	for _, c := range cases {
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: c.pod, Node: "node-a", Image: c.image})
		e.Must(err)
	}
	d := e.StartDriver(testbed.DriverConfig{MatchImages: []string{"docker.io", "*.corp.example"}})
	for _, c := range cases {
		t.Run(c.pod, func(t *testing.T) {
			r, log := d.PullOne(ns, c.pod, c.image)
			assertPulledFrom(t, r, c.origin, log)
			assertAuthFileUsed(t, r, c.reg.Host+"/"+c.repo, c.cred)
			assertNoCredsFor(t, r, c.notUsers...)
			if u, refused := mirrorUsers(c.reg, c.repo); len(u) == 0 || u[0] != c.cred.Username || refused != 0 {
				t.Errorf("%s served %s to %v (refused %d), want %s", c.reg.Opts.Name, c.repo, u, refused, c.cred.Username)
			}
		})
	}
	assertNoLeftovers(t, e)
}

// Scenario 7: no mirror and no rewrite for the image: the provider writes
// no auth file and the pull goes to the source (with the global auth file),
// although the namespace has a secret for the mirror and one for the source.
func TestNoMirror(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "nomirror-robot", Password: "nomirror-pass"}
	src := sourceRegistry(e, "plain/app:1", "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{cred}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team")+regConf(`
[[registry]]
location = "%s"
insecure = true
`, src.Host))
	ns := tenantNamespace(e, "nomirror", "creds", map[string]testbed.Cred{mirror.Host: cred, src.Host: {Username: "source-user", Password: "x"}})
	image := src.Host + "/plain/app:1"
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "plain", Node: "node-a", Image: image})
	e.Must(err)

	d := e.StartDriver(testbed.DriverConfig{MatchImages: []string{"docker.io", src.Host}})
	r, log := d.PullOne(ns, "plain", image)
	assertPulledFrom(t, r, "source", log)
	if r.AuthFile.Found {
		t.Errorf("an auth file was written for an image without mirror: %s", r.AuthFile.Content)
	}
	if p := providerError(log); p != "" {
		t.Errorf("provider failed: %s", p)
	}
	assertNoLeftovers(t, e)
	if n := clientManifestGets(src, "plain/app"); n == 0 {
		t.Errorf("source registry saw no manifest request")
	}
	if len(r.KubeletCredentials) == 0 || r.KubeletCredentials[0] != "source-user" {
		t.Errorf("kubelet passed %v in the CRI request, want the source's own pull-secret entry", r.KubeletCredentials)
	}
}
