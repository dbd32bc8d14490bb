package apistub

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every error row of issue 2: exit 1, one error line naming the fix,
// nothing on stdout, no auth file, no secret material in the output.
func TestErrors(t *testing.T) {
	t.Parallel()
	q := regexp.QuoteMeta
	type check func(t *testing.T, e *env, res result)
	noAPI := func(t *testing.T, e *env, res result) {
		if reqs := e.stub.Requests(); len(reqs) != 0 {
			t.Errorf("want no API request, got %q", reads(reqs))
		}
	}
	namesRegConf := func(t *testing.T, e *env, res result) {
		if !strings.Contains(res.stderr, e.regConf) {
			t.Errorf("the error does not name %s\n%v", e.regConf, res)
		}
	}
	within := func(d time.Duration) check {
		return func(t *testing.T, e *env, res result) {
			if res.elapsed > d {
				t.Errorf("took %v, want at most %v", res.elapsed, d)
			}
		}
	}
	// attempts checks how often the most-asked read of resource was asked:
	// reads that do not depend on each other (two secrets, two LISTs) go
	// out together, so only asking the same one again is a retry.
	attempts := func(resource string, lo, hi int) check {
		return func(t *testing.T, e *env, res result) {
			asked := map[string]int{}
			n := 0
			for _, r := range e.stub.Requests() {
				if r.Resource == resource {
					key := r.Name + "?" + r.RawQuery
					asked[key]++
					n = max(n, asked[key])
				}
			}
			if n < lo || n > hi {
				t.Errorf("want %d..%d attempts of a read of %s, got %q", lo, hi, resource, reads(e.stub.Requests()))
			}
		}
	}
	validRequest := func(e *env) []byte { return e.request(nginx) }
	cases := []struct {
		name    string
		setup   func(t *testing.T, e *env)
		stdin   func(e *env) []byte // default: a valid request for nginx
		flags   []string
		phrases []string // all must match the error line
		checks  []check
	}{
		{name: "malformed stdin",
			stdin:   func(e *env) []byte { return []byte(`{"kind":"CredentialProviderRequest","apiVersion":`) },
			phrases: []string{`CredentialProviderRequest`, `(?i)json`},
			checks:  []check{noAPI}},
		{name: "empty stdin",
			stdin:   func(e *env) []byte { return nil },
			phrases: []string{`CredentialProviderRequest`},
			checks:  []check{noAPI}},
		{name: "stdin a JSON array",
			stdin:   func(e *env) []byte { return []byte(`[` + string(e.request(nginx)) + `]`) },
			phrases: []string{`CredentialProviderRequest`},
			checks:  []check{noAPI}},
		{name: "oversized stdin",
			stdin: func(e *env) []byte {
				r := e.request(nginx)
				pad := bytes.Repeat([]byte(" "), (1<<20)+4096-len(r))
				return append(append([]byte{}, r[:len(r)-1]...), append(pad, '}')...)
			},
			phrases: []string{`(?i)1 ?MiB|too (large|big)|larger than|oversized`},
			checks:  []check{noAPI}},
		{name: "unknown apiVersion",
			stdin:   func(e *env) []byte { return request("v2", nginx, e.token) },
			phrases: []string{`apiVersion`, `credentialprovider\.kubelet\.k8s\.io/v2`, `(?i)CredentialProviderConfig|v1`},
			checks:  []check{noAPI}},
		{name: "apiVersion of another group",
			stdin: func(e *env) []byte {
				return bytes.Replace(e.request(nginx), []byte("credentialprovider.kubelet.k8s.io/v1"), []byte("kubelet.config.k8s.io/v1"), 1)
			},
			phrases: []string{`apiVersion`},
			checks:  []check{noAPI}},
		{name: "wrong kind",
			stdin: func(e *env) []byte {
				return bytes.Replace(e.request(nginx), []byte(`"CredentialProviderRequest"`), []byte(`"CredentialProviderResponse"`), 1)
			},
			phrases: []string{`(?i)kind`, `CredentialProviderRequest`},
			checks:  []check{noAPI}},
		{name: "no serviceAccountToken",
			stdin:   func(e *env) []byte { return request("v1", nginx, "") },
			phrases: []string{`KubeletServiceAccountTokenForCredentialProviders`, `tokenAttributes`},
			checks:  []check{noAPI}},
		{name: "namespace claim not a DNS label (upper case)",
			stdin: func(e *env) []byte {
				id := e.id
				id.Namespace = "Team_Alpha"
				return request("v1", nginx, e.tokenFor(id))
			},
			phrases: []string{`(?i)DNS`, `(?i)namespace`},
			checks:  []check{noAPI}},
		{name: "namespace claim not a DNS label (path traversal)",
			stdin: func(e *env) []byte {
				id := e.id
				id.Namespace = "../../escape"
				return request("v1", nginx, e.tokenFor(id))
			},
			phrases: []string{`(?i)DNS`, `(?i)namespace`},
			checks: []check{noAPI, func(t *testing.T, e *env, res result) {
				// <auth-dir>/../../escape-<hash>.json would be in e.dir.
				for _, f := range files(t, e.dir) {
					if strings.Contains(f, "escape") {
						t.Errorf("a file escaped the auth dir: %s", f)
					}
				}
			}}},
		{name: "namespace only in sub, not a DNS label",
			stdin: func(e *env) []byte {
				claims := Claims(e.id)
				delete(claims, "kubernetes.io")
				claims["sub"] = "system:serviceaccount:bad.name:builder"
				return request("v1", nginx, e.tokenForClaims(claims))
			},
			phrases: []string{`(?i)DNS|namespace`},
			checks:  []check{noAPI}},
		{name: "invalid registries.conf (v1 format)",
			setup: func(t *testing.T, e *env) {
				e.writeFile(e.regConf, "[registries.search]\nregistries = ['docker.io']\n", 0o644)
			},
			phrases: []string{q("registries.conf")},
			checks:  []check{noAPI, namesRegConf}},
		{name: "invalid registries.conf (not TOML)",
			setup: func(t *testing.T, e *env) {
				e.writeFile(e.regConf, "[[registry]\nprefix = \n", 0o644)
			},
			phrases: []string{q("registries.conf")},
			checks:  []check{noAPI, namesRegConf}},
		{name: "invalid registries.conf drop-in (bad wildcard prefix)",
			setup: func(t *testing.T, e *env) {
				e.writeFile(filepath.Join(e.regConfDir, "50-bad.conf"),
					"[[registry]]\nprefix = \"*.example.com/path\"\nlocation = \"mirror.example.com\"\n", 0o644)
			},
			phrases: []string{q("50-bad.conf"), `(?i)prefix|wildcard|\*`},
			checks: []check{noAPI, func(t *testing.T, e *env, res result) {
				if !strings.Contains(res.stderr, filepath.Join(e.regConfDir, "50-bad.conf")) {
					t.Errorf("the error does not name the drop-in's path\n%v", res)
				}
			}}},
		{name: "registries.conf given but missing",
			setup: func(t *testing.T, e *env) {
				if err := os.Remove(e.regConf); err != nil {
					t.Fatal(err)
				}
			},
			phrases: []string{q("registries.conf")},
			checks:  []check{noAPI}},
		{name: "API unreachable (closed port)",
			setup: func(t *testing.T, e *env) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				e.apiServer = "https://" + ln.Addr().String()
				ln.Close()
			},
			phrases: []string{`--api-server`, `127\.0\.0\.1`},
			checks:  []check{noAPI, within(5 * time.Second)}},
		{name: "TLS failure (API server certificate from another CA)",
			setup:   func(t *testing.T, e *env) { e.caFile = wrongCAFile },
			phrases: []string{`--ca-file`, `(?i)tls|certificate`},
			checks:  []check{noAPI, within(5 * time.Second)}},
		{name: "TLS failure (server name not in the certificate)",
			setup: func(t *testing.T, e *env) {
				// 127.0.0.2 is loopback too, but not in the certificate.
				s, err := startAt("127.0.0.2:0", serverCert, e.token)
				if err != nil {
					t.Skipf("cannot serve on 127.0.0.2: %v", err)
				}
				t.Cleanup(s.Close)
				e.stub, e.apiServer = s, s.URL
			},
			phrases: []string{`--ca-file|(?i)certificate|tls`},
			checks:  []check{noAPI, within(5 * time.Second)}},
		{name: "401 (token audience not accepted)",
			setup:   func(t *testing.T, e *env) { e.stub.SetToken("a-token-for-another-audience") },
			phrases: []string{`serviceAccountTokenAudience`, `401|(?i)unauthorized`},
			checks: []check{func(t *testing.T, e *env, res result) {
				// The pod and its service account go out together, in one
				// round; neither is asked again.
				reqs := e.stub.Requests()
				if len(reqs) == 0 || len(reqs) > 2 || reqs[0].Resource != "pods" {
					t.Errorf("want the pod (and its service account) asked once (401 is not retried), got %q", reads(reqs))
				}
				for _, r := range reqs {
					if !r.HasAuth {
						t.Errorf("%v: no bearer token", r)
					}
				}
			}}},
		{name: "pod not found (404)",
			setup: func(t *testing.T, e *env) {
				e.stub.DeletePod(testNS, testPod)
			},
			phrases: []string{`web-0`, `team-alpha`, `(?i)not found`},
			checks:  []check{attempts("pods", 1, 1)}},
		{name: "pod replaced since the token was issued (uid differs)",
			setup: func(t *testing.T, e *env) {
				e.pod.Pod.UID = "11111111-2222-4333-8444-555555555555"
				e.syncPod()
			},
			phrases: []string{`web-0`},
			checks: []check{func(t *testing.T, e *env, res result) {
				if n := count(e.stub.Requests(), "get", "secrets", ""); n != 0 {
					t.Errorf("read %d secrets for a pod that is not the token's", n)
				}
			}}},
		{name: "403 on get pods",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods", Status: 403})
			},
			phrases: []string{`\bget\b`, `\bpods\b`, `team-alpha`, `(?i)\brole\b`},
			checks:  []check{attempts("pods", 1, 1)}},
		{name: "403 on get serviceaccounts",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "serviceaccounts", Status: 403})
			},
			phrases: []string{`\bget\b`, `\bserviceaccounts\b`, `team-alpha`, `(?i)\brole\b`},
			checks:  []check{attempts("serviceaccounts", 1, 1)}},
		{name: "403 on get secrets",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "secrets", Status: 403})
			},
			phrases: []string{`\bget\b`, `\bsecrets\b`, `team-alpha`, `(?i)\brole\b`},
			checks:  []check{attempts("secrets", 1, 1)}},
		{name: "403 on list secrets (--secrets=namespace)",
			flags: []string{"--secrets=namespace"},
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Verb: "list", Resource: "secrets", Status: 403})
			},
			phrases: []string{`\blist\b`, `\bsecrets\b`, `team-alpha`, `(?i)\brole\b`},
			checks:  []check{attempts("secrets", 1, 1)}},
		{name: "timeout (the API server stalls)",
			flags: []string{"--timeout=1s"},
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods", Delay: 10 * time.Second})
			},
			phrases: []string{`--timeout`},
			checks:  []check{within(2500 * time.Millisecond)}},
		{name: "timeout (TCP accepted, TLS never answered)",
			flags: []string{"--timeout=1s"},
			setup: func(t *testing.T, e *env) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				e.apiServer = "https://" + ln.Addr().String()
			},
			phrases: []string{`--timeout`},
			checks:  []check{within(2500 * time.Millisecond)}},
		// Issue 9: --timeout bounds the whole run however the server paces
		// its bytes (wall time <= --timeout + 1 s).
		{name: "timeout (pod body dripped a byte at a time)",
			flags: []string{"--timeout=1s"},
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods", Drip: 10 * time.Millisecond,
					Raw: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{" +
						strings.Repeat(" ", 4094) + "}"})
			},
			phrases: []string{`--timeout`},
			checks:  []check{within(2 * time.Second)}},
		{name: "timeout (slow endless 100 Continue)",
			flags: []string{"--timeout=1s"},
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods", Drip: 20 * time.Millisecond, Repeat: true,
					Raw: "HTTP/1.1 100 Continue\r\n\r\n"})
			},
			phrases: []string{`--timeout`},
			checks:  []check{within(2 * time.Second)}},
		{name: "endless 100 Continue",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods", Repeat: true, Raw: "HTTP/1.1 100 Continue\r\n\r\n"})
			},
			phrases: []string{`(?i)interim`},
			// A bad answer to the pipelined pod read makes the client send it
			// once more on its own (http.cc's sequential fallback), never more.
			checks: []check{attempts("pods", 1, 2), within(2 * time.Second)}},
		// Issue 9: read to EOF, a truncated body would pass for a whole one.
		{name: "200 without length framing",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods",
					Raw: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}"})
			},
			phrases: []string{`Content-Length`, `chunked`},
			checks:  []check{attempts("pods", 1, 2)}},
		{name: "429 forever",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Resource: "pods", Status: 429, RetryAfter: "1"})
			},
			phrases: []string{`429|(?i)too many requests|throttl`},
			checks:  []check{attempts("pods", 2, 6), within(8 * time.Second)}},
		{name: "500 forever",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Status: 500})
			},
			phrases: []string{`500`},
			checks:  []check{attempts("pods", 2, 6), within(8 * time.Second)}},
		{name: "503 forever",
			setup: func(t *testing.T, e *env) {
				e.stub.AddFault(Fault{Status: 503})
			},
			phrases: []string{`503`},
			checks:  []check{attempts("pods", 2, 6), within(8 * time.Second)}},
		{name: "auth dir is a regular file",
			setup: func(t *testing.T, e *env) {
				if err := os.MkdirAll(filepath.Dir(e.authDir), 0o755); err != nil {
					t.Fatal(err)
				}
				e.writeFile(e.authDir, "not a directory\n", 0o600)
			},
			phrases: []string{`--auth-dir`},
			checks: []check{func(t *testing.T, e *env, res result) {
				if b, _ := os.ReadFile(e.authDir); string(b) != "not a directory\n" {
					t.Errorf("the file at --auth-dir changed: %q", b)
				}
			}}},
		{name: "auth dir under a regular file",
			setup: func(t *testing.T, e *env) {
				parent := filepath.Dir(e.authDir)
				if err := os.MkdirAll(filepath.Dir(parent), 0o755); err != nil {
					t.Fatal(err)
				}
				e.writeFile(parent, "not a directory\n", 0o600)
			},
			phrases: []string{`--auth-dir|(?i)auth dir`}},
		{name: "auth dir read-only",
			setup: func(t *testing.T, e *env) {
				if os.Geteuid() == 0 {
					t.Skip("root writes into read-only directories")
				}
				if err := os.MkdirAll(e.authDir, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(e.authDir, 0o700) })
			},
			phrases: []string{`--auth-dir|(?i)auth dir`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			if c.setup != nil {
				c.setup(t, e)
			}
			stdin := validRequest(e)
			if c.stdin != nil {
				stdin = c.stdin(e)
			}
			res := e.run(stdin, c.flags...)
			checkFailure(t, res, c.phrases...)
			if st, err := os.Stat(e.authDir); err == nil && st.IsDir() {
				if got := files(t, e.authDir); len(got) != 0 {
					t.Errorf("want no file in the auth dir, got %v", got)
				}
			}
			for _, ck := range c.checks {
				ck(t, e, res)
			}
		})
	}
}

// tokenFor forges a token for another identity and marks it sensitive.
func (e *env) tokenFor(id Identity) string {
	tok := ForgeToken(id)
	e.addSensitive(tok)
	e.addSensitive(strings.Split(tok, ".")...)
	return tok
}

func (e *env) tokenForClaims(claims map[string]any) string {
	tok := ForgeTokenClaims(claims)
	e.addSensitive(tok)
	e.addSensitive(strings.Split(tok, ".")...)
	return tok
}
