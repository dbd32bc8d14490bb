package e2e

import (
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// errorsEnv is one namespace whose pod would pull through the mirror.
func errorsEnv(t *testing.T, name string) (*testbed.Env, string, *testbed.Registry, testbed.Cred) {
	e := newEnv(t)
	cred := testbed.Cred{Username: name + "-robot", Password: "pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{cred}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
	ns := tenantNamespace(e, name, "mirror-creds", map[string]testbed.Cred{mirror.Host: cred})
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
	e.Must(err)
	return e, ns, mirror, cred
}

// Scenario 9a: kubelet requests the token for an audience the API server
// does not accept (not in --api-audiences): clear error, no file.
func TestErrorsAudience(t *testing.T) {
	e, ns, _, cred := errorsEnv(t, "err-audience")
	const aud = "registry.example.com"
	e.Must(e.CP.AllowNodeAudience(aud))
	d := e.StartDriver(testbed.DriverConfig{Audience: aud})
	r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
	assertProviderError(t, e, r, log, "401|unauthorized|unauthenticated", "audience|token")
	assertPulledFrom(t, r, "source", log)
	assertNoCredsFor(t, r, cred.Username)
}

// Scenario 9b: the API server goes away between two pulls (kubelet still
// has the pod and a cached token): the second pull gives a clear error and
// no file.
func TestErrorsAPIDown(t *testing.T) {
	e, ns, mirror, cred := errorsEnv(t, "err-apidown")
	s, err := e.CP.StartAPIServer()
	e.Must(err)
	t.Cleanup(s.Stop)
	d := e.StartDriver(testbed.DriverConfig{APIServer: s.URL})
	r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host+"/team/app", cred)

	s.Stop()
	r, log = d.PullOne(ns, "app", "docker.io/team/app:1")
	assertProviderError(t, e, r, log, "connect|refused|unreachable|reach", s.URL[len("https://"):]+"|api server|apiserver")
	assertPulledFrom(t, r, "source", log)
}

// Scenario 9c: --ca-file names a CA that did not sign the API server's
// certificate: clear error, no file.
func TestErrorsWrongCA(t *testing.T) {
	e, ns, _, cred := errorsEnv(t, "err-wrongca")
	other, err := testbed.NewCA(e.Dir, "other-ca")
	e.Must(err)
	d := e.StartDriver(testbed.DriverConfig{CAFile: other.CertPath})
	r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
	assertProviderError(t, e, r, log, "certificate|tls|verify|ssl", "ca-file|ca file|"+other.CertPath+"|certificate authority|issuer")
	assertPulledFrom(t, r, "source", log)
	assertNoCredsFor(t, r, cred.Username)
}
