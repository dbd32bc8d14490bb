package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
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

	"github.com/google/uuid"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/directory"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
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

	authDir, globalAuthFile         string
	registriesConf, registriesConfD string
	certsDir, workDir               string

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
	fs.StringVar(&k.registriesConf, "registries-conf", "", "registries.conf")
	fs.StringVar(&k.registriesConfD, "registries-conf-dir", "", "registries.conf.d")
	fs.StringVar(&k.certsDir, "certs-dir", "", "certs.d directory")
	fs.StringVar(&k.workDir, "work-dir", "", "scratch directory")
	rootDir := fs.String("root-dir", "", "kubelet's root dir (pull records); default <work-dir>/kubelet")
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

	if *rootDir == "" {
		*rootDir = filepath.Join(k.workDir, "kubelet")
	}
	records, err := newPullRecords(*rootDir, *verifyPolicy)
	if err != nil {
		return fmt.Errorf("pull records: %w", err)
	}
	k.records = records

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
		ref := res.Digest
		k.records.manager.RecordImagePulled(ctx, image, ref, recordedCredentials(used))
		k.records.pulled(image, ref)
		res.CredentialSource = describeSource(used)
		res.PullRecord = k.records.recordFile(ref)
	}()

	// kuberuntime.PullImage: no credentials -> one pull; else one CRI
	// PullImage per credential until one succeeds.
	if len(creds) == 0 {
		k.criPullImage(pod.Namespace, p.Image, nil, &res)
		return res
	}
	var errs []string
	for i, c := range creds {
		auth := &types.DockerAuthConfig{Username: c.Username, Password: c.Password, IdentityToken: c.IdentityToken}
		if c.Auth != "" && c.Username == "" {
			if dec, err := base64.StdEncoding.DecodeString(c.Auth); err == nil {
				if u, pw, ok := strings.Cut(string(dec), ":"); ok {
					auth.Username, auth.Password = u, pw
				}
			}
		}
		// CRI-O (server/image_pull.go): "Specifying a username indicates
		// the user intends to send authentication to the registry"; a
		// credential with an empty username is dropped.
		if auth.Username == "" {
			auth = nil
		}
		k.criPullImage(pod.Namespace, p.Image, auth, &res)
		if res.Pulled {
			used = &creds[i]
			return res
		}
		errs = append(errs, res.PullError)
	}
	res.PullError = strings.Join(errs, "; ")
	return res
}

// criPullImage is what CRI-O's PullImage does with namespaced_auth_dir.
func (k *kubeletSim) criPullImage(namespace, image string, auth *types.DockerAuthConfig, res *nodeapi.Result) {
	res.Pulled, res.PullError = false, ""
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		res.PullError = err.Error()
		return
	}
	named = reference.TagNameOnly(named)
	name := named.Name()
	sum := sha256.Sum256([]byte(name))
	base := namespace + "-" + hex.EncodeToString(sum[:])
	authPath := filepath.Join(k.authDir, base+".json")

	sys := &types.SystemContext{
		AuthFilePath:                k.globalAuthFile,
		SystemRegistriesConfPath:    k.registriesConf,
		SystemRegistriesConfDirPath: k.registriesConfD,
		DockerPerHostCertDirPath:    k.certsDir,
		RegistriesDirPath:           filepath.Join(k.workDir, "registries.d"),
		BlobInfoCacheDir:            filepath.Join(k.workDir, "blob-info-cache"),
		DockerRegistryUserAgent:     "e2e-cri-o",
		DockerAuthConfig:            auth,
	}
	if !res.AuthFile.Found {
		res.AuthFile = nodeapi.AuthFile{Path: authPath, Name: name}
	}
	inUseDir := filepath.Join(k.authDir, "in-use")
	if _, err := os.Stat(authPath); err == nil {
		if err := os.MkdirAll(inUseDir, 0o700); err != nil {
			res.PullError = err.Error()
			return
		}
		inUse := filepath.Join(inUseDir, base+"-"+uuid.NewString()+".json")
		if err := os.Rename(authPath, inUse); err != nil {
			res.PullError = fmt.Sprintf("rename auth file: %v", err)
			return
		}
		content, _ := os.ReadFile(inUse)
		res.AuthFile.Found, res.AuthFile.InUsePath, res.AuthFile.Content = true, inUse, string(content)
		sys.AuthFilePath = inUse
		defer func() {
			err := os.Remove(inUse)
			res.InUseRemoved = err == nil
		}()
	} else if !errors.Is(err, os.ErrNotExist) {
		res.PullError = err.Error()
		return
	}

	src, err := docker.NewReference(named)
	if err != nil {
		res.PullError = err.Error()
		return
	}
	destDir, err := os.MkdirTemp(k.workDir, "pull-")
	if err != nil {
		res.PullError = err.Error()
		return
	}
	defer os.RemoveAll(destDir)
	dest, err := directory.NewReference(destDir)
	if err != nil {
		res.PullError = err.Error()
		return
	}
	pc, err := insecurePolicy()
	if err != nil {
		res.PullError = err.Error()
		return
	}
	defer pc.Destroy() //nolint:errcheck
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	man, err := copy.Image(ctx, pc, dest, src, &copy.Options{SourceCtx: sys})
	if err != nil {
		res.PullError = err.Error()
		return
	}
	res.Pulled = true
	if d, err := manifest.Digest(man); err == nil {
		res.Digest = d.String()
	}
	res.Origin = readOrigin(destDir, man)
}

func readOrigin(dir string, man []byte) string {
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
	}
	if json.Unmarshal(man, &m) != nil {
		return ""
	}
	_, hexPart, _ := strings.Cut(m.Config.Digest, ":")
	b, err := os.ReadFile(filepath.Join(dir, hexPart))
	if err != nil {
		return ""
	}
	var cfg struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return cfg.Config.Labels["e2e.origin"]
}
