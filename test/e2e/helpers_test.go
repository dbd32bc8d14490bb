package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"crio-credential-provider/test/internal/nodeapi"
	"crio-credential-provider/test/internal/testbed"
)

const pusher = "pusher"

var pusherCred = &testbed.Cred{Username: pusher, Password: "push-secret"}

// users returns htpasswd users: the pusher plus the given tenants.
func users(creds ...testbed.Cred) map[string]string {
	m := map[string]string{pusher: pusherCred.Password}
	for _, c := range creds {
		m[c.Username] = c.Password
	}
	return m
}

// sourceRegistry starts the "upstream" registry (plain HTTP, anonymous) and
// pushes the repos labelled "source".
func sourceRegistry(e *testbed.Env, repos ...string) *testbed.Registry {
	e.T.Helper()
	src := e.StartRegistry(testbed.RegistryOptions{Name: "source"})
	e.Push(src, "source", nil, repos...)
	return src
}

// mirrorRegistry starts a TLS + htpasswd registry holding its own copy of
// repos, labelled with its name.
func mirrorRegistry(e *testbed.Env, name string, tenants []testbed.Cred, repos ...string) *testbed.Registry {
	e.T.Helper()
	m := e.StartRegistry(testbed.RegistryOptions{Name: name, TLS: true, Users: users(tenants...)})
	if len(repos) > 0 {
		e.Push(m, name, pusherCred, repos...)
	}
	return m
}

// authEntries decodes a containers-auth.json into key -> credential.
func authEntries(t *testing.T, content string) map[string]testbed.Cred {
	t.Helper()
	var f struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
	}
	if err := json.Unmarshal([]byte(content), &f); err != nil {
		t.Fatalf("auth file is not valid JSON: %v\n%s", err, content)
	}
	out := map[string]testbed.Cred{}
	for k, v := range f.Auths {
		dec, err := base64.StdEncoding.DecodeString(v.Auth)
		if err != nil {
			t.Fatalf("auth file entry %q: bad base64: %v", k, err)
		}
		u, p, _ := strings.Cut(string(dec), ":")
		out[k] = testbed.Cred{Username: u, Password: p}
	}
	return out
}

// leftoverAuthFiles lists files in the auth dir and its in-use dir.
func leftoverAuthFiles(e *testbed.Env) []string {
	var out []string
	filepath.WalkDir(e.AuthDir, func(p string, d os.DirEntry, err error) error { //nolint:errcheck
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func assertNoLeftovers(t *testing.T, e *testbed.Env) {
	t.Helper()
	if l := leftoverAuthFiles(e); len(l) > 0 {
		t.Errorf("auth files left behind: %v", l)
	}
}

// assertPulledFrom checks the result and which registry's content came back.
func assertPulledFrom(t *testing.T, r nodeapi.Result, origin string, log string) {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("pull %s for %s/%s: driver error: %s\nkubelet log:\n%s", r.Pull.Image, r.Pull.Namespace, r.Pull.Pod, r.Error, log)
	}
	if !r.Pulled {
		t.Fatalf("pull %s for %s/%s failed: %s\nkubelet log:\n%s", r.Pull.Image, r.Pull.Namespace, r.Pull.Pod, r.PullError, log)
	}
	if r.Origin != origin {
		t.Errorf("pull %s for %s/%s served by %q, want %q\nkubelet log:\n%s", r.Pull.Image, r.Pull.Namespace, r.Pull.Pod, r.Origin, origin, log)
	}
}

// assertAuthFileUsed checks that CRI-O found the namespaced auth file and
// consumed it, that the entry containers/image picks for repo (host/path of
// the repository actually pulled, see authEntryFor) holds want, and that no
// entry holds the credentials of the forbidden users.
func assertAuthFileUsed(t *testing.T, r nodeapi.Result, repo string, want testbed.Cred, forbidden ...string) {
	t.Helper()
	if !r.AuthFile.Found {
		t.Fatalf("no namespaced auth file %s for %s/%s (image %s)", r.AuthFile.Path, r.Pull.Namespace, r.Pull.Pod, r.Pull.Image)
	}
	if !r.AuthFile.UsedByCRIO {
		t.Errorf("CRI-O did not log that it used the auth file %s for %s/%s", r.AuthFile.Path, r.Pull.Namespace, r.Pull.Pod)
	}
	if !r.InUseRemoved {
		t.Errorf("auth file %s or its in-use copy was left after the pull", r.AuthFile.Path)
	}
	entries := authEntries(t, r.AuthFile.Content)
	key, got, ok := authEntryFor(entries, repo)
	if !ok {
		t.Errorf("auth file for %s/%s has no entry for %s: %s", r.Pull.Namespace, r.Pull.Pod, repo, r.AuthFile.Content)
	} else if got != want {
		t.Errorf("auth file for %s/%s: %q (used for %s) = %+v, want %+v", r.Pull.Namespace, r.Pull.Pod, key, repo, got, want)
	}
	assertNoCredsFor(t, r, forbidden...)
}

// authEntryFor is containers/image's lookup: host/ns1/ns2/repo, then the
// shorter paths, then host.
func authEntryFor(entries map[string]testbed.Cred, repo string) (string, testbed.Cred, bool) {
	for key := repo; ; {
		if c, ok := entries[key]; ok {
			return key, c, true
		}
		i := strings.LastIndex(key, "/")
		if i < 0 {
			return "", testbed.Cred{}, false
		}
		key = key[:i]
	}
}

// mirrorUsers returns the users that fetched repo's manifests successfully
// from reg, and how many requests were refused (401).
func mirrorUsers(reg *testbed.Registry, repo string) (ok []string, refused int) {
	for _, q := range reg.ManifestRequests(repo) {
		switch {
		case q.Status == 401:
			refused++
		case q.Status >= 200 && q.Status < 300:
			ok = append(ok, q.User)
		}
	}
	return ok, refused
}

// clientManifestGets counts manifest requests by the CRI-O side (not by a
// pull-through cache) at reg.
func clientManifestGets(reg *testbed.Registry, repo string) int {
	n := 0
	for _, q := range reg.ManifestRequests(repo) {
		if strings.HasPrefix(q.UserAgent, "cri-o/") {
			n++
		}
	}
	return n
}

func regConf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func tailFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

// teamConf mirrors docker.io/<path> (source: the anonymous source registry,
// plain HTTP) to mirror/<path>.
func teamConf(src, mirror *testbed.Registry, path string) string {
	return regConf(`
[[registry]]
prefix = "docker.io/%[3]s"
location = "%[1]s/%[3]s"
insecure = true
[[registry.mirror]]
location = "%[2]s/%[3]s"
`, src.Host, mirror.Host, path)
}

// assertNoCredsFor checks that no auth file gave the pull any of users.
func assertNoCredsFor(t *testing.T, r nodeapi.Result, users ...string) {
	t.Helper()
	if !r.AuthFile.Found {
		return
	}
	for k, c := range authEntries(t, r.AuthFile.Content) {
		for _, u := range users {
			if c.Username == u {
				t.Errorf("auth file for %s/%s holds %s under %q", r.Pull.Namespace, r.Pull.Pod, u, k)
			}
		}
	}
}

// providerError returns the kubelet log lines that carry the provider's
// error (kubelet logs the plugin's stderr when it fails).
func providerError(log string) string {
	var out []string
	in := false
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, "Failed to provide credentials for image"):
			out = append(out, l)
			in = strings.HasSuffix(l, "err=<")
		case in:
			out = append(out, l)
			in = strings.TrimSpace(l) != ">"
		}
	}
	return strings.Join(out, "\n")
}

// assertMentions checks msg is not empty and mentions each want ("a|b":
// either), case-insensitively.
func assertMentions(t *testing.T, msg string, want ...string) {
	t.Helper()
	if strings.TrimSpace(msg) == "" {
		t.Fatalf("no message from the provider (neither in kubelet's log nor on its stderr)")
	}
	t.Logf("provider message:\n%s", msg)
	low := strings.ToLower(msg)
	for _, w := range want {
		ok := false
		for _, alt := range strings.Split(w, "|") {
			ok = ok || strings.Contains(low, strings.ToLower(alt))
		}
		if !ok {
			t.Errorf("provider message does not mention %q:\n%s", w, msg)
		}
	}
}

// assertProviderError checks kubelet logged the provider's failure with a
// message containing every one of want (case-insensitive; "a|b" accepts
// either) and that no
// auth file was written.
func assertProviderError(t *testing.T, e *testbed.Env, r nodeapi.Result, log string, want ...string) {
	t.Helper()
	msg := providerError(log)
	if msg == "" {
		t.Fatalf("kubelet logged no provider failure for %s/%s; kubelet log:\n%s", r.Pull.Namespace, r.Pull.Pod, log)
	}
	assertMentions(t, msg, want...)
	if !strings.Contains(msg, "crio-credential-provider: error:") {
		t.Errorf("provider stderr is not `crio-credential-provider: error: <what>: <fix>`:\n%s", msg)
	}
	if r.AuthFile.Found {
		t.Errorf("an auth file was written despite the error: %s", r.AuthFile.Content)
	}
	assertNoLeftovers(t, e)
}

// pullRecordsNode is the setup both pull-record scenarios share (kubelet's
// own code in records_test.go, the real kubelet in kubelet_test.go): the
// team's private image only on a mirror that knows `alpha`, a public image
// on the source, and namespaces a (with the mirror's pull secret) and b
// (without), each granted pod-mode RBAC.
func pullRecordsNode(e *testbed.Env, alpha testbed.Cred, nsA, nsB string) (src, mirror *testbed.Registry, a, b string) {
	src = sourceRegistry(e, "public/app:1")
	mirror = mirrorRegistry(e, "mirror", []testbed.Cred{alpha}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team")+regConf(`
[[registry]]
prefix = "docker.io/public"
location = "%s/public"
insecure = true
`, src.Host))
	a, b = e.Namespace(nsA), e.Namespace(nsB)
	e.Must(e.CP.PutPullSecret(a, "mirror-creds", map[string]testbed.Cred{mirror.Host: alpha}))
	for _, ns := range []string{a, b} {
		e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
	}
	return src, mirror, a, b
}

// tenantNamespace creates the namespace `name` (e.Namespace) with pod-mode
// RBAC for the provider; with creds, its default service account
// references the pull secret `secret` holding them (registry -> cred).
func tenantNamespace(e *testbed.Env, name, secret string, creds map[string]testbed.Cred) string {
	ns := e.Namespace(name)
	if creds != nil {
		e.Must(e.CP.PutPullSecret(ns, secret, creds))
		e.Must(e.CP.CreateServiceAccount(ns, "default", secret))
	}
	e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", testbed.PodModeRules()))
	return ns
}
