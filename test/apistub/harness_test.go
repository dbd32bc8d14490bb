package apistub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Set up once by TestMain.
var (
	binary      string
	serverCert  tls.Certificate
	caFile      string // the CA that issued serverCert
	wrongCAFile string // an unrelated CA
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	binary = os.Getenv("CRIO_CREDENTIAL_PROVIDER_BIN")
	if binary == "" {
		// Relative to test/; the tests run in test/apistub.
		binary = filepath.Join("..", "..", "build", "crio-credential-provider")
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	if st, err := os.Stat(binary); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		fmt.Fprintf(os.Stderr, "apistub: no provider binary at %s (%v): build it with "+
			"`cmake -S . -B build -G Ninja && ninja -C build` in the repository root, "+
			"or set CRIO_CREDENTIAL_PROVIDER_BIN to its absolute path\n", binary, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "apistub-pki-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "apistub:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ca, err := NewCA("apistub cluster CA")
	if err == nil {
		serverCert, err = ca.ServerCert()
	}
	var wrong *CA
	if err == nil {
		wrong, err = NewCA("apistub unrelated CA")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apistub: certificates:", err)
		return 1
	}
	caFile = filepath.Join(dir, "ca.crt")
	wrongCAFile = filepath.Join(dir, "wrong-ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "apistub:", err)
		return 1
	}
	if err := os.WriteFile(wrongCAFile, wrong.CertPEM, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "apistub:", err)
		return 1
	}
	return m.Run()
}

// The pod every test pulls for, unless it says otherwise.
const (
	testNS     = "team-alpha"
	testPod    = "web-0"
	testPodUID = "5b0e1f2a-8c43-4d6e-9a71-2f3c4d5e6f70"
	testSA     = "builder"
	testSAUID  = "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
	testNode   = "node-1"
	nginx      = "docker.io/library/nginx"
)

// The default registries.conf: Docker Hub through two mirrors, a quay.io
// namespace rewritten to an internal registry (plus a mirror), and a
// quay.io namespace mirrored onto docker.io.
const defaultRegistriesConf = `
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.example.com/hub"
[[registry.mirror]]
location = "mirror2.example.com:5000/dockerhub"

[[registry]]
prefix = "quay.io/team"
location = "registry.internal.example.com/quay-team"
[[registry.mirror]]
location = "mirror.example.com/quay"

[[registry]]
prefix = "quay.io/fallback"
location = "quay.io/fallback"
[[registry.mirror]]
location = "docker.io/mirrororg"
`

// env is one provider installation: a stub API server with the test pod
// and its service account, and private paths for every file the provider
// touches.
type env struct {
	t     *testing.T
	stub  *Server
	id    Identity
	token string

	dir           string
	authDir       string // not created: the provider creates it
	globalAuth    string // absent unless a test writes it
	regConf       string
	regConfDir    string
	kubeConfigDir string // empty: nothing from the host's /etc/kubernetes
	caFile        string
	apiServer     string
	bin           string // the provider binary; empty: binary

	pod podObjects
	// Strings that must never appear in the provider's output.
	sensitive []string
}

// podObjects are the test pod and its service account as stored.
type podObjects struct {
	Pod Pod
	SA  ServiceAccount
}

func newEnv(t *testing.T) *env {
	t.Helper()
	id := Identity{
		Namespace: testNS, ServiceAccount: testSA, SAUID: testSAUID,
		Pod: testPod, PodUID: testPodUID, Node: testNode,
		NodeUID: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
	}
	token := ForgeToken(id)
	stub, err := Start(serverCert, token)
	if err != nil {
		t.Fatalf("start the API stub: %v", err)
	}
	t.Cleanup(stub.Close)
	dir := t.TempDir()
	e := &env{
		t: t, stub: stub, id: id, token: token, dir: dir,
		authDir:       filepath.Join(dir, "crio", "auth"),
		globalAuth:    filepath.Join(dir, "kubelet", "config.json"),
		regConf:       filepath.Join(dir, "registries.conf"),
		regConfDir:    filepath.Join(dir, "registries.conf.d"),
		kubeConfigDir: filepath.Join(dir, "kubernetes"),
		caFile:        caFile,
		apiServer:     stub.URL,
	}
	e.addSensitive(token)
	e.addSensitive(strings.Split(token, ".")...)
	for _, d := range []string{e.regConfDir, e.kubeConfigDir, filepath.Dir(e.globalAuth)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.writeFile(e.regConf, defaultRegistriesConf, 0o644)
	e.pod = podObjects{
		Pod: Pod{Namespace: testNS, Name: testPod, UID: testPodUID,
			ServiceAccount: testSA, NodeName: testNode},
		SA: ServiceAccount{Namespace: testNS, Name: testSA, UID: testSAUID},
	}
	e.syncPod()
	return e
}

func (e *env) syncPod() {
	e.stub.AddPod(e.pod.Pod)
	e.stub.AddServiceAccount(e.pod.SA)
}

func (e *env) addSensitive(s ...string) {
	for _, v := range s {
		if len(v) >= 6 {
			e.sensitive = append(e.sensitive, v)
		}
	}
}

func (e *env) writeFile(path, content string, mode os.FileMode) {
	e.t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		e.t.Fatal(err)
	}
}

// entry is one registry credential of a pull secret.
type entry struct {
	key, user string
	// How it is written: "auth" (base64 user:password), "userpass"
	// (username + password fields) or "both".
	form string
}

// passwordOf is the password of user in every fixture: long and
// distinctive so a leak is found by a plain substring search.
func passwordOf(user string) string { return "Pw." + user + ".q7Zr!9x" }

func authOf(user string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + passwordOf(user)))
}

func (en entry) object() map[string]any {
	m := map[string]any{}
	switch en.form {
	case "userpass":
		m["username"], m["password"] = en.user, passwordOf(en.user)
	case "both":
		m["username"], m["password"] = en.user, passwordOf(en.user)
		m["auth"] = authOf(en.user)
	default:
		m["auth"] = authOf(en.user)
		m["email"] = en.user + "@example.com"
	}
	return m
}

func entriesObject(entries []entry) map[string]any {
	m := map[string]any{}
	for _, en := range entries {
		m[en.key] = en.object()
	}
	return m
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// fixture is a pull secret of the test namespace.
type fixture struct {
	name    string
	typ     string // TypeDockerConfigJSON (default) or TypeDockerCfg
	entries []entry
}

// secret stores a well-formed pull secret in namespace ns.
func (e *env) secret(ns string, f fixture) {
	for _, en := range f.entries {
		e.addSensitive(passwordOf(en.user), authOf(en.user))
	}
	switch f.typ {
	case TypeDockerCfg:
		e.stub.AddSecret(DockerCfg(ns, f.name, mustJSON(entriesObject(f.entries))))
	default:
		e.stub.AddSecret(DockerConfigJSON(ns, f.name,
			mustJSON(map[string]any{"auths": entriesObject(f.entries)})))
	}
}

// podSecrets stores fs in the test namespace and lists them in the pod's
// spec.imagePullSecrets; saSecrets does the same for the service account.
func (e *env) podSecrets(fs ...fixture) {
	for _, f := range fs {
		e.secret(testNS, f)
		e.pod.Pod.ImagePullSecrets = append(e.pod.Pod.ImagePullSecrets, f.name)
	}
	e.syncPod()
}

func (e *env) saSecrets(fs ...fixture) {
	for _, f := range fs {
		e.secret(testNS, f)
		e.pod.SA.ImagePullSecrets = append(e.pod.SA.ImagePullSecrets, f.name)
	}
	e.syncPod()
}

// standardSecrets: the pod's own secret (dockerconfigjson, "auth" form)
// for mirror.example.com and its service account's (legacy dockercfg,
// username/password) for mirror2.example.com:5000.
func (e *env) standardSecrets() {
	e.podSecrets(fixture{name: "pod-creds", entries: []entry{
		{key: "mirror.example.com", user: "alpha-pod", form: "auth"}}})
	e.saSecrets(fixture{name: "sa-creds", typ: TypeDockerCfg, entries: []entry{
		{key: "mirror2.example.com:5000", user: "alpha-sa", form: "userpass"}}})
}

// request is a CredentialProviderRequest as kubelet sends it.
func request(version, image, token string) []byte {
	return []byte(mustJSON(map[string]any{
		"kind":                      "CredentialProviderRequest",
		"apiVersion":                "credentialprovider.kubelet.k8s.io/" + version,
		"image":                     image,
		"serviceAccountToken":       token,
		"serviceAccountAnnotations": map[string]string{},
	}))
}

func (e *env) request(image string) []byte { return request("v1", image, e.token) }

type result struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
	// image is the request's image; wrote is true when the test namespace's
	// auth file for it exists after the run.
	image string
	wrote bool
	cpu   time.Duration // user + system time of the provider
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\n--- stdout\n%s--- stderr\n%s", r.code,
		r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// flags are the provider flags pointing everything at this env; an empty
// apiServer or caFile leaves that flag out.
func (e *env) flags() []string {
	var f []string
	if e.apiServer != "" {
		f = append(f, "--api-server="+e.apiServer)
	}
	if e.caFile != "" {
		f = append(f, "--ca-file="+e.caFile)
	}
	return append(f,
		"--auth-dir="+e.authDir,
		"--global-auth-file="+e.globalAuth,
		"--registries-conf="+e.regConf,
		"--registries-conf-dir="+e.regConfDir,
		"--kube-config-dir="+e.kubeConfigDir,
		"--log-level=debug",
	)
}

// run runs the provider with stdin and the env's flags followed by extra.
func (e *env) run(stdin []byte, extra ...string) result {
	e.t.Helper()
	return e.runWrapped(nil, stdin, extra...)
}

// runWrapped runs the provider under wrapper (argv prefix; the binary and
// its arguments follow).
func (e *env) runWrapped(wrapper []string, stdin []byte, extra ...string) result {
	e.t.Helper()
	args := append(e.flags(), extra...)
	bin := binary
	if e.bin != "" {
		bin = e.bin
	}
	argv := append(append(append([]string(nil), wrapper...), bin), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = cleanEnv()
	start := time.Now()
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String(),
		elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		res.code = cmd.ProcessState.ExitCode()
		res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if ctx.Err() != nil {
		e.t.Fatalf("the provider did not finish within 30s\n%v", res)
	}
	var req struct {
		Image string `json:"image"`
	}
	if json.Unmarshal(stdin, &req) == nil && req.Image != "" {
		res.image = req.Image
		_, err := os.Lstat(filepath.Join(e.authDir, authFileName(testNS, req.Image)))
		res.wrote = err == nil
	}
	if cmd.ProcessState == nil {
		e.t.Fatalf("cannot run %s: %v", bin, err)
	}
	e.checkNoLeak(res)
	checkPrintable(e.t, res)
	return res
}

func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONTAINERS_") || strings.HasPrefix(kv, "KUBERNETES_") ||
			strings.HasPrefix(kv, "REGISTRY_AUTH_FILE=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// checkNoLeak: no token, token segment, password or encoded credential in
// the provider's output, whatever it did.
func (e *env) checkNoLeak(res result) {
	e.t.Helper()
	for _, s := range e.sensitive {
		for stream, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr} {
			if strings.Contains(text, s) {
				e.t.Errorf("%s leaks secret material %q\n%v", stream, s, res)
			}
		}
	}
}

// authFileName is CRI-O's name for the auth file of a pull of image (a
// normalized repository name) by a pod of namespace ns.
func authFileName(ns, image string) string {
	sum := sha256.Sum256([]byte(image))
	return ns + "-" + hex.EncodeToString(sum[:]) + ".json"
}

func (e *env) authFile(image string) string {
	return filepath.Join(e.authDir, authFileName(testNS, image))
}

// files lists the regular files under dir (relative paths, sorted); a
// missing dir has none.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// checkResponse: stdout is exactly one CredentialProviderResponse of
// apiVersion version that kubelet's strict decoder accepts. Its auth holds
// one entry, the requested image with an empty username and password,
// exactly when the run left an auth file for the image (kubelet then ties
// the pull to the pod's service account), and nothing otherwise.
func checkResponse(t *testing.T, res result, version, cacheDuration string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(res.stdout))
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%v", err, res)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON value\n%v", res)
	}
	want := map[string]any{
		"kind":          "CredentialProviderResponse",
		"apiVersion":    "credentialprovider.kubelet.k8s.io/" + version,
		"cacheKeyType":  "Image",
		"cacheDuration": cacheDuration,
		"auth":          map[string]any{},
	}
	if res.wrote {
		want["auth"] = map[string]any{res.image: map[string]any{"username": "", "password": ""}}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("response\n got %v\nwant %v", got, want)
	}
}

// checkOK: exit 0 and a v1 response with cacheDuration 0s.
func checkOK(t *testing.T, res result) {
	t.Helper()
	if res.code != 0 {
		t.Fatalf("want exit 0\n%v", res)
	}
	checkResponse(t, res, "v1", "0s")
}

var errorLine = regexp.MustCompile(`(?m)^crio-credential-provider: error: .*$`)

// checkFailure: exit 1, nothing on stdout, exactly one error line on
// stderr that matches every phrase.
func checkFailure(t *testing.T, res result, phrases ...string) {
	t.Helper()
	var problems []string
	if res.code != 1 {
		problems = append(problems, fmt.Sprintf("want exit 1, got %d", res.code))
	}
	if res.stdout != "" {
		problems = append(problems, "want nothing on stdout")
	}
	lines := errorLine.FindAllString(res.stderr, -1)
	if len(lines) != 1 {
		problems = append(problems, fmt.Sprintf("want exactly one error line on stderr, got %d", len(lines)))
	} else {
		t.Logf("%s", lines[0])
		for _, p := range phrases {
			if !regexp.MustCompile(p).MatchString(lines[0]) {
				problems = append(problems, fmt.Sprintf("the error line does not match %q", p))
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s\n%v", strings.Join(problems, "\n"), res)
	}
}

// checkAuthFile reads the auth file for image and checks its modes and
// that its auths hold exactly want (key -> user, password passwordOf(user))
// plus the keys of extra (key -> raw auth value).
func (e *env) checkAuthFile(image string, want map[string]string, extra map[string]string) map[string]any {
	t := e.t
	t.Helper()
	path := e.authFile(image)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no auth file %s: %v (auth dir holds %v)", path, err, files(t, e.authDir))
	}
	if st.Mode().Perm() != 0o600 || !st.Mode().IsRegular() {
		t.Errorf("auth file mode %v, want -rw-------", st.Mode())
	}
	dst, err := os.Stat(e.authDir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("auth dir mode %v, want drwx------", dst.Mode())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("auth file is not JSON: %v\n%s", err, raw)
	}
	auths, _ := doc["auths"].(map[string]any)
	got := map[string]string{}
	for k, v := range auths {
		obj, _ := v.(map[string]any)
		a, _ := obj["auth"].(string)
		got[k] = a
	}
	wantRaw := map[string]string{}
	for k, user := range want {
		wantRaw[k] = authOf(user)
	}
	for k, v := range extra {
		wantRaw[k] = v
	}
	if !reflect.DeepEqual(got, wantRaw) {
		t.Errorf("auth file keys\n got %s\nwant %s", describeAuths(got), describeAuths(wantRaw))
	}
	return doc
}

// describeAuths shows key -> user (never the password) for messages.
func describeAuths(m map[string]string) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		dec, err := base64.StdEncoding.DecodeString(m[k])
		user := "<not base64>"
		if err == nil {
			user, _, _ = strings.Cut(string(dec), ":")
		}
		fmt.Fprintf(&b, "\n  %s -> %s", k, user)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// reads summarizes requests as "verb resource ns/name" (lists with their
// field selector), in order.
func reads(reqs []Request) []string {
	var out []string
	for _, r := range reqs {
		s := r.Verb + " " + r.Resource + " " + r.Namespace + "/" + r.Name
		if r.Verb == "list" {
			s = r.Verb + " " + r.Resource + " " + r.Namespace + " " + r.Query.Get("fieldSelector")
		}
		if r.Method != "GET" {
			s = r.Method + " " + s
		}
		out = append(out, s)
	}
	return out
}

// checkReads: the stub saw exactly want (in any order), each a GET with
// the pod's token.
func (e *env) checkReads(want ...string) {
	t := e.t
	t.Helper()
	reqs := e.stub.Requests()
	got := reads(reqs)
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if len(g) == 0 {
		g = nil
	}
	if len(w) == 0 {
		w = nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("API requests\n got %q\nwant %q", got, want)
	}
	for _, r := range reqs {
		if !r.HasAuth || !r.TokenOK {
			t.Errorf("%v: Authorization present %v, bearer token is the pod's %v", r, r.HasAuth, r.TokenOK)
		}
	}
}

func count(reqs []Request, verb, resource, name string) int {
	n := 0
	for _, r := range reqs {
		if r.Verb == verb && r.Resource == resource && (name == "" || r.Name == name) {
			n++
		}
	}
	return n
}

func TestAuthFileNameMatchesCRIO(t *testing.T) {
	// The example of docs/contracts.md section 3.
	got := authFileName("default", "docker.io/library/nginx")
	want := "default-7e59ad64326bc321517fb6fc6586de5ee149178394d9edfa2a877176cdf6fad5.json"
	if got != want {
		t.Fatalf("authFileName = %s, want %s", got, want)
	}
}
