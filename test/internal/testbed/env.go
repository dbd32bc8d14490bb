package testbed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crio-credential-provider/test/internal/nodeapi"
)

// Bed is the process-wide part of the test bed: the control plane and the
// helper binaries.
type Bed struct {
	Dir     string
	CP      *ControlPlane
	NodeBin string
	// Crio and Pinns are CRI-O's binaries at CRIOVersion.
	Crio, Pinns, CRIOVersion string
}

// NewBed builds the helpers (cached) and starts the control plane in dir.
func NewBed(dir string, logf func(string, ...any)) (*Bed, error) {
	start := time.Now()
	nodeBin, err := NodeBinary(logf)
	if err != nil {
		return nil, err
	}
	version := CRIOVersion()
	crio, pinns, err := CRIOBinaries(version, logf)
	if err != nil {
		return nil, err
	}
	cp, err := StartControlPlane(filepath.Join(dir, "control-plane"), logf)
	if err != nil {
		return nil, err
	}
	logf("test bed ready in %s (kube-apiserver %s, CRI-O %s)", time.Since(start).Round(100*time.Millisecond), cp.URL(), version)
	return &Bed{Dir: dir, CP: cp, NodeBin: nodeBin, Crio: crio, Pinns: pinns, CRIOVersion: version}, nil
}

// Stop stops the control plane.
func (b *Bed) Stop() {
	if b != nil && b.CP != nil {
		b.CP.Stop()
	}
}

// SharedBed is the one Bed of a test binary: started on a test's first
// Get, in a temporary directory named by prefix; the binary's TestMain is
// Main, which stops it after the tests.
type SharedBed struct {
	prefix string
	once   sync.Once
	dir    string
	bed    *Bed
	err    error
}

func NewSharedBed(prefix string) *SharedBed { return &SharedBed{prefix: prefix} }

// Get starts the bed on first use; it fails t if that is impossible.
func (s *SharedBed) Get(t testing.TB) *Bed {
	t.Helper()
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", s.prefix)
		if s.err != nil {
			return
		}
		s.bed, s.err = NewBed(s.dir, func(f string, a ...any) { fmt.Fprintf(os.Stderr, "testbed: "+f+"\n", a...) })
	})
	if s.err != nil {
		t.Fatalf("test bed: %v", s.err)
	}
	return s.bed
}

// Main runs the tests, then stops the bed (when it was started) and
// removes its directory.
func (s *SharedBed) Main(m *testing.M) {
	code := m.Run()
	s.bed.Stop()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	os.Exit(code)
}

// Env is one test's node: CRI-O's auth dir, global auth file,
// registries.conf (+ empty drop-in dir), certs.d, registries and drivers.
type Env struct {
	T   testing.TB
	Bed *Bed
	CP  *ControlPlane
	Dir string

	AuthDir         string // CRI-O namespaced_auth_dir
	GlobalAuthFile  string // CRI-O global_auth_file = kubelet's <root>/config.json
	RegistriesConf  string
	RegistriesConfD string // empty drop-in directory
	CertsDir        string // /etc/containers/certs.d equivalent

	mu      sync.Mutex
	drivers int
}

// NewEnv prepares a fresh node directory for t.
func (b *Bed) NewEnv(t testing.TB) *Env {
	t.Helper()
	dir := t.TempDir()
	e := &Env{T: t, Bed: b, CP: b.CP, Dir: dir,
		AuthDir:         filepath.Join(dir, "crio-auth"),
		GlobalAuthFile:  filepath.Join(dir, "kubelet", "config.json"),
		RegistriesConf:  filepath.Join(dir, "containers", "registries.conf"),
		RegistriesConfD: filepath.Join(dir, "containers", "registries.conf.d"),
		CertsDir:        filepath.Join(dir, "containers", "certs.d"),
	}
	for _, d := range []string{e.AuthDir, filepath.Dir(e.GlobalAuthFile), e.RegistriesConfD, e.CertsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.WriteFile(e.GlobalAuthFile, `{"auths":{}}`)
	e.WriteFile(e.RegistriesConf, "")
	return e
}

// WriteFile writes content to path or fails the test.
func (e *Env) WriteFile(path, content string) {
	e.T.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.T.Fatal(err)
	}
}

// Must fails the test on err.
func (e *Env) Must(err error) {
	e.T.Helper()
	if err != nil {
		e.T.Fatal(err)
	}
}

// StartRegistry starts a docker-registry for this test (TLS ones signed by
// the cluster CA and registered in certs.d); it is stopped at cleanup.
func (e *Env) StartRegistry(opts RegistryOptions) *Registry {
	e.T.Helper()
	if opts.TLS && opts.CA == nil {
		opts.CA = e.CP.CA
	}
	r, err := StartRegistry(e.Dir, opts)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(r.Stop)
	if r.Tokens != nil {
		e.T.Cleanup(r.Tokens.Close)
	}
	e.Must(r.WriteCertsD(e.CertsDir))
	return r
}

// Push builds an image labelled e2e.origin=origin and pushes it to
// reg/<repo> for each repo (repo includes the tag). cred may be nil.
func (e *Env) Push(reg *Registry, origin string, cred *Cred, repos ...string) {
	e.T.Helper()
	req := nodeapi.PushRequest{Origin: origin, CertsDir: e.CertsDir, Insecure: !reg.Opts.TLS}
	if cred != nil {
		req.Username, req.Password = cred.Username, cred.Password
	}
	for _, r := range repos {
		req.Destinations = append(req.Destinations, reg.Host+"/"+r)
	}
	b, _ := json.Marshal(req)
	cmd := exec.Command(e.Bed.NodeBin, "push")
	cmd.Stdin = bytes.NewReader(b)
	cmd.Env = append(os.Environ(), "HOME="+e.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.T.Fatalf("push %v to %s: %v\n%s", repos, reg.Host, err, out)
	}
}

// Namespace creates a new namespace called name, or name-2, name-3, ...
// when the control plane already has one (go test -count=N, reruns: without
// a namespace controller, deleted namespaces never go away). Use the
// returned name.
func (e *Env) Namespace(name string) string {
	e.T.Helper()
	for i := 1; ; i++ {
		ns := name
		if i > 1 {
			ns = fmt.Sprintf("%s-%d", name, i)
		}
		created, err := e.CP.CreateFreshNamespace(ns)
		e.Must(err)
		if created {
			return ns
		}
	}
}

// Node returns the node identity name (created on first use).
func (e *Env) Node(name string) *Node {
	e.T.Helper()
	n, err := e.CP.Node(name)
	e.Must(err)
	return n
}

// RequireProvider returns the provider binary or fails the test with a
// clear message (the test needs it; it is not skipped).
func RequireProvider(t testing.TB) string {
	t.Helper()
	p, err := ProviderBinary()
	if err != nil {
		t.Fatalf("this end-to-end test needs the provider binary: %v", err)
	}
	return p
}

// DriverConfig configures one kubelet (a CredentialProviderConfig and the
// provider's arguments).
type DriverConfig struct {
	// Node is the kubelet's identity (token requests, pods, pull secrets).
	Node *Node
	// MatchImages of the provider; default docker.io, *.docker.io, quay.io.
	MatchImages []string
	// Audience: tokenAttributes.serviceAccountTokenAudience (default DefaultAudience).
	Audience string
	// DefaultCacheDuration (default "10m").
	DefaultCacheDuration string
	// APIServer and CAFile override the provider's --api-server/--ca-file.
	APIServer, CAFile string
	// KubeletKubeconfig overrides the kubeconfig the driver itself uses
	// (default Node's).
	KubeletKubeconfig string
	// TeeStderr runs the provider through a /bin/sh wrapper that also
	// appends its stderr to Driver.ProviderStderrPath (kubelet only logs a
	// plugin's stderr when it fails; warnings of a successful run are lost).
	TeeStderr bool
	// ProviderAPIVersion is the provider's apiVersion (default
	// credentialprovider.kubelet.k8s.io/v1).
	ProviderAPIVersion string
	// NoTokenAttributes leaves tokenAttributes out (kubelet allows them
	// only with v1): kubelet then sends no service-account token.
	NoTokenAttributes bool
	// VerificationPolicy is kubelet's imagePullCredentialsVerificationPolicy
	// (default NeverVerifyPreloadedImages, kubelet's default).
	VerificationPolicy string
	// NodeArgs are appended to the e2e-node kubelet's own arguments.
	NodeArgs []string
	// CRISocket, when set, is the runtime the kubelet pulls through (a
	// containerd's socket) instead of a CRI-O started for this driver.
	CRISocket string
	// Args are appended to the standard provider arguments (--api-server,
	// --ca-file, --auth-dir, --global-auth-file, --registries-conf,
	// --registries-conf-dir).
	Args []string
}

// Driver is a running e2e-node kubelet process and the CRI-O daemon it
// pulls through.
type Driver struct {
	env        *Env
	CRIO       *CRIO
	Dir        string
	ConfigPath string
	StderrPath string
	// ProviderStderrPath collects the provider's stderr (TeeStderr only).
	ProviderStderrPath string
	cmd                *exec.Cmd
	stdin              io.WriteCloser
	out                *bufio.Scanner
	mu                 sync.Mutex
}

// ProviderArgs returns the standard provider arguments for this env.
func (e *Env) ProviderArgs(cfg DriverConfig) []string {
	api, ca := cfg.APIServer, cfg.CAFile
	if api == "" {
		api = e.CP.URL()
	}
	if ca == "" {
		ca = e.CP.CA.CertPath
	}
	return append([]string{
		"--api-server=" + api,
		"--ca-file=" + ca,
		"--auth-dir=" + e.AuthDir,
		"--global-auth-file=" + e.GlobalAuthFile,
		"--registries-conf=" + e.RegistriesConf,
		"--registries-conf-dir=" + e.RegistriesConfD,
	}, cfg.Args...)
}

// StartDriver writes the CredentialProviderConfig, links the provider into
// a bin dir and starts the kubelet driver.
func (e *Env) StartDriver(cfg DriverConfig) *Driver {
	e.T.Helper()
	if cfg.Node == nil {
		cfg.Node = e.Node("node-a")
	}
	kubeconfig := cfg.KubeletKubeconfig
	if kubeconfig == "" {
		kubeconfig = cfg.Node.Kubeconfig
	}
	e.mu.Lock()
	e.drivers++
	dir := filepath.Join(e.Dir, fmt.Sprintf("kubelet-%d", e.drivers))
	e.mu.Unlock()
	e.Must(os.MkdirAll(filepath.Join(dir, "work"), 0o755))
	configPath, binDir := e.writeProviderConfig(dir, &cfg)
	d := &Driver{env: e, Dir: dir, ConfigPath: configPath,
		StderrPath: filepath.Join(dir, "kubelet.stderr"), ProviderStderrPath: filepath.Join(dir, "provider.stderr")}

	criSocket, crioLog := cfg.CRISocket, ""
	if criSocket == "" {
		d.CRIO = e.StartCRIO(filepath.Join(dir, "crio"), CRIOConfig{})
		criSocket, crioLog = d.CRIO.Socket, d.CRIO.LogPath
	}

	stderr, err := os.Create(d.StderrPath)
	e.Must(err)
	cmd := exec.Command(e.Bed.NodeBin, "kubelet",
		"--image-credential-provider-config="+d.ConfigPath,
		"--image-credential-provider-bin-dir="+binDir,
		"--kubeconfig="+kubeconfig,
		"--auth-dir="+e.AuthDir,
		"--global-auth-file="+e.GlobalAuthFile,
		"--cri-socket="+criSocket,
		"--crio-log="+crioLog,
	)
	if cfg.VerificationPolicy != "" {
		cmd.Args = append(cmd.Args, "--image-pull-credentials-verification-policy="+cfg.VerificationPolicy)
	}
	cmd.Args = append(cmd.Args, cfg.NodeArgs...)
	cmd.Dir = filepath.Join(dir, "work")
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "work"))
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.stdin, err = cmd.StdinPipe()
	e.Must(err)
	stdout, err := cmd.StdoutPipe()
	e.Must(err)
	e.Must(cmd.Start())
	d.cmd = cmd
	d.out = bufio.NewScanner(stdout)
	d.out.Buffer(make([]byte, 1<<20), 64<<20)
	e.T.Cleanup(func() {
		d.stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-done
		}
		stderr.Close()
	})
	return d
}

// writeProviderConfig links the provider into dir/bin (through a stderr tee
// with cfg.TeeStderr) and writes dir/credential-provider.yaml; it fills in
// cfg's defaults.
func (e *Env) writeProviderConfig(dir string, cfg *DriverConfig) (configPath, binDir string) {
	e.T.Helper()
	provider := RequireProvider(e.T)
	if cfg.MatchImages == nil {
		cfg.MatchImages = []string{"docker.io", "*.docker.io", "quay.io"}
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.DefaultCacheDuration == "" {
		cfg.DefaultCacheDuration = "10m"
	}
	binDir = filepath.Join(dir, "bin")
	e.Must(os.MkdirAll(binDir, 0o755))
	providerStderr := filepath.Join(dir, "provider.stderr")
	if cfg.TeeStderr {
		script := fmt.Sprintf("#!/bin/sh\nerr=$(mktemp)\n%q \"$@\" 2>\"$err\"\nrc=$?\ncat \"$err\" >&2\ncat \"$err\" >>%q\nrm -f \"$err\"\nexit $rc\n", provider, providerStderr)
		e.Must(os.WriteFile(filepath.Join(binDir, "crio-credential-provider"), []byte(script), 0o755))
	} else {
		e.Must(os.Symlink(provider, filepath.Join(binDir, "crio-credential-provider")))
	}

	var y strings.Builder
	y.WriteString("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n")
	if cfg.ProviderAPIVersion == "" {
		cfg.ProviderAPIVersion = "credentialprovider.kubelet.k8s.io/v1"
	}
	fmt.Fprintf(&y, "- name: crio-credential-provider\n  apiVersion: %s\n", cfg.ProviderAPIVersion)
	y.WriteString("  matchImages:\n")
	for _, m := range cfg.MatchImages {
		fmt.Fprintf(&y, "  - %q\n", m)
	}
	fmt.Fprintf(&y, "  defaultCacheDuration: %q\n", cfg.DefaultCacheDuration)
	y.WriteString("  args:\n")
	for _, a := range e.ProviderArgs(*cfg) {
		fmt.Fprintf(&y, "  - %q\n", a)
	}
	if !cfg.NoTokenAttributes {
		fmt.Fprintf(&y, "  tokenAttributes:\n    serviceAccountTokenAudience: %q\n    requireServiceAccount: true\n    cacheType: ServiceAccount\n", cfg.Audience)
	}
	configPath = filepath.Join(dir, "credential-provider.yaml")
	e.WriteFile(configPath, y.String())
	return configPath, binDir
}

// StartCRIO starts a CRI-O daemon in dir for this node (auth dir, global
// auth file, registries.conf and certs.d of the env; cfg may add the pause
// image); it is stopped at cleanup.
func (e *Env) StartCRIO(dir string, cfg CRIOConfig) *CRIO {
	e.T.Helper()
	cfg.Crio, cfg.Pinns, cfg.Dir = e.Bed.Crio, e.Bed.Pinns, dir
	cfg.AuthDir, cfg.GlobalAuthFile = e.AuthDir, e.GlobalAuthFile
	cfg.RegistriesConf, cfg.RegistriesConfD, cfg.CertsDir = e.RegistriesConf, e.RegistriesConfD, e.CertsDir
	e.Must(os.MkdirAll(dir, 0o755))
	c, err := StartCRIO(cfg, e.Bed.CRIOVersion)
	e.Must(err)
	e.T.Cleanup(c.Stop)
	return c
}

// Pull runs the pulls concurrently in the driver and returns their results.
func (d *Driver) Pull(pulls ...nodeapi.Pull) nodeapi.BatchResult {
	t := d.env.T
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	b, _ := json.Marshal(nodeapi.Batch{Pulls: pulls})
	if _, err := d.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("kubelet driver: %v\n%s", err, tail(d.StderrPath, 40))
	}
	type line struct {
		b  []byte
		ok bool
	}
	ch := make(chan line, 1)
	go func() {
		ok := d.out.Scan()
		ch <- line{append([]byte(nil), d.out.Bytes()...), ok}
	}()
	select {
	case l := <-ch:
		if !l.ok {
			t.Fatalf("kubelet driver exited: %v\n%s", d.out.Err(), tail(d.StderrPath, 40))
		}
		var res nodeapi.BatchResult
		if err := json.Unmarshal(l.b, &res); err != nil {
			t.Fatalf("kubelet driver answer: %v: %s", err, l.b)
		}
		return res
	case <-time.After(5 * time.Minute):
		t.Fatalf("kubelet driver: no answer in 5m\n%s", tail(d.StderrPath, 40))
	}
	return nodeapi.BatchResult{}
}

// PullOne pulls one image for one pod and returns the result and the
// kubelet log of that pull.
func (d *Driver) PullOne(namespace, pod, image string) (nodeapi.Result, string) {
	d.env.T.Helper()
	res := d.Pull(nodeapi.Pull{Namespace: namespace, Pod: pod, Image: image})
	return res.Results[0], res.KubeletLog
}

// ProviderStderr returns what the provider wrote to stderr so far
// (TeeStderr only).
func (d *Driver) ProviderStderr() string {
	b, _ := os.ReadFile(d.ProviderStderrPath)
	return string(b)
}
