package containerd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

// TestGatewayPulls: the scenarios of issue 14, in order, on one node, once
// with Debian 12's containerd 1.6 and once with containerd 2.x built from
// its module (the CRI plugin and its hosts.toml resolver were reorganised in
// 2.0: both are proven).
func TestGatewayPulls(t *testing.T) {
	testbed.RequireProvider(t)
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root (mounts for the native snapshotter)")
	}
	t.Run("containerd-1.6", func(t *testing.T) { testGatewayPulls(t, testbed.DebianContainerd) })
	t.Run("containerd-2", func(t *testing.T) {
		bin, err := testbed.ContainerdV2Binary(t.Logf)
		if err != nil {
			t.Fatalf("containerd %s: %v", testbed.ContainerdV2Version, err)
		}
		testGatewayPulls(t, bin)
	})
}

func testGatewayPulls(t *testing.T, containerd string) {
	if out, err := exec.Command(containerd, "--version").Output(); err == nil {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	e := sharedBed.Get(t).NewEnv(t)

	alpha := testbed.Cred{Username: "alpha-robot", Password: "alpha-pass"}
	alpha2 := testbed.Cred{Username: "alpha-robot-2", Password: "alpha-pass-2"}
	beta := testbed.Cred{Username: "beta-robot", Password: "beta-pass"}
	pusher := testbed.Cred{Username: "pusher", Password: "push-secret"}
	// The mirror holds the private image; the source holds only public ones.
	mirror := e.StartRegistry(testbed.RegistryOptions{Name: "mirror", TLS: true,
		Users: map[string]string{pusher.Username: pusher.Password, alpha.Username: alpha.Password,
			alpha2.Username: alpha2.Password, beta.Username: beta.Password}})
	e.Push(mirror, "mirror", &pusher, "team/app:1", "team/other:1")
	// A second mirror authenticates with distribution's token scheme
	// (Bearer, as most hosted registries do): the gateway fetches a token
	// with the tenant's credential from the realm the mirror names.
	// Its blobs are redirected to object storage (a file server logging
	// every request), which must never see a credential.
	blobs := startBlobStore(t, e, testbed.BlobStorageDir(e.Dir, "tokmirror"))
	tokMirror := e.StartRegistry(testbed.RegistryOptions{Name: "tokmirror", TLS: true, TokenAuth: true,
		Users:           map[string]string{pusher.Username: pusher.Password, alpha.Username: alpha.Password},
		BlobRedirectURL: "https://" + blobs.Host})
	e.Push(tokMirror, "tokmirror", &pusher, "tokteam/app:1")
	src := e.StartRegistry(testbed.RegistryOptions{Name: "source"})
	e.Push(src, "source", nil, "team/public:1")
	up := startUpstream(t, e, src)
	e.WriteFile(e.RegistriesConf, fmt.Sprintf(`
[[registry]]
prefix = "docker.io/team"
location = "%[1]s/team"
[[registry.mirror]]
location = "%[2]s/team"

[[registry]]
prefix = "docker.io/tokteam"
location = "%[1]s/tokteam"
[[registry.mirror]]
location = "%[3]s/tokteam"
`, up.Host, mirror.Host, tokMirror.Host))

	gw := startGateway(t, e, "--pull-idle=3s", "--io-timeout=5s", "--drain-timeout=20s")
	responses := recorder(t, e) // after the gateway: it runs the real binary
	cd, err := testbed.StartContainerd(containerd, filepath.Join(e.Dir, "containerd"))
	e.Must(err)
	t.Cleanup(cd.Stop)
	out, err := exec.Command(testbed.RequireProvider(t), "hosts-toml", "--registries-conf="+e.RegistriesConf,
		"--registries-conf-dir="+e.RegistriesConfD, "--config-path="+cd.ConfigPath,
		"--listen="+gw.Addr, "--tls-cert="+gw.Cert).CombinedOutput()
	if err != nil {
		t.Fatalf("hosts-toml: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != filepath.Join(cd.ConfigPath, "docker.io", "hosts.toml") {
		t.Fatalf("hosts-toml wrote %q, want docker.io's only", got)
	}

	alphaNS, betaNS := e.Namespace("cd-alpha"), e.Namespace("cd-beta")
	e.Must(e.CP.PutPullSecret(alphaNS, "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha, tokMirror.Host: alpha}))
	e.Must(e.CP.CreateServiceAccount(alphaNS, "default", "mirror-creds"))
	e.Must(e.CP.CreateServiceAccount(betaNS, "default"))
	for _, ns := range []string{alphaNS, betaNS} {
		e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
	}
	node := e.Node("node-a")
	for _, ns := range []string{alphaNS, betaNS} {
		for _, p := range []string{"app", "other", "public"} {
			_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: p, Node: "node-a", Image: "docker.io/team/" + p + ":1"})
			e.Must(err)
		}
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "tokapp", Node: "node-a", Image: "docker.io/tokteam/app:1"})
		e.Must(err)
	}
	d := e.StartDriver(testbed.DriverConfig{Node: node, MatchImages: []string{"docker.io"},
		DefaultCacheDuration: "0s", TeeStderr: true,
		Args:      []string{"--runtime=containerd", "--ticket-dir=" + gw.TicketDir, "--ticket-ttl=3s"},
		CRISocket: cd.Socket})
	pullImage := func(t *testing.T, ns, pod, image string) nodeapi.Result {
		t.Helper()
		r, log := d.PullOne(ns, pod, image)
		if r.Error != "" {
			t.Fatalf("driver: %s\n%s", r.Error, log)
		}
		return r
	}
	pull := func(t *testing.T, ns, pod string) nodeapi.Result {
		t.Helper()
		return pullImage(t, ns, pod, "docker.io/team/"+pod+":1")
	}
	defer func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s\nprovider stderr:\n%s\ncontainerd log tail:\n%s", gw.log(), d.ProviderStderr(), tailFile(cd.LogPath, 40))
		}
	}()

	t.Run("tenant-pull", func(t *testing.T) {
		r := pull(t, alphaNS, "app")
		if !r.Pulled {
			t.Fatalf("alpha's pull failed: %s", r.PullError)
		}
		if n := mirrorUsers(mirror, "team/app")[alpha.Username]; n == 0 {
			t.Errorf("mirror never saw alpha's credential: %v", mirrorUsers(mirror, "team/app"))
		}
		if !strings.Contains(gw.log(), "event=served") || !strings.Contains(gw.log(), "ns="+alphaNS) {
			t.Errorf("gateway log has no served request for %s", alphaNS)
		}
		up.assertNoCredential(t)
	})

	t.Run("other-namespace", func(t *testing.T) {
		before := mirrorUsers(mirror, "team/app")[alpha.Username]
		r := pull(t, betaNS, "app")
		if r.Pulled {
			t.Errorf("beta pulled alpha's private mirror image")
		}
		if after := mirrorUsers(mirror, "team/app")[alpha.Username]; after != before {
			t.Errorf("alpha's credential was used %d times during beta's pull", after-before)
		}
		up.assertNoCredential(t)
	})

	t.Run("mirror-token-auth", func(t *testing.T) {
		r := pullImage(t, alphaNS, "tokapp", "docker.io/tokteam/app:1")
		if !r.Pulled {
			t.Fatalf("alpha's pull from the token-auth mirror failed: %s", r.PullError)
		}
		grants, refused := tokMirror.Tokens.Grants()
		t.Logf("token service grants %v, refused credentials %d", grants, refused)
		if !containsGrant(grants, alpha.Username, "repository:tokteam/app:pull") || refused != 0 {
			t.Errorf("token service: want a pull token for %s on tokteam/app and no refused credential: %v, refused %d", alpha.Username, grants, refused)
		}
		if n := mirrorUsers(tokMirror, "tokteam/app")[alpha.Username]; n == 0 {
			t.Errorf("the token-auth mirror never served alpha: %v", mirrorUsers(tokMirror, "tokteam/app"))
		}
		served := 0
		for _, q := range blobs.requests() {
			if strings.Contains(q.URI, "/blobs/") && q.Method == "GET" {
				served++
			}
		}
		t.Logf("blob store: %d blob GETs after the mirror's redirects", served)
		if served == 0 {
			t.Errorf("no blob was fetched from the blob store the mirror redirects to: %v", blobs.requests())
		}
		blobs.assertNoCredential(t)
		r = pullImage(t, betaNS, "tokapp", "docker.io/tokteam/app:1")
		if r.Pulled {
			t.Errorf("beta pulled alpha's image from the token-auth mirror")
		}
		if after, _ := tokMirror.Tokens.Grants(); len(after) != len(grants) {
			t.Errorf("a token was issued during beta's pull: %v", after[len(grants):])
		}
		up.assertNoCredential(t)
	})

	t.Run("public-image-via-upstream", func(t *testing.T) {
		r := pull(t, alphaNS, "public")
		if !r.Pulled {
			t.Fatalf("public pull failed: %s", r.PullError)
		}
		found := false
		for _, q := range up.requests() {
			found = found || strings.Contains(q.URI, "/team/public/manifests/")
		}
		if !found {
			t.Errorf("the upstream stand-in served no manifest of team/public")
		}
		up.assertNoCredential(t)
	})

	t.Run("non-ticket-refused-never-forwarded", func(t *testing.T) {
		before := len(mustRequests(t, mirror))
		if s := gw.get(t, "/v2/team/app/manifests/1?ns=docker.io", alpha.Username, alpha.Password); s != 401 {
			t.Errorf("a mirror credential presented directly: status %d, want 401", s)
		}
		if s := gw.get(t, "/v2/team/app/manifests/1?ns=docker.io", "", ""); s != 401 {
			t.Errorf("anonymous: status %d, want 401", s)
		}
		if after := len(mustRequests(t, mirror)); after != before {
			t.Errorf("the gateway forwarded a refused request to the mirror (%d new requests)", after-before)
		}
	})

	t.Run("replay", func(t *testing.T) {
		issued := tickets(t, responses)
		if len(issued) < 3 {
			t.Fatalf("no ticket recorded")
		}
		last := issued[len(issued)-1]
		time.Sleep(4 * time.Second) // past --pull-idle
		if s := gw.get(t, "/v2/team/app/manifests/1?ns=docker.io", last[0], last[1]); s != 401 {
			t.Errorf("replayed ticket after its pull: status %d, want 401", s)
		}
		// A fresh ticket for app, presented for another image.
		r := pull(t, alphaNS, "app")
		if !r.Pulled {
			t.Fatalf("alpha's pull failed: %s", r.PullError)
		}
		fresh := tickets(t, responses)
		ticket := fresh[len(fresh)-1]
		if s := gw.get(t, "/v2/team/other/manifests/1?ns=docker.io", ticket[0], ticket[1]); s == 200 {
			t.Errorf("alpha's ticket for team/app served team/other")
		}
		if s := gw.get(t, "/v2/team/app/manifests/1?ns=quay.io", ticket[0], ticket[1]); s == 200 {
			t.Errorf("the ticket served another registry's namespace")
		}
	})

	t.Run("rotation", func(t *testing.T) {
		e.Must(e.CP.PutPullSecret(alphaNS, "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha2}))
		r := pull(t, alphaNS, "app")
		if !r.Pulled {
			t.Fatalf("pull after rotation failed: %s", r.PullError)
		}
		if mirrorUsers(mirror, "team/app")[alpha2.Username] == 0 {
			t.Errorf("the rotated credential was not used on the next pull")
		}
	})

	t.Run("concurrent-and-hanging", func(t *testing.T) {
		// A client that connects and never sends a request, and one that
		// sends half a request.
		var hang []net.Conn
		for _, partial := range []string{"", "GET /v2/ HTTP/1.1\r\nHost: x\r\n"} {
			c, err := net.Dial("tcp", gw.Addr)
			e.Must(err)
			c.Write([]byte(partial)) //nolint:errcheck
			hang = append(hang, c)
		}
		var pulls []nodeapi.Pull
		for i := 0; i < 100; i++ {
			pulls = append(pulls, nodeapi.Pull{Namespace: alphaNS, Pod: []string{"app", "other"}[i%2], Image: "docker.io/team/" + []string{"app", "other"}[i%2] + ":1"})
		}
		// Removing images while others pull them would race: keep them.
		res := d.Pull(pulls...)
		failed := 0
		for _, r := range res.Results {
			if !r.Pulled {
				failed++
				if failed < 3 {
					t.Logf("failed pull: %s %s", r.Error, r.PullError)
				}
			}
		}
		if failed > 0 {
			t.Errorf("%d of 100 concurrent pulls failed", failed)
		}
		for _, c := range hang {
			c.SetReadDeadline(time.Now().Add(15 * time.Second)) //nolint:errcheck
			buf := make([]byte, 1)
			if _, err := c.Read(buf); err == nil {
				t.Errorf("hanging client got data instead of being closed")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("hanging client still connected after --io-timeout")
			}
			c.Close()
		}
		up.assertNoCredential(t)
	})

	t.Run("graceful-restart", func(t *testing.T) {
		if err := gw.stop(t); err != nil {
			t.Errorf("gateway exit after SIGTERM: %v", err)
		}
		if !strings.Contains(gw.log(), "event=stopped") {
			t.Errorf("gateway did not log a clean stop")
		}
		gw.start(t)
		r := pull(t, alphaNS, "app")
		if !r.Pulled {
			t.Fatalf("pull after restart failed: %s", r.PullError)
		}
	})

	t.Run("unredeemed-ticket-expires", func(t *testing.T) {
		// A ticket whose pull never reached the gateway (it was down) is
		// worthless once its TTL (--ticket-ttl=3s) has passed, even to a
		// gateway started afterwards.
		if err := gw.stop(t); err != nil {
			t.Errorf("gateway exit after SIGTERM: %v", err)
		}
		if r := pull(t, alphaNS, "app"); r.Pulled {
			t.Fatalf("pulled with the gateway down")
		}
		issued := tickets(t, responses)
		ticket := issued[len(issued)-1]
		time.Sleep(4 * time.Second)
		gw.start(t)
		if s := gw.get(t, "/v2/team/app/manifests/1?ns=docker.io", ticket[0], ticket[1]); s != 401 {
			t.Errorf("an unredeemed ticket past its TTL: status %d, want 401", s)
		}
		if r := pull(t, alphaNS, "app"); !r.Pulled {
			t.Fatalf("the next pull failed: %s", r.PullError)
		}
	})

	t.Run("logs-hold-no-secret", func(t *testing.T) {
		logs := gw.log() + d.ProviderStderr()
		secrets := []string{alpha.Password, alpha2.Password, beta.Password}
		for _, tk := range tickets(t, responses) {
			secrets = append(secrets, tk[1])
		}
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("a secret (%d chars) appears in the gateway or provider log", len(s))
			}
		}
		entries, _ := os.ReadDir(gw.TicketDir)
		info, err := os.Stat(gw.TicketDir)
		e.Must(err)
		if info.Mode().Perm() != 0o700 {
			t.Errorf("ticket dir mode %v, want 0700", info.Mode().Perm())
		}
		for _, en := range entries {
			if fi, _ := en.Info(); fi != nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("ticket %s mode %v, want 0600", en.Name(), fi.Mode().Perm())
			}
		}
	})
	up.assertNoCredential(t)
}

func containsGrant(grants []testbed.TokenGrant, user, scope string) bool {
	for _, g := range grants {
		if g.User == user && g.Scope == scope {
			return true
		}
	}
	return false
}

func mustRequests(t *testing.T, r *testbed.Registry) []testbed.Request {
	t.Helper()
	q, err := r.Requests()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
