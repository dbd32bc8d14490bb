package conformance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	"k8s.io/kubernetes/pkg/credentialprovider"
)

// authCase: a registries.conf, pull secrets, maybe a global auth file, and
// the image being pulled.
type authCase struct {
	Reg     regCase
	Secrets []secretFile
	Global  map[string]string // key -> "user:password"; nil: no global auth file
}

type rawAuthCase struct {
	Reg     rawRegCase
	Secrets []secretFile
	Global  map[string]string
}

func (c authCase) raw() rawAuthCase {
	return rawAuthCase{Reg: c.Reg.raw(), Secrets: c.Secrets, Global: c.Global}
}

func (c rawAuthCase) goString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Reg: rawRegCase%s, Secrets: []secretFile{", c.Reg.goString())
	for i, f := range c.Secrets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.goString())
	}
	b.WriteString("}")
	if c.Global != nil {
		fmt.Fprintf(&b, ", Global: %#v", c.Global)
	}
	b.WriteString("}")
	return b.String()
}

func renderGlobal(g map[string]string) string {
	auths := map[string]map[string]string{}
	for k, v := range g {
		auths[k] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(v))}
	}
	b, _ := json.Marshal(map[string]any{"auths": auths})
	return string(b)
}

type authEnv struct{ bin, root string }

func newAuthEnv(t *testing.T) *authEnv { return &authEnv{bin: providerBin(t), root: t.TempDir()} }

func credsFor(sys *types.SystemContext, ref string) (types.DockerAuthConfig, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return types.DockerAuthConfig{}, err
	}
	return config.GetCredentialsForRef(sys, named)
}

func showCred(c types.DockerAuthConfig, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if c == (types.DockerAuthConfig{}) {
		return "none"
	}
	s := fmt.Sprintf("username %q password %q", c.Username, c.Password)
	if c.IdentityToken != "" {
		s += " token=" + c.IdentityToken
	}
	return s
}

var errSkipCase = errors.New("case not applicable")

func (e *authEnv) check(c rawAuthCase) *disagreement {
	d, err := e.checkErr(c)
	if errors.Is(err, errSkipCase) {
		return nil
	}
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error()}
	}
	return d
}

func (e *authEnv) checkErr(c rawAuthCase) (*disagreement, error) {
	mainPath, dirPath, err := c.Reg.write(e.root)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(mainPath)
	defer os.RemoveAll(dir)
	lib := libRegistries(mainPath, dirPath, c.Reg.Image)
	if err := errors.Join(lib.RefErr, lib.LoadErr, lib.PullErr); err != nil {
		return nil, fmt.Errorf("%w: %v", errSkipCase, err) // area 2 covers failures
	}
	secretPaths, err := writeSecrets(dir, c.Secrets)
	if err != nil {
		return nil, err
	}
	args := []string{"resolve", "--json", "--registries-conf", mainPath, "--registries-conf-dir", dirPath}
	for _, p := range secretPaths {
		args = append(args, "--dockercfg", p)
	}
	globalPath := filepath.Join(dir, "global.json")
	if c.Global != nil {
		if err := os.WriteFile(globalPath, []byte(renderGlobal(c.Global)), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--global-auth-file", globalPath)
	} else {
		args = append(args, "--global-auth-file", filepath.Join(dir, "no-global.json"))
	}
	outPath := filepath.Join(dir, "out", "auth.json")
	if err := os.Mkdir(filepath.Dir(outPath), 0o700); err != nil {
		return nil, err
	}
	args = append(args, "--auth-file-out", outPath, c.Reg.Image)
	res, err := run(e.bin, args...)
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error(), Detail: res.String()}, nil
	}
	var out resolveOut
	if res.Code != 0 {
		_ = json.Unmarshal(res.Stdout, &out)
		return &disagreement{Sig: "resolve fails: " + errKind(errors.New(out.Error)), Detail: "ours: " + res.String()}, nil
	}
	if err := decodeStrict(res.Stdout, &out); err != nil {
		return &disagreement{Sig: "bad JSON", Detail: fmt.Sprintf("ours: %s (decode: %v)", res, err)}, nil
	}

	wantSrc := libCredentialSources(lib, &types.SystemContext{SystemRegistriesConfPath: mainPath, SystemRegistriesConfDirPath: dirPath})
	gotSrc := make([]credSrcOut, len(out.CredentialSources))
	for i, s := range out.CredentialSources {
		gotSrc[i] = credSrcOut{Reference: s.Reference, Location: s.Location, Insecure: s.Insecure, Mirror: s.Mirror}
	}
	if !slices.EqualFunc(wantSrc, gotSrc, func(a, b credSrcOut) bool { return a == b }) {
		return &disagreement{Sig: "credentialSources differ from the pull sources",
			Detail: fmt.Sprintf("ours:    %s\n  library: %s (pull sources %s)", mustJSON(gotSrc), mustJSON(wantSrc), mustJSON(lib.pullOut()))}, nil
	}

	// Which credential kubelet's keyring would pick for each source.
	kr, kerr := kubeletKeyring(c.Secrets)
	if kerr != nil {
		return nil, fmt.Errorf("%w: %v", errSkipCase, kerr)
	}
	// kubelet's first match; entries of one key from one secret come in Go
	// map order, so any of those is as good as the first.
	file := fileOf(c.Secrets)
	password := map[credOut]string{}
	for _, s := range out.CredentialSources {
		var firsts []matchEntry
		for _, m := range kubeletLookup(kr, s.Reference) {
			if m.Fallback {
				break
			}
			// An auth file entry is base64(user:password); a user name with a
			// ':' cannot be carried, so the provider passes over it.
			if strings.Contains(m.Username, ":") {
				continue
			}
			if len(firsts) > 0 && (m.Key != firsts[0].Key || file[m.Username] != file[firsts[0].Username] || file[m.Username] < 0) {
				break
			}
			firsts = append(firsts, m)
		}
		ok := len(firsts) == 0 && s.Credential == nil
		for _, m := range firsts {
			if s.Credential != nil && *s.Credential == (credOut{Key: m.Key, Username: m.Username}) {
				ok = true
				password[*s.Credential] = m.Password
			}
		}
		if !ok {
			var want *credOut
			if len(firsts) > 0 {
				want = &credOut{Key: firsts[0].Key, Username: firsts[0].Username}
			}
			return &disagreement{Sig: "credential choice differs from kubelet's first match",
				Detail: fmt.Sprintf("source %s: ours %s, kubelet's keyring %s", s.Reference, mustJSON(s.Credential), mustJSON(want))}, nil
		}
	}

	// What containers/image reads from the file we wrote (CRI-O falls back to
	// the global auth file when there is none).
	effective := outPath
	if _, err := os.Stat(outPath); err != nil {
		effective = globalPath
	}
	sysOut := &types.SystemContext{AuthFilePath: effective, SystemRegistriesConfPath: mainPath, SystemRegistriesConfDirPath: dirPath}
	sysGlobal := &types.SystemContext{AuthFilePath: globalPath, SystemRegistriesConfPath: mainPath, SystemRegistriesConfDirPath: dirPath}
	defer invalidate()
	given := map[string]bool{}
	for _, s := range out.CredentialSources {
		if s.Credential == nil {
			continue
		}
		given[s.Reference] = true
		got, err := credsFor(sysOut, s.Reference)
		want := types.DockerAuthConfig{Username: s.Credential.Username, Password: password[*s.Credential]}
		if err != nil || got != want {
			return &disagreement{Sig: "auth file does not give the chosen credential",
				Detail: fmt.Sprintf("source %s: containers/image reads %s from our file, we meant %s (key %s)", s.Reference, showCred(got, err), showCred(want, nil), s.Credential.Key)}, nil
		}
	}
	// resolve --json says, per pull source, what containers/image reads
	// back from the file CRI-O gets; ask containers/image.
	if len(out.PullSources) != len(lib.Sources) {
		return &disagreement{Sig: "pullSources differ (count)", Detail: fmt.Sprintf("ours: %s\n  library: %s", mustJSON(out.PullSources), mustJSON(lib.pullOut()))}, nil
	}
	for i, s := range lib.Sources {
		name := s.Reference.Name()
		got, err := credsFor(sysOut, name)
		said := out.PullSources[i].AuthFileCredential
		var agree bool
		switch {
		case err != nil:
			agree = said != nil && said.Error != ""
		case got == (types.DockerAuthConfig{}):
			agree = said == nil || (said.Error == "" && said.Helper == "" && said.Username == "")
		default:
			agree = said != nil && said.Error == "" && said.Helper == "" && said.Username == got.Username
		}
		if !agree {
			return &disagreement{Sig: "authFileCredential differs from what containers/image reads",
				Detail: fmt.Sprintf("source %s: ours %s, containers/image reads %s", name, mustJSON(said), showCred(got, err))}, nil
		}
		var chosen *credOut
		for _, c := range out.CredentialSources {
			if c.Reference == name && c.Credential != nil {
				chosen = c.Credential
			}
		}
		if (chosen == nil) != (out.PullSources[i].Credential == nil) || (chosen != nil && *chosen != *out.PullSources[i].Credential) {
			return &disagreement{Sig: "a pull source's credential differs from its credential source's",
				Detail: fmt.Sprintf("source %s: pullSources %s, credentialSources %s", name, mustJSON(out.PullSources[i].Credential), mustJSON(chosen))}, nil
		}
	}
	for _, s := range lib.Sources {
		name := s.Reference.Name()
		if given[name] {
			continue
		}
		got, err := credsFor(sysOut, name)
		want, werr := credsFor(sysGlobal, name)
		// A source under a mirror's repository (same host, deeper path)
		// finds that mirror's entry by containers/image's path walk; that is
		// fine as long as kubelet's keyring would also offer this source the
		// credential.
		if err == nil && werr == nil && got != want && kubeletOffers(kr, name, got) {
			continue
		}
		if (err != nil) != (werr != nil) || got != want {
			return &disagreement{Sig: "auth file gives a credential-less source another answer than the global file",
				Detail: fmt.Sprintf("source %s: containers/image reads %s from our file, %s from the global auth file", name, showCred(got, err), showCred(want, werr))}, nil
		}
	}
	return nil, nil
}

// kubeletOffers: whether kubelet's keyring has cred among its non-fallback
// matches for name.
func kubeletOffers(kr *credentialprovider.BasicDockerKeyring, name string, cred types.DockerAuthConfig) bool {
	for _, m := range kubeletLookup(kr, name) {
		if !m.Fallback && m.Username == cred.Username && m.Password == cred.Password {
			return true
		}
	}
	return false
}

// libCredentialSources: what the provider should seek credentials for. The
// provider sees only the repository name (kubelet strips tag and digest), so
// it cannot know which mirrors the pull will use: every mirror of the
// registry counts (pull-from-mirror and mirror-by-digest-only ignored), in
// order, each rewritten by containers/image for the bare name; a mirror whose
// rewrite containers/image rejects is left out. Then the registry's own
// location when it rewrites the name.
//
// A source whose own name matches a blocked registry is left out too:
// containers/image checks `blocked` per pull source (newDockerClient runs
// FindRegistry on the source's name), so the mirrors and the rewritten
// location of a blocked prefix are still pulled from unless they are blocked
// themselves.
func libCredentialSources(lib libResolve, sys *types.SystemContext) []credSrcOut {
	out := []credSrcOut{}
	if lib.Registry == nil {
		return out
	}
	blocked := func(name string) bool {
		reg, err := sysregistriesv2.FindRegistry(sys, name)
		return err == nil && reg != nil && reg.Blocked
	}
	bare, err := reference.WithName(lib.Named.Name())
	if err != nil {
		panic(err)
	}
	for _, m := range lib.Registry.Mirrors {
		r := *lib.Registry
		r.MirrorByDigestOnly = false
		r.Mirrors = []sysregistriesv2.Endpoint{{Location: m.Location, Insecure: m.Insecure}}
		srcs, err := r.PullSourcesFromReference(bare)
		if err != nil || len(srcs) != 2 || blocked(srcs[0].Reference.Name()) {
			continue
		}
		out = append(out, credSrcOut{Reference: srcs[0].Reference.Name(), Location: m.Location, Insecure: m.Insecure, Mirror: true})
	}
	if n := len(lib.Sources); n > 0 {
		p := lib.Sources[n-1]
		if p.Reference.Name() != lib.Named.Name() && !blocked(p.Reference.Name()) {
			out = append(out, credSrcOut{Reference: p.Reference.Name(), Location: p.Endpoint.Location, Insecure: p.Endpoint.Insecure})
		}
	}
	return out
}

func invalidate() {
	// config.GetCredentialsForRef reads registries.conf for credential helpers.
	sysregistriesv2.InvalidateCache()
}

// ---- generator ----

func (g keyGen) global(targets []string) map[string]string {
	r := g.r
	if r.IntN(3) > 0 {
		return nil
	}
	m := map[string]string{}
	hosts := map[string]bool{}
	for i := range 1 + r.IntN(4) {
		k := pick(r, targets...)
		switch r.IntN(6) {
		case 0:
			k = "https://" + k + pick(r, "", "/", "/v1/")
		case 1:
			if j := strings.IndexByte(k, '/'); j > 0 {
				k = k[:j]
			}
		case 2:
			k = pick(r, "docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "mirror.io", "example.com")
		}
		// containers/image picks among keys that reduce to one host (scheme
		// or docker.io aliases) in map order: keep one per host.
		if h, reduced := reducedHost(k); reduced {
			if hosts[h] {
				continue
			}
			hosts[h] = true
		}
		m[k] = fmt.Sprintf("g%d:gp%d", i, i)
	}
	return m
}

// reducedHost: the host an auth-file key stands for when containers/image
// normalizes it, and whether it only matches through that normalization.
func reducedHost(k string) (string, bool) {
	s := strings.TrimPrefix(strings.TrimPrefix(k, "http://"), "https://")
	reduced := s != k
	if reduced {
		s, _, _ = strings.Cut(s, "/")
	}
	switch s {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io", true
	}
	return s, reduced
}

func genAuthCase(seed uint64, i int) authCase {
	r := rand.New(rand.NewPCG(seed, uint64(i)+4<<40))
	rg := regGen{r: r, valid: true}
	c := authCase{Reg: rg.regCase()}
	// credential targets: the pull sources' names and hosts
	var targets []string
	for _, cs := range append([]confSpec{c.Reg.Main}, c.Reg.DropIns...) {
		for _, reg := range cs.Regs {
			if reg.Location != nil && *reg.Location != "" {
				targets = append(targets, strings.TrimRight(*reg.Location, "/"))
			}
			for _, m := range reg.Mirrors {
				if m.Location != nil {
					targets = append(targets, strings.TrimRight(*m.Location, "/"))
				}
			}
		}
	}
	img := c.Reg.Image
	if j := strings.IndexAny(img, "@"); j > 0 {
		img = img[:j]
	}
	targets = append(targets, img)
	kg := keyGen{r}
	c.Secrets = kg.files(3, 4, targets)
	c.Global = kg.global(targets)
	return c
}

func shrinkAuthCase(c authCase) []authCase {
	var out []authCase
	if c.Global != nil {
		n := c
		n.Global = nil
		out = append(out, n)
		for k := range c.Global {
			n := c
			n.Global = map[string]string{}
			for k2, v := range c.Global {
				if k2 != k {
					n.Global[k2] = v
				}
			}
			out = append(out, n)
		}
	}
	for _, m := range shrinkMatchCase(matchCase{Files: c.Secrets}) {
		if m.Image == "" {
			n := c
			n.Secrets = m.Files
			out = append(out, n)
		}
	}
	for _, rc := range shrinkRegCase(c.Reg) {
		n := c
		n.Reg = rc
		out = append(out, n)
	}
	return out
}

func TestGeneratedAuthFiles(t *testing.T) {
	e := newAuthEnv(t)
	n := *flagN
	start, sp0 := time.Now(), spawns.Load()
	coll := newCollector[authCase]()
	var checked atomic.Int64
	parallel(n, func(i int) {
		c := genAuthCase(uint64(*flagSeed), i)
		d, err := e.checkErr(c.raw())
		if errors.Is(err, errSkipCase) {
			return
		}
		checked.Add(1)
		if err != nil {
			d = &disagreement{Sig: "harness: " + err.Error()}
		}
		if d = tagKeyCase(d, c.Reg); d != nil {
			coll.add(c, d)
		}
	})
	logTiming(t, "authfile", n, start, sp0)
	t.Logf("authfile: %d of %d generated cases checked (the rest fail to load or rewrite, area 2 covers them)", checked.Load(), n)
	coll.report(t, "authfile", func(c authCase) *disagreement { return tagKeyCase(e.check(c.raw()), c.Reg) }, shrinkAuthCase,
		func(c authCase) string { return c.raw().goString() })
}

func TestCuratedAuthFiles(t *testing.T) {
	e := newAuthEnv(t)
	for i, c := range curatedAuth {
		d, err := e.checkErr(c)
		if errors.Is(err, errSkipCase) {
			t.Errorf("curated auth #%d does not load: fix the case (%v)", i, err)
			continue
		}
		if err != nil {
			t.Errorf("curated auth #%d: %v", i, err)
			continue
		}
		if d != nil {
			t.Errorf("DISAGREEMENT curated auth #%d [%s]\n  input: %s\n  %s", i, d.Sig, c.goString(), d.Detail)
		}
	}
}
