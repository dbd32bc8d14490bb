package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.podman.io/image/v5/docker/reference"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
	credentialprovidersecrets "k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/kubelet/token"
	"k8s.io/kubernetes/pkg/util/parsers"

	"crio-credential-provider/test/internal/nodeapi"
)

type kubeletSim struct {
	client      kubernetes.Interface
	nodeKeyring credentialprovider.DockerKeyring

	authDir, globalAuthFile string
	crioLog                 string
	images                  runtimeapi.ImageServiceClient

	podsMu sync.Mutex
	pods   map[string]*v1.Pod

	records *pullRecords
}

// syncBuffer collects klog output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

func runKubelet(args []string) error {
	fs := flag.NewFlagSet("kubelet", flag.ContinueOnError)
	providerConfig := fs.String("image-credential-provider-config", "", "CredentialProviderConfig file")
	binDir := fs.String("image-credential-provider-bin-dir", "", "directory of provider binaries")
	kubeconfig := fs.String("kubeconfig", "", "the kubelet's kubeconfig (node identity)")
	k := &kubeletSim{pods: map[string]*v1.Pod{}}
	fs.StringVar(&k.authDir, "auth-dir", "", "CRI-O namespaced_auth_dir")
	fs.StringVar(&k.globalAuthFile, "global-auth-file", "", "CRI-O global_auth_file (kubelet's config.json)")
	criSocket := fs.String("cri-socket", "", "CRI-O's CRI socket")
	fs.StringVar(&k.crioLog, "crio-log", "", "CRI-O's log (to see which auth file it used)")
	rootDir := fs.String("root-dir", "kubelet", "kubelet's root dir (pull records)")
	verifyPolicy := fs.String("image-pull-credentials-verification-policy", "NeverVerifyPreloadedImages", "kubelet's imagePullCredentialsVerificationPolicy")
	verbosity := fs.String("v", "2", "klog verbosity")
	if err := fs.Parse(args); err != nil {
		return err
	}

	logs := &syncBuffer{}
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("alsologtostderr", "false")
	_ = klogFlags.Set("v", *verbosity)
	// One copy of each line: klog writes an error to the ERROR, WARNING and
	// INFO outputs when it does not log to stderr.
	klog.SetOutputBySeverity("INFO", logs)
	for _, sev := range []string{"WARNING", "ERROR", "FATAL"} {
		klog.SetOutputBySeverity(sev, io.Discard)
	}

	records, err := newPullRecords(*rootDir, *verifyPolicy)
	if err != nil {
		return fmt.Errorf("pull records: %w", err)
	}
	k.records = records

	conn, err := grpc.NewClient("unix://"+*criSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("CRI socket: %w", err)
	}
	defer conn.Close()
	k.images = runtimeapi.NewImageServiceClient(conn)

	restConfig, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	restConfig.QPS, restConfig.Burst = 100, 200
	if k.client, err = kubernetes.NewForConfig(restConfig); err != nil {
		return err
	}

	// As kubelet.go wires it: the token manager (TokenRequest as the node)
	// and a direct GET of the service account.
	tokenManager := token.NewManager(k.client)
	getServiceAccount := func(namespace, name string) (*v1.ServiceAccount, error) {
		return k.client.CoreV1().ServiceAccounts(namespace).Get(context.Background(), name, metav1.GetOptions{})
	}
	if err := plugin.RegisterCredentialProviderPlugins(*providerConfig, *binDir, tokenManager.GetServiceAccountToken, getServiceAccount); err != nil {
		return fmt.Errorf("failed to register CRI auth plugins: %w", err)
	}
	// kubelet's node keyring reads <root-dir>/config.json, the file CRI-O
	// also uses as its global auth file.
	credentialprovider.SetPreferredDockercfgPath(filepath.Dir(k.globalAuthFile))
	k.nodeKeyring = credentialprovider.NewDefaultDockerKeyring()

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	// Registration logs belong to no batch.
	fmt.Fprint(os.Stderr, logs.take())
	for in.Scan() {
		var batch nodeapi.Batch
		if err := json.Unmarshal(in.Bytes(), &batch); err != nil {
			return fmt.Errorf("bad batch: %w", err)
		}
		res := nodeapi.BatchResult{Results: make([]nodeapi.Result, len(batch.Pulls))}
		var wg sync.WaitGroup
		for i, p := range batch.Pulls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res.Results[i] = k.pull(p)
			}()
		}
		wg.Wait()
		klog.Flush()
		res.KubeletLog = logs.take()
		if err := out.Encode(res); err != nil {
			return err
		}
	}
	return in.Err()
}

func (k *kubeletSim) getPod(p nodeapi.Pull) (*v1.Pod, error) {
	key := p.Namespace + "/" + p.Pod
	k.podsMu.Lock()
	defer k.podsMu.Unlock()
	if pod, ok := k.pods[key]; ok && !p.RefreshPod {
		return pod, nil
	}
	pod, err := k.client.CoreV1().Pods(p.Namespace).Get(context.Background(), p.Pod, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	k.pods[key] = pod
	return pod, nil
}

// getPullSecretsForPod is kubelet's: a secret it cannot read is logged and
// skipped.
func (k *kubeletSim) getPullSecretsForPod(pod *v1.Pod) []v1.Secret {
	var secrets []v1.Secret
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		s, err := k.client.CoreV1().Secrets(pod.Namespace).Get(context.Background(), ref.Name, metav1.GetOptions{})
		if err != nil {
			klog.InfoS("Unable to retrieve pull secret, the image pull may not succeed.", "pod", klog.KObj(pod), "secret", klog.KRef(pod.Namespace, ref.Name), "err", err)
			continue
		}
		secrets = append(secrets, *s)
	}
	return secrets
}

func (k *kubeletSim) pull(p nodeapi.Pull) (res nodeapi.Result) {
	res.Pull = p
	pod, err := k.getPod(p)
	if err != nil {
		res.Error = fmt.Sprintf("get pod: %v", err)
		return res
	}
	image, err := withDefaultTag(p.Image)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	// images.imageManager.makeLookupPullCredentialsFunc, verbatim in effect:
	// looked up once, no earlier than needed, shared by the pull manager's
	// check and the pull.
	lookup := sync.OnceValues(func() ([]credentialprovider.TrackedAuthConfig, error) {
		repoToPull, _, _, err := parsers.ParseImageName(image)
		if err != nil {
			return nil, err
		}
		external := plugin.NewExternalCredentialProviderDockerKeyring(pod.Namespace, pod.Name, string(pod.UID), pod.Spec.ServiceAccountName)
		keyring, err := credentialprovidersecrets.MakeDockerKeyring(k.getPullSecretsForPod(pod), credentialprovider.UnionDockerKeyring{k.nodeKeyring, external})
		if err != nil {
			return nil, err
		}
		creds, _ := keyring.Lookup(repoToPull)
		return creds, nil
	})

	// imageManager.EnsureImageExists with KubeletEnsureSecretPulledImages:
	// a cached image is used only if the pull manager finds the pod's
	// credentials in its pull record.
	ctx := context.Background()
	if ref := k.records.imageRef(image); ref != "" && p.IfNotPresent {
		mustPull, err := k.records.manager.MustAttemptImagePull(ctx, image, ref, podCredentials(lookup))
		if err != nil {
			res.Error = err.Error()
			return res
		}
		if !mustPull {
			klog.InfoS("Container image already present on machine and can be accessed by the pod", "image", image, "pod", klog.KObj(pod))
			res.Reused = true
			res.PullRecord = k.records.recordFile(ref)
			return res
		}
	}
	creds, err := lookup()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	for _, c := range creds {
		res.KubeletCredentials = append(res.KubeletCredentials, c.Username)
	}

	// imageManager.pullImage: the intent before, the record after.
	if err := k.records.manager.RecordPullIntent(klog.Background(), image); err != nil {
		res.Error = err.Error()
		return res
	}
	var used *credentialprovider.TrackedAuthConfig
	defer func() {
		if !res.Pulled {
			k.records.manager.RecordImagePullFailed(ctx, image)
			return
		}
		ref := res.ImageID // the image ref CRI-O answered, as kubelet records it
		k.records.manager.RecordImagePulled(ctx, image, ref, recordedCredentials(used))
		k.records.pulled(image, ref)
		res.CredentialSource = describeSource(used)
		res.PullRecord = k.records.recordFile(ref)
	}()

	// kuberuntime.PullImage: no credentials -> one pull; else one CRI
	// PullImage per credential, in the keyring's order, until one succeeds.
	sandbox := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID)},
		Labels: map[string]string{
			"io.kubernetes.pod.name":      pod.Name,
			"io.kubernetes.pod.namespace": pod.Namespace,
			"io.kubernetes.pod.uid":       string(pod.UID),
		},
	}
	if len(creds) == 0 {
		k.criPullImage(sandbox, p.Image, nil, &res)
		return res
	}
	var errs []string
	for i, c := range creds {
		// As kuberuntime.PullImage builds it; CRI-O drops a credential
		// with an empty username (server/image_pull.go).
		auth := &runtimeapi.AuthConfig{
			Username: c.Username, Password: c.Password, Auth: c.Auth,
			ServerAddress: c.ServerAddress, IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
		}
		k.criPullImage(sandbox, p.Image, auth, &res)
		if res.Pulled {
			used = &creds[i]
			return res
		}
		errs = append(errs, res.PullError)
	}
	res.PullError = strings.Join(errs, "; ")
	return res
}

// criPullImage calls CRI-O's PullImage as kubelet's remote image service
// does, and records what became of the namespaced auth file: its content
// just before the call (the provider wrote it during the keyring lookup),
// whether CRI-O logged that it used it, and that neither it nor its in-use
// copy is left afterwards.
func (k *kubeletSim) criPullImage(sandbox *runtimeapi.PodSandboxConfig, image string, auth *runtimeapi.AuthConfig, res *nodeapi.Result) {
	res.Pulled, res.PullError = false, ""
	namespace := sandbox.Metadata.Namespace
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		res.PullError = err.Error()
		return
	}
	name := named.Name()
	sum := sha256.Sum256([]byte(name))
	base := namespace + "-" + hex.EncodeToString(sum[:])
	authPath := filepath.Join(k.authDir, base+".json")
	if !res.AuthFile.Found {
		res.AuthFile = nodeapi.AuthFile{Path: authPath, Name: name}
		if content, err := os.ReadFile(authPath); err == nil {
			res.AuthFile.Found, res.AuthFile.Content = true, string(content)
		}
	}
	logStart := fileSize(k.crioLog)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := k.images.PullImage(ctx, &runtimeapi.PullImageRequest{
		Image: &runtimeapi.ImageSpec{Image: image}, Auth: auth, SandboxConfig: sandbox,
	})
	if res.AuthFile.Found {
		res.AuthFile.UsedByCRIO = strings.Contains(readFrom(k.crioLog, logStart), "Using auth file for namespace "+namespace+": "+authPath)
		_, statErr := os.Stat(authPath)
		inUse, _ := filepath.Glob(filepath.Join(k.authDir, "in-use", base+"-*.json"))
		res.InUseRemoved = errors.Is(statErr, os.ErrNotExist) && len(inUse) == 0
	}
	if err != nil {
		res.PullError = err.Error()
		return
	}
	res.Pulled = true
	st, err := k.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: resp.ImageRef}, Verbose: true})
	if err != nil || st.Image == nil {
		res.Error = fmt.Sprintf("image status of %s: %v", resp.ImageRef, err)
		return
	}
	res.ImageID = st.Image.Id
	for _, d := range st.Image.RepoDigests {
		if _, dig, ok := strings.Cut(d, "@"); ok {
			res.Digest = dig
		}
	}
	var info struct {
		ImageSpec struct {
			Config struct {
				Labels map[string]string `json:"Labels"`
			} `json:"config"`
		} `json:"imageSpec"`
	}
	if json.Unmarshal([]byte(st.Info["info"]), &info) == nil {
		res.Origin = info.ImageSpec.Config.Labels["e2e.origin"]
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// readFrom returns the file from offset on.
func readFrom(p string, offset int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
