package testbed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProviderEnv names the environment variable that points at the provider
// binary under test.
const ProviderEnv = "CRIO_CREDENTIAL_PROVIDER_BIN"

var (
	moduleRootOnce sync.Once
	moduleRoot     string
	moduleRootErr  error
)

// ModuleRoot returns the directory of the test module (…/test).
func ModuleRoot() (string, error) {
	moduleRootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			moduleRootErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			moduleRootErr = fmt.Errorf("not inside the test module (go env GOMOD is empty)")
			return
		}
		moduleRoot = filepath.Dir(gomod)
	})
	return moduleRoot, moduleRootErr
}

// ProviderBinary returns the provider binary: $CRIO_CREDENTIAL_PROVIDER_BIN,
// else ../build/crio-credential-provider relative to the test module. The
// error says exactly what is missing.
func ProviderBinary() (string, error) {
	p := os.Getenv(ProviderEnv)
	if p == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		p = filepath.Join(root, "..", "build", "crio-credential-provider")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("provider binary %s not found (%v): build it with `cmake -S . -B build -G Ninja && cmake --build build` or set %s", abs, err, ProviderEnv)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("provider binary %s is not an executable file (set %s)", abs, ProviderEnv)
	}
	return abs, nil
}

// BinCacheDir is where built helper binaries are kept between runs:
// $CCP_E2E_BIN_DIR, else <GOCACHE>/../ccp-e2e-bin.
func BinCacheDir() (string, error) {
	if d := os.Getenv("CCP_E2E_BIN_DIR"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOCACHE: %w", err)
	}
	d := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "ccp-e2e-bin")
	return d, os.MkdirAll(d, 0o755)
}

// buildSpec describes one cached `go build`.
type buildSpec struct {
	name string   // output base name
	pkg  string   // package path, relative to the module root or an import path
	tags []string // build tags
	// srcDirs (relative to the module root) whose .go files are part of the key.
	srcDirs []string
	// dir, when set, is the module to build in instead of the test module
	// (a downloaded module such as CRI-O); the key then holds dir's go.sum
	// instead of the test module's.
	dir string
	// modfile, when set, is passed as -modfile (with -mod=mod) and hashed
	// into the key instead of go.mod/go.sum.
	modfile string
	// ldflags for the build (part of the key).
	ldflags string
}

var buildMu sync.Mutex

// buildCached builds spec once per key (go.sum, go.mod, Go version, sources)
// into the binary cache and returns the path. Concurrent test processes are
// serialized with a lock file.
func buildCached(spec buildSpec, logf func(string, ...any)) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir := root
	if spec.dir != "" {
		dir = spec.dir
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", spec.name, spec.pkg, strings.Join(spec.tags, ","), runtime.Version())
	if spec.ldflags != "" {
		fmt.Fprintf(h, "ldflags %s\n", spec.ldflags)
	}
	keyFiles := []string{filepath.Join(dir, "go.mod"), filepath.Join(dir, "go.sum")}
	if spec.modfile != "" {
		keyFiles = []string{spec.modfile, strings.TrimSuffix(spec.modfile, ".mod") + ".sum"}
	}
	for _, f := range keyFiles {
		b, err := os.ReadFile(f)
		if err != nil && !(spec.modfile != "" && os.IsNotExist(err)) {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	for _, d := range spec.srcDirs {
		var files []string
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			rel, _ := filepath.Rel(root, f)
			fmt.Fprintf(h, "%s %d\n", rel, len(b))
			h.Write(b)
		}
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	return cachedBinary(spec.name, key, logf, func(tmp string) error {
		args := []string{"build", "-o", tmp}
		if spec.modfile != "" {
			args = append(args, "-mod=mod", "-modfile="+spec.modfile)
		}
		if len(spec.tags) > 0 {
			args = append(args, "-tags", strings.Join(spec.tags, ","))
		}
		if spec.ldflags != "" {
			args = append(args, "-ldflags", spec.ldflags)
		}
		args = append(args, spec.pkg)
		return run(dir, "go", args...)
	})
}

// run runs a build command in dir; the error carries its output.
func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// cachedBinary returns <cache>/<name>-<key>, running build(tmp) first when
// it is missing. Concurrent test processes are serialized with a lock file;
// older builds of name are removed.
func cachedBinary(name, key string, logf func(string, ...any), build func(tmp string) error) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	cache, err := BinCacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, name+"-"+key)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	lock, err := os.OpenFile(filepath.Join(cache, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	tmp := out + ".tmp"
	start := time.Now()
	if logf != nil {
		logf("building %s into %s", name, out)
	}
	if err := build(tmp); err != nil {
		return "", err
	}
	if logf != nil {
		logf("built %s in %s", name, time.Since(start).Round(time.Second))
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	// Keep the cache small: drop older builds of the same binary.
	old, _ := filepath.Glob(filepath.Join(cache, name+"-*"))
	for _, o := range old {
		if o != out && !strings.HasSuffix(o, ".lock") {
			os.Remove(o)
		}
	}
	return out, nil
}

// KubeAPIServerBinary builds (once per go.sum) kube-apiserver from the
// pinned k8s.io/kubernetes module.
func KubeAPIServerBinary(logf func(string, ...any)) (string, error) {
	return buildCached(buildSpec{name: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver"}, logf)
}

// NodeBinary builds test/cmd/e2e-node: kubelet's credential-provider code and
// its CRI PullImage calls, plus the image pusher (containers/image).
func NodeBinary(logf func(string, ...any)) (string, error) {
	return buildCached(buildSpec{
		name:    "e2e-node",
		pkg:     "./cmd/e2e-node",
		tags:    []string{"containers_image_openpgp"},
		srcDirs: []string{"cmd/e2e-node", "internal/nodeapi"},
	}, logf)
}

// CRIOVersionEnv selects the CRI-O release the e2e tests run (a version the
// Go module proxy serves; default DefaultCRIOVersion).
const CRIOVersionEnv = "CCP_E2E_CRIO_VERSION"

// DefaultCRIOVersion is the CRI-O release the e2e tests prove by default.
const DefaultCRIOVersion = "v1.36.3"

// CRIOVersion returns the CRI-O release to test.
func CRIOVersion() string {
	if v := os.Getenv(CRIOVersionEnv); v != "" {
		return v
	}
	return DefaultCRIOVersion
}

// crioTags are the build tags that let cmd/crio build without the gpgme,
// ostree and btrfs development packages.
var crioTags = []string{"containers_image_openpgp", "containers_image_ostree_stub", "exclude_graphdriver_btrfs", "btrfs_noversion"}

// CRIOBinaries builds (once per version and Go toolchain) CRI-O's crio and
// its pinns helper from the github.com/cri-o/cri-o module at version, as the
// Go module proxy serves it. `go install …@version` cannot be used: the
// proxy refuses the module's version list, so the module is downloaded by
// exact version and built in place.
func CRIOBinaries(version string, logf func(string, ...any)) (crio, pinns string, err error) {
	modDir, err := downloadModule("github.com/cri-o/cri-o", version)
	if err != nil {
		return "", "", err
	}
	crio, err = buildCached(buildSpec{name: "crio-" + version, pkg: "./cmd/crio", tags: crioTags, dir: modDir}, logf)
	if err != nil {
		return "", "", err
	}
	srcs, _ := filepath.Glob(filepath.Join(modDir, "pinns", "src", "*.c"))
	if len(srcs) == 0 {
		return "", "", fmt.Errorf("CRI-O %s has no pinns/src/*.c", version)
	}
	h := sha256.New()
	for _, f := range srcs {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	pinns, err = cachedBinary("pinns-"+version, hex.EncodeToString(h.Sum(nil))[:16], logf, func(tmp string) error {
		return run(modDir, "gcc", append([]string{"-std=c99", "-O2", "-o", tmp}, srcs...)...)
	})
	return crio, pinns, err
}

// downloadModule fetches module at an exact version from the Go module proxy
// (outside any module, so the test module's go.mod is untouched) and returns
// its directory in the module cache.
func downloadModule(module, version string) (string, error) {
	dl := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	dl.Dir = os.TempDir()
	out, err := dl.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil || mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("download %s %s from the module proxy: %v %s", module, version, err, mod.Error)
	}
	return mod.Dir, nil
}

// ContainerdV2Version is the containerd 2.x release the containerd suite
// proves beside Debian's 1.6 (a version the Go module proxy serves).
const ContainerdV2Version = "v2.4.2"

// ContainerdV2Binary builds (once per version and Go toolchain) containerd
// from the github.com/containerd/containerd/v2 module, without the btrfs,
// devmapper and zfs snapshotters (their C headers are not needed for pulls).
func ContainerdV2Binary(logf func(string, ...any)) (string, error) {
	modDir, err := downloadModule("github.com/containerd/containerd/v2", ContainerdV2Version)
	if err != nil {
		return "", err
	}
	return buildCached(buildSpec{name: "containerd-" + ContainerdV2Version, pkg: "./cmd/containerd",
		tags: []string{"no_btrfs", "no_devmapper", "no_zfs"}, dir: modDir}, logf)
}
