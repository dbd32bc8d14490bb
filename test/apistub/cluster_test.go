package apistub

import (
	"os"
	"os/exec"
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

// The provider reaches an API server named by a host name that only the
// node's /etc/hosts knows, the fully static build too: c-ares reads the hosts
// file and resolv.conf itself, so no glibc NSS module is loaded. Each run has
// a private mount namespace whose /etc/hosts and /etc/resolv.conf are the
// test's own (the resolver is 127.0.0.1, where no DNS server listens, so no
// query leaves the machine).
func TestAPIServerByHostName(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a private /etc/hosts in a mount namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	bins := []struct{ name, path string }{{"dynamic", binary}}
	if static := os.Getenv("CRIO_CREDENTIAL_PROVIDER_STATIC_BIN"); static != "" {
		bins = append(bins, struct{ name, path string }{"static", static})
	} else {
		t.Log("CRIO_CREDENTIAL_PROVIDER_STATIC_BIN unset: the static build is not tested")
	}
	for _, b := range bins {
		t.Run(b.name, func(t *testing.T) {
			for _, known := range []bool{true, false} {
				e := newEnv(t)
				e.bin = b.path
				e.standardSecrets()
				_, port, _ := strings.Cut(strings.TrimPrefix(e.stub.URL, "https://"), ":")
				e.apiServer = "https://" + APIServerName + ":" + port
				hosts := "127.0.0.1 localhost\n"
				if known {
					hosts += "127.0.0.1 " + APIServerName + "\n"
				}
				e.writeFile(filepath.Join(e.dir, "hosts"), hosts, 0o644)
				e.writeFile(filepath.Join(e.dir, "resolv.conf"),
					"nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", 0o644)
				wrapper := []string{unshare, "--mount", "sh", "-ec",
					`mount --bind "$0/hosts" /etc/hosts
mount --bind "$0/resolv.conf" /etc/resolv.conf
exec "$@"`, e.dir}
				res := e.runWrapped(wrapper, e.request(nginx))
				if !known {
					checkFailure(t, res, `cannot resolve "`+APIServerName+`"`)
					if n := len(e.stub.Requests()); n != 0 {
						t.Errorf("want no request to reach the API server, got %d", n)
					}
					continue
				}
				checkOK(t, res)
				e.checkAuthFile(nginx, map[string]string{
					"mirror.example.com/hub/library/nginx":             "alpha-pod",
					"mirror2.example.com:5000/dockerhub/library/nginx": "alpha-sa",
				}, nil)
			}
		})
	}
}
