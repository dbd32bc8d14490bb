package apistub

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Without --api-server and --ca-file the provider finds the API server in
// <kube-config-dir>/apiserver-url.env and the CA in <kube-config-dir>/pki/ca.crt.
func TestClusterDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.standardSecrets()
	host, port, _ := strings.Cut(strings.TrimPrefix(e.stub.URL, "https://"), ":")
	e.writeFile(filepath.Join(e.kubeConfigDir, "apiserver-url.env"),
		"KUBERNETES_SERVICE_HOST='"+host+"'\nKUBERNETES_SERVICE_PORT='"+port+"'\n", 0o644)
	if err := os.MkdirAll(filepath.Join(e.kubeConfigDir, "pki"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(e.kubeConfigDir, "pki", "ca.crt"), string(ca), 0o644)
	e.apiServer, e.caFile = "", ""
	res := e.run(e.request(nginx))
	checkOK(t, res)
	e.checkAuthFile(nginx, map[string]string{
		"mirror.example.com/hub/library/nginx":             "alpha-pod",
		"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
	}, nil)
	if len(e.stub.Requests()) != 4 {
		t.Errorf("want 4 round trips, got %q", reads(e.stub.Requests()))
	}
}

// --insecure-skip-tls-verify reaches a server whose CA is not trusted, and
// says so in a warning.
func TestInsecureSkipTLSVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.standardSecrets()
	e.caFile = wrongCAFile
	res := e.run(e.request(nginx), "--insecure-skip-tls-verify")
	checkOK(t, res)
	if !regexp.MustCompile(`(?m)^crio-credential-provider: warning: .*insecure-skip-tls-verify`).MatchString(res.stderr) {
		t.Errorf("want a warning about --insecure-skip-tls-verify\n%v", res)
	}
	e.checkAuthFile(nginx, map[string]string{
		"mirror.example.com/hub/library/nginx":             "alpha-pod",
		"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
	}, nil)
}
