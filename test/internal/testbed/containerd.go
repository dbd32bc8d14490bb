package testbed

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// DebianContainerd is Debian 12's containerd (1.6.20).
const DebianContainerd = "/usr/bin/containerd"

// Containerd is a private containerd: its own root, state and sockets, the
// native snapshotter, no CNI, registry hosts from ConfigPath (hosts.toml).
type Containerd struct {
	Dir        string
	Socket     string
	ConfigPath string // registry config_path (certs.d layout)
	LogPath    string
	cmd        *exec.Cmd
}

// StartContainerd starts the containerd binary under dir and waits for its
// socket. The configuration is version 2, which containerd 1.6 reads as is
// and containerd 2.x migrates on load (the CRI plugin's registry
// config_path among it).
func StartContainerd(binary, dir string) (*Containerd, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("containerd %s missing (Debian's: apt-get install containerd): %v", binary, err)
	}
	c := &Containerd{Dir: dir, Socket: filepath.Join(dir, "containerd.sock"),
		ConfigPath: filepath.Join(dir, "certs.d"), LogPath: filepath.Join(dir, "containerd.log")}
	for _, d := range []string{"root", "state", "certs.d", "cni-bin", "cni-conf"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  level = "debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.invalid/pause:3.9"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[5]q
    conf_dir = %[6]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[7]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Socket, c.Socket+".ttrpc",
		filepath.Join(dir, "cni-bin"), filepath.Join(dir, "cni-conf"), c.ConfigPath)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(c.LogPath)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(binary, "--config", cfgPath)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if conn, err := net.Dial("unix", c.Socket); err == nil {
			conn.Close()
			return c, nil
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("containerd did not open %s in 60s:\n%s", c.Socket, tail(c.LogPath, 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills containerd.
func (c *Containerd) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }() //nolint:errcheck
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
			<-done
		}
	}
}
