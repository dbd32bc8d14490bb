package testbed

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// KubeletVersion is the kubelet release the e2e tests run: the
// k8s.io/kubernetes module the test module pins.
const KubeletVersion = "v1.36.3"

// KubeletBinary builds (once per kubelet.mod/kubelet.sum) the real kubelet
// from the pinned k8s.io/kubernetes module. kubelet needs modules the rest of
// the test module does not (cadvisor, ...): test/kubelet.mod is a copy of
// go.mod with its own kubelet.sum, so go.mod, go.sum and the kube-apiserver
// build key stay as they are.
func KubeletBinary(logf func(string, ...any)) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	v := "k8s.io/component-base/version"
	return buildCached(buildSpec{
		name:    "kubelet",
		pkg:     "k8s.io/kubernetes/cmd/kubelet",
		modfile: filepath.Join(root, "kubelet.mod"),
		ldflags: fmt.Sprintf("-X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=1 -X %[1]s.gitMinor=36 -X %[1]s.gitTreeState=clean", v, KubeletVersion),
	}, logf)
}

// hostKubeletDir is where kubelet puts its device-plugin socket whatever
// --root-dir says.
const hostKubeletDir = "/var/lib/kubelet"

// KubeletConfig configures one real kubelet of a test.
type KubeletConfig struct {
	// NodeName; default a fresh "kubelet-<random>" (pods of earlier tests
	// stay bound to their nodes: the control plane is shared).
	NodeName string
	// Driver configures the credential provider as for the e2e-node driver
	// (Node is ignored: the kubelet's identity is system:node:NodeName).
	Driver DriverConfig
	// VerificationPolicy is imagePullCredentialsVerificationPolicy (""
	// keeps kubelet's default).
	VerificationPolicy string
	// PauseImage is pulled by CRI-O through PauseImageAuthFile before any
	// pod's image.
	PauseImage, PauseImageAuthFile string
}

// Kubelet is a real kubelet with its own CRI-O.
type Kubelet struct {
	env     *Env
	Node    *Node
	RootDir string
	LogPath string
	CRIO    *CRIO
	cmd     *exec.Cmd
	done    chan struct{}
}

// StartKubelet starts CRI-O and a real kubelet registered as cfg.NodeName,
// with the provider configured as StartDriver does. Everything is stopped
// and every mount under the node's directories removed at cleanup.
func (e *Env) StartKubelet(cfg KubeletConfig) *Kubelet {
	e.T.Helper()
	bin, err := KubeletBinary(func(f string, a ...any) { e.T.Logf(f, a...) })
	e.Must(err)
	if cfg.NodeName == "" {
		cfg.NodeName = "kubelet-" + uuid.NewString()[:8]
	}
	node := e.Node(cfg.NodeName)
	dir := filepath.Join(e.Dir, "kubelet-"+cfg.NodeName)
	e.Must(os.MkdirAll(dir, 0o755))
	// kubelet's root dir holds unix sockets (pod-resources, plugins): keep
	// it short, test temp dirs carry the test's name.
	rootDir, err := os.MkdirTemp("", "kubelet-")
	e.Must(err)
	k := &Kubelet{env: e, Node: node, RootDir: rootDir, LogPath: filepath.Join(dir, "kubelet.log"), done: make(chan struct{})}
	// kubelet's device-plugin socket has a fixed path outside its root dir
	// (/var/lib/kubelet/device-plugins): remove that tree afterwards unless
	// it was there before (a real node's).
	_, statErr := os.Stat(hostKubeletDir)
	ownHostDir := os.IsNotExist(statErr)
	// Unmount last: registered first, so it runs after the processes stop.
	e.T.Cleanup(func() {
		unmountUnder(dir)
		unmountUnder(rootDir)
		os.RemoveAll(rootDir)
		if ownHostDir {
			os.RemoveAll(hostKubeletDir)
		}
	})

	k.CRIO = e.StartCRIO(filepath.Join(dir, "crio"), CRIOConfig{PauseImage: cfg.PauseImage, PauseImageAuthFile: cfg.PauseImageAuthFile})
	cfg.Driver.Node = node
	providerConfig, binDir := e.writeProviderConfig(dir, &cfg.Driver)

	port, err := FreePort()
	e.Must(err)
	var y strings.Builder
	fmt.Fprintf(&y, `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%s
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard: {}
imageGCHighThresholdPercent: 100
localStorageCapacityIsolation: false
makeIPTablesUtilChains: false
resolvConf: ""
nodeStatusUpdateFrequency: 10s
syncFrequency: 5s
fileCheckFrequency: 5s
`, k.CRIO.Socket, port)
	if cfg.VerificationPolicy != "" {
		fmt.Fprintf(&y, "imagePullCredentialsVerificationPolicy: %s\n", cfg.VerificationPolicy)
	}
	configPath := filepath.Join(dir, "kubelet.yaml")
	e.WriteFile(configPath, y.String())

	logFile, err := os.Create(k.LogPath)
	e.Must(err)
	cmd := exec.Command(bin,
		"--config="+configPath,
		"--kubeconfig="+node.Kubeconfig,
		"--root-dir="+k.RootDir,
		"--cert-dir="+filepath.Join(dir, "pki"),
		"--hostname-override="+cfg.NodeName,
		"--node-ip=127.0.0.1",
		"--image-credential-provider-config="+providerConfig,
		"--image-credential-provider-bin-dir="+binDir,
		"--v=4",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	e.Must(cmd.Start())
	k.cmd = cmd
	go func() { cmd.Wait(); logFile.Close(); close(k.done) }() //nolint:errcheck
	e.T.Cleanup(k.Stop)

	// Up when it has reported its node's status. The node stays NotReady
	// (no CNI: the runtime's network is not ready), which only matters to
	// pods without hostNetwork.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := e.CP.Admin.CoreV1().Nodes().Get(context.Background(), cfg.NodeName, metav1.GetOptions{})
		if err == nil && n.Status.NodeInfo.KubeletVersion != "" {
			e.T.Logf("kubelet %s on node %s, runtime %s", n.Status.NodeInfo.KubeletVersion, cfg.NodeName, n.Status.NodeInfo.ContainerRuntimeVersion)
			return k
		}
		select {
		case <-k.done:
			e.T.Fatalf("kubelet exited:\n%s", tail(k.LogPath, 60))
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("node %s: no status from kubelet in 2m:\n%s", cfg.NodeName, tail(k.LogPath, 60))
		}
	}
}

// Stop stops kubelet (SIGTERM, SIGKILL after 10s).
func (k *Kubelet) Stop() {
	if k.cmd == nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		k.cmd.Process.Kill() //nolint:errcheck
		<-k.done
	}
}

// Log returns kubelet's log so far.
func (k *Kubelet) Log() string {
	b, _ := os.ReadFile(k.LogPath)
	return string(b)
}

// KubeletPod describes a pod for the real kubelet: host network, no
// service-account token volume (no controller-manager publishes
// kube-root-ca.crt), bound to the kubelet's node.
type KubeletPod struct {
	Namespace, Name, Image string
	ServiceAccount         string // default "default"
	PullSecrets            []string
	PullPolicy             corev1.PullPolicy // default Always
}

// RunPod creates the pod on the kubelet's node.
func (k *Kubelet) RunPod(p KubeletPod) *corev1.Pod {
	k.env.T.Helper()
	if p.ServiceAccount == "" {
		p.ServiceAccount = "default"
	}
	if p.PullPolicy == "" {
		p.PullPolicy = corev1.PullAlways
	}
	no := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
		Spec: corev1.PodSpec{
			NodeName:                     k.Node.Name,
			HostNetwork:                  true,
			ServiceAccountName:           p.ServiceAccount,
			AutomountServiceAccountToken: &no,
			RestartPolicy:                corev1.RestartPolicyNever,
			Containers:                   []corev1.Container{{Name: "app", Image: p.Image, ImagePullPolicy: p.PullPolicy}},
		},
	}
	for _, s := range p.PullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	created, err := k.env.CP.Admin.CoreV1().Pods(p.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	k.env.Must(err)
	return created
}

// PullOutcome is what kubelet reported about a pod's image.
type PullOutcome struct {
	Pulled  bool   // event Pulled
	Message string // the Pulled or Failed event's message
	Events  []string
}

// WaitPull waits until kubelet reports the pod's image as pulled, present
// ("already present on machine") or failed to pull, and returns that.
func (k *Kubelet) WaitPull(ns, pod string) PullOutcome {
	k.env.T.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		evs, err := k.env.CP.Admin.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod).String(),
		})
		k.env.Must(err)
		items := evs.Items
		sort.Slice(items, func(i, j int) bool { return items[i].CreationTimestamp.Before(&items[j].CreationTimestamp) })
		var out PullOutcome
		for _, ev := range items {
			out.Events = append(out.Events, ev.Reason+": "+ev.Message)
		}
		for _, ev := range items {
			switch {
			case ev.Reason == "Pulled":
				out.Pulled, out.Message = true, ev.Message
				return out
			case ev.Reason == "Failed" && strings.Contains(ev.Message, "pull"):
				out.Message = ev.Message
				return out
			}
		}
		select {
		case <-k.done:
			k.env.T.Fatalf("kubelet exited:\n%s", tail(k.LogPath, 60))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			k.env.T.Fatalf("no pull outcome for %s/%s in 3m; events %v\nkubelet log:\n%s", ns, pod, out.Events, tail(k.LogPath, 60))
		}
	}
}

// DeletePod deletes the pod gracefully and waits until kubelet has removed it
// from the API server (kubelet does so only once the pod's worker has
// stopped, so no retry of its pull can start afterwards) and CRI-O has been
// quiet for two seconds. The test images cannot run (Debian's runc cannot
// start their containers here), so kubelet keeps retrying the container and,
// with imagePullPolicy Always, pulls again on every retry until the pod is
// gone; a forced deletion (grace 0) removes the object at once, and a retry
// already under way then lands in the next step's counts.
func (k *Kubelet) DeletePod(ns, name string) {
	k.env.T.Helper()
	grace := int64(1)
	pods := k.env.CP.Admin.CoreV1().Pods(ns)
	k.env.Must(pods.Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &grace}))
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := pods.Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			k.env.T.Fatalf("kubelet did not remove pod %s/%s within a minute of its deletion (err %v)\nkubelet log:\n%s", ns, name, err, tail(k.LogPath, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	last := -1
	for time.Now().Before(deadline) {
		n := strings.Count(k.CRIO.Log(), "Pulling image: ")
		inUse, _ := filepath.Glob(filepath.Join(k.env.AuthDir, "in-use", "*"))
		if n == last && len(inUse) == 0 {
			return
		}
		last = n
		time.Sleep(2 * time.Second)
	}
	k.env.T.Fatalf("CRI-O still pulling a minute after pod %s/%s was deleted", ns, name)
}

// PullRecords returns the pull records kubelet keeps under
// <root>/image_manager/pulled/ (file name -> content).
func (k *Kubelet) PullRecords() map[string]string {
	out := map[string]string{}
	dir := filepath.Join(k.RootDir, "image_manager", "pulled")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			out[e.Name()] = string(b)
		}
	}
	return out
}

// unmountUnder lazily unmounts every mount point below dir, deepest first
// (kubelet's and CRI-O's pod mounts, pinns' namespace bind mounts).
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && (fs[4] == dir || strings.HasPrefix(fs[4], dir+"/")) {
			points = append(points, fs[4])
		}
	}
	f.Close()
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH) //nolint:errcheck
	}
}
