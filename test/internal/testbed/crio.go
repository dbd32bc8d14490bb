package testbed

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// CRIOConfig is what one CRI-O daemon of a test node reads.
type CRIOConfig struct {
	Crio, Pinns string // binaries (CRIOBinaries)
	// Dir holds storage, state and logs; it belongs to this daemon.
	Dir string
	// AuthDir is namespaced_auth_dir, GlobalAuthFile global_auth_file.
	AuthDir, GlobalAuthFile string
	// RegistriesConf and RegistriesConfD: CRI-O's own registries.conf.
	RegistriesConf, RegistriesConfD string
	// CertsDir is a certs.d directory (host:port/ca.crt); CRI-O has no option
	// for it, so it is linked as $HOME/.config/containers/certs.d of the
	// daemon, the first place containers/image looks.
	CertsDir string
	// PauseImage and PauseImageAuthFile ([crio.image]); only a real kubelet
	// makes CRI-O pull the pause image.
	PauseImage, PauseImageAuthFile string
}

// CRIO is a running CRI-O daemon.
type CRIO struct {
	Socket  string // unix socket path of the CRI API
	LogPath string // the daemon's log (level debug)
	Version string
	cmd     *exec.Cmd
	done    chan struct{}
}

// StartCRIO writes a crio.conf for cfg (vfs storage, cgroupfs, Debian's
// conmon and runc, no CNI, no host port mapping, private socket and state
// directories, an accept-anything signature policy) and starts CRI-O on it.
func StartCRIO(cfg CRIOConfig, version string) (*CRIO, error) {
	d := cfg.Dir
	// The CRI socket lives in a short directory: unix socket paths are
	// limited to 108 bytes and test temp dirs carry the test's name.
	sockDir, err := os.MkdirTemp("", "crio-")
	if err != nil {
		return nil, err
	}
	home := filepath.Join(d, "home")
	for _, sub := range []string{"conf.d", "cni/net.d", "cni/bin", "policies", "tmp", "keys", filepath.Join("home", ".config", "containers")} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.CertsDir != "" {
		if err := os.Symlink(cfg.CertsDir, filepath.Join(home, ".config", "containers", "certs.d")); err != nil {
			return nil, err
		}
	}
	policy := filepath.Join(d, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		return nil, err
	}
	c := &CRIO{Socket: filepath.Join(sockDir, "crio.sock"), LogPath: filepath.Join(d, "crio.log"), Version: version, done: make(chan struct{})}
	conf := fmt.Sprintf(`[crio]
root = %[1]q
runroot = %[2]q
storage_driver = "vfs"
log_dir = %[3]q
version_file = %[4]q
version_file_persist = %[5]q
clean_shutdown_file = %[6]q

[crio.api]
listen = %[7]q
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
conmon = "/usr/bin/conmon"
conmon_cgroup = "pod"
pinns_path = %[8]q
namespaces_dir = %[9]q
container_exits_dir = %[10]q
container_attach_socket_dir = %[11]q
hooks_dir = []
decryption_keys_path = %[12]q
selinux = false
apparmor_profile = "unconfined"
disable_hostport_mapping = true

[crio.runtime.runtimes.runc]
runtime_path = "/usr/sbin/runc"
runtime_type = "oci"
runtime_root = %[13]q
monitor_path = "/usr/bin/conmon"

[crio.image]
global_auth_file = %[14]q
namespaced_auth_dir = %[15]q
signature_policy = %[16]q
signature_policy_dir = %[17]q
big_files_temporary_dir = %[18]q
pause_image = %[19]q
pause_image_auth_file = %[20]q

[crio.network]
network_dir = %[21]q
plugin_dirs = [%[22]q]

[crio.metrics]
enable_metrics = false

[crio.nri]
enable_nri = false
`,
		filepath.Join(d, "storage"), filepath.Join(d, "run"), filepath.Join(d, "pods"),
		filepath.Join(d, "run", "version"), filepath.Join(d, "version"), filepath.Join(d, "clean.shutdown"),
		c.Socket, cfg.Pinns, filepath.Join(d, "ns"), filepath.Join(d, "exits"), filepath.Join(d, "attach"),
		filepath.Join(d, "keys"), filepath.Join(d, "runc"),
		cfg.GlobalAuthFile, cfg.AuthDir, policy, filepath.Join(d, "policies"), filepath.Join(d, "tmp"),
		orDefault(cfg.PauseImage, "registry.k8s.io/pause:3.10.1"), cfg.PauseImageAuthFile,
		filepath.Join(d, "cni", "net.d"), filepath.Join(d, "cni", "bin"))
	confPath := filepath.Join(d, "crio.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(c.LogPath)
	if err != nil {
		return nil, err
	}
	args := []string{"--config", confPath, "--config-dir", filepath.Join(d, "conf.d"), "--log-level", "debug"}
	if cfg.RegistriesConf != "" {
		args = append(args, "--registries-conf", cfg.RegistriesConf, "--registries-conf-dir", cfg.RegistriesConfD)
	}
	cmd := exec.Command(cfg.Crio, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	c.cmd = cmd
	go func() { cmd.Wait(); logf.Close(); os.RemoveAll(sockDir); close(c.done) }() //nolint:errcheck
	deadline := time.Now().Add(60 * time.Second)
	for {
		if conn, err := net.DialTimeout("unix", c.Socket, time.Second); err == nil {
			conn.Close()
			return c, nil
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("crio exited at start:\n%s", tail(c.LogPath, 30))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("crio socket %s not ready in 60s:\n%s", c.Socket, tail(c.LogPath, 30))
		}
	}
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 10s).
func (c *CRIO) Stop() {
	if c == nil || c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill() //nolint:errcheck
		<-c.done
	}
}

// Log returns the daemon's log so far.
func (c *CRIO) Log() string {
	b, _ := os.ReadFile(c.LogPath)
	return string(b)
}

// WaitLog waits until the daemon's log contains s.
func (c *CRIO) WaitLog(ctx context.Context, s string) bool {
	for {
		if strings.Contains(c.Log(), s) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
