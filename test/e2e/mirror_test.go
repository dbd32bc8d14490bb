package e2e

import (
	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// Scenario 1: the namespace's secret is referenced by its service account;
// the mirror serves the pull with that namespace's credentials; the auth
// file is consumed and gone afterwards. Two mirrors: one holding its own
// copy of the image (its content is labelled "mirror"), one a pull-through
// cache (docker-registry proxy.remoteurl) of the source. The node's global
// auth file is merged under the namespace's credentials (CRI-O uses the
// auth file instead of it), and a pull by digest finds the same file.
func TestMirrorHit(t *testing.T) {
	e := newEnv(t)
	alpha := testbed.Cred{Username: "alpha-robot", Password: "alpha-pass"}
	src := sourceRegistry(e, "team/app:1", "cached/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{alpha}, "team/app:1")
	cache := e.StartRegistry(testbed.RegistryOptions{Name: "cache", TLS: true, Users: users(alpha), ProxyRemoteURL: src.URL()})
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team")+teamConf(src, cache, "cached"))

	ns := tenantNamespace(e, "hit-alpha", "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha, cache.Host: alpha})
	_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
	e.Must(err)
	_, err = e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "cached", Node: "node-a", Image: "docker.io/cached/app:1"})
	e.Must(err)
	global := testbed.Cred{Username: "node-global", Password: "global-pass"}
	e.WriteFile(e.GlobalAuthFile, string(testbed.DockerConfigJSON(map[string]testbed.Cred{"registry.global.example": global})))
	d := e.StartDriver(testbed.DriverConfig{})
	var digest string

	t.Run("own-copy", func(t *testing.T) {
		r, log := d.PullOne(ns, "app", "docker.io/team/app:1")
		assertPulledFrom(t, r, "mirror", log)
		assertAuthFileUsed(t, r, mirror.Host+"/team/app", alpha)
		if got := authEntries(t, r.AuthFile.Content)["registry.global.example"]; got != global {
			t.Errorf("global auth file entry not merged into the auth file: %s", r.AuthFile.Content)
		}
		assertNoLeftovers(t, e)
		digest = r.Digest
		users, refused := mirrorUsers(mirror, "team/app")
		if len(users) == 0 || users[0] != alpha.Username || refused != 0 {
			t.Errorf("mirror saw users %v (refused %d), want %s", users, refused, alpha.Username)
		}
		if n := clientManifestGets(src, "team/app"); n != 0 {
			t.Errorf("source registry got %d manifest requests from the node, want 0", n)
		}
	})
	t.Run("pull-through-cache", func(t *testing.T) {
		r, log := d.PullOne(ns, "cached", "docker.io/cached/app:1")
		// The cache's content is the source's; which registry the node
		// talked to comes from the registries' logs.
		assertPulledFrom(t, r, "source", log)
		assertAuthFileUsed(t, r, cache.Host+"/cached/app", alpha)
		assertNoLeftovers(t, e)
		users, refused := mirrorUsers(cache, "cached/app")
		if len(users) == 0 || users[0] != alpha.Username || refused != 0 {
			t.Errorf("pull-through cache saw users %v (refused %d), want %s", users, refused, alpha.Username)
		}
		if n := clientManifestGets(src, "cached/app"); n != 0 {
			t.Errorf("source registry got %d manifest requests from the node, want 0 (only the cache may fetch)", n)
		}
		if len(src.ManifestRequests("cached/app")) == 0 {
			t.Errorf("the cache did not fetch the manifest from the source")
		}
	})
	t.Run("by-digest", func(t *testing.T) {
		if digest == "" {
			t.Fatal("own-copy gave no digest to pull by")
		}
		image := "docker.io/team/app@" + digest
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "digest", Node: "node-a", Image: image})
		e.Must(err)
		r, log := d.PullOne(ns, "digest", image)
		assertPulledFrom(t, r, "mirror", log)
		assertAuthFileUsed(t, r, mirror.Host+"/team/app", alpha)
		assertNoLeftovers(t, e)
	})
}
