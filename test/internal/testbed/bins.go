package testbed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
}

var buildMu sync.Mutex

// buildCached builds spec once per key (go.sum, go.mod, Go version, sources)
// into the binary cache and returns the path. Concurrent test processes are
// serialized with a lock file.
func buildCached(spec buildSpec, logf func(string, ...any)) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cache, err := BinCacheDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", spec.name, spec.pkg, strings.Join(spec.tags, ","), runtime.Version())
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
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
	out := filepath.Join(cache, spec.name+"-"+key)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	lock, err := os.OpenFile(filepath.Join(cache, spec.name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
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
	args := []string{"build", "-o", tmp}
	if len(spec.tags) > 0 {
		args = append(args, "-tags", strings.Join(spec.tags, ","))
	}
	args = append(args, spec.pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	start := time.Now()
	if logf != nil {
		logf("building %s (%s) into %s", spec.name, spec.pkg, out)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, outBuf.String())
	}
	if logf != nil {
		logf("built %s in %s", spec.name, time.Since(start).Round(time.Second))
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	// Keep the cache small: drop older builds of the same binary.
	old, _ := filepath.Glob(filepath.Join(cache, spec.name+"-*"))
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
// CRI-O's pull path (containers/image), plus the image pusher.
func NodeBinary(logf func(string, ...any)) (string, error) {
	return buildCached(buildSpec{
		name:    "e2e-node",
		pkg:     "./cmd/e2e-node",
		tags:    []string{"containers_image_openpgp"},
		srcDirs: []string{"cmd/e2e-node", "internal/nodeapi"},
	}, logf)
}
