package e2e

import (
	"strings"
	"testing"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

// Issue 13, point 2: what only the real CRI-O shows.

// mirroredNamespace sets up the usual tenant: docker.io/team mirrored (TLS,
// htpasswd) with the source as fallback, a namespace whose default service
// account names a secret with cred for the mirror (plus extra entries), and
// pods running image.
func mirroredNamespace(e *testbed.Env, name string, cred testbed.Cred, extra map[string]testbed.Cred, image string, pods ...string) (src, mirror *testbed.Registry, ns string) {
	e.T.Helper()
	src = sourceRegistry(e, "team/app:1")
	mirror = mirrorRegistry(e, "mirror", []testbed.Cred{cred}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))
	secret := map[string]testbed.Cred{mirror.Host: cred}
	for k, v := range extra {
		secret[k] = v
	}
	ns = tenantNamespace(e, name, "creds", secret)
	for _, p := range pods {
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: p, Node: "node-a", Image: image})
		e.Must(err)
	}
	return src, mirror, ns
}

// Two pods of one namespace pull the same image at the same moment. Both
// provider calls write the same file (same namespace, same image name);
// CRI-O merges identical concurrent PullImage requests (same image,
// namespace and request credentials) into one pull that claims the file
// once. Whatever the interleaving, both pods get the image, no credential
// but the namespace's reaches the mirror, and no in-use copy is left; a file
// written after CRI-O claimed the first one may stay behind for the
// provider's stale-file rule. The test logs which interleaving it saw.
func TestConcurrentSameImage(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "conc-robot", Password: "conc-pass"}
	const image = "docker.io/team/app:1"
	src, mirror, ns := mirroredNamespace(e, "concurrent", cred, nil, image, "one", "two")
	d := e.StartDriver(testbed.DriverConfig{})

	res := d.Pull(nodeapi.Pull{Namespace: ns, Pod: "one", Image: image}, nodeapi.Pull{Namespace: ns, Pod: "two", Image: image})
	used := strings.Count(d.CRIO.Log(), "Using auth file for namespace "+ns+":")
	origins := map[string]int{}
	for _, r := range res.Results {
		if r.Error != "" || !r.Pulled {
			t.Fatalf("pod %s: %s %s\nkubelet log:\n%s", r.Pull.Pod, r.Error, r.PullError, res.KubeletLog)
		}
		origins[r.Origin]++
		assertNoCredsFor(t, r, pusher)
	}
	users, refused := mirrorUsers(mirror, "team/app")
	for _, u := range users {
		if u != cred.Username {
			t.Errorf("mirror served %s to %q", "team/app", u)
		}
	}
	t.Logf("CRI-O used the namespace's auth file %d time(s) for 2 pulls; image served by %v; mirror served %v, refused %d; source manifest GETs from CRI-O: %d; left behind: %v",
		used, origins, users, refused, clientManifestGets(src, "team/app"), leftoverAuthFiles(e))
	if used == 0 || used > 2 {
		t.Errorf("CRI-O used the auth file %d times for two pulls", used)
	}
	if origins["mirror"] == 0 {
		t.Errorf("no pod got the mirror's copy: %v", origins)
	}
	for _, f := range leftoverAuthFiles(e) {
		if strings.Contains(f, "/in-use/") {
			t.Errorf("in-use auth file left behind: %s", f)
		}
	}
}

// A pull that fails at the mirror (the image is neither there nor at the
// source): CRI-O still deletes the auth file it claimed.
func TestPullFailsAtMirror(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "fail-robot", Password: "fail-pass"}
	const image = "docker.io/team/missing:1"
	_, mirror, ns := mirroredNamespace(e, "failing", cred, nil, image, "app")
	d := e.StartDriver(testbed.DriverConfig{})

	r, log := d.PullOne(ns, "app", image)
	if r.Error != "" {
		t.Fatalf("driver: %s", r.Error)
	}
	if r.Pulled {
		t.Fatalf("pull of an image no registry has succeeded")
	}
	t.Logf("CRI-O's error: %s", r.PullError)
	if !r.AuthFile.Found {
		t.Fatalf("the provider wrote no auth file for the failing pull\nkubelet log:\n%s", log)
	}
	if !r.AuthFile.UsedByCRIO {
		t.Errorf("CRI-O did not claim the auth file")
	}
	if !r.InUseRemoved {
		t.Errorf("the auth file of the failed pull was not deleted")
	}
	assertNoLeftovers(t, e)
	if users, _ := mirrorUsers(mirror, "team/missing"); len(users) != 0 {
		t.Errorf("mirror served the missing image to %v", users)
	}
	found := false
	for _, q := range mirror.ManifestRequests("team/missing") {
		found = found || q.User == cred.Username
	}
	if !found {
		t.Errorf("the mirror never saw the namespace's credential for the failing pull")
	}
}

// The pod's own pull secret has an entry for the source (docker.io):
// kubelet's keyring offers it first, and CRI-O takes a request credential
// with a username. containers/image sends it to the source only, never to a
// mirror on another host (it cannot know the credential is meant for the
// mirror), so the mirror still gets the namespaced auth file's credential:
// the first CRI call succeeds from the mirror, and the source credential
// reaches no registry.
func TestSourceCredentialFirst(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "first-robot", Password: "first-pass"}
	sourceCred := testbed.Cred{Username: "source-user", Password: "source-pass"}
	const image = "docker.io/team/app:1"
	src, mirror, ns := mirroredNamespace(e, "sourcefirst", cred, map[string]testbed.Cred{"docker.io": sourceCred}, image, "app")
	d := e.StartDriver(testbed.DriverConfig{})

	r, log := d.PullOne(ns, "app", image)
	if len(r.KubeletCredentials) == 0 || r.KubeletCredentials[0] != sourceCred.Username {
		t.Fatalf("kubelet offered %v, want %s first", r.KubeletCredentials, sourceCred.Username)
	}
	assertPulledFrom(t, r, "mirror", log)
	assertAuthFileUsed(t, r, mirror.Host+"/team/app", cred)
	assertNoLeftovers(t, e)
	users, refused := mirrorUsers(mirror, "team/app")
	for _, q := range mirror.ManifestRequests("team/app") {
		if q.User == sourceCred.Username {
			t.Errorf("the source credential reached the mirror")
		}
	}
	if len(users) != 1 || users[0] != cred.Username || refused != 0 {
		t.Errorf("mirror served %v (refused %d), want %s once: the first CRI call must succeed", users, refused, cred.Username)
	}
	if n := clientManifestGets(src, "team/app"); n != 0 {
		t.Errorf("the source got %d manifest requests", n)
	}
}
