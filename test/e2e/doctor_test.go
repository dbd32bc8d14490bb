package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crio-credential-provider/test/internal/testbed"
)

// doctorNode is one node's files for `doctor`: a registries.conf mirroring
// docker.io, CRI-O's configuration, kubelet's bin dir and the
// CredentialProviderConfig `kubelet-config` prints for this control plane.
// kubelet and CRI-O themselves are not installed in the test bed: two
// one-line scripts answer `--version` as they do.
type doctorNode struct {
	e                               *testbed.Env
	bin, binDir, crioDir, rootDir   string
	configPath, kubeletBin, crioBin string
	providerArgs                    []string
}

func newDoctorNode(t *testing.T, extraArgs ...string) *doctorNode {
	e := newEnv(t)
	n := &doctorNode{e: e, bin: testbed.RequireProvider(t)}
	n.binDir = filepath.Join(e.Dir, "bin")
	n.crioDir = filepath.Join(e.Dir, "crio.conf.d")
	n.rootDir = filepath.Join(e.Dir, "kubelet-root")
	for _, d := range []string{n.binDir, n.crioDir, n.rootDir} {
		e.Must(os.MkdirAll(d, 0o755))
	}
	e.Must(os.Symlink(n.bin, filepath.Join(n.binDir, "crio-credential-provider")))
	n.kubeletBin = filepath.Join(n.binDir, "kubelet")
	n.crioBin = filepath.Join(n.binDir, "crio")
	e.Must(os.WriteFile(n.kubeletBin, []byte("#!/bin/sh\necho 'Kubernetes v1.36.3'\n"), 0o755))
	e.Must(os.WriteFile(n.crioBin, []byte("#!/bin/sh\necho 'crio version 1.36.3'\n"), 0o755))
	e.WriteFile(filepath.Join(n.crioDir, "10-auth.conf"), fmt.Sprintf("[crio.image]\nnamespaced_auth_dir = %q\n", e.AuthDir))
	e.WriteFile(e.RegistriesConf, "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"mirror.corp/hub\"\n")
	n.providerArgs = append(e.ProviderArgs(testbed.DriverConfig{}), extraArgs...)
	out, err := exec.Command(n.bin, append([]string{"kubelet-config", "--audience=" + testbed.DefaultAudience}, n.providerArgs...)...).Output()
	e.Must(err)
	n.configPath = filepath.Join(e.Dir, "credential-provider.yaml")
	e.WriteFile(n.configPath, string(out))
	return n
}

type doctorCheck struct {
	Name, Status, Message, Fix string
}

// run runs `doctor --json` and returns its checks by name.
func (n *doctorNode) run(t *testing.T) (map[string]doctorCheck, int) {
	t.Helper()
	cmd := exec.Command(n.bin, "doctor", "--json",
		"--credential-provider-config="+n.configPath,
		"--credential-provider-bin-dir="+n.binDir,
		"--kubelet-root-dir="+n.rootDir,
		"--kubelet-bin="+n.kubeletBin, "--crio-bin="+n.crioBin,
		"--crio-config="+filepath.Join(n.e.Dir, "no-crio.conf"),
		"--crio-config-dir="+n.crioDir, "--timeout=5s")
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Checks []doctorCheck
		OK     bool
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	checks := map[string]doctorCheck{}
	for _, c := range report.Checks {
		checks[c.Name] = c
	}
	if report.OK != (code == 0) {
		t.Errorf("ok=%v but exit %d", report.OK, code)
	}
	return checks, code
}

func (n *doctorNode) editConfig(t *testing.T, old, replacement string) {
	t.Helper()
	b, err := os.ReadFile(n.configPath)
	n.e.Must(err)
	if !strings.Contains(string(b), old) {
		t.Fatalf("config has no %q:\n%s", old, b)
	}
	n.e.WriteFile(n.configPath, strings.Replace(string(b), old, replacement, 1))
}

func assertAllOK(t *testing.T, checks map[string]doctorCheck, code int, except ...string) {
	t.Helper()
	for name, c := range checks {
		if c.Status != "OK" && !contains(except, name) {
			t.Errorf("%s: %s %s (fix: %s)", name, c.Status, c.Message, c.Fix)
		}
	}
	if code != 0 && len(except) == 0 {
		t.Errorf("exit %d on a good node", code)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func assertCheck(t *testing.T, checks map[string]doctorCheck, name, status, fix string) {
	t.Helper()
	c, ok := checks[name]
	if !ok {
		t.Fatalf("no check %q in %v", name, checks)
	}
	if c.Status != status || !strings.Contains(c.Fix, fix) {
		t.Errorf("%s: want %s with a fix naming %q, got %s %q (fix: %q)", name, status, fix, c.Status, c.Message, c.Fix)
	}
}

// issue 12: all OK on a good node; FAIL with the right fix for each
// misconfiguration of the issue's list; issue 15: old pull records.
func TestDoctor(t *testing.T) {
	t.Run("good node", func(t *testing.T) {
		n := newDoctorNode(t)
		checks, code := n.run(t)
		assertAllOK(t, checks, code)
		for _, name := range []string{"credential-provider-config", "provider-binary", "api-version", "token-attributes",
			"cache-type", "cache-duration", "match-images", "feature-gate", "crio-version", "namespaced-auth-dir",
			"registries-conf", "api-server", "pull-records"} {
			if _, ok := checks[name]; !ok {
				t.Errorf("no %s check", name)
			}
		}
		if !strings.Contains(checks["api-server"].Message, "--ca-file") {
			t.Errorf("api-server check does not say which CA: %q", checks["api-server"].Message)
		}
	})
	t.Run("mirror-only matchImages", func(t *testing.T) {
		n := newDoctorNode(t)
		n.editConfig(t, `- "docker.io"`, `- "mirror.corp"`)
		checks, code := n.run(t)
		assertCheck(t, checks, "match-images", "FAIL", "source registries")
		if !strings.Contains(checks["match-images"].Message, "mirror.corp") || code != 1 {
			t.Errorf("message %q, exit %d", checks["match-images"].Message, code)
		}
	})
	t.Run("missing tokenAttributes", func(t *testing.T) {
		n := newDoctorNode(t)
		n.editConfig(t, "    tokenAttributes:\n", "    unusedAttributes:\n")
		checks, _ := n.run(t)
		assertCheck(t, checks, "token-attributes", "FAIL", "serviceAccountTokenAudience")
	})
	t.Run("missing cacheType", func(t *testing.T) {
		n := newDoctorNode(t)
		n.editConfig(t, "      cacheType: Token\n", "")
		checks, _ := n.run(t)
		assertCheck(t, checks, "cache-type", "FAIL", "cacheType: Token")
	})
	t.Run("wrong namespaced_auth_dir", func(t *testing.T) {
		n := newDoctorNode(t)
		n.e.WriteFile(filepath.Join(n.crioDir, "20-other.conf"), "[crio.image]\nnamespaced_auth_dir = \"/run/other\"\n")
		checks, _ := n.run(t)
		assertCheck(t, checks, "namespaced-auth-dir", "FAIL", "--auth-dir=/run/other")
	})
	t.Run("unreachable API", func(t *testing.T) {
		port, err := testbed.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		n := newDoctorNode(t, fmt.Sprintf("--api-server=https://127.0.0.1:%d", port))
		checks, _ := n.run(t)
		assertCheck(t, checks, "api-server", "FAIL", "--api-server")
	})
	t.Run("wrong CA", func(t *testing.T) {
		e := newEnv(t)
		other, err := testbed.NewCA(e.Dir, "other-ca")
		e.Must(err)
		n := newDoctorNode(t, "--ca-file="+other.CertPath)
		checks, _ := n.run(t)
		assertCheck(t, checks, "api-server", "FAIL", "--ca-file")
		if !strings.Contains(checks["api-server"].Message, other.CertPath) {
			t.Errorf("api-server check does not name the CA used: %q", checks["api-server"].Message)
		}
	})
	t.Run("node identity", func(t *testing.T) {
		e := newEnv(t)
		node := e.Node("node-a")
		n := newDoctorNode(t, "--api-identity=node", "--kubeconfig="+node.Kubeconfig)
		checks, code := n.run(t)
		assertAllOK(t, checks, code)
		assertCheck(t, checks, "node-identity", "OK", "")
		if !strings.Contains(checks["node-identity"].Message, "SelfSubjectReview") {
			t.Errorf("node-identity does not say how it knows: %q", checks["node-identity"].Message)
		}
	})
	t.Run("node identity outside system:nodes", func(t *testing.T) {
		// A client certificate named like a node but without the group
		// system:nodes: the API server authenticates it, and the
		// SelfSubjectReview shows the Node authorizer would not apply.
		e := newEnv(t)
		dir := filepath.Join(e.Dir, "not-a-node")
		e.Must(os.MkdirAll(dir, 0o700))
		kp, err := e.CP.CA.Issue(dir, "client", "system:node:node-b", nil, nil, time.Time{})
		e.Must(err)
		kubeconfig := filepath.Join(dir, "kubeconfig")
		e.WriteFile(kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, certificate-authority: %q}
users:
- name: node-b
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: node-b}
current-context: e2e
`, e.CP.URL(), e.CP.CA.CertPath, kp.CertPath, kp.KeyPath))
		n := newDoctorNode(t, "--api-identity=node", "--kubeconfig="+kubeconfig)
		checks, code := n.run(t)
		assertCheck(t, checks, "node-identity", "FAIL", "kubelet's own kubeconfig")
		if !strings.Contains(checks["node-identity"].Message, "system:nodes") || code != 1 {
			t.Errorf("node-identity: %q, exit %d", checks["node-identity"].Message, code)
		}
	})
	t.Run("pull records of an earlier version", func(t *testing.T) {
		n := newDoctorNode(t)
		pulled := filepath.Join(n.rootDir, "image_manager", "pulled")
		n.e.Must(os.MkdirAll(pulled, 0o700))
		n.e.WriteFile(filepath.Join(pulled, "sha256-0001"), `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"2026-01-01T00:00:00Z","imageRef":"sha256:0001","credentialMapping":{"team/private":{"nodePodsAccessible":true}}}`)
		n.e.WriteFile(filepath.Join(pulled, "sha256-0002"), `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"2026-01-01T00:00:00Z","imageRef":"sha256:0002","credentialMapping":{"quay.io/public/tool":{"nodePodsAccessible":true},"docker.io/team/sa":{"kubernetesServiceAccounts":[{"namespace":"team-a","name":"default","uid":"u"}]}}}`)
		checks, code := n.run(t)
		assertCheck(t, checks, "pull-records", "WARN", "stop kubelet")
		msg := checks["pull-records"].Message
		if !strings.Contains(msg, "team/private") || strings.Contains(msg, "quay.io") || strings.Contains(msg, "docker.io/team/sa") || code != 0 {
			t.Errorf("pull-records: %q, exit %d", msg, code)
		}
	})
}
