package testbed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultAudience is the audience the kubelet driver requests service
// account tokens for (tokenAttributes.serviceAccountTokenAudience). The API
// server accepts it (--api-audiences).
const DefaultAudience = "crio-credential-provider"

// ControlPlane is an embedded etcd plus a real kube-apiserver process on
// loopback, with Node,RBAC authorization and NodeRestriction admission.
type ControlPlane struct {
	Dir       string
	CA        *CA // signs serving and client certificates, --client-ca-file
	Audiences []string
	Admin     kubernetes.Interface
	AdminREST *rest.Config
	// AdminKubeconfig is a kubeconfig file for system:masters.
	AdminKubeconfig string

	main    *APIServer
	etcd    *embed.Etcd
	etcdURL string
	binary  string
	logf    func(string, ...any)

	mu    sync.Mutex
	nodes map[string]*Node
	seq   int
}

// APIServer is one kube-apiserver process.
type APIServer struct {
	URL     string // https://127.0.0.1:<port>
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartControlPlane starts etcd and kube-apiserver under dir.
func StartControlPlane(dir string, logf func(string, ...any)) (*ControlPlane, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := KubeAPIServerBinary(logf)
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: dir, binary: bin, logf: logf, nodes: map[string]*Node{},
		Audiences: []string{"https://kubernetes.default.svc", DefaultAudience}}
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o755); err != nil {
		return nil, err
	}
	if cp.CA, err = NewCA(pki, "cluster-ca"); err != nil {
		return nil, err
	}
	if _, err := cp.CA.Issue(pki, "apiserver", "kube-apiserver", nil,
		[]string{"127.0.0.1", "::1", "localhost", "kubernetes", "kubernetes.default.svc"}, time.Time{}); err != nil {
		return nil, err
	}
	if err := writeRSAKeyPair(filepath.Join(pki, "sa.key"), filepath.Join(pki, "sa.pub")); err != nil {
		return nil, err
	}
	admin, err := cp.CA.Issue(pki, "admin", "e2e-admin", []string{"system:masters"}, nil, time.Time{})
	if err != nil {
		return nil, err
	}

	if err := cp.startEtcd(); err != nil {
		return nil, err
	}
	cp.main, err = cp.StartAPIServer()
	if err != nil {
		cp.Stop()
		return nil, err
	}
	cp.AdminREST = &rest.Config{
		Host: cp.main.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: cp.CA.CertPath, CertFile: admin.CertPath, KeyFile: admin.KeyPath,
		},
		QPS: 200, Burst: 400,
	}
	cp.AdminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(cp.AdminKubeconfig, cp.main.URL, cp.CA.CertPath, admin.CertPath, admin.KeyPath, "admin"); err != nil {
		cp.Stop()
		return nil, err
	}
	if cp.Admin, err = kubernetes.NewForConfig(cp.AdminREST); err != nil {
		cp.Stop()
		return nil, err
	}
	if err := cp.waitBootstrap(); err != nil {
		cp.Stop()
		return nil, err
	}
	if err := cp.AllowNodeAudience(DefaultAudience); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// URL is the main API server's address.
func (cp *ControlPlane) URL() string { return cp.main.URL }

func (cp *ControlPlane) startEtcd() error {
	cport, err := FreePort()
	if err != nil {
		return err
	}
	pport, err := FreePort()
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = "e2e"
	cfg.Dir = filepath.Join(cp.Dir, "etcd")
	cu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(cport))
	pu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(pport))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(cp.Dir, "etcd.log")}
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return errors.New("etcd did not become ready in 60s")
	}
	cp.etcd = e
	cp.etcdURL = cu.String()
	return nil
}

// StartAPIServer starts a kube-apiserver on a new port against the shared
// etcd. The control plane's main server is one; tests may start another one
// to stop it.
func (cp *ControlPlane) StartAPIServer() (*APIServer, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var s *APIServer
		if s, err = cp.startAPIServer(); err == nil {
			return s, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, err
}

func (cp *ControlPlane) startAPIServer() (*APIServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	pki := filepath.Join(cp.Dir, "pki")
	cp.mu.Lock()
	cp.seq++
	n := cp.seq
	cp.mu.Unlock()
	certDir := filepath.Join(cp.Dir, fmt.Sprintf("apiserver-%d", n))
	if err := os.MkdirAll(certDir, 0o755); err != nil {
		return nil, err
	}
	args := []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + certDir,
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--client-ca-file=" + cp.CA.CertPath,
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--api-audiences=" + strings.Join(cp.Audiences, ","),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction,ServiceAccount",
		"--service-cluster-ip-range=10.96.0.0/24",
		"--endpoint-reconciler-type=none",
		"--storage-backend=etcd3",
		"--allow-privileged=false",
		"--profiling=false",
		"--v=1",
	}
	logPath := filepath.Join(cp.Dir, fmt.Sprintf("kube-apiserver-%d.log", n))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cp.binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &APIServer{URL: fmt.Sprintf("https://127.0.0.1:%d", port), LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logFile.Close(); close(s.done) }() //nolint:errcheck
	if err := cp.waitReady(s, 120*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop kills the API server and waits for it to exit.
func (s *APIServer) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck
		<-s.done
	}
}

func (cp *ControlPlane) waitReady(s *APIServer, timeout time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.CA.CertPEM)
	pki := filepath.Join(cp.Dir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "admin.crt"), filepath.Join(pki, "admin.key"))
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("kube-apiserver exited: %s", tail(s.LogPath, 30))
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			b := make([]byte, 4096)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b[:n])
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %s\n%s", timeout, last, tail(s.LogPath, 30))
}

// waitBootstrap waits until the bootstrap RBAC policy (system:node etc.) exists.
func (cp *ControlPlane) waitBootstrap() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, err := cp.Admin.RbacV1().ClusterRoles().Get(ctx, "system:node", metav1.GetOptions{})
		if err == nil {
			_, err = cp.Admin.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bootstrap objects missing: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// AllowNodeAudience lets every node request service-account tokens for aud
// (the ServiceAccountNodeAudienceRestriction check of NodeRestriction): this
// is the cluster-admin setup kubelet's credential-provider token mode needs.
// It grants nothing to service accounts.
func (cp *ControlPlane) AllowNodeAudience(aud string) error {
	ctx := context.Background()
	name := "e2e-node-audience-" + sanitize(aud)
	_, err := cp.Admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{aud},
			Verbs: []string{"request-serviceaccounts-token-audience"},
		}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = cp.Admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:nodes"}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return cp.waitAllowed(authorizationv1.SubjectAccessReviewSpec{
		User: "system:node:e2e-probe", Groups: []string{"system:nodes", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "request-serviceaccounts-token-audience", Resource: aud},
	})
}

// Stop stops the API server and etcd.
func (cp *ControlPlane) Stop() {
	if cp.main != nil {
		cp.main.Stop()
	}
	if cp.etcd != nil {
		cp.etcd.Close()
	}
}

// Node is a node identity: a Node object, a client certificate for
// system:node:<name> (group system:nodes), and a kubelet kubeconfig that
// references the certificate and key files.
type Node struct {
	Name       string
	Kubeconfig string
	CertPath   string
	KeyPath    string
	Client     kubernetes.Interface
	REST       *rest.Config
	Server     string
	CAFile     string
}

// KubeconfigInline writes a kubeconfig for the node with inline
// certificate-authority-data, client-certificate-data and client-key-data.
func (n *Node) KubeconfigInline(path string) error {
	ca, err := os.ReadFile(n.CAFile)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(n.CertPath)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(n.KeyPath)
	if err != nil {
		return err
	}
	user := "system:node:" + n.Name
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: n.Server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: user}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

// KubeconfigRotatedPEM writes what a kubelet with certificate rotation has:
// dir/pki/kubelet-client-current.pem (certificate and key in one file)
// named as both client-certificate and client-key of dir/kubeconfig.
func (n *Node) KubeconfigRotatedPEM(dir string) (string, error) {
	cert, err := os.ReadFile(n.CertPath)
	if err != nil {
		return "", err
	}
	key, err := os.ReadFile(n.KeyPath)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o755); err != nil {
		return "", err
	}
	pem := filepath.Join(dir, "pki", "kubelet-client-current.pem")
	if err := os.WriteFile(pem, append(append(cert, '\n'), key...), 0o600); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, writeKubeconfig(path, n.Server, n.CAFile, pem, pem, "default-auth")
}

// Node returns (creating on first use) the node identity name.
func (cp *ControlPlane) Node(name string) (*Node, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if n, ok := cp.nodes[name]; ok {
		return n, nil
	}
	dir := filepath.Join(cp.Dir, "nodes", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	kp, err := cp.CA.Issue(dir, "kubelet-client", "system:node:"+name, []string{"system:nodes"}, nil, time.Time{})
	if err != nil {
		return nil, err
	}
	n := &Node{Name: name, Kubeconfig: filepath.Join(dir, "kubelet.kubeconfig"), CertPath: kp.CertPath, KeyPath: kp.KeyPath,
		Server: cp.main.URL, CAFile: cp.CA.CertPath}
	if err := writeKubeconfig(n.Kubeconfig, cp.main.URL, cp.CA.CertPath, kp.CertPath, kp.KeyPath, "system:node:"+name); err != nil {
		return nil, err
	}
	n.REST = &rest.Config{Host: cp.main.URL, TLSClientConfig: rest.TLSClientConfig{
		CAFile: cp.CA.CertPath, CertFile: kp.CertPath, KeyFile: kp.KeyPath}, QPS: 200, Burst: 400}
	if n.Client, err = kubernetes.NewForConfig(n.REST); err != nil {
		return nil, err
	}
	_, err = cp.Admin.CoreV1().Nodes().Create(context.Background(), &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	cp.nodes[name] = n
	return n, nil
}

// NodeKubeconfigExpiring writes dir/kubeconfig for system:node:<name> with
// a fresh client certificate valid until notAfter (in the past: expired).
func (cp *ControlPlane) NodeKubeconfigExpiring(name, dir string, notAfter time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	kp, err := cp.CA.Issue(dir, "kubelet-client", "system:node:"+name, []string{"system:nodes"}, nil, notAfter)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, writeKubeconfig(path, cp.main.URL, cp.CA.CertPath, kp.CertPath, kp.KeyPath, "system:node:"+name)
}

// writeKubeconfig writes a kubeconfig for a client certificate.
func writeKubeconfig(path, server, caFile, certFile, keyFile, user string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: user}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-.")
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
