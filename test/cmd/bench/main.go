// Command bench measures one provider invocation end to end: kubelet's
// request on stdin, the API reads over verified TLS on loopback, the auth
// file written. It reports the median and 90th-percentile wall time, the
// peak RSS and the API round trips, for each scenario, over many runs.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"crio-credential-provider/test/internal/pki"
)

const ns = "team-a"

func main() {
	bin := flag.String("bin", "../build/crio-credential-provider", "provider binary")
	floor := flag.String("floor", "", "floor binary (bench/floor.cc): one verified TLS GET, timed beside the provider")
	staticBin := flag.String("static-bin", "", "the static release build of the provider, timed beside -bin")
	staticFloor := flag.String("static-floor", "", "the floor linked statically, the floor of -static-bin")
	runs := flag.Int("runs", 300, "invocations per scenario")
	rtt := flag.Duration("rtt", 2*time.Millisecond, "emulated round-trip time for the latency scenarios (0: skip them)")
	rttRuns := flag.Int("rtt-runs", 30, "invocations per latency scenario")
	serve := flag.Bool("serve", false, "only serve: print the pod-mode request and flags, for profiling one invocation by hand, and wait for ^C")
	flag.Parse()
	for _, b := range []string{*bin, *floor, *staticBin, *staticFloor} {
		if b == "" {
			continue
		}
		if _, err := os.Stat(b); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v: build it first (bench/run.sh does)\n", err)
			os.Exit(1)
		}
	}
	dir, err := os.MkdirTemp("", "ccp-bench-")
	check(err)
	defer os.RemoveAll(dir)

	var requests atomic.Int64
	server, caFile := startAPI(dir, &requests)
	defer server.Close()

	conf := filepath.Join(dir, "registries.conf")
	check(os.WriteFile(conf, []byte(`
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.example.com/hub"
[[registry.mirror]]
location = "mirror2.example.com/hub"
`), 0o644))
	dropins := filepath.Join(dir, "registries.conf.d")
	check(os.Mkdir(dropins, 0o755))

	args := func(apiURL string) []string {
		return []string{
			"--api-server=" + apiURL, "--ca-file=" + caFile,
			"--auth-dir=" + filepath.Join(dir, "auth"),
			"--global-auth-file=" + filepath.Join(dir, "config.json"),
			"--registries-conf=" + conf, "--registries-conf-dir=" + dropins,
			"--log-level=debug",
		}
	}
	type scenario struct {
		name  string
		image string
		args  []string
	}
	podMode := scenario{"mirror, --secrets=pod (2 secrets)", "docker.io/library/nginx", nil}
	nsMode := scenario{"mirror, --secrets=namespace", "docker.io/library/nginx", []string{"--secrets=namespace"}}
	noMirror := scenario{"no mirror (no API call)", "quay.io/team/app", nil}
	provider := func(bin, apiURL string, s scenario) (*exec.Cmd, string) {
		request := fmt.Sprintf(`{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":%q,"serviceAccountToken":%q,"serviceAccountAnnotations":{}}`, s.image, token())
		cmd := exec.Command(bin, append(args(apiURL), s.args...)...)
		cmd.Stdin = strings.NewReader(request)
		return cmd, s.name
	}
	floorCmd := func(bin, apiURL string) (*exec.Cmd, string) {
		u, err := url.Parse(apiURL)
		check(err)
		return exec.Command(bin, u.Hostname(), u.Port(), caFile, "/api/v1/namespaces/"+ns+"/pods/web-0"), "floor: one verified TLS GET"
	}

	if *serve {
		request := filepath.Join(dir, "request.json")
		check(os.WriteFile(request, []byte(fmt.Sprintf(`{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":%q,"serviceAccountToken":%q,"serviceAccountAnnotations":{}}`, podMode.image, token())), 0o644))
		fmt.Printf("%s %s < %s\n", *bin, strings.Join(args(server.URL), " "), request)
		floor, _ := floorCmd(*floor, server.URL)
		fmt.Printf("floor: %s\n", strings.Join(floor.Args, " "))
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
		<-signals
		return
	}
	type binaries struct{ label, provider, floor string }
	builds := []binaries{{"dynamic", *bin, *floor}}
	if *staticBin != "" {
		builds = append(builds, binaries{"static", *staticBin, *staticFloor})
	}

	fmt.Printf("loopback, %d runs each, taking turns; load average %s\n", *runs, loadAverage())
	fmt.Printf("%-8s %-34s %9s %9s %9s %10s %8s %8s\n", "build", "scenario", "median", "p90", "min", "peak RSS", "API/run", "/floor")
	perRunOf := map[string]float64{}
	for _, b := range builds {
		// The floor and every scenario take turns, run by run, so a change
		// in the machine's load weighs on all of them alike.
		next := []func() (*exec.Cmd, string){}
		if b.floor != "" {
			next = append(next, func() (*exec.Cmd, string) { return floorCmd(b.floor, server.URL) })
		}
		scenarios := []scenario{podMode, nsMode, noMirror}
		for _, s := range scenarios {
			s := s
			next = append(next, func() (*exec.Cmd, string) { return provider(b.provider, server.URL, s) })
		}
		all, requestsOf := measureTurns(next, *runs, &requests)
		var floorMedian time.Duration
		if b.floor != "" {
			floorMedian = all[0].median
			all[0].print(b.label, 0, 1)
			all, requestsOf = all[1:], requestsOf[1:]
		}
		for i, s := range scenarios {
			perRun := float64(requestsOf[i]) / float64(*runs)
			if b.label == "dynamic" {
				perRunOf[s.name] = perRun
			}
			ratio := 0.0
			if floorMedian > 0 && s.name != noMirror.name {
				ratio = float64(all[i].median) / float64(floorMedian)
			}
			all[i].print(b.label, perRun, ratio)
		}
	}
	fmt.Printf("load average after: %s (timings are noisy when it is above the core count)\n", loadAverage())
	// KEP-4412: kubelet also runs the provider when a container starts from
	// a cached image whose pull record names a service account (our mirror
	// pulls), to check the pod may use it; no pull follows.
	fmt.Printf("extra load per container start of a cached private image: 1 invocation, %.1f API requests (--secrets=pod), %.1f (--secrets=namespace)\n",
		perRunOf[podMode.name], perRunOf[nsMode.name])

	if *rtt <= 0 {
		return
	}
	// The same server behind a proxy that delays every byte by half the
	// RTT each way, and counts connections and the client's flights: a
	// flight is what the client sends before it has heard anything back,
	// so the first flight of a connection is its TLS ClientHello and every
	// later one is a round of requests (TLS 1.3 sends the client's Finished
	// with the first requests). The TCP handshake itself is not delayed.
	proxy := startLatencyProxy(server.Listener.Addr().String(), *rtt)
	defer proxy.Close()
	proxyURL := "https://" + proxy.Addr()
	fmt.Printf("\nemulated RTT %s (TCP connect not delayed), %d runs each; load average %s\n", *rtt, *rttRuns, loadAverage())
	fmt.Printf("%-8s %-34s %9s %9s %8s %8s %8s\n", "build", "scenario", "median", "p90", "API/run", "conn/run", "rounds")
	for _, b := range builds {
		type run struct {
			name string
			cmd  func() (*exec.Cmd, string)
		}
		runsOf := []run{}
		if b.floor != "" {
			runsOf = append(runsOf, run{"floor", func() (*exec.Cmd, string) { return floorCmd(b.floor, proxyURL) }})
		}
		for _, s := range []scenario{podMode, nsMode} {
			s := s
			runsOf = append(runsOf, run{s.name, func() (*exec.Cmd, string) { return provider(b.provider, proxyURL, s) }})
		}
		// rounds: request flights per run, after each connection's
		// ClientHello flight.
		for _, r := range runsOf {
			before := requests.Load()
			conns, flights := proxy.Counts()
			st := measure(r.cmd, *rttRuns)
			conns2, flights2 := proxy.Counts()
			n := float64(*rttRuns)
			hs := float64(conns2-conns) / n
			fmt.Printf("%-8s %-34s %9s %9s %8.1f %8.1f %8.1f\n", b.label, st.name,
				st.median.Round(10*time.Microsecond), st.p90.Round(10*time.Microsecond),
				float64(requests.Load()-before)/n, hs, float64(flights2-flights)/n-hs)
		}
	}
}

type stats struct {
	name             string
	median, p90, min time.Duration
	rss              int64
}

func (st stats) print(build string, perRun, ratio float64) {
	r := "-"
	if ratio > 0 {
		r = fmt.Sprintf("%.2fx", ratio)
	}
	fmt.Printf("%-8s %-34s %9s %9s %9s %7d KiB %8.1f %8s\n", build, st.name,
		st.median.Round(10*time.Microsecond), st.p90.Round(10*time.Microsecond),
		st.min.Round(10*time.Microsecond), st.rss, perRun, r)
}

// measureTurns runs each command runs times, taking turns, and counts the
// API requests each made.
func measureTurns(next []func() (*exec.Cmd, string), runs int, requests *atomic.Int64) ([]stats, []int64) {
	walls := make([][]time.Duration, len(next))
	rss := make([][]int64, len(next))
	names := make([]string, len(next))
	counts := make([]int64, len(next))
	for r := 0; r < runs; r++ {
		for i, cmdOf := range next {
			before := requests.Load()
			wall, peak, name := runOnce(cmdOf)
			counts[i] += requests.Load() - before
			walls[i], rss[i], names[i] = append(walls[i], wall), append(rss[i], peak), name
		}
	}
	out := make([]stats, len(next))
	for i := range next {
		out[i] = summarize(names[i], walls[i], rss[i])
	}
	return out, counts
}

// runOnce runs one command: its wall time, the peak RSS it reported.
func runOnce(next func() (*exec.Cmd, string)) (time.Duration, int64, string) {
	cmd, name := next()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v: %s", name, err, stderr.String())
		os.Exit(1)
	}
	// The process reports its own VmHWM: ru_maxrss would include this Go
	// process, whose memory the child shares until exec.
	return wall, peakRSS(stderr.String()), name
}

func summarize(name string, walls []time.Duration, rss []int64) stats {
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return stats{name, walls[len(walls)/2], walls[len(walls)*9/10], walls[0], rss[len(rss)-1]}
}

// measure runs the command runs times: median, p90 and min wall time, and
// the largest peak RSS the process reported.
func measure(next func() (*exec.Cmd, string), runs int) stats {
	var walls []time.Duration
	var rss []int64
	var name string
	for i := 0; i < runs; i++ {
		wall, peak, n := runOnce(next)
		walls, rss, name = append(walls, wall), append(rss, peak), n
	}
	return summarize(name, walls, rss)
}

func peakRSS(log string) int64 {
	i := strings.LastIndex(log, "peak RSS ")
	if i < 0 {
		check(fmt.Errorf("no peak RSS in the debug log: %s", log))
	}
	var kib int64
	fmt.Sscanf(log[i+len("peak RSS "):], "%d", &kib)
	return kib
}

// loadAverage is the 1, 5 and 15 minute load averages of the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func token() string {
	enc := base64.RawURLEncoding
	claims := map[string]any{
		"sub": "system:serviceaccount:" + ns + ":default",
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"pod":            map[string]string{"name": "web-0", "uid": "pod-uid"},
			"serviceaccount": map[string]string{"name": "default", "uid": "sa-uid"},
		},
	}
	payload, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString(payload) + ".sig"
}

// startAPI serves the reads the provider makes, as a kube-apiserver would.
func startAPI(dir string, requests *atomic.Int64) (*httptest.Server, string) {
	dockerconfig := func(key, user string) map[string]any {
		cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{key: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(user + ":pw"))}}})
		return map[string]any{
			"kind": "Secret", "apiVersion": "v1", "type": "kubernetes.io/dockerconfigjson",
			"metadata": map[string]string{"name": user, "namespace": ns},
			"data":     map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString(cfg)},
		}
	}
	objects := map[string]any{
		"/api/v1/namespaces/" + ns + "/pods/web-0": map[string]any{
			"kind": "Pod", "metadata": map[string]string{"name": "web-0", "uid": "pod-uid"},
			"spec": map[string]any{"serviceAccountName": "default", "nodeName": "node-1",
				"imagePullSecrets": []map[string]string{{"name": "mirror-creds"}}},
		},
		"/api/v1/namespaces/" + ns + "/serviceaccounts/default": map[string]any{
			"kind": "ServiceAccount", "metadata": map[string]string{"name": "default"},
			"imagePullSecrets": []map[string]string{{"name": "mirror2-creds"}},
		},
		"/api/v1/namespaces/" + ns + "/secrets/mirror-creds":  dockerconfig("mirror.example.com", "mirror-creds"),
		"/api/v1/namespaces/" + ns + "/secrets/mirror2-creds": dockerconfig("mirror2.example.com", "mirror2-creds"),
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/namespaces/"+ns+"/secrets" {
			items := []any{}
			if strings.Contains(r.URL.Query().Get("fieldSelector"), "dockerconfigjson") {
				items = append(items, objects["/api/v1/namespaces/"+ns+"/secrets/mirror-creds"],
					objects["/api/v1/namespaces/"+ns+"/secrets/mirror2-creds"])
			}
			json.NewEncoder(w).Encode(map[string]any{"kind": "SecretList", "items": items})
			return
		}
		if obj, ok := objects[r.URL.Path]; ok {
			json.NewEncoder(w).Encode(obj)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "code": 404, "reason": "NotFound"})
	})

	ca, err := pki.NewCA("bench-ca")
	check(err)
	serving, err := ca.Issue("bench-api", nil, []string{"127.0.0.1"}, time.Time{})
	check(err)
	caFile := filepath.Join(dir, "ca.crt")
	check(os.WriteFile(caFile, ca.CertPEM, 0o644))
	server := httptest.NewUnstartedServer(handler)
	server.TLS = &tls.Config{Certificates: []tls.Certificate{serving.TLS()}}
	server.StartTLS()
	return server, caFile
}
