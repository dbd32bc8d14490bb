package conformance

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// ---- the configuration model (rendered to TOML by hand, so that invalid
// files can be written too) ----

type mirrorSpec struct {
	KeyCase        int // 0: as documented, 1: Title-Case, 2: UPPER-CASE keys
	Location       *string
	Insecure       *bool
	PullFromMirror *string
	Extra          string
}

type regSpec struct {
	KeyCase                               int
	Prefix, Location                      *string
	Insecure, Blocked, MirrorByDigestOnly *bool
	PullFromMirror                        *string // invalid on a registry
	Mirrors                               []mirrorSpec
	Extra                                 string
}

type confSpec struct {
	KeyCase int    // of the table names
	Name    string // drop-in file name
	Top     string // top-level keys
	Regs    []regSpec
	Tail    string // tables after the registries
	Dir     bool   // a directory with this name instead of a file
}

type regCase struct {
	Main        confSpec
	MainMissing bool
	DropIns     []confSpec
	NoDropInDir bool
	Image       string
}

func tomlStr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20:
			fmt.Fprintf(&b, "\\u%04x", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// keyCase spells a key the way the TOML decoder still accepts (BurntSushi
// matches struct fields case-insensitively).
func keyCase(k string, mode int) string {
	switch mode {
	case 1:
		parts := strings.Split(k, "-")
		for i, p := range parts {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
		return strings.Join(parts, "-")
	case 2:
		return strings.ToUpper(k)
	}
	return k
}

func (c confSpec) render() string {
	var b strings.Builder
	if c.Top != "" {
		b.WriteString(c.Top + "\n")
	}
	var mode int
	str := func(k string, v *string) {
		if v != nil {
			fmt.Fprintf(&b, "%s = %s\n", keyCase(k, mode), tomlStr(*v))
		}
	}
	bl := func(k string, v *bool) {
		if v != nil {
			fmt.Fprintf(&b, "%s = %t\n", keyCase(k, mode), *v)
		}
	}
	regT, mirT := keyCase("registry", c.KeyCase), keyCase("mirror", c.KeyCase)
	for _, r := range c.Regs {
		mode = r.KeyCase
		b.WriteString("\n[[" + regT + "]]\n")
		str("prefix", r.Prefix)
		str("location", r.Location)
		bl("insecure", r.Insecure)
		bl("blocked", r.Blocked)
		bl("mirror-by-digest-only", r.MirrorByDigestOnly)
		str("pull-from-mirror", r.PullFromMirror)
		if r.Extra != "" {
			b.WriteString(r.Extra + "\n")
		}
		for _, m := range r.Mirrors {
			mode = m.KeyCase
			b.WriteString("[[" + regT + "." + mirT + "]]\n")
			str("location", m.Location)
			bl("insecure", m.Insecure)
			str("pull-from-mirror", m.PullFromMirror)
			if m.Extra != "" {
				b.WriteString(m.Extra + "\n")
			}
		}
	}
	if c.Tail != "" {
		b.WriteString("\n" + c.Tail + "\n")
	}
	return b.String()
}

// rawRegCase is what goes on disk; curated cases are written in this form.
type rawRegCase struct {
	Main        string
	MainMissing bool
	MainDir     bool      // a directory where the main file should be
	MainLink    string    // the main file is a symlink to this (relative) path
	DropIns     []rawFile // nil: no drop-in directory
	Image       string
}

// rawFile is one entry of the drop-in directory: a file with Content, a
// directory (Dir), or a symlink to Link (relative to the drop-in directory;
// "../x" reaches the case's directory, where Content is written as x unless
// Dir asks for a directory there). Mode, when set, is the file's permission
// bits (the suite runs as root, which ignores them for reading).
type rawFile struct {
	Name    string
	Content string
	Dir     bool
	Link    string
	Mode    os.FileMode
}

func (c regCase) raw() rawRegCase {
	r := rawRegCase{Main: c.Main.render(), MainMissing: c.MainMissing, Image: c.Image}
	if !c.NoDropInDir {
		r.DropIns = []rawFile{}
		for _, d := range c.DropIns {
			r.DropIns = append(r.DropIns, rawFile{Name: d.Name, Content: d.render(), Dir: d.Dir})
		}
	}
	return r
}

func (r rawRegCase) goString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Image: %q, Main: %q", r.Image, r.Main)
	if r.MainMissing {
		b.WriteString(", MainMissing: true")
	}
	if r.MainDir {
		b.WriteString(", MainDir: true")
	}
	if r.MainLink != "" {
		fmt.Fprintf(&b, ", MainLink: %q", r.MainLink)
	}
	if r.DropIns != nil {
		b.WriteString(", DropIns: []rawFile{")
		for i, f := range r.DropIns {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{Name: %q", f.Name)
			if f.Content != "" || (!f.Dir && f.Link == "") {
				fmt.Fprintf(&b, ", Content: %q", f.Content)
			}
			if f.Dir {
				b.WriteString(", Dir: true")
			}
			if f.Link != "" {
				fmt.Fprintf(&b, ", Link: %q", f.Link)
			}
			if f.Mode != 0 {
				fmt.Fprintf(&b, ", Mode: %#o", f.Mode)
			}
			b.WriteString("}")
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	return b.String()
}

var caseCounter atomic.Int64

// write puts the case under a fresh directory and returns the paths.
func (r rawRegCase) write(root string) (mainPath, dirPath string, err error) {
	d := filepath.Join(root, strconv.FormatInt(caseCounter.Add(1), 10))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", "", err
	}
	mainPath = filepath.Join(d, "registries.conf")
	dirPath = filepath.Join(d, "registries.conf.d")
	switch {
	case r.MainMissing:
	case r.MainDir:
		err = os.Mkdir(mainPath, 0o755)
	case r.MainLink != "":
		err = os.Symlink(r.MainLink, mainPath)
	default:
		err = os.WriteFile(mainPath, []byte(r.Main), 0o644)
	}
	if err != nil {
		return "", "", err
	}
	if r.DropIns != nil {
		if err := os.Mkdir(dirPath, 0o755); err != nil {
			return "", "", err
		}
		for _, f := range r.DropIns {
			p := filepath.Join(dirPath, f.Name)
			if f.Link != "" {
				if err := os.Symlink(f.Link, p); err != nil {
					return "", "", err
				}
				target, ok := strings.CutPrefix(f.Link, "../")
				if !ok || (f.Content == "" && !f.Dir) {
					continue // dangling, a loop, or a sibling entry
				}
				p = filepath.Join(d, target)
				if _, err := os.Lstat(p); err == nil {
					continue // written by an earlier entry
				}
			}
			if f.Dir {
				err = os.Mkdir(p, 0o755)
			} else {
				mode := f.Mode
				if mode == 0 {
					mode = 0o644
				}
				if err = os.WriteFile(p, []byte(f.Content), mode); err == nil {
					err = os.Chmod(p, mode)
				}
			}
			if err != nil {
				return "", "", err
			}
		}
	}
	return mainPath, dirPath, nil
}

// ---- the oracle ----

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'|\d+`)

// errKind strips the specifics from a library error for the signature.
func errKind(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\": "); strings.HasPrefix(s, "loading registries configuration \"") && i > 0 {
		s = s[i+3:]
	}
	s = quoted.ReplaceAllString(s, "X")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

type libResolve struct {
	LoadErr  error
	RefErr   error
	Registry *sysregistriesv2.Registry
	Sources  []sysregistriesv2.PullSource
	PullErr  error
	Named    reference.Named
	Config   configOut // the merged configuration, when it loads
}

// loadErrKind: the `kind` resolve --json gives a library load error.
func loadErrKind(err error) string {
	var syntax toml.ParseError
	var path *fs.PathError
	switch {
	case errors.As(err, &syntax):
		return "registries-syntax"
	case errors.As(err, &path):
		return "registries-read"
	}
	return "registries-invalid"
}

// loadLog collects, per case directory, the files sysregistriesv2 reads: it
// logs "Loading registries configuration %q" at debug level for each.
type loadLog struct {
	mu    sync.Mutex
	names map[string][]string // case directory -> files, in order
}

var loads = &loadLog{names: map[string][]string{}}

func init() {
	logrus.AddHook(loads)
}

func (l *loadLog) Levels() []logrus.Level { return []logrus.Level{logrus.DebugLevel} }

func (l *loadLog) Fire(e *logrus.Entry) error {
	q, ok := strings.CutPrefix(e.Message, "Loading registries configuration ")
	if !ok {
		return nil
	}
	name, err := strconv.Unquote(q)
	if err != nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for d := filepath.Dir(name); d != "/" && d != "."; d = filepath.Dir(d) {
		if list, ok := l.names[d]; ok {
			l.names[d] = append(list, name)
			return nil
		}
	}
	return nil
}

func (l *loadLog) start(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names[dir] = []string{}
}

// take returns the files of the first load: another worker's
// InvalidateCache can make the library load the same files again.
func (l *loadLog) take(dir string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.names[dir]
	delete(l.names, dir)
	for i := 1; i < len(list); i++ {
		if list[i] == list[0] {
			return list[:i]
		}
	}
	return list
}

var shortNameModes = map[types.ShortNameMode]string{types.ShortNameModeDisabled: "disabled",
	types.ShortNameModeEnforcing: "enforcing", types.ShortNameModePermissive: "permissive"}

// libRegistries asks containers/image what a pull of image would use.
func libRegistries(mainPath, dirPath, image string) libResolve {
	var res libResolve
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		res.RefErr = err
		return res
	}
	res.Named = named
	sys := &types.SystemContext{SystemRegistriesConfPath: mainPath, SystemRegistriesConfDirPath: dirPath}
	defer sysregistriesv2.InvalidateCache()
	caseDir := filepath.Dir(mainPath)
	loads.start(caseDir)
	reg, err := sysregistriesv2.FindRegistry(sys, named.Name())
	files := loads.take(caseDir)
	if err != nil {
		res.LoadErr = err
		return res
	}
	res.Registry = reg
	res.Config.Files = files
	search, origin, err1 := sysregistriesv2.UnqualifiedSearchRegistriesWithOrigin(sys)
	mode, err2 := sysregistriesv2.GetShortNameMode(sys)
	helpers, err3 := sysregistriesv2.CredentialHelpers(sys)
	if err := errors.Join(err1, err2, err3); err != nil {
		res.LoadErr = err
		return res
	}
	if search == nil {
		search = []string{}
	}
	res.Config.UnqualifiedSearchRegistries, res.Config.UnqualifiedSearchRegistriesOrigin = search, origin
	res.Config.ShortNameMode, res.Config.CredentialHelpers = shortNameModes[mode], helpers
	if reg != nil {
		res.Sources, res.PullErr = reg.PullSourcesFromReference(named)
	}
	return res
}

func (l libResolve) registryOut() *registryOut {
	if l.Registry == nil {
		return nil
	}
	mirrors := []mirrorOut{}
	for _, m := range l.Registry.Mirrors {
		mirrors = append(mirrors, mirrorOut{Location: m.Location, Insecure: m.Insecure, PullFromMirror: m.PullFromMirror})
	}
	return &registryOut{Prefix: l.Registry.Prefix, Location: l.Registry.Location, Insecure: l.Registry.Insecure,
		Blocked: l.Registry.Blocked, MirrorByDigestOnly: l.Registry.MirrorByDigestOnly, Mirrors: mirrors}
}

func (l libResolve) pullOut() []pullOut {
	out := []pullOut{}
	for i, s := range l.Sources {
		out = append(out, pullOut{Reference: s.Reference.String(), Location: s.Endpoint.Location,
			Insecure: s.Endpoint.Insecure, Mirror: i < len(l.Sources)-1})
	}
	return out
}

type regEnv struct {
	bin, root string
}

func newRegEnv(t *testing.T) *regEnv {
	return &regEnv{bin: providerBin(t), root: t.TempDir()}
}

func (e *regEnv) check(c rawRegCase) *disagreement {
	mainPath, dirPath, err := c.write(e.root)
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error()}
	}
	defer os.RemoveAll(filepath.Dir(mainPath))
	return e.checkAt(mainPath, dirPath, c.Image)
}

func (e *regEnv) checkAt(mainPath, dirPath, image string) *disagreement {
	res, err := run(e.bin, "resolve", "--json", "--registries-conf", mainPath, "--registries-conf-dir", dirPath, image)
	if err != nil {
		return &disagreement{Sig: "harness: " + err.Error(), Detail: res.String()}
	}
	lib := libRegistries(mainPath, dirPath, image)
	var out resolveOut
	derr := decodeStrict(res.Stdout, &out)
	switch {
	case lib.RefErr != nil:
		return &disagreement{Sig: "harness: generated an invalid reference", Detail: lib.RefErr.Error()}
	case lib.LoadErr != nil:
		if res.Code != 1 {
			return &disagreement{Sig: "accepts invalid registries.conf: " + errKind(lib.LoadErr),
				Detail: fmt.Sprintf("ours: %s\n  library: %v", res, lib.LoadErr)}
		}
		if derr != nil || out.Stage != "registries" || out.Error == "" {
			return &disagreement{Sig: "bad error output (registries)", Detail: fmt.Sprintf("ours: %s (decode: %v)\n  library: %v; want stage \"registries\"", res, derr, lib.LoadErr)}
		}
		if want := loadErrKind(lib.LoadErr); out.Kind != want {
			return &disagreement{Sig: "error kind differs: " + out.Kind + " where the library's is " + want,
				Detail: fmt.Sprintf("ours: %s\n  library: %v", res, lib.LoadErr)}
		}
		return nil
	case lib.PullErr != nil:
		if res.Code != 1 {
			return &disagreement{Sig: "pull sources where the library fails: " + errKind(lib.PullErr),
				Detail: fmt.Sprintf("ours: %s\n  library: PullSourcesFromReference: %v", res, lib.PullErr)}
		}
		if derr != nil || out.Error == "" || out.Kind != "pull-source" {
			return &disagreement{Sig: "bad error output (pull sources)", Detail: fmt.Sprintf("ours: %s (decode: %v)\n  library: %v; want kind \"pull-source\"", res, derr, lib.PullErr)}
		}
		return nil
	}
	if res.Code != 0 {
		return &disagreement{Sig: "rejects what the library accepts",
			Detail: fmt.Sprintf("ours: %s\n  library: registry %s, pullSources %s", res, mustJSON(lib.registryOut()), mustJSON(lib.pullOut()))}
	}
	if derr != nil {
		return &disagreement{Sig: "bad JSON", Detail: fmt.Sprintf("ours: %s (decode: %v)", res, derr)}
	}
	if out.Configuration == nil || !reflect.DeepEqual(*out.Configuration, lib.Config) {
		return &disagreement{Sig: "configuration differs", Detail: fmt.Sprintf("ours:    %s\n  library: %s", mustJSON(out.Configuration), mustJSON(lib.Config))}
	}
	for i := range out.PullSources {
		out.PullSources[i].Credential, out.PullSources[i].AuthFileCredential = nil, nil // the authfile area's
	}
	wantReg, wantSrc := lib.registryOut(), lib.pullOut()
	if (wantReg == nil) != (out.Registry == nil) || (wantReg != nil && !reflect.DeepEqual(*wantReg, *out.Registry)) {
		sig := "registry differs"
		switch {
		case wantReg == nil:
			sig = "registry matched where the library has none"
		case out.Registry == nil:
			sig = "no registry where the library matches one"
		default:
			var f []string
			if wantReg.Prefix != out.Registry.Prefix {
				f = append(f, "prefix")
			}
			if wantReg.Location != out.Registry.Location {
				f = append(f, "location")
			}
			if wantReg.Insecure != out.Registry.Insecure {
				f = append(f, "insecure")
			}
			if wantReg.Blocked != out.Registry.Blocked {
				f = append(f, "blocked")
			}
			if wantReg.MirrorByDigestOnly != out.Registry.MirrorByDigestOnly {
				f = append(f, "mirrorByDigestOnly")
			}
			if !slices.Equal(wantReg.Mirrors, out.Registry.Mirrors) {
				f = append(f, "mirrors")
			}
			sig += ": " + strings.Join(f, ",")
		}
		return &disagreement{Sig: sig, Detail: fmt.Sprintf("ours:    %s\n  library: %s", mustJSON(out.Registry), mustJSON(wantReg))}
	}
	if out.PullSources == nil {
		out.PullSources = []pullOut{}
	}
	if !slices.Equal(wantSrc, out.PullSources) {
		sig := "pullSources differ"
		if len(wantSrc) != len(out.PullSources) {
			sig += " (count)"
		} else {
			for i := range wantSrc {
				if wantSrc[i].Reference != out.PullSources[i].Reference {
					sig += " (reference)"
					break
				}
				if wantSrc[i] != out.PullSources[i] {
					sig += " (flags)"
					break
				}
			}
		}
		return &disagreement{Sig: sig, Detail: fmt.Sprintf("ours:    %s\n  library: %s", mustJSON(out.PullSources), mustJSON(wantSrc))}
	}
	return nil
}

// ---- the generator ----

type regGen struct {
	r     *rand.Rand
	valid bool // only configurations the library is meant to accept (area 4)
}

var (
	genHosts   = []string{"example.com", "a.example.com", "b.a.example.com", "example.com:5000", "registry.io", "localhost", "localhost:5000", "docker.io", "quay.io", "mirror.io", "mirror.io:5000", "10.0.0.1:8443", "x.example.org"}
	genPaths   = []string{"ns", "ns/repo", "ns/repo/sub", "library/nginx", "library", "nginx", "ns2/app", "nsx", "repo", "ns/re"}
	wildSuffix = []string{"example.com", "a.example.com", "io", "example.org", "example.com.a.example.com"}
	mirrorLocs = []string{"mirror.io", "mirror.io/cache", "mirror.io:5000/a/b", "example.com/mirror", "localhost:5000", "quay.io/mirror/ns", "10.0.0.1:8443/m", "b.a.example.com/m", "registry.io"}
)

func ptr[T any](v T) *T { return &v }

func (g regGen) hostPath() string {
	r := g.r
	h := pick(r, genHosts...)
	if r.IntN(3) > 0 {
		h += "/" + pick(r, genPaths...)
	}
	return h
}

func (g regGen) prefix() *string {
	r := g.r
	switch n := r.IntN(20); {
	case n < 12:
		return ptr(g.hostPath())
	case n < 16:
		return ptr("*." + pick(r, wildSuffix...))
	case n < 17 && !g.valid && r.IntN(3) == 0:
		return ptr(pick(r, "*.example.com/ns", "*.example.com:5000", "*.example.com@x", "*example.com", "*.*.example.com", "**.example.com",
			"https://example.com", "http://example.com/ns", "*.", "*", "example.com/", "example.com/ns/", "Example.com", "docker.io/library/nginx:1.0",
			"", "example.com//ns"))
	case n < 18:
		return ptr(g.hostPath() + pick(r, "/", ""))
	default:
		return nil
	}
}

func (g regGen) location(prefix *string) *string {
	r := g.r
	if prefix != nil && strings.HasPrefix(*prefix, "*.") {
		// wildcard: usually no location
		switch r.IntN(4) {
		case 0:
			return ptr(pick(r, mirrorLocs...))
		case 1:
			return ptr("")
		default:
			return nil
		}
	}
	switch n := r.IntN(20); {
	case n < 1 && !g.valid && r.IntN(3) == 0:
		return nil // location unset: only valid for a wildcard prefix
	case n < 11:
		if prefix != nil {
			return ptr(*prefix)
		}
		return ptr(g.hostPath())
	case n < 17:
		return ptr(pick(r, append(mirrorLocs, g.hostPath())...))
	case n < 18:
		return ptr(g.hostPath() + "/")
	case n < 19 && !g.valid && r.IntN(3) == 0:
		return ptr(pick(r, "http://mirror.io", "https://mirror.io/x", "Mirror.io", "docker.io", "docker.io/library", "MIRROR.IO/x", "mirror.io/UPPER", "localhost", "foo", "", "mirror.io:abc", "[::1]:5000"))
	default:
		if prefix == nil {
			return ptr(g.hostPath())
		}
		return ptr(*prefix)
	}
}

func (g regGen) optBool(p int) *bool {
	if g.r.IntN(100) < p {
		return ptr(g.r.IntN(2) == 0)
	}
	return nil
}

func (g regGen) mirror(digestOnly bool) mirrorSpec {
	r := g.r
	m := mirrorSpec{Location: ptr(pick(r, mirrorLocs...)), Insecure: g.optBool(40)}
	if r.IntN(30) == 0 {
		m.KeyCase = 1 + r.IntN(2)
	}
	if r.IntN(3) == 0 {
		m.Location = ptr(g.hostPath())
	}
	if !digestOnly || (!g.valid && r.IntN(10) == 0) {
		if r.IntN(2) == 0 {
			m.PullFromMirror = ptr(pick(r, "all", "digest-only", "tag-only", ""))
		}
	}
	if !g.valid {
		switch r.IntN(80) {
		case 0:
			m.Location = nil
		case 1:
			m.Location = ptr(pick(r, "https://mirror.io", "http://m.io/x", "", "Mirror.IO", "docker.io", "mirror.io/"))
		case 2:
			m.PullFromMirror = ptr(pick(r, "ALL", "bogus", "digest", "tag-only "))
		case 3:
			m.Extra = pick(r, "foo = 1", "insecure-skip = true", "insecure = \"yes\"", "location = \"twice.io\"")
			// Two valid spellings of one key reach the field in Go map
			// order, at random (see regSpec's Extra).
			if m.KeyCase != 0 && m.Location != nil && strings.HasPrefix(m.Extra, "location") {
				m.Extra = ""
			}
		}
	}
	return m
}

func (g regGen) registry() regSpec {
	r := g.r
	reg := regSpec{Prefix: g.prefix()}
	if r.IntN(30) == 0 {
		reg.KeyCase = 1 + r.IntN(2)
	}
	reg.Location = g.location(reg.Prefix)
	if reg.Prefix == nil && reg.Location == nil {
		reg.Location = ptr(g.hostPath())
	}
	if g.valid && reg.Prefix != nil && !strings.HasPrefix(*reg.Prefix, "*.") && reg.Location != nil && *reg.Location == "" {
		reg.Location = nil
	}
	reg.Insecure, reg.Blocked, reg.MirrorByDigestOnly = g.optBool(30), g.optBool(15), g.optBool(25)
	dig := reg.MirrorByDigestOnly != nil && *reg.MirrorByDigestOnly
	for range r.IntN(4) {
		reg.Mirrors = append(reg.Mirrors, g.mirror(dig))
	}
	if !g.valid {
		switch r.IntN(80) {
		case 0:
			reg.PullFromMirror = ptr(pick(r, "all", "digest-only"))
		case 1:
			reg.Extra = pick(r, "foo = 1", "mirror-by-tag-only = true", "Insecure = true", "insecure = 1", "blocked = \"true\"", "mirror = 3", "prefix = \"twice.io\"")
			// Two spellings of one key in a table reach the same field in Go
			// map order, at random: the library has no single answer.
			if (reg.Insecure != nil && strings.HasPrefix(reg.Extra, "Insecure")) ||
				(reg.Prefix != nil && strings.HasPrefix(reg.Extra, "prefix")) {
				reg.Extra = ""
			}
		}
	}
	return reg
}

func (g regGen) conf(maxRegs int) confSpec {
	r := g.r
	var c confSpec
	if r.IntN(30) == 0 {
		c.KeyCase = 1 + r.IntN(2)
	}
	n := r.IntN(maxRegs + 1)
	for range n {
		if len(c.Regs) > 0 && r.IntN(6) == 0 {
			// a repeated prefix (or location) with other settings
			prev := c.Regs[r.IntN(len(c.Regs))]
			dup := g.registry()
			if g.valid {
				dup.Prefix, dup.Insecure, dup.Blocked = prev.Prefix, prev.Insecure, prev.Blocked
				if prev.Location != nil && dup.Location != nil {
					dup.Location = ptr(*dup.Location + "/dup") // keep insecure/blocked conflict-free
				}
			} else if r.IntN(2) == 0 {
				dup.Prefix = prev.Prefix
			} else {
				dup.Location = prev.Location
			}
			c.Regs = append(c.Regs, dup)
			continue
		}
		c.Regs = append(c.Regs, g.registry())
	}
	switch r.IntN(24) {
	case 0:
		c.Top = pick(r, `unqualified-search-registries = ["docker.io", "quay.io"]`, `short-name-mode = "enforcing"`,
			`credential-helpers = ["containers-auth.json"]`, `unqualified-search-registries = []`)
	case 1:
		if !g.valid {
			c.Top = pick(r, `unqualified-search-registries = ["https://quay.io"]`, `unqualified-search-registries = ["quay.io/ns"]`,
				`short-name-mode = "bogus"`, `unknown-key = 1`, `registries = ["docker.io"]`, `unqualified-search-registries = "docker.io"`,
				`credential-helpers = "x"`, `short-name-mode = ""`, `[registries.search]
registries = []`, `[registries.search]`, `[registries.block]
registries = ["example.com"]`, `[registries.insecure]
registries = []`)
		}
	case 2:
		c.Tail = pick(r, `[aliases]
"nginx" = "docker.io/library/nginx"`, `[aliases]
"ns/app" = "quay.io/ns/app"`)
		if !g.valid && r.IntN(2) == 0 {
			c.Tail = pick(r, `[aliases]
"nginx" = "nginx"`, `[aliases]
"docker.io/nginx" = "docker.io/library/nginx"`, `[aliases]
"nginx" = "quay.io/nginx:1"`, `[registries.search]
registries = ["docker.io"]`, `[[registry]]
prefix = 3`, `[[registry]`, `[registry]
prefix = "x.io"`, `this is not toml`, `[unknown]
x = 1`)
		}
	}
	return c
}

var dropInNames = []string{"00-a.conf", "10-b.conf", "9.conf", "B.conf", "a.conf", "z.conf", "001.conf"}

func (g regGen) image(c regCase) string {
	r := g.r
	// pick a name related to the configuration most of the time
	var name string
	var cands []string
	for _, cs := range append([]confSpec{c.Main}, c.DropIns...) {
		for _, reg := range cs.Regs {
			if reg.Prefix != nil {
				cands = append(cands, *reg.Prefix)
			}
			if reg.Location != nil {
				cands = append(cands, *reg.Location)
			}
		}
	}
	switch n := r.IntN(10); {
	case n < 6 && len(cands) > 0:
		name = pick(r, cands...)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			name = pick(r, "a.", "z.", "x.y.", "", "a.example.com.") + rest
		}
		name = strings.TrimRight(name, "/")
		if i := strings.IndexAny(name, ":@"); i >= 0 && strings.Contains(name[:i], "/") {
			name = name[:i]
		}
		if r.IntN(3) > 0 || !strings.Contains(name, "/") {
			name += "/" + pick(r, genPaths...)
		}
	case n < 8:
		name = g.hostPath()
		if !strings.Contains(name, "/") {
			name += "/" + pick(r, genPaths...)
		}
	default:
		name = pick(r, "nginx", "library/nginx", "ns/app", "docker.io/ns/app", "a.example.com/ns/repo", "c.b.a.example.com/x", "example.com.evil.io/x", "evil.io/a.example.com/x", "mirror.io/x")
	}
	dig := "@" + pick(r, "sha256:"+strings.Repeat("a1", 32), "sha512:"+strings.Repeat("0f", 64))
	switch n := r.IntN(20); {
	case n < 2:
		return name // compared for the bare name, as given
	case n < 3:
		return name + ":1.0" + dig
	case n < 11:
		return name + ":" + pick(r, "1.0", "latest", "v2", "ns")
	default:
		return name + dig
	}
}

func (g regGen) regCase() regCase {
	r := g.r
	c := regCase{Main: g.conf(5)}
	if !g.valid && r.IntN(100) == 0 {
		c.MainMissing = true
	}
	if r.IntN(6) == 0 {
		c.NoDropInDir = true
	} else {
		for range r.IntN(4) {
			d := g.conf(2)
			d.Name = pick(r, dropInNames...)
			if !g.valid && r.IntN(20) == 0 {
				d.Name = pick(r, "x.conf.bak", ".hidden.conf", "README", "y.CONF")
			}
			if r.IntN(25) == 0 {
				d.Dir, d.Regs, d.Top, d.Tail = true, nil, "", ""
				d.Name = "sub.conf"
			}
			if slices.ContainsFunc(c.DropIns, func(o confSpec) bool { return o.Name == d.Name }) {
				continue
			}
			c.DropIns = append(c.DropIns, d)
		}
	}
	c.Image = g.image(c)
	for {
		if _, err := reference.ParseNormalizedNamed(c.Image); err == nil {
			break
		}
		c.Image = g.image(c)
	}
	return c
}

// shrinkRegCase proposes simpler cases.
func shrinkRegCase(c regCase) []regCase {
	var out []regCase
	clone := func() regCase {
		n := c
		n.Main = cloneConf(c.Main)
		n.DropIns = make([]confSpec, len(c.DropIns))
		for i := range c.DropIns {
			n.DropIns[i] = cloneConf(c.DropIns[i])
		}
		return n
	}
	if len(c.DropIns) > 0 {
		n := clone()
		n.DropIns = nil
		out = append(out, n)
		for i := range c.DropIns {
			n := clone()
			n.DropIns = slices.Delete(n.DropIns, i, i+1)
			out = append(out, n)
		}
	}
	if !c.NoDropInDir && len(c.DropIns) == 0 {
		n := clone()
		n.NoDropInDir = true
		out = append(out, n)
	}
	confs := func(n *regCase) []*confSpec {
		cs := []*confSpec{&n.Main}
		for i := range n.DropIns {
			cs = append(cs, &n.DropIns[i])
		}
		return cs
	}
	nconf := len(confs(&c))
	for ci := range nconf {
		cs := confs(&c)[ci]
		if cs.Top != "" {
			n := clone()
			confs(&n)[ci].Top = ""
			out = append(out, n)
		}
		if cs.Tail != "" {
			n := clone()
			confs(&n)[ci].Tail = ""
			out = append(out, n)
		}
		if cs.KeyCase != 0 {
			n := clone()
			confs(&n)[ci].KeyCase = 0
			out = append(out, n)
		}
		for ri := range cs.Regs {
			n := clone()
			nc := confs(&n)[ci]
			nc.Regs = slices.Delete(nc.Regs, ri, ri+1)
			out = append(out, n)
		}
		for ri, reg := range cs.Regs {
			edits := []func(*regSpec){}
			for mi := range reg.Mirrors {
				edits = append(edits, func(r *regSpec) { r.Mirrors = slices.Delete(r.Mirrors, mi, mi+1) })
			}
			if reg.Insecure != nil {
				edits = append(edits, func(r *regSpec) { r.Insecure = nil })
			}
			if reg.Blocked != nil {
				edits = append(edits, func(r *regSpec) { r.Blocked = nil })
			}
			if reg.MirrorByDigestOnly != nil {
				edits = append(edits, func(r *regSpec) { r.MirrorByDigestOnly = nil })
			}
			if reg.Extra != "" {
				edits = append(edits, func(r *regSpec) { r.Extra = "" })
			}
			if reg.KeyCase != 0 {
				edits = append(edits, func(r *regSpec) { r.KeyCase = 0 })
			}
			if reg.PullFromMirror != nil {
				edits = append(edits, func(r *regSpec) { r.PullFromMirror = nil })
			}
			if reg.Location != nil && reg.Prefix != nil {
				edits = append(edits, func(r *regSpec) { r.Location = nil }, func(r *regSpec) { r.Prefix = nil })
			}
			for mi, m := range reg.Mirrors {
				if m.Insecure != nil {
					edits = append(edits, func(r *regSpec) { r.Mirrors[mi].Insecure = nil })
				}
				if m.PullFromMirror != nil {
					edits = append(edits, func(r *regSpec) { r.Mirrors[mi].PullFromMirror = nil })
				}
				if m.Extra != "" {
					edits = append(edits, func(r *regSpec) { r.Mirrors[mi].Extra = "" })
				}
				if m.KeyCase != 0 {
					edits = append(edits, func(r *regSpec) { r.Mirrors[mi].KeyCase = 0 })
				}
			}
			for _, ed := range edits {
				n := clone()
				ed(&confs(&n)[ci].Regs[ri])
				out = append(out, n)
			}
		}
	}
	return out
}

func cloneConf(c confSpec) confSpec {
	n := c
	n.Regs = make([]regSpec, len(c.Regs))
	for i, r := range c.Regs {
		r.Mirrors = slices.Clone(r.Mirrors)
		n.Regs[i] = r
	}
	return n
}

// keyCased: the case spells some TOML key in another case than documented.
// Such cases get their own report signature so that this one root cause
// does not hide the others.
func (c regCase) keyCased() bool {
	for _, cs := range append([]confSpec{c.Main}, c.DropIns...) {
		if cs.KeyCase != 0 {
			return true
		}
		for _, r := range cs.Regs {
			if r.KeyCase != 0 {
				return true
			}
			for _, m := range r.Mirrors {
				if m.KeyCase != 0 {
					return true
				}
			}
		}
	}
	return false
}

func tagKeyCase(d *disagreement, c regCase) *disagreement {
	if d != nil && c.keyCased() {
		d.Sig += " [key case]"
	}
	return d
}

// ---- tests ----

// regArea is one generated registries.conf area: how its cases are made,
// written out and reported.
type regArea[C any] struct {
	name   string
	stream uint64 // the generators' PCG stream, one per area
	// gen makes a case; half the cases are meant to load (g.valid), half
	// may carry invalid settings.
	gen    func(g regGen) C
	raw    func(C) rawRegCase                   // the files and the image of a case
	tag    func(*disagreement, C) *disagreement // nil: reported as it is
	shrink func(C) []C                          // nil: not minimized
}

// runGeneratedRegistries checks *flagN cases of area a: each case's files
// are written out, loaded by containers/image and by us, and compared.
func runGeneratedRegistries[C any](t *testing.T, a regArea[C]) {
	e := newRegEnv(t)
	n := *flagN
	start, sp0 := time.Now(), spawns.Load()
	coll := newCollector[C]()
	var loadErrs, matched atomic.Int64
	tag := func(d *disagreement, c C) *disagreement {
		if a.tag == nil {
			return d
		}
		return a.tag(d, c)
	}
	parallel(n, func(i int) {
		g := regGen{r: rand.New(rand.NewPCG(uint64(*flagSeed), uint64(i)+a.stream<<40)), valid: i%2 == 0}
		c := a.gen(g)
		raw := a.raw(c)
		mainPath, dirPath, err := raw.write(e.root)
		if err != nil {
			t.Error(err)
			return
		}
		defer os.RemoveAll(filepath.Dir(mainPath))
		if lib := libRegistries(mainPath, dirPath, raw.Image); lib.LoadErr != nil {
			loadErrs.Add(1)
		} else if lib.Registry != nil {
			matched.Add(1)
		}
		if d := tag(e.checkAt(mainPath, dirPath, raw.Image), c); d != nil {
			coll.add(c, d)
		}
	})
	logTiming(t, a.name, n, start, sp0)
	t.Logf("%s: %d load errors, %d with a matching registry, %d without", a.name, loadErrs.Load(), matched.Load(), int64(n)-loadErrs.Load()-matched.Load())
	coll.report(t, a.name, func(c C) *disagreement { return tag(e.check(a.raw(c)), c) }, a.shrink,
		func(c C) string { return a.raw(c).goString() })
}

func TestGeneratedRegistries(t *testing.T) {
	runGeneratedRegistries(t, regArea[regCase]{
		name:   "registries",
		stream: 2,
		gen:    func(g regGen) regCase { return g.regCase() },
		raw:    regCase.raw,
		tag:    tagKeyCase,
		shrink: shrinkRegCase,
	})
}

func TestCuratedRegistries(t *testing.T) {
	e := newRegEnv(t)
	for i, c := range curatedRegistries {
		if d := e.check(c); d != nil {
			t.Errorf("DISAGREEMENT curated registries #%d [%s]\n  input: %s\n  %s", i, d.Sig, c.goString(), d.Detail)
		}
	}
}
