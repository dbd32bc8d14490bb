package testbed

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is Debian's docker-registry (distribution 2.8).
const RegistryBinary = "/usr/bin/docker-registry"

// RegistryOptions configures one docker-registry instance.
type RegistryOptions struct {
	Name string
	// TLS serves HTTPS with a certificate for 127.0.0.1/::1/localhost signed by CA.
	TLS bool
	CA  *CA
	// Users enables htpasswd (bcrypt) authentication.
	Users map[string]string
	// TokenAuth, with Users, authenticates with distribution's token
	// scheme (Bearer) instead: a TokenServer checks the users and issues
	// the tokens (needs CA for the token service's HTTPS).
	TokenAuth bool
	// ProxyRemoteURL makes the registry a pull-through cache of that registry.
	ProxyRemoteURL string
	// BlobRedirectURL answers blob GETs with a redirect to this base URL
	// plus the blob's storage path (distribution's redirect storage
	// middleware, as a registry in front of object storage does); the
	// storage directory is BlobStorageDir(dir, Name).
	BlobRedirectURL string
}

// BlobStorageDir is where the registry called name under dir keeps its
// storage: what a blob store behind BlobRedirectURL serves.
func BlobStorageDir(dir, name string) string {
	return filepath.Join(dir, "registry-"+name, "storage")
}

// Registry is a running docker-registry process on loopback.
type Registry struct {
	Opts    RegistryOptions
	Host    string // 127.0.0.1:<port>
	Port    int
	Dir     string
	LogPath string
	// Tokens is the token service when Opts.TokenAuth is set.
	Tokens *TokenServer

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	logFile *os.File
}

// StartRegistry starts docker-registry under dir/<name>.
func StartRegistry(dir string, opts RegistryOptions) (*Registry, error) {
	if _, err := os.Stat(RegistryBinary); err != nil {
		return nil, fmt.Errorf("%s missing: apt-get install docker-registry (%v)", RegistryBinary, err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Registry{Opts: opts, Port: port, Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: filepath.Join(dir, "registry-"+opts.Name)}
	if err := os.MkdirAll(BlobStorageDir(dir, opts.Name), 0o755); err != nil {
		return nil, err
	}
	r.LogPath = filepath.Join(r.Dir, "registry.log")
	if opts.TLS {
		if opts.CA == nil {
			return nil, fmt.Errorf("registry %s: TLS needs a CA", opts.Name)
		}
		if _, err := opts.CA.Issue(r.Dir, "tls", opts.Name, nil, []string{"127.0.0.1", "::1", "localhost"}, time.Time{}); err != nil {
			return nil, err
		}
	}
	if opts.TokenAuth {
		if opts.CA == nil || opts.Users == nil {
			return nil, fmt.Errorf("registry %s: token authentication needs a CA and users", opts.Name)
		}
		if r.Tokens, err = StartTokenServer(r.Dir, opts.Name, opts.CA, opts.Users); err != nil {
			return nil, err
		}
	}
	// A port picked by FreePort may be taken before the registry binds it
	// (the machine is shared): try a few.
	for attempt := 1; ; attempt++ {
		if err := r.writeConfig(); err != nil {
			return nil, err
		}
		err := r.start()
		if err == nil {
			return r, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
		if r.Port, err = FreePort(); err != nil {
			return nil, err
		}
		r.Host = fmt.Sprintf("127.0.0.1:%d", r.Port)
	}
}

// URL is the registry's base URL (https:// or http://).
func (r *Registry) URL() string {
	if r.Opts.TLS {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func (r *Registry) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 0.1\nlog:\n  level: debug\n  formatter: json\n  accesslog:\n    disabled: true\n")
	fmt.Fprintf(&b, "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", filepath.Join(r.Dir, "storage"))
	fmt.Fprintf(&b, "http:\n  addr: %s\n  secret: e2e-%s\n", r.Host, r.Opts.Name)
	if r.Opts.TLS {
		fmt.Fprintf(&b, "  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(r.Dir, "tls.crt"), filepath.Join(r.Dir, "tls.key"))
	}
	if r.Tokens != nil {
		fmt.Fprintf(&b, "auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
			r.Tokens.Realm, r.Tokens.Service, r.Tokens.Issuer, r.Tokens.SignerPath)
	} else if r.Opts.Users != nil {
		if err := r.writeHtpasswd(); err != nil {
			return err
		}
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: %s\n    path: %s\n", r.Opts.Name, filepath.Join(r.Dir, "htpasswd"))
	}
	if r.Opts.BlobRedirectURL != "" {
		fmt.Fprintf(&b, "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: %s\n", r.Opts.BlobRedirectURL)
	}
	if r.Opts.ProxyRemoteURL != "" {
		fmt.Fprintf(&b, "proxy:\n  remoteurl: %s\n", r.Opts.ProxyRemoteURL)
	}
	return os.WriteFile(filepath.Join(r.Dir, "config.yml"), []byte(b.String()), 0o644)
}

func (r *Registry) writeHtpasswd() error {
	users := make([]string, 0, len(r.Opts.Users))
	for u := range r.Opts.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	var b strings.Builder
	for _, u := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(r.Opts.Users[u]), bcrypt.MinCost)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	return os.WriteFile(filepath.Join(r.Dir, "htpasswd"), []byte(b.String()), 0o600)
}

func (r *Registry) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return fmt.Errorf("registry %s already running", r.Opts.Name)
	}
	f, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(RegistryBinary, "serve", filepath.Join(r.Dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = f, f
	// The proxy talks to its remote; keep it off any configured proxy.
	cmd.Env = append(os.Environ(), "NO_PROXY=*", "no_proxy=*", "HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=")
	if r.Opts.CA != nil {
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+r.Opts.CA.CertPath)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck
	r.cmd, r.done, r.logFile = cmd, done, f

	client := &http.Client{Timeout: 2 * time.Second}
	if r.Opts.TLS {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(r.Opts.CA.CertPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			f.Close()
			r.cmd = nil
			return fmt.Errorf("docker-registry %s exited: %s", r.Opts.Name, tail(r.LogPath, 20))
		default:
		}
		// Probe only once this process listens: the port might have been
		// taken by someone else's server meanwhile.
		if b, _ := os.ReadFile(r.LogPath); !strings.Contains(string(b), "listening on "+r.Host) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill() //nolint:errcheck
	<-done
	f.Close()
	r.cmd = nil
	return fmt.Errorf("docker-registry %s not ready: %s", r.Opts.Name, tail(r.LogPath, 20))
}

// Stop terminates the registry.
func (r *Registry) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill() //nolint:errcheck
		<-r.done
	}
	r.logFile.Close()
	r.cmd = nil
}

// SetUsers replaces the htpasswd users (e.g. a password rotation at the
// mirror) and restarts the registry on the same port with the same storage:
// distribution 2.8 reads htpasswd only at start.
func (r *Registry) SetUsers(users map[string]string) error {
	if r.Tokens != nil {
		r.Tokens.SetUsers(users)
	}
	r.Stop()
	r.Opts.Users = users
	if err := r.writeConfig(); err != nil {
		return err
	}
	return r.start()
}

// Request is one request as the registry logged it.
type Request struct {
	Time      time.Time
	Method    string
	URI       string
	Status    int
	User      string // the htpasswd user that authenticated, "" if none
	UserAgent string
	Message   string
}

// IsManifestGet reports a GET/HEAD of a manifest of repo (path without host).
func (q Request) IsManifest(repo string) bool {
	return (q.Method == "GET" || q.Method == "HEAD") && strings.HasPrefix(q.URI, "/v2/"+repo+"/manifests/")
}

// Requests parses the registry's log (JSON, debug level: the handler's
// lines carry auth.user.name), one entry per request id, in order. A request
// denied for lack of valid credentials has Status 401.
func (r *Registry) Requests() ([]Request, error) {
	f, err := os.Open(r.LogPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	byID := map[string]*Request{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		id, _ := m["http.request.id"].(string)
		if id == "" {
			continue
		}
		q, ok := byID[id]
		if !ok {
			q = &Request{}
			q.Method, _ = m["http.request.method"].(string)
			q.URI, _ = m["http.request.uri"].(string)
			q.UserAgent, _ = m["http.request.useragent"].(string)
			if ts, ok := m["time"].(string); ok {
				q.Time, _ = time.Parse(time.RFC3339Nano, ts)
			}
			byID[id] = q
			order = append(order, id)
		}
		if u, ok := m["auth.user.name"].(string); ok && u != "" {
			q.User = u
		}
		msg, _ := m["msg"].(string)
		switch {
		case msg == "response completed":
			if s, ok := m["http.response.status"].(float64); ok {
				q.Status = int(s)
			}
			q.Message = msg
		case strings.HasPrefix(msg, "error authorizing context"):
			q.Status = 401
			q.Message = msg
		}
	}
	out := make([]Request, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, sc.Err()
}

// ManifestRequests returns the logged manifest requests for repo.
func (r *Registry) ManifestRequests(repo string) []Request {
	all, _ := r.Requests()
	var out []Request
	for _, q := range all {
		if q.IsManifest(repo) {
			out = append(out, q)
		}
	}
	return out
}

// WriteCertsD creates <certsDir>/<host>/ca.crt for a TLS registry, the
// layout of /etc/containers/certs.d.
func (r *Registry) WriteCertsD(certsDir string) error {
	if !r.Opts.TLS {
		return nil
	}
	for _, h := range []string{r.Host, fmt.Sprintf("localhost:%d", r.Port), fmt.Sprintf("[::1]:%d", r.Port)} {
		d := filepath.Join(certsDir, h)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "ca.crt"), r.Opts.CA.CertPEM, 0o644); err != nil {
			return err
		}
	}
	return nil
}
