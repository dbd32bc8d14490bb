package apistub

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// What reaches syslog: the provider logs every line to syslog too
// (/dev/log, as journald and rsyslog serve it). The run happens in a
// private mount namespace whose /dev is a directory of ours holding a
// datagram socket "log" (and /dev/null, /dev/urandom bound from the
// host), so the test reads exactly what the provider sent, whether or not
// the machine runs a syslog daemon. Every message must be escaped (no raw
// control character from a tenant's secret name or a server's message)
// and hold no secret.
func TestSyslogMessagesAreEscapedAndHoldNoSecret(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare (util-linux)")
	}
	t.Parallel()
	e := newEnv(t)
	e.standardSecrets()
	forge := "\ncrio-credential-provider: error: forged\r\x1b[2J\u202e"
	e.pod.Pod.ImagePullSecrets = append(e.pod.Pod.ImagePullSecrets, "x"+forge)
	e.syncPod()

	dev := filepath.Join(t.TempDir(), "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"null", "urandom"} {
		e.writeFile(filepath.Join(dev, f), "", 0o666)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dev, "log"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var messages []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			messages = append(messages, string(buf[:n]))
		}
	}()

	script := `set -e
mount --make-rprivate /
mount --bind /dev/null "$1/null"
mount --bind /dev/urandom "$1/urandom"
mount --bind "$1" /dev
shift
exec "$@"`
	res := e.runWrapped([]string{unshare, "--mount", "--", "sh", "-c", script, "sh", dev}, e.request(nginx))
	if strings.Contains(res.stderr, "mount:") || strings.Contains(res.stderr, "unshare:") {
		t.Skipf("no private mount namespace here\n%v", res)
	}
	time.Sleep(100 * time.Millisecond) // the last datagrams
	conn.Close()
	<-done

	if len(messages) == 0 {
		t.Fatalf("nothing reached syslog\n%v", res)
	}
	forged := false
	for i, m := range messages {
		// "<PRI>Mmm dd hh:mm:ss crio-credential-provider[PID]: text"
		_, text, ok := strings.Cut(m, "crio-credential-provider[")
		if !ok || !strings.HasPrefix(m, "<") {
			t.Errorf("message %d is not the provider's: %q", i, m)
			continue
		}
		if !utf8.ValidString(text) {
			t.Errorf("message %d is not valid UTF-8: %q", i, m)
		}
		for _, r := range text {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 ||
				(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Errorf("message %d holds the raw control character %U: %q", i, r, m)
				break
			}
		}
		for _, s := range e.sensitive {
			if strings.Contains(m, s) {
				t.Errorf("message %d holds a secret (%.6s...): %q", i, s, m)
			}
		}
		forged = forged || strings.Contains(text, `\ncrio-credential-provider: error: forged\r\x1b[2J\u202e`)
	}
	if !forged {
		t.Errorf("the hostile secret name is not in syslog, escaped: the test tests nothing\n%q", messages)
	}
	t.Logf("%d syslog messages", len(messages))
}
