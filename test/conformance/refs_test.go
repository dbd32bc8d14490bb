package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	// digest.Parse accepts sha384/sha512 only when the hash is linked in
	// (CRI-O links it); make sure the oracle does too.
	_ "crypto/sha256"
	_ "crypto/sha512"

	"go.podman.io/image/v5/docker/reference"
)

// refEnv is an empty registries.conf (and a drop-in dir that does not exist).
type refEnv struct {
	bin, conf, dir string
}

func newRefEnv(t *testing.T) *refEnv {
	bin := providerBin(t)
	d := t.TempDir()
	conf := filepath.Join(d, "registries.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &refEnv{bin: bin, conf: conf, dir: filepath.Join(d, "registries.conf.d")}
}

func authFileName(ns, name string) string {
	sum := sha256.Sum256([]byte(name))
	return ns + "-" + hex.EncodeToString(sum[:]) + ".json"
}

// libErrKind groups the library's errors (for the report signature).
func libErrKind(err error) string {
	s := err.Error()
	if strings.Contains(s, "cannot specify 64-byte hexadecimal strings") {
		return "64-hex identifier"
	}
	return s
}

func (e *refEnv) check(image string) *disagreement {
	res, err := run(e.bin, "resolve", "--json", "--registries-conf", e.conf, "--registries-conf-dir", e.dir, image)
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error(), Detail: res.String()}
	}
	named, lerr := reference.ParseNormalizedNamed(image)
	var out resolveOut
	derr := decodeStrict(res.Stdout, &out)
	if lerr != nil {
		lib := "library: rejects (" + lerr.Error() + ")"
		if res.Code != 1 {
			return &disagreement{Sig: "accepts invalid: " + libErrKind(lerr), Detail: "ours: " + res.String() + "\n  " + lib}
		}
		if derr != nil || out.Error == "" || out.Stage != "reference" || out.Kind != "reference" {
			return &disagreement{Sig: "bad error output", Detail: fmt.Sprintf("ours: %s (decode: %v)\n  %s; want {\"error\":...,\"stage\":\"reference\",\"kind\":\"reference\"}", res, derr, lib)}
		}
		return nil
	}
	lib := fmt.Sprintf("library: reference %q name %q", named.String(), named.Name())
	if res.Code != 0 {
		return &disagreement{Sig: "rejects valid", Detail: "ours: " + res.String() + "\n  " + lib}
	}
	if derr != nil {
		return &disagreement{Sig: "bad JSON", Detail: fmt.Sprintf("ours: %s (decode: %v)\n  %s", res, derr, lib)}
	}
	ours := fmt.Sprintf("ours: reference %q name %q", out.Reference, out.Name)
	switch {
	case out.Name != named.Name():
		return &disagreement{Sig: "name differs", Detail: ours + "\n  " + lib}
	case out.Reference != named.String():
		return &disagreement{Sig: "reference differs", Detail: ours + "\n  " + lib}
	case out.Image != image:
		return &disagreement{Sig: "image not echoed", Detail: fmt.Sprintf("ours: image %q, want %q", out.Image, image)}
	case out.AuthFile != authFileName("default", named.Name()):
		return &disagreement{Sig: "authFile differs", Detail: fmt.Sprintf("ours: %q, want %q", out.AuthFile, authFileName("default", named.Name()))}
	case out.Registry != nil || len(out.PullSources) != 0:
		return &disagreement{Sig: "registry with an empty registries.conf", Detail: "ours: " + res.String()}
	}
	return nil
}

// shrinkString proposes smaller or simpler strings: chunk deletions,
// single-character deletions, lower-casing, and replacing characters by 'a'.
func shrinkString(s string) []string {
	var out []string
	seen := map[string]bool{s: true}
	add := func(c string) {
		if !seen[c] && !strings.HasPrefix(c, "-") {
			seen[c] = true
			out = append(out, c)
		}
	}
	for size := len(s) / 2; size >= 1; size /= 2 {
		for i := 0; i+size <= len(s); i += size {
			add(s[:i] + s[i+size:])
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			add(s[:i] + string(c+'a'-'A') + s[i+1:])
		}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != 'a' && (c >= 'b' && c <= 'z' || c >= '0' && c <= '9') {
			add(s[:i] + "a" + s[i+1:])
		}
	}
	return out
}

// ---- generator ----

type refGen struct{ r *rand.Rand }

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	hexLower   = "0123456789abcdef"
	wordChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
)

func randFrom(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

var refDomains = []string{
	"localhost", "localhost:5000", "localhost:0", "LOCALHOST", "localHost:5000", "localhost.localdomain",
	"docker.io", "index.docker.io", "registry-1.docker.io", "Docker.io", "INDEX.DOCKER.IO", "index.docker.io:443", "docker.io:5000",
	"quay.io", "Quay.IO", "example.com", "example.com:443", "example.com:5000", "a-b.example.com", "a.b.c.d.example.com",
	"-bad.com", "bad-.com", "a..b", ".example.com", "example.com.", "example.com:", "example.com:abc", "example.com:99999999999999",
	"example.com:5000:6000", "1.2.3.4", "1.2.3.4:5000", "[::1]:5000", "[::1]", "[fe80::1%eth0]:5000", "[2001:db8::1]:443",
	"::1", "a_b.com", "xn--bcher-kva.example", "foo", "foo:5000", "Foo", "0", "9.9", "ex ample.com", "example.com/",
}

var refComponents = []string{
	"library", "nginx", "ns", "a", "a.b", "a_b", "a__b", "a-b", "a--b", "a----b", "0", "9a", "ubuntu", "busybox", "library",
	"x" + strings.Repeat("y", 20), "a.b.c", "a-b_c.d", "index.docker.io", "docker.io", "localhost",
	"a___b", "a-", "-a", "_a", "a_", "a.", ".a", "a..b", "a._b", "a.-b", "A", "Nginx", "", // invalid ones last
}

func (g refGen) domain() string {
	r := g.r
	if r.IntN(5) == 0 {
		labels := make([]string, 1+r.IntN(3))
		for i := range labels {
			labels[i] = randFrom(r, "abcxyz019-AZ", 1+r.IntN(6))
		}
		d := strings.Join(labels, ".")
		if r.IntN(3) == 0 {
			d += ":" + pick(r, "1", "80", "5000", "65535", "65536", "", "x", "05000")
		}
		return d
	}
	if r.IntN(2) == 0 {
		return pick(r, refDomains[:20]...) // the valid ones
	}
	return pick(r, refDomains...)
}

func (g refGen) component() string {
	r := g.r
	if r.IntN(4) == 0 {
		// alphanumerics joined by separators
		n := 1 + r.IntN(3)
		var sb strings.Builder
		for i := range n {
			if i > 0 {
				sb.WriteString(pick(r, ".", "_", "__", "-", "--", "---", "___", ".."))
			}
			sb.WriteString(randFrom(r, lowerAlnum, 1+r.IntN(5)))
		}
		return sb.String()
	}
	if r.IntN(3) == 0 {
		return pick(r, refComponents...) // includes the invalid ones
	}
	return pick(r, refComponents[:21]...)
}

func (g refGen) path() string {
	r := g.r
	n := 1 + r.IntN(3)
	if r.IntN(10) == 0 {
		n += r.IntN(4)
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.component()
	}
	return strings.Join(parts, "/")
}

func (g refGen) tag() string {
	r := g.r
	switch r.IntN(8) {
	case 0:
		return pick(r, "latest", "1.27", "v1.0.0-rc.1", "LATEST", "_", "a", "1", "sha256", "x--y", "x__y")
	case 1:
		return pick(r, ".a", "-a", "", "a:b", "a/b", "a@b", "a+b", "é")
	case 2:
		// around the 128 limit
		n := pick(r, 126, 127, 128, 129, 130)
		return randFrom(r, "abcXYZ_019", 1) + randFrom(r, "abcXYZ_019.-", n-1)
	default:
		return randFrom(r, wordChars, 1) + randFrom(r, wordChars+".-", r.IntN(12))
	}
}

func (g refGen) digest() string {
	r := g.r
	alg := "sha256"
	switch r.IntN(6) {
	case 0:
		alg = pick(r, "sha384", "sha512")
	case 1:
		alg = pick(r, "sha1", "md5", "SHA256", "sha256+b64u", "sha3-256", "blake3", "multihash.sha256", "Sha256", "s", "1sha", "")
	}
	n := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[alg]
	if n == 0 || r.IntN(4) == 0 {
		n = pick(r, 0, 16, 31, 32, 40, 63, 64, 65, 96, 127, 128, 129)
	}
	enc := randFrom(r, hexLower, n)
	switch r.IntN(10) {
	case 0:
		enc = strings.ToUpper(enc)
	case 1:
		if n > 0 {
			i := r.IntN(n)
			enc = enc[:i] + pick(r, "g", "G", "z", "-") + enc[i+1:]
		}
	}
	return alg + ":" + enc
}

// longName builds a reference whose normalized name is near the 255 limit.
func (g refGen) longName() string {
	r := g.r
	dom := pick(r, "", "example.com/", "localhost:5000/", "docker.io/", "docker.io/library/", "index.docker.io/")
	normPrefix := dom
	switch dom {
	case "", "docker.io/", "index.docker.io/":
		normPrefix = "docker.io/" // the path below has more than one component
	}
	want := 250 + r.IntN(10) // normalized length
	rest := want - len(normPrefix)
	parts := []string{randFrom(r, lowerAlnum, 1+r.IntN(8))}
	rest -= len(parts[0]) + 1
	for rest > 0 {
		n := 1 + r.IntN(60)
		if n > rest {
			n = rest
		}
		if rest-n == 1 { // no one-char leftover that would need a slash
			n = rest
		}
		parts = append(parts, randFrom(r, lowerAlnum, n))
		rest -= n + 1
	}
	s := dom + strings.Join(parts, "/")
	if r.IntN(2) == 0 {
		s += ":" + g.tag()
	}
	return s
}

func (g refGen) mutate(s string) string {
	r := g.r
	if s == "" {
		return s
	}
	i := r.IntN(len(s) + 1)
	switch r.IntN(8) {
	case 0:
		return s[:i] + pick(r, " ", "\t", "@", ":", "/", "#", "%", "é", "A", "_", ".", "-", "//", "::", "@@", "\u212a", "İ") + s[i:]
	case 1:
		if i < len(s) {
			return s[:i] + s[i+1:]
		}
	case 2:
		if i < len(s) {
			return s[:i] + strings.ToUpper(s[i:i+1]) + s[i+1:]
		}
	case 3:
		return s + "/"
	case 4:
		return "/" + s
	case 5:
		return strings.Replace(s, "/", "//", 1)
	case 6:
		return s + pick(r, ":", "@", "@sha256:", ":latest@")
	}
	return s + s[i:]
}

func (g refGen) ref() string {
	r := g.r
	var s string
	switch r.IntN(25) {
	case 0:
		h := randFrom(r, hexLower, 64)
		s = pick(r, h, h+":latest", "docker.io/"+h, h+"@sha256:"+randFrom(r, hexLower, 64), strings.ToUpper(h), h[:63], h+"a", "sha256:"+h, "ns/"+h)
	case 1, 2:
		s = g.longName()
	case 3:
		s = randFrom(r, "abcAB01:/@._-", 1+r.IntN(20))
	default:
		if r.IntN(2) == 0 {
			s = g.domain() + "/"
		}
		s += g.path()
		if r.IntN(2) == 0 {
			s += ":" + g.tag()
		}
		if r.IntN(4) == 0 {
			s += "@" + g.digest()
		}
	}
	if r.IntN(5) == 0 {
		s = g.mutate(s)
		for r.IntN(4) == 0 {
			s = g.mutate(s)
		}
	}
	return strings.TrimLeft(s, "-") // a leading '-' would be read as a flag
}

// ---- tests ----

// Curated reference edge cases (inputs only: the library gives the answer).
var curatedRefs = []string{
	"", "nginx", "nginx:1.27", "library/nginx", "docker.io/nginx", "index.docker.io/nginx", "index.docker.io/library/nginx:latest",
	"docker.io/library/nginx", "registry-1.docker.io/nginx", "Docker.io/nginx", "docker.io/Nginx", "Nginx", "NGINX:latest",
	"nginx:LATEST", "localhost/foo", "localhost:5000/foo", "LOCALHOST/foo", "localhost", "localhost:5000", "foo:5000/bar",
	"foo/bar", "foo.bar/baz", "a_b.c/x", "a-b.c/x", "[::1]:5000/x", "[::1]/x", "[fe80::1%25eth0]:5000/x", "1.2.3.4:5000/x",
	"example.com:/x", "example.com:abc/x", "example.com./x", ".example.com/x", "-example.com/x", "example-.com/x",
	"a//b", "a/", "/a", "a/b/", "a..b", "a.b", "a__b", "a___b", "a-----b", "a_-b", "a._b", "a-", "a_", "_a",
	"nginx:", "nginx@", "nginx:@sha256:" + strings.Repeat("a", 64), "nginx:tag@sha256:" + strings.Repeat("a", 64),
	"nginx@sha256:" + strings.Repeat("a", 64), "nginx@sha256:" + strings.Repeat("A", 64), "nginx@sha256:" + strings.Repeat("a", 63),
	"nginx@sha256:" + strings.Repeat("a", 65), "nginx@sha384:" + strings.Repeat("a", 96), "nginx@sha512:" + strings.Repeat("a", 128),
	"nginx@sha512:" + strings.Repeat("a", 64), "nginx@sha1:" + strings.Repeat("a", 40), "nginx@md5:" + strings.Repeat("a", 32),
	"nginx@sha256+b64u:" + strings.Repeat("a", 64), "nginx@SHA256:" + strings.Repeat("a", 64), "nginx@sha256:" + strings.Repeat("a", 31),
	"nginx@blake3:" + strings.Repeat("a", 32), "nginx@blake3:" + strings.Repeat("a", 31), "nginx@sha3-256:" + strings.Repeat("a", 64),
	strings.Repeat("a", 64), strings.Repeat("a", 64) + ":latest", strings.Repeat("a", 63), strings.Repeat("a", 65), strings.Repeat("A", 64),
	"docker.io/" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("a", 64), "ns/" + strings.Repeat("a", 64),
	"nginx:" + strings.Repeat("t", 128), "nginx:" + strings.Repeat("t", 129), "nginx:" + strings.Repeat("t", 127),
	"nginx:.tag", "nginx:-tag", "nginx:_tag", "nginx:t.a-g_", "nginx:a:b",
	"example.com/" + strings.Repeat("a", 243), "example.com/" + strings.Repeat("a", 244), "example.com/" + strings.Repeat("a", 245),
	strings.Repeat("a", 237), strings.Repeat("a", 238), "library/" + strings.Repeat("a", 237), "docker.io/" + strings.Repeat("a", 238),
	"nginx latest", "nginx\t", "ngínx", "k\u212aube", "nginx#1", "nginx%20", "foo@bar", "ns/nginx:1.0:2.0",
	"index.docker.io:443/nginx", "docker.io:443/nginx", "localhost/library/nginx", "quay.io/library/nginx", "docker.io/a/b/c",
	"Example.com/foo", "EXAMPLE.COM:5000/foo/bar:TAG", "example.com:5000:6000/foo", "0/x", "0.0/x", "foo_bar.com/x",
}

func TestCuratedReferences(t *testing.T) {
	e := newRefEnv(t)
	for _, s := range curatedRefs {
		if d := e.check(s); d != nil {
			t.Errorf("DISAGREEMENT reference %q [%s]\n  %s", s, d.Sig, d.Detail)
		}
	}
}

func TestGeneratedReferences(t *testing.T) {
	e := newRefEnv(t)
	n := *flagN
	start, sp0 := time.Now(), spawns.Load()
	coll := newCollector[string]()
	var accepted atomic.Int64
	parallel(n, func(i int) {
		g := refGen{rand.New(rand.NewPCG(uint64(*flagSeed), uint64(i)+1<<40))}
		s := g.ref()
		if _, err := reference.ParseNormalizedNamed(s); err == nil {
			accepted.Add(1)
		}
		if d := e.check(s); d != nil {
			coll.add(s, d)
		}
	})
	logTiming(t, "references", n, start, sp0)
	t.Logf("references: %d of %d accepted by the library", accepted.Load(), n)
	coll.report(t, "references", e.check, shrinkString, func(s string) string { return fmt.Sprintf("%q", s) })
}
