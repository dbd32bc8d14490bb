package containerd

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crio-credential-provider/test/internal/testbed"
)

// loggedServer is a TLS server (certificate from the test bed's CA) that
// records every request with its Authorization header before its handler
// runs: the upstream registry and the blob store, which must never see a
// tenant's credential.
type loggedServer struct {
	Host string
	name string
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Method, URI, Authorization string
}

func startLoggedServer(t *testing.T, e *testbed.Env, name string, next http.Handler) *loggedServer {
	t.Helper()
	kp, err := e.CP.CA.Issue(e.Dir, name, name, nil, []string{"127.0.0.1"}, time.Time{})
	e.Must(err)
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	e.Must(err)
	u := &loggedServer{name: name}
	srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.mu.Lock()
			u.seen = append(u.seen, seenRequest{r.Method, r.RequestURI, r.Header.Get("Authorization")})
			u.mu.Unlock()
			next.ServeHTTP(w, r)
		})}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	e.Must(err)
	u.Host = ln.Addr().String()
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return u
}

// startUpstream is the registry's own location: a reverse proxy in front of
// backend (which gets no Authorization).
func startUpstream(t *testing.T, e *testbed.Env, backend *testbed.Registry) *loggedServer {
	t.Helper()
	target, _ := url.Parse(backend.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	return startLoggedServer(t, e, "upstream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Authorization")
		proxy.ServeHTTP(w, r)
	}))
}

// startBlobStore is object storage behind a registry that redirects blob
// GETs to it: it serves the registry's storage files (a redirect leaves the
// mirror's origin, so no credential may follow it).
func startBlobStore(t *testing.T, e *testbed.Env, storageDir string) *loggedServer {
	t.Helper()
	return startLoggedServer(t, e, "blobstore", http.FileServer(http.Dir(storageDir)))
}

func (u *loggedServer) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// assertNoCredential fails when the server ever got an Authorization.
func (u *loggedServer) assertNoCredential(t *testing.T) {
	t.Helper()
	for _, r := range u.requests() {
		if r.Authorization != "" {
			user := r.Authorization
			if b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Authorization, "Basic ")); err == nil {
				user, _, _ = strings.Cut(string(b), ":")
			}
			t.Errorf("%s got %s %s with a credential (user %q)", u.name, r.Method, r.URI, user)
		}
	}
}

// gateway is a running `crio-credential-provider gateway`.
type gateway struct {
	Addr, TicketDir, Cert, LogPath string
	args                           []string
	bin                            string
	cmd                            *exec.Cmd
	done                           chan error
}

func startGateway(t *testing.T, e *testbed.Env, extra ...string) *gateway {
	t.Helper()
	port, err := testbed.FreePort()
	e.Must(err)
	g := &gateway{Addr: fmt.Sprintf("127.0.0.1:%d", port),
		TicketDir: filepath.Join(e.Dir, "tickets"),
		Cert:      filepath.Join(e.Dir, "gateway", "gateway.crt"),
		bin:       testbed.RequireProvider(t)}
	e.Must(os.MkdirAll(g.TicketDir, 0o700))
	g.args = append([]string{"gateway", "--listen=" + g.Addr, "--ticket-dir=" + g.TicketDir,
		"--tls-cert=" + g.Cert, "--tls-key=" + filepath.Join(e.Dir, "gateway", "gateway.key"),
		"--mirror-ca-file=" + e.CP.CA.CertPath, "--log-level=debug"}, extra...)
	g.LogPath = filepath.Join(e.Dir, "gateway.log")
	g.start(t)
	t.Cleanup(func() { g.stop(t) })
	return g
}

func (g *gateway) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(g.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	before := strings.Count(g.log(), "event=listening")
	g.cmd = exec.Command(g.bin, g.args...)
	g.cmd.Stdout, g.cmd.Stderr = log, log
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan error, 1)
	go func() { g.done <- g.cmd.Wait(); log.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(g.log(), "event=listening") == before {
		select {
		case err := <-g.done:
			t.Fatalf("gateway exited: %v\n%s", err, g.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not listening in 20s\n%s", g.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit error.
func (g *gateway) stop(t *testing.T) error {
	if g.cmd == nil || g.cmd.ProcessState != nil {
		return nil
	}
	g.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case err := <-g.done:
		return err
	case <-time.After(40 * time.Second):
		g.cmd.Process.Kill() //nolint:errcheck
		return fmt.Errorf("gateway ignored SIGTERM for 40s")
	}
}

func (g *gateway) log() string {
	b, _ := os.ReadFile(g.LogPath)
	return string(b)
}

// client trusts only the gateway's own certificate.
func (g *gateway) client(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(g.Cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// get sends one GET with a Basic credential and returns the status.
func (g *gateway) get(t *testing.T, path, user, password string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+g.Addr+path, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := g.client(t).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// recorder wraps the provider so the test sees what it answered kubelet.
func recorder(t *testing.T, e *testbed.Env) string {
	t.Helper()
	real := testbed.RequireProvider(t)
	log := filepath.Join(e.Dir, "responses.log")
	script := filepath.Join(e.Dir, "provider-recorder")
	e.WriteFile(script, fmt.Sprintf("#!/bin/sh\nout=$(%q \"$@\")\nrc=$?\nprintf '%%s\\n' \"$out\" >>%q\nprintf '%%s\\n' \"$out\"\nexit $rc\n", real, log))
	e.Must(os.Chmod(script, 0o755))
	t.Setenv(testbed.ProviderEnv, script)
	return log
}

// tickets returns the ticket credentials the provider handed kubelet, in order.
func tickets(t *testing.T, log string) [][2]string {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var resp struct {
			Auth map[string]struct{ Username, Password string } `json:"auth"`
		}
		if json.Unmarshal(sc.Bytes(), &resp) != nil {
			continue
		}
		for _, a := range resp.Auth {
			if strings.HasPrefix(a.Username, "ccpt-") && a.Password != "" {
				out = append(out, [2]string{a.Username, a.Password})
			}
		}
	}
	return out
}

// mirrorUsers returns the htpasswd users that authenticated at reg for repo.
func mirrorUsers(reg *testbed.Registry, repo string) map[string]int {
	all, _ := reg.Requests()
	users := map[string]int{}
	for _, q := range all {
		if strings.HasPrefix(q.URI, "/v2/"+repo+"/") && q.User != "" {
			users[q.User]++
		}
	}
	return users
}
