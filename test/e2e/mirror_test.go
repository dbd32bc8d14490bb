package e2e

import (
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// Scenario 1: the namespace's secret is referenced by its service account;
// the mirror serves the pull with that namespace's credentials; the auth
// file is consumed and gone afterwards.
func TestMirrorHit(t *testing.T) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "alpha-robot", Password: "alpha-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{alpha}, "team/app:1")
	e.WriteFile(e.RegistriesConf, regConf(`
[[registry]]
prefix = "docker.io/team"
location = "%s/team"
insecure = true
[[registry.mirror]]
location = "%s/team"
`, src.Host, mirror.Host))

	ns := e.Namespace("hit-alpha")
	e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha}))
	e.Must(e.CP.CreateServiceAccount(ns, "default", "mirror-creds"))
	e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
	e.Must(err)

	d := e.StartDriver(testbed.DriverConfig{})
	r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host, alpha)
	assertNoLeftovers(t, e)
	users, refused := mirrorUsers(mirror, "team/app")
	if len(users) == 0 || users[0] != alpha.Username || refused != 0 {
		t.Errorf("mirror saw users %v (refused %d), want %s", users, refused, alpha.Username)
	}
	if n := clientManifestGets(src, "team/app"); n != 0 {
		t.Errorf("source registry got %d manifest requests, want 0", n)
	}
}
