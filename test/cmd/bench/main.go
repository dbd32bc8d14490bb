// Command bench measures one provider invocation end to end: kubelet's
// request on stdin, the API reads over verified TLS on loopback, the auth
// file written. It reports the median and 90th-percentile wall time, the
// peak RSS and the API round trips, for each scenario, over many runs.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

const ns = "team-a"

func main() {
	bin := flag.String("bin", "../build/crio-credential-provider", "provider binary")
	runs := flag.Int("runs", 300, "invocations per scenario")
	flag.Parse()
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v: build the provider first\n", err)
		os.Exit(1)
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

	base := []string{
		"--api-server=" + server.URL, "--ca-file=" + caFile,
		"--auth-dir=" + filepath.Join(dir, "auth"),
		"--global-auth-file=" + filepath.Join(dir, "config.json"),
		"--registries-conf=" + conf, "--registries-conf-dir=" + dropins,
		"--log-level=debug",
	}
	fmt.Printf("%-34s %9s %9s %9s %10s %8s\n", "scenario", "median", "p90", "min", "peak RSS", "API/run")
	perRunOf := map[string]float64{}
	for _, s := range []struct {
		name  string
		image string
		args  []string
	}{
		{"mirror, --secrets=pod (2 secrets)", "docker.io/library/nginx", nil},
		{"mirror, --secrets=namespace", "docker.io/library/nginx", []string{"--secrets=namespace"}},
		{"no mirror (no API call)", "quay.io/team/app", nil},
	} {
		request := fmt.Sprintf(`{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":%q,"serviceAccountToken":%q,"serviceAccountAnnotations":{}}`, s.image, token())
		var walls []time.Duration
		var rss []int64
		before := requests.Load()
		for i := 0; i < *runs; i++ {
			cmd := exec.Command(*bin, append(base, s.args...)...)
			cmd.Stdin = strings.NewReader(request)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			walls = append(walls, time.Since(start))
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s: %v: %s", s.name, err, stderr.String())
				os.Exit(1)
			}
			// The provider reports its own VmHWM: ru_maxrss would include
			// this Go process, whose memory the child shares until exec.
			rss = append(rss, peakRSS(stderr.String()))
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
		perRun := float64(requests.Load()-before) / float64(*runs)
		perRunOf[s.name] = perRun
		fmt.Printf("%-34s %9s %9s %9s %7d KiB %8.1f\n", s.name,
			walls[len(walls)/2].Round(10*time.Microsecond),
			walls[len(walls)*9/10].Round(10*time.Microsecond),
			walls[0].Round(10*time.Microsecond), rss[len(rss)-1], perRun)
	}
	// KEP-4412: kubelet also runs the provider when a container starts from
	// a cached image whose pull record names a service account (our mirror
	// pulls), to check the pod may use it; no pull follows.
	fmt.Printf("extra load per container start of a cached private image: 1 invocation, %.1f API requests (--secrets=pod), %.1f (--secrets=namespace)\n",
		perRunOf["mirror, --secrets=pod (2 secrets)"], perRunOf["mirror, --secrets=namespace"])
}

func peakRSS(log string) int64 {
	i := strings.LastIndex(log, "peak RSS ")
	if i < 0 {
		check(fmt.Errorf("no peak RSS in the provider's debug log: %s", log))
	}
	var kib int64
	fmt.Sscanf(log[i+len("peak RSS "):], "%d", &kib)
	return kib
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

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-api"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	caFile := filepath.Join(dir, "ca.crt")
	check(os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	server := httptest.NewUnstartedServer(handler)
	server.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	server.StartTLS()
	return server, caFile
}
