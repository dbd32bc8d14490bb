package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/kubernetes/pkg/credentialprovider"
)

// ---- pull secrets (the --dockercfg files) ----

type secretEntry struct {
	Key                string
	Username, Password string
	// 0: auth (padded base64), 1: auth without padding, 2: username+password
	// fields, 3: auth plus decoy username/password fields (auth wins).
	Form int
}

type secretFile struct {
	Legacy  bool // kubernetes.io/dockercfg: {KEY:{...}} instead of {"auths":{KEY:{...}}}
	Entries []secretEntry
	Raw     string // written verbatim when set (curated cases)
}

func (e secretEntry) object() map[string]string {
	auth := base64.StdEncoding.EncodeToString([]byte(e.Username + ":" + e.Password))
	switch e.Form {
	case 1:
		return map[string]string{"auth": strings.TrimRight(auth, "=")}
	case 2:
		return map[string]string{"username": e.Username, "password": e.Password}
	case 3:
		return map[string]string{"auth": auth, "username": "decoy-" + e.Username, "password": "decoy"}
	default:
		return map[string]string{"auth": auth}
	}
}

func (f secretFile) render() string {
	if f.Raw != "" {
		return f.Raw
	}
	m := map[string]map[string]string{}
	for _, e := range f.Entries {
		m[e.Key] = e.object()
	}
	var v any = m
	if !f.Legacy {
		v = map[string]any{"auths": m}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (f secretFile) goString() string {
	if f.Raw != "" {
		return fmt.Sprintf("{Legacy: %t, Raw: %q}", f.Legacy, f.Raw)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{Legacy: %t, Entries: []secretEntry{", f.Legacy)
	for i, e := range f.Entries {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "{Key: %q, Username: %q, Password: %q, Form: %d}", e.Key, e.Username, e.Password, e.Form)
	}
	b.WriteString("}}")
	return b.String()
}

func writeSecrets(dir string, files []secretFile) ([]string, error) {
	var paths []string
	for i, f := range files {
		p := filepath.Join(dir, "secret"+strconv.Itoa(i)+".json")
		if err := os.WriteFile(p, []byte(f.render()), 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// kubeletKeyring builds kubelet's keyring from the files as
// pkg/credentialprovider/secrets does (one BasicDockerKeyring, secrets in order).
func kubeletKeyring(files []secretFile) (*credentialprovider.BasicDockerKeyring, error) {
	kr := &credentialprovider.BasicDockerKeyring{}
	for i, f := range files {
		data := []byte(f.render())
		var cfg credentialprovider.DockerConfig
		if f.Legacy {
			if err := json.Unmarshal(data, &cfg); err != nil {
				return nil, fmt.Errorf("secret %d: %w", i, err)
			}
		} else {
			var j credentialprovider.DockerConfigJSON
			if err := json.Unmarshal(data, &j); err != nil {
				return nil, fmt.Errorf("secret %d: %w", i, err)
			}
			cfg = j.Auths
		}
		kr.Add(&credentialprovider.CredentialSource{Secret: &credentialprovider.SecretCoordinates{Name: strconv.Itoa(i)}}, cfg)
	}
	return kr, nil
}

// keyringIndex reads the keyring's (unexported) sorted index and the length
// of each key's credential list.
func keyringIndex(kr *credentialprovider.BasicDockerKeyring) (keys []string, counts map[string]int) {
	v := reflect.ValueOf(kr).Elem()
	idx, creds := v.FieldByName("index"), v.FieldByName("creds")
	counts = map[string]int{}
	for i := range idx.Len() {
		k := idx.Index(i).String()
		keys = append(keys, k)
		counts[k] = creds.MapIndex(reflect.ValueOf(k)).Len()
	}
	return keys, counts
}

type matchEntry struct {
	Key, Username, Password string
	Fallback                bool
}

// kubeletLookup returns kubelet's ordered answer, each entry labelled with
// the index key it came from.
func kubeletLookup(kr *credentialprovider.BasicDockerKeyring, image string) []matchEntry {
	got, _ := kr.Lookup(image)
	keys, counts := keyringIndex(kr)
	var labels []string
	for _, k := range keys {
		if ok, _ := credentialprovider.URLsMatchStr(k, image); ok {
			for range counts[k] {
				labels = append(labels, k)
			}
		}
	}
	fallback := false
	if len(labels) == 0 && len(got) > 0 {
		fallback = true
		for range got {
			labels = append(labels, "index.docker.io")
		}
	}
	if len(labels) != len(got) {
		panic(fmt.Sprintf("keyring labelling out of step for %q: %d labels, %d results", image, len(labels), len(got)))
	}
	out := []matchEntry{}
	for i, a := range got {
		out = append(out, matchEntry{Key: labels[i], Username: a.Username, Password: a.Password, Fallback: fallback})
	}
	return out
}

type matchCase struct {
	Files []secretFile
	Image string
}

func (c matchCase) goString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Image: %q, Files: []secretFile{", c.Image)
	for i, f := range c.Files {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.goString())
	}
	b.WriteString("}}")
	return b.String()
}

type matchEnv struct{ bin, root string }

func newMatchEnv(t *testing.T) *matchEnv { return &matchEnv{bin: providerBin(t), root: t.TempDir()} }

// fileOf says which secret a username came from (-1: unknown or ambiguous).
func fileOf(files []secretFile) map[string]int {
	m := map[string]int{}
	for i, f := range files {
		for _, e := range f.Entries {
			if _, dup := m[e.Username]; dup {
				m[e.Username] = -1
			} else {
				m[e.Username] = i
			}
		}
	}
	return m
}

// canonical sorts each run of one key by (secret, username): kubelet's order
// inside one secret is Go map order, i.e. random.
func canonical(es []matchEntry, file map[string]int) []matchEntry {
	out := slices.Clone(es)
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && out[j].Key == out[i].Key && out[j].Fallback == out[i].Fallback {
			j++
		}
		slices.SortStableFunc(out[i:j], func(a, b matchEntry) int {
			if fa, fb := file[a.Username], file[b.Username]; fa != fb {
				return fa - fb
			}
			return strings.Compare(a.Username, b.Username)
		})
		i = j
	}
	return out
}

func showEntries(es []matchEntry) string {
	var parts []string
	for _, e := range es {
		s := fmt.Sprintf("%s=%s", e.Key, e.Username)
		if e.Fallback {
			s += "(fallback)"
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (e *matchEnv) check(c matchCase) *disagreement {
	dir, err := os.MkdirTemp(e.root, "m")
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	paths, err := writeSecrets(dir, c.Files)
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error()}
	}
	args := []string{"match", "--json"}
	for _, p := range paths {
		args = append(args, "--dockercfg", p)
	}
	args = append(args, c.Image)
	res, err := run(e.bin, args...)
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error(), Detail: res.String()}
	}
	kr, kerr := kubeletKeyring(c.Files)
	if kerr != nil {
		if res.Code == 0 {
			return &disagreement{Sig: "accepts a secret kubelet rejects", Detail: fmt.Sprintf("ours: %s\n  kubelet: %v", res, kerr)}
		}
		return nil
	}
	want := kubeletLookup(kr, c.Image)
	if res.Code != 0 {
		return &disagreement{Sig: "match fails", Detail: fmt.Sprintf("ours: %s\n  kubelet: %s", res, showEntries(want))}
	}
	var got []matchOut
	if err := decodeStrict(res.Stdout, &got); err != nil {
		return &disagreement{Sig: "bad JSON", Detail: fmt.Sprintf("ours: %s (decode: %v)", res, err)}
	}
	gotE := []matchEntry{}
	for _, g := range got {
		gotE = append(gotE, matchEntry{Key: g.Key, Username: g.Username, Fallback: g.Fallback})
	}
	for i := range want {
		want[i].Password = ""
	}
	file := fileOf(c.Files)
	// secrets' order inside one key must be kept
	for i := 1; i < len(gotE); i++ {
		// A user name no entry declares (a hand-written secret's) has no
		// known secret: no order to check.
		cur, ok1 := file[gotE[i].Username]
		prev, ok2 := file[gotE[i-1].Username]
		if gotE[i].Key == gotE[i-1].Key && ok1 && ok2 && cur >= 0 && prev > cur {
			return &disagreement{Sig: "secrets out of order within a key", Detail: fmt.Sprintf("ours:    %s\n  kubelet: %s", showEntries(gotE), showEntries(want))}
		}
	}
	cw, cg := canonical(want, file), canonical(gotE, file)
	if !slices.Equal(cw, cg) {
		sig := "credentials differ"
		switch {
		case len(cw) == 0:
			sig = "credentials where kubelet has none"
		case len(cg) == 0:
			sig = "no credentials where kubelet has some"
		case len(cw) != len(cg):
			sig = "credentials differ (count)"
		default:
			sig = "credentials differ (order/keys)"
		}
		if len(cw) > 0 && cw[0].Fallback || len(cg) > 0 && cg[0].Fallback {
			sig += " [fallback]"
		}
		return &disagreement{Sig: sig, Detail: fmt.Sprintf("ours:    %s\n  kubelet: %s", showEntries(gotE), showEntries(want))}
	}
	return nil
}

// ---- generator ----

type keyGen struct{ r *rand.Rand }

var (
	keyHosts = []string{"example.com", "a.example.com", "b.a.example.com", "registry.io", "localhost", "docker.io", "index.docker.io",
		"registry-1.docker.io", "quay.io", "mirror.io", "10.0.0.1", "x.example.org", "Example.com",
		"*", "*.example.com", "*.a.example.com", "*.io", "reg?stry.io", "regist?y.io", "[a-c].example.com", "[!a].example.com",
		"[a-", "example.*", "*.*", "*.*.*", "k8s.*.io", "[::1]", "*.example.com.", "nginx"}
	keyPorts = []string{":5000", ":443", ":", ":abc", ":8443", ":80"}
	keyPaths = []string{"/", "/v1/", "/v2/", "/v1", "/v2", "/ns", "/ns/", "/ns/repo", "/v2/ns", "/v1/ns/repo", "//ns", "/NS", "/ns/repo/",
		"/library", "/library/nginx", "/cache", "/mirror/ns", "/m", "/ns/re", "/a/b"}
	imgHosts = []string{"example.com", "a.example.com", "b.a.example.com", "c.b.a.example.com", "registry.io", "registry.io:5000", "regisTry.io", "localhost", "localhost:5000",
		"docker.io", "index.docker.io", "quay.io", "mirror.io", "mirror.io:5000", "10.0.0.1", "10.0.0.1:8443", "x.example.org", "Example.com",
		"example.com:5000", "example.com:443", "a.io", "k8s.gcr.io", "b.example.com", "[::1]:5000"}
	imgPaths = []string{"nginx", "library/nginx", "ns/repo", "ns/repo/sub", "ns", "ns2/app", "cache/x", "mirror/ns/repo", "m/x", "ns/repository", "a/b/c", "NS/repo"}
)

func (g keyGen) key() string {
	r := g.r
	var k string
	switch r.IntN(10) {
	case 0:
		k = "http://"
	case 1, 2:
		k = "https://"
	}
	h := pick(r, keyHosts...)
	if r.IntN(4) == 0 {
		h = pick(r, imgHosts...)
	}
	k += h
	if r.IntN(6) == 0 {
		k += pick(r, keyPorts...)
	}
	if r.IntN(2) == 0 {
		k += pick(r, keyPaths...)
	}
	if r.IntN(30) == 0 {
		k = pick(r, "", " ", "%zz", "exa mple.com", "https://", "https:///ns", "example.com?x=1", "example.com#frag", "user@example.com", "HTTPS://example.com")
	}
	return k
}

var userPrefixes = []string{"u", "", " ", "ü", "a:b", "x@y"}

func (g keyGen) files(maxFiles, maxEntries int, targets []string) []secretFile {
	r := g.r
	nf := 1 + r.IntN(maxFiles)
	var files []secretFile
	for fi := range nf {
		f := secretFile{Legacy: r.IntN(4) == 0}
		seen := map[string]bool{}
		for ei := range 1 + r.IntN(maxEntries) {
			k := g.key()
			if len(targets) > 0 && r.IntN(2) == 0 {
				k = pick(r, targets...)
				switch r.IntN(4) {
				case 0:
					k = "https://" + k
				case 1:
					if i := strings.LastIndexByte(k, '/'); i > 0 {
						k = k[:i]
					}
				}
			}
			if seen[k] || (f.Legacy && k == "auths") {
				continue
			}
			seen[k] = true
			e := secretEntry{Key: k, Username: fmt.Sprintf("u%de%d", fi, ei), Password: fmt.Sprintf("p%d-%d", fi, ei), Form: r.IntN(4)}
			if r.IntN(8) == 0 {
				e.Password += pick(r, ":colon", "", "=", " sp", "é")
			}
			if r.IntN(10) == 0 {
				p := pick(r, userPrefixes...)
				if strings.Contains(p, ":") && e.Form != 2 {
					p = "x"
				}
				e.Username = p + e.Username
			}
			f.Entries = append(f.Entries, e)
		}
		files = append(files, f)
	}
	return files
}

func (g keyGen) image() string {
	r := g.r
	var s string
	switch r.IntN(8) {
	case 0:
		s = pick(r, imgPaths...)
	default:
		s = pick(r, imgHosts...) + "/" + pick(r, imgPaths...)
	}
	if r.IntN(8) == 0 {
		s += pick(r, ":1.0", "@sha256:"+strings.Repeat("ab", 32), ":latest", "/")
	}
	return s
}

func shrinkMatchCase(c matchCase) []matchCase {
	var out []matchCase
	cloneFiles := func() []secretFile {
		fs := make([]secretFile, len(c.Files))
		for i, f := range c.Files {
			f.Entries = slices.Clone(f.Entries)
			fs[i] = f
		}
		return fs
	}
	for i := range c.Files {
		n := matchCase{Files: cloneFiles(), Image: c.Image}
		n.Files = slices.Delete(n.Files, i, i+1)
		out = append(out, n)
	}
	for i, f := range c.Files {
		for j := range f.Entries {
			n := matchCase{Files: cloneFiles(), Image: c.Image}
			n.Files[i].Entries = slices.Delete(n.Files[i].Entries, j, j+1)
			out = append(out, n)
		}
		if f.Legacy {
			n := matchCase{Files: cloneFiles(), Image: c.Image}
			n.Files[i].Legacy = false
			out = append(out, n)
		}
		for j, e := range f.Entries {
			if e.Form != 0 && !strings.Contains(e.Username, ":") {
				n := matchCase{Files: cloneFiles(), Image: c.Image}
				n.Files[i].Entries[j].Form = 0
				out = append(out, n)
			}
		}
	}
	for _, s := range shrinkString(c.Image) {
		if s != "" {
			out = append(out, matchCase{Files: c.Files, Image: s})
		}
	}
	return out
}

func TestGeneratedMatch(t *testing.T) {
	e := newMatchEnv(t)
	n := *flagN
	start, sp0 := time.Now(), spawns.Load()
	coll := newCollector[matchCase]()
	var withCreds, fallbacks atomic.Int64
	parallel(n, func(i int) {
		g := keyGen{rand.New(rand.NewPCG(uint64(*flagSeed), uint64(i)+3<<40))}
		img := g.image()
		var targets []string
		if g.r.IntN(2) == 0 {
			targets = []string{strings.SplitN(img, ":", 2)[0]}
		}
		c := matchCase{Files: g.files(3, 5, targets), Image: img}
		if kr, err := kubeletKeyring(c.Files); err == nil {
			if w := kubeletLookup(kr, c.Image); len(w) > 0 {
				withCreds.Add(1)
				if w[0].Fallback {
					fallbacks.Add(1)
				}
			}
		}
		if d := e.check(c); d != nil {
			coll.add(c, d)
		}
	})
	logTiming(t, "match", n, start, sp0)
	t.Logf("match: %d cases with credentials (%d only through the index.docker.io fallback)", withCreds.Load(), fallbacks.Load())
	coll.report(t, "match", e.check, shrinkMatchCase, func(c matchCase) string { return c.goString() })
}

func TestCuratedMatch(t *testing.T) {
	e := newMatchEnv(t)
	for i, c := range curatedMatch {
		if d := e.check(c); d != nil {
			t.Errorf("DISAGREEMENT curated match #%d [%s]\n  input: %s\n  %s", i, d.Sig, c.goString(), d.Detail)
		}
	}
}
