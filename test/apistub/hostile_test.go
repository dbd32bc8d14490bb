package apistub

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Issue 9: what a hostile tenant or API server can make the provider spend
// or print. Budgets for any input: CPU <= 100 ms for matching any secret of
// <= 1 MiB (asserted here with the whole run's CPU, TLS included), peak RSS
// <= 64 MiB and bounded wall time (checkBudget), and no control character
// from outside in any output line.

// checkPrintable: every line on stdout and stderr is valid UTF-8 without a
// control character, C1 control, line separator or bidirectional
// override, and every stderr line is one of ours. Every run of the suite
// is checked (runWrapped), not only the hostile ones here.
func checkPrintable(t *testing.T, res result) {
	t.Helper()
	for stream, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr} {
		for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if stream == "stderr" && line != "" && !strings.HasPrefix(line, "crio-credential-provider: ") {
				t.Errorf("%s line %d is not the provider's: %q", stream, i+1, line)
			}
			if !utf8.ValidString(line) {
				t.Errorf("%s line %d is not valid UTF-8: %q", stream, i+1, line)
			}
			for _, r := range line {
				if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 ||
					(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
					t.Errorf("%s line %d holds the raw control character %U: %q", stream, i+1, r, line)
					break
				}
			}
		}
	}
}

// A backtracking glob matcher spent seconds on the first key (doubling per
// character); the second makes the secret close to 1 MiB.
func TestHostileSecretKeysCostLittleCPU(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	label := strings.Repeat("m", 30)
	e.writeFile(e.regConf, `
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "`+label+`.example.com/hub"
`, 0o644)
	e.podSecrets(fixture{name: "hostile", entries: []entry{
		{key: strings.Repeat("*m", 15) + "Z.example.com", user: "exponential"},
		{key: strings.Repeat("*m", 350_000) + ".example.com", user: "big"},
		{key: label + ".example.com", user: "team"},
	}})
	res := e.run(e.request(nginx))
	checkOK(t, res)
	e.checkAuthFile(nginx, map[string]string{label + ".example.com/hub/library/nginx": "team"}, nil)
	if res.cpu > 500*time.Millisecond {
		t.Errorf("the run took %v of CPU, want well under 500ms", res.cpu)
	}
	t.Logf("CPU %v (wall %v)", res.cpu, res.elapsed)
	checkBudget(t, res)
}

// Bodies just under the 16 MiB cap, each shaped to cost the most in a JSON
// DOM; the request on stdin likewise.
func TestHostileJSONStaysWithinMemory(t *testing.T) {
	t.Parallel()
	const size = 16<<20 - 64<<10
	flat := "[" + strings.Repeat("0,", size/2-1) + "0]"
	deepConfig := `{"auths":{"x":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}}`
	cases := []struct {
		name  string
		fault Fault
		stdin func(e *env) []byte
	}{
		{name: "deep pod", fault: Fault{Verb: "get", Resource: "pods", Body: strings.Repeat("[", size)}},
		{name: "flat pod", fault: Fault{Verb: "get", Resource: "pods", Body: flat}},
		{name: "deep status", fault: Fault{Verb: "get", Resource: "pods", Status: 403, Body: strings.Repeat("[", size)}},
		{name: "objects in a secret", fault: Fault{Verb: "get", Resource: "secrets",
			Body: "[" + strings.Repeat("{},", size/3-1) + "{}]"}},
		{name: "deep dockerconfigjson", fault: Fault{Verb: "get", Resource: "secrets", Body: mustJSON(map[string]any{
			"kind": "Secret", "apiVersion": "v1", "type": TypeDockerConfigJSON,
			"metadata": map[string]any{"name": "pod-creds", "namespace": testNS},
			"data":     map[string]any{".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(deepConfig))},
		})}},
		{name: "deep request", stdin: func(e *env) []byte { return []byte(strings.Repeat("[", 1<<20)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			if c.fault.Body != "" {
				f := c.fault
				e.stub.AddFault(f)
			}
			stdin := e.request(nginx)
			if c.stdin != nil {
				stdin = c.stdin(e)
			}
			res := e.run(stdin)
			if res.code != 0 && res.code != 1 {
				t.Fatalf("want exit 0 or 1\n%.3000s", res)
			}
			if res.code == 1 {
				checkFailure(t, res)
			}
			checkBudget(t, res)
			checkPrintable(t, res)
		})
	}
}

// A namespace LIST of 100,000 pull secrets cost 160 MB in one body; paged,
// the provider holds one page and the secrets, within the RSS budget. One
// more than kMaxListItems (100,000) is refused with the fix.
func TestHugeNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 secrets")
	}
	t.Parallel()
	e := newEnv(t)
	const n = 100_000
	for i := 0; i < n-1; i++ {
		e.stub.AddSecret(DockerConfigJSON(testNS, fmt.Sprintf("team-%06d", i),
			fmt.Sprintf(`{"auths":{"registry-%06d.example.com":{"auth":"dXNlcjpwYXNzd29yZA=="}}}`, i)))
	}
	e.secret(testNS, fixture{name: "zz-mirror", entries: []entry{
		{key: "mirror.example.com", user: "alpha-huge"}}})
	res := e.run(e.request(nginx), "--secrets=namespace", "--timeout=20s")
	checkOK(t, res)
	e.checkAuthFile(nginx, map[string]string{"mirror.example.com/hub/library/nginx": "alpha-huge"}, nil)
	if pages := len(e.stub.Requests()); pages != n/500+1 {
		t.Errorf("%d LIST pages, want %d", pages, n/500+1)
	}
	if m := peakRSS.FindStringSubmatch(res.stderr); m != nil {
		t.Logf("%d pull secrets: peak RSS %s kB, wall %v, CPU %v", n, m[1], res.elapsed, res.cpu)
	}
	if kb, _ := strconv.Atoi(peakRSS.FindStringSubmatch(res.stderr)[1]); kb > 48<<10 {
		t.Errorf("peak RSS %d KiB, want well under the 64 MiB budget (48 MiB)", kb)
	}
	if res.elapsed > 20*time.Second {
		t.Errorf("run took %v", res.elapsed)
	}

	e.stub.AddSecret(DockerCfg(testNS, "one-too-many", `{"x.example.com":{"auth":"dTpw"}}`))
	res = e.run(e.request(nginx), "--secrets=namespace", "--timeout=20s")
	checkFailure(t, res, `more than 100000 pull secrets`, `--secrets=pod`)
	if res.wrote {
		t.Errorf("an auth file was left behind\n%v", res)
	}
}

// Every status class from the API server on the first read, each 3xx with a
// Location that points at a second, working API server: a redirect is
// never followed (our token must not go where the server says), a 4xx is
// never retried (429 excepted), a 5xx is retried; every run is one error
// line with the status, no auth file, within the budget.
func TestEveryStatusAndNoRedirect(t *testing.T) {
	t.Parallel()
	codes := []int{
		300, 301, 302, 303, 304, 305, 306, 307, 308, 399,
		400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413,
		414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 431, 451, 499,
		500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511, 599,
	}
	for _, code := range codes {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			elsewhere, err := Start(serverCert, e.token)
			if err != nil {
				t.Fatal(err)
			}
			defer elsewhere.Close()
			elsewhere.AddPod(e.pod.Pod)
			e.stub.AddFault(Fault{Resource: "pods", Status: code,
				Location: elsewhere.URL + "/api/v1/namespaces/" + testNS + "/pods/" + testPod})
			res := e.run(e.request(nginx))
			want := []string{`\b` + strconv.Itoa(code) + `\b`}
			switch {
			case code == 401:
				want = []string{`401 Unauthorized`}
			case code == 403:
				want = []string{`forbidden`}
			case code == 404:
				want = []string{`not found`}
			case code < 400:
				want = append(want, `redirects are never followed`, `--api-server`)
			}
			checkFailure(t, res, want...)
			checkBudget(t, res)
			if res.wrote {
				t.Errorf("an auth file was written")
			}
			if got := elsewhere.Requests(); len(got) != 0 {
				t.Errorf("the redirect was followed: %q", reads(got))
			}
			asked := 0
			for _, r := range e.stub.Requests() {
				if r.Resource == "pods" {
					asked++
				}
			}
			if want := map[bool]int{true: 3, false: 1}[code >= 500]; asked != want {
				t.Errorf("the pod was asked for %d times, want %d", asked, want)
			}
		})
	}
}

// 100,000 nested arrays (200 KB) in the global auth file crashed the
// provider and `resolve --auth-file-out` (recursive dump()).
func TestDeepGlobalAuthFile(t *testing.T) {
	t.Parallel()
	deep := `{"auths":{},"x":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`

	e := newEnv(t)
	e.standardSecrets()
	e.writeFile(e.globalAuth, deep, 0o600)
	res := e.run(e.request(nginx))
	checkOK(t, res)
	if !strings.Contains(res.stderr, "nested deeper than 10000 levels") {
		t.Errorf("no warning about the global auth file\n%v", res)
	}
	e.checkAuthFile(nginx, map[string]string{
		"mirror.example.com/hub/library/nginx":             "alpha-pod",
		"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
	}, nil)

	dockercfg := filepath.Join(e.dir, "secret.json")
	e.writeFile(dockercfg, mustJSON(map[string]any{"auths": entriesObject([]entry{
		{key: "mirror.example.com", user: "resolver"}})}), 0o600)
	e.addSensitive(passwordOf("resolver"), authOf("resolver"))
	out := filepath.Join(e.dir, "out", "auth.json")
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		t.Fatal(err)
	}
	res = e.exec(nil, "resolve", "--registries-conf="+e.regConf, "--registries-conf-dir="+e.regConfDir,
		"--dockercfg="+dockercfg, "--global-auth-file="+e.globalAuth, "--auth-file-out="+out, nginx)
	checkFailure(t, res, `nested deeper than 10000 levels`, `--global-auth-file`)
	if _, err := os.Stat(out); err == nil {
		t.Errorf("resolve wrote %s despite the error", out)
	}
}

// Names, keys, the image and the token's namespace come from tenants; a
// server's message from the network. None may forge or hide a log line.
func TestNoControlCharacterReachesALine(t *testing.T) {
	t.Parallel()
	forge := "\ncrio-credential-provider: error: forged\r\x1b[2J\u009b31m\u202e\xff"
	cases := []struct {
		name  string
		setup func(e *env)
		stdin func(e *env) []byte
	}{
		{name: "secret name in imagePullSecrets", setup: func(e *env) {
			e.pod.Pod.ImagePullSecrets = append(e.pod.Pod.ImagePullSecrets, "x"+forge)
			e.syncPod()
		}},
		{name: "registry key inside a secret", setup: func(e *env) {
			e.stub.AddSecret(DockerConfigJSON(testNS, "bad-key", mustJSON(map[string]any{
				"auths": map[string]any{"mirror.example.com" + strings.ToValidUTF8(forge, "\u0085"): 7}})))
			e.pod.Pod.ImagePullSecrets = append(e.pod.Pod.ImagePullSecrets, "bad-key")
			e.syncPod()
		}},
		{name: "image", stdin: func(e *env) []byte {
			return request("v1", "docker.io/library/nginx"+strings.ToValidUTF8(forge, "\u0085"), e.token)
		}},
		{name: "token namespace", stdin: func(e *env) []byte {
			id := e.id
			id.Namespace = "team" + strings.ToValidUTF8(forge, "\u0085")
			return request("v1", nginx, ForgeToken(id))
		}},
		{name: "server message", setup: func(e *env) {
			e.stub.AddFault(Fault{Verb: "get", Resource: "pods", Status: 422,
				Body: mustJSON(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
					"reason": "Invalid" + strings.ToValidUTF8(forge, "\u0085"), "code": 422,
					"message": "no" + strings.ToValidUTF8(forge, "\u0085")})})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			if c.setup != nil {
				c.setup(e)
			}
			stdin := e.request(nginx)
			if c.stdin != nil {
				stdin = c.stdin(e)
			}
			res := e.run(stdin)
			if n := len(errorLine.FindAllString(res.stderr, -1)); n > 1 {
				t.Errorf("%d error lines, want at most one\n%v", n, res)
			}
			checkPrintable(t, res)
			if !strings.Contains(res.stderr, "forged") {
				t.Errorf("the hostile text is not echoed: the case tests nothing\n%v", res)
			}
		})
	}
}

// exec runs the binary with args (no env flags) under wrapper.
func (e *env) exec(wrapper []string, args ...string) result {
	e.t.Helper()
	argv := append(append(append([]string(nil), wrapper...), binary), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = cleanEnv()
	start := time.Now()
	_ = cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if cmd.ProcessState == nil {
		e.t.Fatalf("cannot run %s", binary)
	}
	res.code = cmd.ProcessState.ExitCode()
	e.checkNoLeak(res)
	return res
}

// startIdle starts the provider blocked on its stdin; the caller closes
// the returned pipe's write end and waits.
func startIdle(t *testing.T, e *env, cred *syscall.Credential) (*exec.Cmd, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, e.flags()...)
	cmd.Stdin = r
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Skipf("cannot start the provider as %v: %v", cred, err)
	}
	r.Close()
	return cmd, w
}

// The token and the secrets are in memory: no core dump, and /proc/PID
// owned by root (what PR_SET_DUMPABLE 0 does), so other processes of the
// same user cannot read its memory either.
func TestNotDumpable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		// As root every /proc entry looks like ours; run as nobody.
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	cmd, stdin := startIdle(t, e, cred)
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.Stat(status)
		if err != nil {
			t.Fatalf("the provider exited early: %v", err)
		}
		if st.Sys().(*syscall.Stat_t).Uid == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still owned by uid %d after 5s: the process is dumpable",
				status, st.Sys().(*syscall.Stat_t).Uid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An exception nothing catches (here: out of memory while reading the
// request) is one error line and exit 1, not std::terminate's abort.
func TestOutOfMemoryIsOneLine(t *testing.T) {
	t.Parallel()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit (util-linux)")
	}
	e := newEnv(t)
	cmd, stdin := startIdle(t, e, nil)
	time.Sleep(300 * time.Millisecond) // blocked reading stdin by now
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	stdin.Close()
	_ = cmd.Wait()
	m := regexp.MustCompile(`VmSize:\s+(\d+) kB`).FindSubmatch(raw)
	if m == nil {
		t.Skipf("no VmSize in /proc/PID/status")
	}
	kib, _ := strconv.Atoi(string(m[1]))
	limit := (kib + 256) << 10
	big := append(e.request(nginx), []byte(strings.Repeat(" ", 1<<20-4096))...)
	res := e.runWrapped([]string{prlimit, "--as=" + strconv.Itoa(limit), "--"}, big)
	if strings.Contains(res.stderr, "terminate called") || res.code != 1 {
		t.Fatalf("want exit 1 and one error line, not an abort\n%v", res)
	}
	checkFailure(t, res, `out of memory`)
	checkPrintable(t, res)
}

// kubelet would cache the (empty) answer and not run the provider for the
// next pulls, which then find no auth file.
func TestCacheDurationAboveZeroIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.standardSecrets()
	res := e.run(e.request(nginx), "--cache-duration=10m")
	if res.code != 2 || res.stdout != "" {
		t.Errorf("want exit 2 and nothing on stdout\n%v", res)
	}
	if n := len(errorLine.FindAllString(res.stderr, -1)); n != 1 ||
		!strings.Contains(res.stderr, "--cache-duration must be 0s") {
		t.Errorf("want one error line explaining --cache-duration\n%v", res)
	}
	if reqs := e.stub.Requests(); len(reqs) != 0 {
		t.Errorf("want no API request, got %q", reads(reqs))
	}
	if got := files(t, e.authDir); len(got) != 0 {
		t.Errorf("auth dir holds %v", got)
	}
}
