package apistub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The pod's imagePullSecrets and its service account's, both secret types,
// both entry forms; the response for each protocol version; the auth file
// merged over the global one; one API round trip per object.
func TestPodSecrets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		version       string
		flags         []string
		cacheDuration string
	}{
		{"v1", "v1", nil, "0s"},
		{"v1beta1", "v1beta1", nil, "0s"},
		{"v1alpha1", "v1alpha1", nil, "0s"},
		{"explicit --cache-duration=0s", "v1", []string{"--cache-duration=0s"}, "0s"},
		{"explicit --secrets=pod, flags with separate values", "v1",
			[]string{"--secrets", "pod", "--cache-duration", "0"}, "0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			// Not referenced by the pod or its service account: never read.
			e.secret(testNS, fixture{name: "other-creds", entries: []entry{
				{key: "mirror.example.com", user: "alpha-other"}}})
			global := map[string]any{
				"auths": map[string]any{
					// Ours wins on the same key.
					"mirror.example.com/hub/library/nginx": map[string]any{"auth": authOf("node-wide")},
					// Kept.
					"registry.corp.example.com": map[string]any{
						"auth": authOf("node-corp"), "identitytoken": "node-corp-identitytoken-xyz"},
				},
				"credHelpers": map[string]any{"gcr.io": "gcloud"},
			}
			e.addSensitive(authOf("node-wide"), passwordOf("node-wide"), authOf("node-corp"),
				passwordOf("node-corp"), "node-corp-identitytoken-xyz")
			e.writeFile(e.globalAuth, mustJSON(global), 0o600)

			res := e.run(request(c.version, nginx, e.token), c.flags...)
			if res.code != 0 {
				t.Fatalf("want exit 0\n%v", res)
			}
			checkResponse(t, res, c.version, c.cacheDuration)
			doc := e.checkAuthFile(nginx, map[string]string{
				"mirror.example.com/hub/library/nginx":             "alpha-pod",
				"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
			}, map[string]string{"registry.corp.example.com": authOf("node-corp")})
			corp, _ := doc["auths"].(map[string]any)["registry.corp.example.com"].(map[string]any)
			if corp["identitytoken"] != "node-corp-identitytoken-xyz" {
				t.Errorf("the global file's other fields are lost: %v", corp)
			}
			if !reflect.DeepEqual(doc["credHelpers"], global["credHelpers"]) {
				t.Errorf("credHelpers of the global file: got %v", doc["credHelpers"])
			}
			if got, want := files(t, e.authDir), []string{authFileName(testNS, nginx)}; !reflect.DeepEqual(got, want) {
				t.Errorf("auth dir holds %v, want only %v", got, want)
			}
			e.checkReads(
				"get pods team-alpha/web-0",
				"get serviceaccounts team-alpha/builder",
				"get secrets team-alpha/pod-creds",
				"get secrets team-alpha/sa-creds",
			)
			if reqs := e.stub.Requests(); len(reqs) > 0 && reqs[0].Resource != "pods" {
				t.Errorf("the first request is %v, want the pod", reqs[0])
			}
			for _, r := range e.stub.Requests() {
				if r.RawQuery != "" {
					t.Errorf("%v: a GET by name carries a query", r)
				}
			}
		})
	}
}

// A secret named by both the pod and its service account is read once; a
// missing global auth file is an empty one.
func TestPodSecretsSharedName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.podSecrets(fixture{name: "shared", entries: []entry{
		{key: "mirror.example.com", user: "alpha-shared", form: "both"}}})
	e.pod.SA.ImagePullSecrets = []string{"shared"}
	e.syncPod()
	res := e.run(e.request(nginx))
	checkOK(t, res)
	doc := e.checkAuthFile(nginx, map[string]string{"mirror.example.com/hub/library/nginx": "alpha-shared"}, nil)
	if len(doc) != 1 {
		t.Errorf("with no global auth file the auth file holds only auths, got %v", keysOf(doc))
	}
	e.checkReads("get pods team-alpha/web-0", "get serviceaccounts team-alpha/builder",
		"get secrets team-alpha/shared")
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// --secrets=namespace lists both pull-secret types with a field selector
// and never reads the pod.
func TestNamespaceSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.secret(testNS, fixture{name: "ns-json", entries: []entry{
		{key: "mirror.example.com", user: "alpha-ns-json"}}})
	e.secret(testNS, fixture{name: "ns-cfg", typ: TypeDockerCfg, entries: []entry{
		{key: "mirror2.example.com:5000", user: "alpha-ns-cfg", form: "userpass"}}})
	// Not a pull secret: the selector keeps it out of the lists.
	e.stub.AddSecret(Secret{Namespace: testNS, Name: "db-password", Type: "Opaque",
		Data: map[string]string{"password": base64.StdEncoding.EncodeToString([]byte("opaque-db-password-77"))}})
	e.addSensitive("opaque-db-password-77")
	// Another namespace's secrets are never seen.
	e.secret("team-beta", fixture{name: "beta", entries: []entry{
		{key: "mirror.example.com", user: "beta-user"}, {key: "*.example.com:5000", user: "beta-user2"}}})

	res := e.run(e.request(nginx), "--secrets=namespace")
	checkOK(t, res)
	e.checkAuthFile(nginx, map[string]string{
		"mirror.example.com/hub/library/nginx":             "alpha-ns-json",
		"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-ns-cfg",
	}, nil)
	e.checkReads(
		"list secrets team-alpha type=kubernetes.io/dockerconfigjson",
		"list secrets team-alpha type=kubernetes.io/dockercfg",
	)
	for _, r := range e.stub.Requests() {
		if r.Path != "/api/v1/namespaces/team-alpha/secrets" ||
			!strings.HasPrefix(r.RawQuery, "fieldSelector=type%3Dkubernetes.io%2Fdockercfg") &&
				!strings.HasPrefix(r.RawQuery, "fieldSelector=type%3Dkubernetes.io%2Fdockerconfigjson") {
			t.Errorf("list request %v: want /api/v1/namespaces/team-alpha/secrets?fieldSelector=type%%3D<type>", r)
		}
	}
}

// A namespace larger than one page is read page by page: limit=500 on
// every LIST, and the next page asked for with the continue token of the
// last one. The matching secret sits on the last page of its type.
func TestNamespaceSecretsPaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 0; i < 1001; i++ {
		e.stub.AddSecret(DockerConfigJSON(testNS, fmt.Sprintf("unused-%04d", i),
			fmt.Sprintf(`{"auths":{"unused-%04d.example.com":{"auth":"dTpw"}}}`, i)))
	}
	e.secret(testNS, fixture{name: "zz-last", entries: []entry{
		{key: "mirror.example.com", user: "alpha-last-page"}}})
	e.secret(testNS, fixture{name: "ns-cfg", typ: TypeDockerCfg, entries: []entry{
		{key: "mirror2.example.com:5000", user: "alpha-ns-cfg", form: "userpass"}}})

	res := e.run(e.request(nginx), "--secrets=namespace")
	checkOK(t, res)
	checkBudget(t, res)
	e.checkAuthFile(nginx, map[string]string{
		"mirror.example.com/hub/library/nginx":             "alpha-last-page",
		"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-ns-cfg",
	}, nil)
	jsonList := "list secrets team-alpha type=kubernetes.io/dockerconfigjson"
	e.checkReads(jsonList, jsonList, jsonList, "list secrets team-alpha type=kubernetes.io/dockercfg")
	var continued []string
	for _, r := range e.stub.Requests() {
		if r.Query.Get("limit") != "500" {
			t.Errorf("%v: want limit=500", r)
		}
		if c := r.Query.Get("continue"); c != "" {
			continued = append(continued, r.Query.Get("fieldSelector"))
		}
	}
	if want := []string{"type=kubernetes.io/dockerconfigjson", "type=kubernetes.io/dockerconfigjson"}; !reflect.DeepEqual(continued, want) {
		t.Errorf("pages asked for with a continue token: %q, want %q", continued, want)
	}
}

// Which pull sources get credentials and which key of the secrets each
// gets (kubelet's keyring rules), with and without --mirror-registry.
func TestMirrorsAndMatching(t *testing.T) {
	t.Parallel()
	digestOnlyConf := `
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.example.com/digests"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "mirror.example.com/tags"
pull-from-mirror = "tag-only"
`
	rewriteOnlyConf := `
[[registry]]
prefix = "registry.example.org/apps"
location = "registry.internal.example.com/apps"
`
	j := func(name string, entries ...entry) fixture { return fixture{name: name, entries: entries} }
	cases := []struct {
		name    string
		conf    string // registries.conf; "" for the default
		image   string
		pod, sa []fixture
		flags   []string
		want    map[string]string // auth file key -> user; nil: no file
		noAPI   bool              // no API request at all
	}{
		{name: "every mirror without --mirror-registry", image: nginx,
			pod:  []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"}, entry{key: "mirror2.example.com:5000", user: "u-m2"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-m1", "mirror2.example.com:5000/dockerhub/library/nginx": "u-m2"}},
		{name: "--mirror-registry host", image: nginx, flags: []string{"--mirror-registry=mirror.example.com"},
			pod:  []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"}, entry{key: "mirror2.example.com:5000", user: "u-m2"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-m1"}},
		{name: "--mirror-registry host:port/path", image: nginx, flags: []string{"--mirror-registry=mirror2.example.com:5000/dockerhub"},
			pod:  []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"}, entry{key: "mirror2.example.com:5000", user: "u-m2"})},
			want: map[string]string{"mirror2.example.com:5000/dockerhub/library/nginx": "u-m2"}},
		{name: "--mirror-registry repeated", image: nginx,
			flags: []string{"--mirror-registry=mirror.example.com/hub", "--mirror-registry", "mirror2.example.com:5000"},
			pod:   []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"}, entry{key: "mirror2.example.com:5000", user: "u-m2"})},
			want:  map[string]string{"mirror.example.com/hub/library/nginx": "u-m1", "mirror2.example.com:5000/dockerhub/library/nginx": "u-m2"}},
		{name: "--mirror-registry covering no mirror of the image", image: nginx, flags: []string{"--mirror-registry=mirror.example.com/quay"},
			pod:   []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"})},
			noAPI: true},
		{name: "--mirror-registry is a path prefix, not a string prefix", image: nginx, flags: []string{"--mirror-registry=mirror.example.com/hu"},
			pod:   []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"})},
			noAPI: true},
		{name: "a rewritten location gets credentials", image: "quay.io/team/app",
			pod:  []fixture{j("c", entry{key: "registry.internal.example.com", user: "u-rw"}, entry{key: "mirror.example.com", user: "u-m1"})},
			want: map[string]string{"registry.internal.example.com/quay-team/app": "u-rw", "mirror.example.com/quay/app": "u-m1"}},
		{name: "a rewrite without mirrors", conf: rewriteOnlyConf, image: "registry.example.org/apps/api",
			pod:  []fixture{j("c", entry{key: "registry.internal.example.com/apps", user: "u-rw"}, entry{key: "registry.example.org", user: "u-src"})},
			want: map[string]string{"registry.internal.example.com/apps/api": "u-rw"}},
		{name: "the source registry's own key is not a mirror's", image: nginx,
			pod: []fixture{j("c", entry{key: "docker.io", user: "u-hub"}, entry{key: "https://index.docker.io/v1/", user: "u-index"})}},
		{name: "digest-only and tag-only mirrors", conf: digestOnlyConf, image: nginx,
			pod:  []fixture{j("c", entry{key: "mirror.example.com", user: "u-m1"})},
			want: map[string]string{"mirror.example.com/digests/library/nginx": "u-m1", "mirror.example.com/tags/library/nginx": "u-m1"}},
		{name: "glob host label", image: nginx,
			pod:  []fixture{j("c", entry{key: "*.example.com", user: "u-glob"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-glob"}},
		{name: "glob host with port", image: nginx,
			pod:  []fixture{j("c", entry{key: "*.example.com:5000", user: "u-glob5000"})},
			want: map[string]string{"mirror2.example.com:5000/dockerhub/library/nginx": "u-glob5000"}},
		{name: "glob inside a label", image: nginx,
			pod:  []fixture{j("c", entry{key: "mirror*.example.com:5000", user: "u-mid"})},
			want: map[string]string{"mirror2.example.com:5000/dockerhub/library/nginx": "u-mid"}},
		{name: "label count must be equal", image: nginx,
			pod: []fixture{j("c", entry{key: "*.com", user: "u-short"}, entry{key: "example.com", user: "u-parent"}, entry{key: "*.*.*.example.com", user: "u-long"})}},
		{name: "port must be equal", image: nginx,
			pod:  []fixture{j("c", entry{key: "mirror2.example.com", user: "u-noport"}, entry{key: "mirror.example.com:443", user: "u-443"})},
			want: nil},
		{name: "path must be a prefix", image: nginx,
			pod:  []fixture{j("c", entry{key: "mirror.example.com/other", user: "u-other"}, entry{key: "mirror.example.com/hub/library", user: "u-lib"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-lib"}},
		{name: "most specific key first, across secrets", image: nginx,
			pod:  []fixture{j("a", entry{key: "*.example.com", user: "u-glob"}), j("b", entry{key: "mirror.example.com", user: "u-host"})},
			sa:   []fixture{j("s", entry{key: "mirror.example.com/hub", user: "u-path"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-path"}},
		{name: "exact host before a glob", image: nginx,
			pod:  []fixture{j("a", entry{key: "*.example.com", user: "u-glob"}, entry{key: "mirror.example.com", user: "u-host"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-host"}},
		{name: "the pod's secret before its service account's for one key", image: nginx,
			pod:  []fixture{j("p", entry{key: "mirror.example.com", user: "u-pod"})},
			sa:   []fixture{j("s", entry{key: "mirror.example.com", user: "u-sa"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-pod"}},
		{name: "scheme and /v1/ suffix of a key are ignored", image: nginx,
			pod: []fixture{j("c", entry{key: "https://mirror.example.com/hub", user: "u-https"},
				entry{key: "http://mirror2.example.com:5000/v1/", user: "u-v1"})},
			want: map[string]string{"mirror.example.com/hub/library/nginx": "u-https", "mirror2.example.com:5000/dockerhub/library/nginx": "u-v1"}},
		{name: "a mirror on docker.io matches a docker.io key", image: "quay.io/fallback/app",
			pod:  []fixture{j("c", entry{key: "docker.io", user: "u-hub"})},
			want: map[string]string{"docker.io/mirrororg/app": "u-hub"}},
		{name: "no index.docker.io fallback for a mirror", image: "quay.io/fallback/app",
			pod: []fixture{j("c", entry{key: "https://index.docker.io/v1/", user: "u-index"})}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if c.conf != "" {
				e.writeFile(e.regConf, c.conf, 0o644)
			}
			e.podSecrets(c.pod...)
			e.saSecrets(c.sa...)
			res := e.run(e.request(c.image), c.flags...)
			checkOK(t, res)
			if c.want != nil {
				e.checkAuthFile(c.image, c.want, nil)
			} else if got := files(t, e.authDir); len(got) != 0 {
				t.Errorf("want no auth file, the auth dir holds %v", got)
			}
			if n := len(e.stub.Requests()); c.noAPI && n != 0 {
				t.Errorf("want no API request, got %q", reads(e.stub.Requests()))
			} else if !c.noAPI && n == 0 {
				t.Errorf("want the pod's secrets read, got no API request")
			}
		})
	}
}

// Nothing to write is not an error, and a leftover file for the same
// namespace and image goes: a revoked secret stops working at the next
// pull.
func TestNothingToWriteRevokes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		image string
		setup func(e *env)
		reads []string
	}{
		{name: "no registries.conf entry for the image", image: "ghcr.io/acme/tool",
			setup: func(e *env) { e.standardSecrets() }},
		{name: "registries.conf entry without mirrors", image: "registry.example.org/x/y",
			setup: func(e *env) {
				e.writeFile(e.regConf, defaultRegistriesConf+"\n[[registry]]\nlocation = \"registry.example.org\"\n", 0o644)
				e.standardSecrets()
			}},
		// containers/image checks blocked against each pull source's own
		// name: a mirror under a blocked entry is never pulled from.
		{name: "blocked mirror", image: "registry.example.org/x/y",
			setup: func(e *env) {
				e.writeFile(e.regConf, defaultRegistriesConf+`
[[registry]]
location = "registry.example.org"
[[registry.mirror]]
location = "mirror.example.com/blocked"
[[registry]]
location = "mirror.example.com/blocked"
blocked = true
`, 0o644)
				e.standardSecrets()
			}},
		{name: "no secret matches a mirror", image: nginx,
			setup: func(e *env) {
				e.podSecrets(fixture{name: "elsewhere", entries: []entry{{key: "registry.other.example.net", user: "u-else"}}})
			},
			reads: []string{"get pods team-alpha/web-0", "get serviceaccounts team-alpha/builder", "get secrets team-alpha/elsewhere"}},
		{name: "the pod and its service account name no secret", image: nginx,
			setup: func(e *env) {},
			reads: []string{"get pods team-alpha/web-0", "get serviceaccounts team-alpha/builder"}},
		{name: "the secret was deleted", image: nginx,
			setup: func(e *env) {
				e.pod.Pod.ImagePullSecrets = []string{"revoked"}
				e.syncPod()
			},
			reads: []string{"get pods team-alpha/web-0", "get serviceaccounts team-alpha/builder", "get secrets team-alpha/revoked"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c.setup(e)
			if err := os.MkdirAll(filepath.Join(e.authDir, "in-use"), 0o700); err != nil {
				t.Fatal(err)
			}
			leftover := e.authFile(c.image)
			otherNS := filepath.Join(e.authDir, authFileName("team-beta", c.image))
			otherImage := e.authFile("docker.io/library/redis")
			inUse := filepath.Join(e.authDir, "in-use", authFileName(testNS, c.image)[:len(authFileName(testNS, c.image))-5]+"-0f6d1c0e.json")
			for _, p := range []string{leftover, otherNS, otherImage, inUse} {
				e.writeFile(p, `{"auths":{"mirror.example.com":{"auth":"`+authOf("revoked-user")+`"}}}`, 0o600)
			}
			e.addSensitive(authOf("revoked-user"))
			res := e.run(e.request(c.image))
			checkOK(t, res)
			if _, err := os.Stat(leftover); !os.IsNotExist(err) {
				t.Errorf("the leftover auth file %s is still there (%v)", leftover, err)
			}
			for _, p := range []string{otherNS, otherImage, inUse} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s must stay: %v", p, err)
				}
			}
			e.checkReads(c.reads...)
		})
	}
}

// A malformed pull secret is skipped with a warning that names it and
// shows none of its content; the other secrets are still used.
func TestMalformedSecretSkipped(t *testing.T) {
	t.Parallel()
	const badContent = "bad-secret-content-Hq3vW"
	cases := []struct {
		name   string
		secret Secret
	}{
		{"auth not base64", DockerConfigJSON(testNS, "broken",
			`{"auths":{"mirror2.example.com:5000":{"auth":"`+badContent+`!!@@"}}}`)},
		{"auth without a colon", DockerConfigJSON(testNS, "broken",
			`{"auths":{"mirror2.example.com:5000":{"auth":"`+base64.StdEncoding.EncodeToString([]byte(badContent))+`"}}}`)},
		{"not JSON", DockerConfigJSON(testNS, "broken", `{"auths":{"mirror2.example.com:5000":{"auth":"`+badContent)},
		{"JSON of the wrong shape", DockerConfigJSON(testNS, "broken", `{"auths":["`+badContent+`"]}`)},
		{"legacy dockercfg not JSON", DockerCfg(testNS, "broken", `mirror2.example.com:5000 `+badContent)},
		{"password not a string", DockerConfigJSON(testNS, "broken",
			`{"auths":{"mirror2.example.com:5000":{"username":"u","password":["`+badContent+`"]}}}`)},
		{"data not base64", Secret{Namespace: testNS, Name: "broken", Type: TypeDockerConfigJSON,
			Data: map[string]string{".dockerconfigjson": "%%" + badContent + "%%"}}},
		{"not a pull-secret type", Secret{Namespace: testNS, Name: "broken", Type: "Opaque",
			Data: map[string]string{"password": base64.StdEncoding.EncodeToString([]byte(badContent))}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.addSensitive(badContent, c.secret.Data[".dockerconfigjson"], c.secret.Data[".dockercfg"])
			e.stub.AddSecret(c.secret)
			e.pod.Pod.ImagePullSecrets = []string{"broken"}
			e.syncPod()
			e.podSecrets(fixture{name: "good", entries: []entry{{key: "mirror.example.com", user: "u-good"}}})
			res := e.run(e.request(nginx))
			checkOK(t, res)
			e.checkAuthFile(nginx, map[string]string{"mirror.example.com/hub/library/nginx": "u-good"}, nil)
			warn := regexp.MustCompile(`(?m)^crio-credential-provider: warning: .*\bbroken\b.*$`)
			if !warn.MatchString(res.stderr) {
				t.Errorf("want a warning naming the secret \"broken\"\n%v", res)
			}
			if strings.Contains(res.stderr, "mirror2.example.com:5000 ") {
				t.Errorf("the warning quotes the secret's content\n%v", res)
			}
			e.checkReads("get pods team-alpha/web-0", "get serviceaccounts team-alpha/builder",
				"get secrets team-alpha/broken", "get secrets team-alpha/good")
		})
	}
}

// Unconsumed auth files older than --stale-after go; fresh ones, files of
// another shape and in-use/ stay.
func TestStaleCleanup(t *testing.T) {
	t.Parallel()
	for _, image := range []string{nginx, "ghcr.io/acme/tool"} {
		t.Run(image, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			if err := os.MkdirAll(filepath.Join(e.authDir, "in-use"), 0o700); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-10 * time.Minute)
			content := `{"auths":{}}`
			stale := []string{
				authFileName("team-beta", "docker.io/library/redis"),
				authFileName("kube-system", "quay.io/team/app"),
			}
			keep := []string{
				authFileName("team-gamma", "docker.io/library/busybox"), // fresh
				"notes.json",
				"team-alpha-not-a-hash.json",
				"in-use/" + strings.TrimSuffix(authFileName("team-beta", "docker.io/library/redis"), ".json") + "-5d0c9a3e-1111-4c4c-9d9d-0123456789ab.json",
			}
			for _, name := range append(append([]string(nil), stale...), keep...) {
				p := filepath.Join(e.authDir, name)
				e.writeFile(p, content, 0o600)
				if name != keep[0] {
					if err := os.Chtimes(p, old, old); err != nil {
						t.Fatal(err)
					}
				}
			}
			res := e.run(e.request(image), "--stale-after=2m")
			checkOK(t, res)
			for _, name := range stale {
				if _, err := os.Stat(filepath.Join(e.authDir, name)); !os.IsNotExist(err) {
					t.Errorf("stale %s is still there (%v)", name, err)
				}
			}
			for _, name := range keep {
				if _, err := os.Stat(filepath.Join(e.authDir, name)); err != nil {
					t.Errorf("%s must stay: %v", name, err)
				}
			}
			if image == nginx {
				e.checkAuthFile(nginx, map[string]string{
					"mirror.example.com/hub/library/nginx":             "alpha-pod",
					"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
				}, nil)
			}
		})
	}
}

// Transient API trouble is retried and the pull gets its credentials.
func TestRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		fault    Fault
		resource string
		minGap   time.Duration // between the failed attempt and the retry
	}{
		{"429 with Retry-After on the pod", Fault{Resource: "pods", Times: 1, Status: 429, RetryAfter: "1"}, "pods", 900 * time.Millisecond},
		{"503 on a secret", Fault{Resource: "secrets", Name: "pod-creds", Times: 1, Status: 503}, "secrets", 0},
		{"500 twice on the service account", Fault{Resource: "serviceaccounts", Times: 2, Status: 500}, "serviceaccounts", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			e.stub.AddFault(c.fault)
			res := e.run(e.request(nginx))
			checkOK(t, res)
			e.checkAuthFile(nginx, map[string]string{
				"mirror.example.com/hub/library/nginx":             "alpha-pod",
				"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
			}, nil)
			var attempts []Request
			for _, r := range e.stub.Requests() {
				if r.Resource == c.resource && (c.fault.Name == "" || r.Name == c.fault.Name) {
					attempts = append(attempts, r)
				}
			}
			if len(attempts) != c.fault.Times+1 {
				t.Fatalf("want %d attempts at %s, got %q", c.fault.Times+1, c.resource, reads(attempts))
			}
			if gap := attempts[1].At.Sub(attempts[0].At); gap < c.minGap {
				t.Errorf("retried after %v, want at least %v (Retry-After)", gap, c.minGap)
			}
			if n := len(e.stub.Requests()); n != 4+c.fault.Times {
				t.Errorf("want %d round trips, got %q", 4+c.fault.Times, reads(e.stub.Requests()))
			}
		})
	}
}

// The request's image is used as kubelet passes it (normalized); the auth
// file name is CRI-O's for that name.
func TestAuthFileNamePerImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.podSecrets(fixture{name: "c", entries: []entry{{key: "mirror.example.com", user: "u-m1"}}})
	for _, image := range []string{"docker.io/library/nginx", "docker.io/bitnami/redis", "quay.io/team/app"} {
		res := e.run(e.request(image))
		checkOK(t, res)
		if _, err := os.Stat(e.authFile(image)); err != nil {
			t.Errorf("%s: %v (auth dir holds %v)", image, err, files(t, e.authDir))
		}
	}
	if got := files(t, e.authDir); len(got) != 3 {
		t.Errorf("want three auth files, got %v", got)
	}
	raw, err := os.ReadFile(e.authFile("docker.io/bitnami/redis"))
	if err == nil {
		var doc struct {
			Auths map[string]json.RawMessage `json:"auths"`
		}
		_ = json.Unmarshal(raw, &doc)
		if _, ok := doc.Auths["mirror.example.com/hub/bitnami/redis"]; !ok || len(doc.Auths) != 1 {
			t.Errorf("auth file for docker.io/bitnami/redis has keys %v", keysOfRaw(doc.Auths))
		}
	}
}

func keysOfRaw(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
