package e2e

import (
	"strings"
	"testing"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

// Scenario 2: two tenants, two secrets, the same mirror host. Each pull uses
// its own namespace's credentials; a third namespace without a secret is
// refused by the mirror and falls back to the source; no auth file ever
// holds another namespace's credentials. The three pulls run at once.
func TestTwoTenants(t *testing.T) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "alpha-robot", Password: "alpha-pass"}
	beta := testbed.Cred{Username: "beta-robot", Password: "beta-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{alpha, beta}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))

	nsOf := map[string]string{}
	var pulls []nodeapi.Pull
	for _, tenant := range []struct {
		name string
		c    *testbed.Cred
	}{{"tenants-alpha", &alpha}, {"tenants-beta", &beta}, {"tenants-gamma", nil}} {
		var creds map[string]testbed.Cred
		if tenant.c != nil {
			creds = map[string]testbed.Cred{mirror.Host: *tenant.c}
		}
		ns := tenantNamespace(e, tenant.name, "mirror-creds", creds)
		nsOf[ns] = tenant.name
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
		e.Must(err)
		pulls = append(pulls, nodeapi.Pull{Namespace: ns, Pod: "app", Image: "docker.io/team/app:1"})
	}

	d := e.StartDriver(testbed.DriverConfig{})
	res := d.Pull(pulls...)
	for i, r := range res.Results {
		// Concurrent pulls of one tag with different content (the mirror's
		// copy for alpha and beta, the source's for gamma) race in CRI-O's
		// storage: a pull can fail to find the image it just pulled once the
		// other took the name. kubelet's back-off pulls again; so do we.
		if strings.Contains(r.PullError, "resolve pulled image") {
			t.Logf("%s: CRI-O lost the race for the tag, pulling again as kubelet would: %s", r.Pull.Namespace, r.PullError)
			again := d.Pull(r.Pull)
			res.Results[i], res.KubeletLog = again.Results[0], res.KubeletLog+again.KubeletLog
		}
	}
	for _, r := range res.Results {
		switch nsOf[r.Pull.Namespace] {
		case "tenants-alpha":
			assertPulledFrom(t, r, "mirror", res.KubeletLog)
			assertAuthFileUsed(t, r, mirror.Host+"/team/app", alpha, beta.Username)
		case "tenants-beta":
			assertPulledFrom(t, r, "mirror", res.KubeletLog)
			assertAuthFileUsed(t, r, mirror.Host+"/team/app", beta, alpha.Username)
		case "tenants-gamma":
			assertPulledFrom(t, r, "source", res.KubeletLog)
			assertNoCredsFor(t, r, alpha.Username, beta.Username)
		}
	}
	assertNoLeftovers(t, e)
	users, refused := mirrorUsers(mirror, "team/app")
	count := map[string]int{}
	for _, u := range users {
		count[u]++
	}
	if count[alpha.Username] == 0 || count[beta.Username] == 0 || len(count) != 2 {
		t.Errorf("mirror served users %v, want exactly %s and %s", users, alpha.Username, beta.Username)
	}
	if refused == 0 {
		t.Errorf("mirror refused no request; the namespace without a secret should have been refused")
	}
	if n := clientManifestGets(src, "team/app"); n == 0 {
		t.Errorf("source registry got no manifest request; gamma should have fallen back to it")
	}
}

// Scenario 3: rotate the password at the mirror and in the Secret; the very
// next pull succeeds with the new one, although the CredentialProviderConfig
// says defaultCacheDuration: 10m (the provider answers cacheDuration 0s, so
// kubelet runs it again and it writes a fresh auth file).
func TestRotation(t *testing.T) {
	e := newEnv(t)
	old := testbed.Cred{Username: "rot-robot", Password: "old-pass"}
	rotated := testbed.Cred{Username: "rot-robot", Password: "new-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{old}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
	ns := tenantNamespace(e, "rotation", "mirror-creds", map[string]testbed.Cred{mirror.Host: old})
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
	e.Must(err)

	d := e.StartDriver(testbed.DriverConfig{DefaultCacheDuration: "10m"})
	r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host+"/team/app", old)

	// Rotate: the mirror first (old password stops working), then the Secret.
	e.Must(mirror.SetUsers(users(rotated)))
	e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: rotated}))

	r, log = d.PullOne(ns, "app", "docker.io/team/app:1")
	if !r.AuthFile.Found {
		t.Fatalf("second pull found no fresh auth file: kubelet did not run the provider again (cached response?)\nkubelet log:\n%s", log)
	}
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host+"/team/app", rotated)
	assertNoLeftovers(t, e)
	if u, _ := mirrorUsers(mirror, "team/app"); len(u) < 2 || u[len(u)-1] != rotated.Username {
		t.Errorf("mirror served %v, want %s twice", u, rotated.Username)
	}
}

// Scenario 4: delete the Secret; the next pull gets no mirror credentials
// (refused by the mirror, served by the source).
func TestRevocation(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "rev-robot", Password: "rev-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{cred}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
	ns := tenantNamespace(e, "revocation", "mirror-creds", map[string]testbed.Cred{mirror.Host: cred})
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
	e.Must(err)

	d := e.StartDriver(testbed.DriverConfig{})
	r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host+"/team/app", cred)

	e.Must(e.CP.DeleteSecret(ns, "mirror-creds"))
	_, refusedBefore := mirrorUsers(mirror, "team/app")
	r, log = d.PullOne(ns, "app", "docker.io/team/app:1")
	assertPulledFrom(t, r, "source", log)
	assertNoCredsFor(t, r, cred.Username)
	assertNoLeftovers(t, e)
	if _, refused := mirrorUsers(mirror, "team/app"); refused <= refusedBefore {
		t.Errorf("the mirror did not refuse the pull after revocation")
	}
}
