package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

var (
	flagSeed      = flag.Int64("seed", 1, "seed of the generators")
	flagN         = flag.Int("n", 10000, "generated cases per area")
	flagMinimize  = flag.Bool("minimize", true, "minimize disagreements before reporting them")
	flagMaxReport = flag.Int("maxreport", 25, "distinct disagreements reported (and minimized) per area")
	flagWorkers   = flag.Int("workers", runtime.NumCPU(), "parallel workers")
)

func TestMain(m *testing.M) {
	// kubelet's keyring logs every key it cannot parse; containers/image
	// warns about odd auth entries: both are expected with generated input.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	// Debug level reaches loadLog, which records the registries.conf files
	// the library reads; nothing is printed.
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.DebugLevel)
	code := m.Run()
	if binCopyDir != "" {
		os.RemoveAll(binCopyDir)
	}
	os.Exit(code)
}

// binCopyDir holds a private copy of the binary, so that a rebuild during a
// long run does not break it.
var binCopyDir string

func copyBinary(src string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "ccp-conformance-bin-")
	if err != nil {
		return "", err
	}
	binCopyDir = dir
	dst := filepath.Join(dir, filepath.Base(src))
	return dst, os.WriteFile(dst, data, 0o755)
}

var (
	binOnce     sync.Once
	binCopyOnce sync.Once
	binPath     string
	binErr      error
)

// providerBin finds the binary: $CRIO_CREDENTIAL_PROVIDER_BIN, else
// ../build/crio-credential-provider relative to test/.
func providerBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("CRIO_CREDENTIAL_PROVIDER_BIN"); p != "" {
			binPath = p
			if _, err := os.Stat(p); err != nil {
				binErr = fmt.Errorf("CRIO_CREDENTIAL_PROVIDER_BIN=%s: %w", p, err)
			}
			return
		}
		p, err := filepath.Abs(filepath.Join("..", "..", "build", "crio-credential-provider"))
		if err != nil {
			binErr = err
			return
		}
		binPath = p
		if _, err := os.Stat(p); err != nil {
			binErr = fmt.Errorf("%s not built (cmake -S . -B build -G Ninja && cmake --build build): %w", p, errSkip)
		}
	})
	binCopyOnce.Do(func() {
		if binErr == nil {
			binPath, binErr = copyBinary(binPath)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var errSkip = errors.New("skipping")

// childEnv is the environment of the binary: nothing that redirects
// registries.conf behind our back.
var childEnv = sync.OnceValue(func() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONTAINERS_REGISTRIES_CONF") || strings.HasPrefix(kv, "REGISTRIES_CONFIG_PATH") {
			continue
		}
		env = append(env, kv)
	}
	return env
})

type runResult struct {
	Args   []string
	Code   int
	Stdout []byte
	Stderr []byte
}

func (r runResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, trunc(string(r.Stdout), 2000), trunc(string(r.Stderr), 500))
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

var spawns atomic.Int64

// run executes the binary; errors only when it could not be run at all or
// was killed (a crash is a result worth reporting, not a harness error).
func run(bin string, args ...string) (runResult, error) {
	spawns.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := runResult{Args: args, Stdout: out.Bytes(), Stderr: errb.Bytes()}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return res, err
		}
		res.Code = ee.ExitCode()
		if ctx.Err() != nil {
			return res, fmt.Errorf("timeout: %v", ctx.Err())
		}
		if res.Code < 0 {
			// Killed by a signal (a crash): keep -1 and say which.
			res.Stderr = append([]byte(ee.String()+"; "), res.Stderr...)
		}
	}
	return res, nil
}

// Output of `resolve --json`.
type resolveOut struct {
	Image             string       `json:"image"`
	Reference         string       `json:"reference"`
	Name              string       `json:"name"`
	AuthFile          string       `json:"authFile"`
	Registry          *registryOut `json:"registry"`
	PullSources       []pullOut    `json:"pullSources"`
	CredentialSources []credSrcOut `json:"credentialSources"`
	Configuration     *configOut   `json:"configuration"`
	Error             string       `json:"error"`
	Stage             string       `json:"stage"`
	Kind              string       `json:"kind"`
}

type registryOut struct {
	Prefix             string      `json:"prefix"`
	Location           string      `json:"location"`
	Insecure           bool        `json:"insecure"`
	Blocked            bool        `json:"blocked"`
	MirrorByDigestOnly bool        `json:"mirrorByDigestOnly"`
	Mirrors            []mirrorOut `json:"mirrors"`
}

type mirrorOut struct {
	Location       string `json:"location"`
	Insecure       bool   `json:"insecure"`
	PullFromMirror string `json:"pullFromMirror"`
}

type configOut struct {
	Files                             []string `json:"files"`
	UnqualifiedSearchRegistries       []string `json:"unqualifiedSearchRegistries"`
	UnqualifiedSearchRegistriesOrigin string   `json:"unqualifiedSearchRegistriesOrigin"`
	ShortNameMode                     string   `json:"shortNameMode"`
	CredentialHelpers                 []string `json:"credentialHelpers"`
}

// pullOut is comparable: the credentials beside it are compared in the
// authfile area, through pointers the registries area leaves out.
type pullOut struct {
	Reference          string           `json:"reference"`
	Location           string           `json:"location"`
	Insecure           bool             `json:"insecure"`
	Mirror             bool             `json:"mirror"`
	Credential         *credOut         `json:"credential,omitempty"`
	AuthFileCredential *authFileCredOut `json:"authFileCredential,omitempty"`
}

// What containers/image reads back from the auth file for a pull source.
type authFileCredOut struct {
	Key      string `json:"key"`
	Username string `json:"username"`
	Helper   string `json:"helper"`
	Error    string `json:"error"`
}

type credSrcOut struct {
	Reference string `json:"reference"`
	Location  string `json:"location"`
	// Printed by the binary although docs/interface.md does not list it;
	// compared with the pull source's endpoint.
	Insecure   bool     `json:"insecure"`
	Mirror     bool     `json:"mirror"`
	Credential *credOut `json:"credential"`
}

type credOut struct {
	Key      string `json:"key"`
	Username string `json:"username"`
}

// Output of `match --json`.
type matchOut struct {
	Key      string `json:"key"`
	Username string `json:"username"`
	Fallback bool   `json:"fallback"`
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// parallel runs f(i) for i in [0,n) on the worker pool.
func parallel(n int, f func(i int)) {
	w := *flagWorkers
	if w < 1 {
		w = 1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// A disagreement between the provider and the library, for one input.
type disagreement struct {
	Sig    string // what differs (used to report each kind once)
	Detail string // ours vs the library's
}

// collector keeps the first failing case of each signature.
type collector[C any] struct {
	mu     sync.Mutex
	total  int
	bySig  map[string]int
	first  map[string]C
	detail map[string]string
	order  []string
}

func newCollector[C any]() *collector[C] {
	return &collector[C]{bySig: map[string]int{}, first: map[string]C{}, detail: map[string]string{}}
}

func (c *collector[C]) add(tc C, d *disagreement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.bySig[d.Sig]++
	if _, ok := c.first[d.Sig]; !ok {
		c.first[d.Sig] = tc
		c.detail[d.Sig] = d.Detail
		c.order = append(c.order, d.Sig)
	}
}

// report minimizes (with check) and prints every signature's first case.
func (c *collector[C]) report(t *testing.T, area string, check func(C) *disagreement, shrink func(C) []C, show func(C) string) {
	t.Helper()
	if c.total == 0 {
		return
	}
	t.Errorf("%s: %d disagreeing cases, %d distinct kinds", area, c.total, len(c.order))
	for i, sig := range c.order {
		if i >= *flagMaxReport {
			t.Errorf("%s: %d more kinds not shown (raise -maxreport)", area, len(c.order)-i)
			break
		}
		tc, detail := c.first[sig], c.detail[sig]
		if *flagMinimize && shrink != nil && !strings.HasPrefix(sig, "harness:") {
			tc, detail = minimize(tc, sig, check, shrink, detail)
		}
		t.Errorf("DISAGREEMENT %s [%s] (%d cases)\n  minimal input: %s\n  %s", area, sig, c.bySig[sig], show(tc), detail)
	}
}

// minimize greedily applies shrinking steps that keep a disagreement of the
// same signature.
func minimize[C any](tc C, sig string, check func(C) *disagreement, shrink func(C) []C, detail string) (C, string) {
	budget := 400
	for progress := true; progress && budget > 0; {
		progress = false
		for _, cand := range shrink(tc) {
			budget--
			if budget <= 0 {
				break
			}
			if d := check(cand); d != nil && d.Sig == sig {
				tc, detail, progress = cand, d.Detail, true
				break
			}
		}
	}
	return tc, detail
}

func logTiming(t *testing.T, area string, n int, start time.Time, sp0 int64) {
	t.Helper()
	el := time.Since(start)
	t.Logf("%s: %d cases, %d binary runs, %s (%.2f ms/case)", area, n, spawns.Load()-sp0, el.Round(time.Millisecond), float64(el.Microseconds())/1000/float64(max(n, 1)))
}
