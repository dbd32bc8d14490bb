package apistub

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A disk that fills while the auth file is written (RLIMIT_FSIZE of one
// block, SIGXFSZ ignored so write(2) fails with EFBIG): exit 1 with a clear
// error, and neither the auth file nor a temporary file is left behind.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for ulimit")
	}
	for _, existing := range []bool{false, true} {
		name := "fresh auth dir"
		if existing {
			name = "auth dir with other files"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			// A large global auth file (~200 KiB) is merged into ours.
			e.writeLargeGlobalAuthFile(2500)
			var before []string
			if existing {
				if err := os.MkdirAll(filepath.Join(e.authDir, "in-use"), 0o700); err != nil {
					t.Fatal(err)
				}
				other := authFileName("team-beta", nginx)
				e.writeFile(filepath.Join(e.authDir, other), `{"auths":{}}`, 0o600)
				before = []string{other}
			}
			wrapper := []string{"bash", "-c", `trap "" XFSZ; ulimit -f 1; exec "$0" "$@"`}
			res := e.runWrapped(wrapper, e.request(nginx))
			checkFailure(t, res, `(?i)auth`, `(?i)space|too large|file size|disk|write`)
			if got := files(t, e.authDir); strings.Join(got, ",") != strings.Join(before, ",") {
				t.Errorf("auth dir holds %v, want %v (no partial or temporary file)", got, before)
			}
		})
	}
}
