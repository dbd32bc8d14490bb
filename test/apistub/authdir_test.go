package apistub

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The auth-dir part of the fault and abuse suite (issue 9, items 6, 7, 9):
// the real binary against a hostile or broken auth directory, failed runs,
// kill -9 and concurrent runs. Every run's wall time, peak RSS and the
// files it leaves are asserted.

const (
	previousUser = "previous-user"
	// Budgets for one run against the loopback stub.
	runWallBudget = 5 * time.Second
	runRSSBudget  = 64 << 10 // KiB
)

var peakRSS = regexp.MustCompile(`peak RSS (\d+) kB`)

// checkBudget asserts the run's wall time and peak RSS (VmHWM, as the
// provider logs it at debug level).
func checkBudget(t *testing.T, res result) {
	t.Helper()
	if res.elapsed > runWallBudget {
		t.Errorf("run took %v, budget %v\n%v", res.elapsed, runWallBudget, res)
	}
	m := peakRSS.FindStringSubmatch(res.stderr)
	if m == nil {
		t.Errorf("no peak RSS in the debug log\n%v", res)
		return
	}
	if kb, _ := strconv.Atoi(m[1]); kb > runRSSBudget {
		t.Errorf("peak RSS %d KiB, budget %d KiB", kb, runRSSBudget)
	}
}

// plantPrevious writes an auth file for image as an earlier call would
// have, with credentials no later pull may use.
func (e *env) plantPrevious(image string) string {
	p := e.authFile(image)
	if err := os.MkdirAll(e.authDir, 0o700); err != nil {
		e.t.Fatal(err)
	}
	e.addSensitive(authOf(previousUser), passwordOf(previousUser))
	e.writeFile(p, `{"auths":{"mirror.example.com":{"auth":"`+authOf(previousUser)+`"}}}`, 0o600)
	return p
}

func gone(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v): a later pull would use it", p, err)
	}
}

// Item 6: a run that fails after it knows the pod's namespace removes the
// image's previous auth file: kubelet goes on with the pull, and CRI-O must
// not find a file written for another one.
func TestFailedRunRemovesPreviousFile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		setup   func(e *env)
		flags   []string
		phrases []string
	}{
		{name: "API server down", setup: func(e *env) { e.apiServer = "https://127.0.0.1:1" },
			flags: []string{"--timeout=1s"}, phrases: []string{`(?i)reach|connect`}},
		{name: "forbidden", setup: func(e *env) {
			e.standardSecrets()
			e.stub.AddFault(Fault{Resource: "secrets", Status: 403})
		}, phrases: []string{`forbidden`}},
		{name: "pod gone", setup: func(e *env) { e.stub.DeletePod(testNS, testPod) },
			phrases: []string{`not found`}},
		{name: "bad registries.conf", setup: func(e *env) {
			e.writeFile(e.regConf, "[[registry]]\nprefix = \n", 0o644)
		}, phrases: []string{`registries`}},
		{name: "node identity with namespace secrets",
			flags: []string{"--api-identity=node", "--secrets=namespace"}, phrases: []string{`--secrets=pod`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if c.setup != nil {
				c.setup(e)
			}
			prev := e.plantPrevious(nginx)
			res := e.run(e.request(nginx), c.flags...)
			checkFailure(t, res, c.phrases...)
			gone(t, prev)
			checkBudget(t, res)
		})
	}
}

// Item 7: files of other pulls go once older than --stale-after, unless
// kubelet still intends to pull their image (its pull intents under
// --kubelet-root-dir): a pull queued behind a long one keeps its file
// however long it waits. A --stale-after below one second never removes
// the file just written.
func TestQueuedPullKeepsItsFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.standardSecrets()
	root := filepath.Join(e.dir, "kubelet")
	intents := filepath.Join(root, "image_manager", "pulling")
	if err := os.MkdirAll(intents, 0o700); err != nil {
		t.Fatal(err)
	}
	// As kubelet writes an intent: the image as in the pod spec.
	e.writeFile(filepath.Join(intents, "sha256-0b1f"), `{"kind":"ImagePullIntent","apiVersion":"kubelet.config.k8s.io/v1beta1","image":"quay.io/team/queued:1"}`, 0o600)
	mkdir(t, e.authDir, 0o700)
	queued := filepath.Join(e.authDir, authFileName("team-beta", "quay.io/team/queued"))
	leftover := filepath.Join(e.authDir, authFileName("team-beta", "quay.io/team/verified"))
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{queued, leftover} {
		e.writeFile(p, `{"auths":{}}`, 0o600)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	res := e.run(e.request(nginx), "--stale-after=500ms", "--kubelet-root-dir="+root)
	checkOK(t, res)
	checkBudget(t, res)
	if _, err := os.Stat(queued); err != nil {
		t.Errorf("the file of a queued pull was removed: %v", err)
	}
	gone(t, leftover)
	if _, err := os.Stat(e.authFile(nginx)); err != nil {
		t.Errorf("--stale-after=500ms removed the file just written: %v", err)
	}
	// The pull ended: kubelet removed its intent; the file is a leftover.
	if err := os.Remove(filepath.Join(intents, "sha256-0b1f")); err != nil {
		t.Fatal(err)
	}
	res = e.run(e.request(nginx), "--stale-after=500ms", "--kubelet-root-dir="+root)
	checkOK(t, res)
	gone(t, queued)
}

// runWith runs the provider with an auth dir prepared by prepare and
// asserts exit 1 with phrases, and that nothing was written anywhere.
func TestHostileAuthDir(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T, e *env) (victim string)
		phrases []string
	}{
		{name: "symlink to another directory", prepare: func(t *testing.T, e *env) string {
			victim := filepath.Join(e.dir, "elsewhere")
			mkdir(t, victim, 0o700)
			mkdir(t, filepath.Dir(e.authDir), 0o755)
			if err := os.Symlink(victim, e.authDir); err != nil {
				t.Fatal(err)
			}
			return victim
		}, phrases: []string{`symlink`, `--auth-dir`}},
		{name: "world-writable", prepare: func(t *testing.T, e *env) string {
			mkdir(t, e.authDir, 0o777)
			return e.authDir
		}, phrases: []string{`writable by its group or others`, `chmod 0700`}},
		{name: "group-writable", prepare: func(t *testing.T, e *env) string {
			mkdir(t, e.authDir, 0o770)
			return e.authDir
		}, phrases: []string{`writable by its group or others`, `chmod 0700`}},
		{name: "owned by another user", prepare: func(t *testing.T, e *env) string {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			mkdir(t, e.authDir, 0o700)
			if err := os.Chown(e.authDir, 4242, 4242); err != nil {
				t.Fatal(err)
			}
			return e.authDir
		}, phrases: []string{`owned by uid 4242`, `chown root:root`}},
		{name: "a file instead of the directory", prepare: func(t *testing.T, e *env) string {
			mkdir(t, filepath.Dir(e.authDir), 0o755)
			e.writeFile(e.authDir, "not a directory", 0o600)
			return ""
		}, phrases: []string{`not a directory`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.standardSecrets()
			victim := c.prepare(t, e)
			res := e.run(e.request(nginx))
			checkFailure(t, res, c.phrases...)
			checkBudget(t, res)
			if victim != "" {
				if got := files(t, victim); len(got) != 0 {
					t.Errorf("files written into %s: %v", victim, got)
				}
			}
			if len(e.stub.Requests()) != 0 {
				t.Errorf("the API was asked before the auth dir was checked: %q", reads(e.stub.Requests()))
			}
		})
	}
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// Inside the auth dir: a symlink planted at the file's name is replaced,
// never followed (its target keeps its content), and a directory in the
// way is a clear error that leaves no temporary file.
func TestHostileAuthDirEntries(t *testing.T) {
	t.Parallel()
	t.Run("symlink at the file name", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.standardSecrets()
		mkdir(t, e.authDir, 0o700)
		target := filepath.Join(e.dir, "target.json")
		e.writeFile(target, "keep me", 0o644)
		if err := os.Symlink(target, e.authFile(nginx)); err != nil {
			t.Fatal(err)
		}
		res := e.run(e.request(nginx))
		checkOK(t, res)
		if b, _ := os.ReadFile(target); string(b) != "keep me" {
			t.Errorf("the write followed the symlink: target now %q", b)
		}
		if fi, err := os.Lstat(e.authFile(nginx)); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("auth file is not a regular 0600 file: %v %v", fi, err)
		}
		// Nothing to write now: the symlink case again, on removal.
		if err := os.Remove(e.authFile(nginx)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, e.authFile(nginx)); err != nil {
			t.Fatal(err)
		}
		res = e.run(e.request("docker.io/library/nginx"), "--mirror-registry=elsewhere.example.com")
		checkOK(t, res)
		gone(t, e.authFile(nginx))
		if b, _ := os.ReadFile(target); string(b) != "keep me" {
			t.Errorf("the removal followed the symlink: target now %q", b)
		}
	})
	t.Run("directory in the way", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.standardSecrets()
		mkdir(t, filepath.Join(e.authFile(nginx), "sub"), 0o700)
		res := e.run(e.request(nginx))
		checkFailure(t, res, `directory is in the way`, `remove it`)
		checkBudget(t, res)
		for _, f := range files(t, e.authDir) {
			if !strings.HasPrefix(f, filepath.Base(e.authFile(nginx))+"/") {
				t.Errorf("left behind: %s", f)
			}
		}
	})
}

// mountTmpfs mounts a tmpfs at dir for the test, or skips when this
// machine does not let us mount.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	mkdir(t, dir, 0o700)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) }) //nolint:errcheck
}

// A real full disk (a tiny tmpfs) and a read-only one: a clear error, no
// partial or temporary file, and (read-only) the error names why the
// previous file could not go.
func TestAuthDirFullOrReadOnly(t *testing.T) {
	t.Parallel()
	t.Run("full", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.standardSecrets()
		mountTmpfs(t, e.authDir, "size=8k,mode=0700")
		prev := e.plantPrevious(nginx)
		// Fill the rest with an unrelated file.
		f, err := os.Create(filepath.Join(e.authDir, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		f.Write(make([]byte, 64<<10)) //nolint:errcheck // fails once full
		f.Close()
		res := e.run(e.request(nginx))
		checkFailure(t, res, `(?i)space|write`, `auth`)
		checkBudget(t, res)
		gone(t, prev)
		if got := files(t, e.authDir); strings.Join(got, ",") != "filler" {
			t.Errorf("auth dir holds %v, want only the filler (no partial or temporary file)", got)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.standardSecrets()
		mountTmpfs(t, e.authDir, "mode=0700")
		prev := e.plantPrevious(nginx)
		if err := syscall.Mount("", e.authDir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot remount read-only: %v", err)
		}
		res := e.run(e.request(nginx))
		checkFailure(t, res, `(?i)read-only`)
		checkBudget(t, res)
		if got := files(t, e.authDir); len(got) != 1 {
			t.Errorf("auth dir holds %v", got)
		}
		if _, err := os.Stat(prev); err != nil {
			t.Errorf("the previous file vanished from a read-only dir: %v", err)
		}
	})
}

// kill -9 at random moments over hundreds of runs: the auth file under its
// real name is always absent or complete (what CRI-O can find), a leftover
// temporary file is the only other thing a kill may leave, and the next
// run clears it once stale. Runs go two at a time.
func TestKillNineNeverLeavesAPartialFile(t *testing.T) {
	t.Parallel()
	runs := 200
	if testing.Short() {
		runs = 40
	}
	e := newEnv(t)
	e.standardSecrets()
	// A large global auth file makes the write take a while.
	e.writeLargeGlobalAuthFile(1000)

	// The complete file, from an unkilled run; each killed run pulls an
	// image of its own, so its file is absent (killed before the rename)
	// or complete (after), never anything else.
	res := e.run(e.request(nginx))
	checkOK(t, res)
	var full struct {
		Auths map[string]any `json:"auths"`
	}
	if b, err := os.ReadFile(e.authFile(nginx)); err != nil || json.Unmarshal(b, &full) != nil {
		t.Fatalf("the unkilled run's auth file: %v", err)
	}
	want := len(full.Auths) // 1000 global entries and our 2
	if want != 1002 {
		t.Fatalf("the unkilled run's auth file has %d entries, want 1002", want)
	}
	span := res.elapsed + res.elapsed/2
	rng := rand.New(rand.NewSource(9))
	var mu sync.Mutex
	complete, absent := 0, 0
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := 0; i < runs; i++ {
		delay := time.Duration(rng.Int63n(int64(span)))
		image := fmt.Sprintf("docker.io/library/kill-%03d", i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, e.flags()...)
			cmd.Stdin = strings.NewReader(string(e.request(image)))
			cmd.Env = cleanEnv()
			if err := cmd.Start(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck
			cmd.Wait()                          //nolint:errcheck
			got, err := os.ReadFile(e.authFile(image))
			var doc struct {
				Auths map[string]any `json:"auths"`
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case os.IsNotExist(err):
				absent++
			case err != nil:
				t.Errorf("reading the auth file: %v", err)
			case json.Unmarshal(got, &doc) == nil && len(doc.Auths) == want:
				complete++
			default:
				t.Errorf("after a kill at %v the auth file of %s is neither absent nor complete (%d bytes)", delay, image, len(got))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d runs killed at random: file complete %d times, absent %d times", runs, complete, absent)
	if complete == 0 || absent == 0 {
		t.Errorf("the kills did not land both before and after the write (complete %d, absent %d)", complete, absent)
	}
	for _, f := range files(t, e.authDir) {
		if !is(f, `^team-alpha-[0-9a-f]{64}\.json$`) && !strings.HasPrefix(f, ".ccp-tmp-") {
			t.Errorf("a kill left %s", f)
		}
	}
	// The next run clears every leftover temporary file once stale.
	time.Sleep(20 * time.Millisecond)
	res = e.run(e.request(nginx), "--stale-after=10ms")
	checkOK(t, res)
	for _, f := range files(t, e.authDir) {
		if f != filepath.Base(e.authFile(nginx)) {
			t.Errorf("after a clean run with --stale-after=10ms the auth dir still holds %s", f)
		}
	}
}

// writeLargeGlobalAuthFile writes a global auth file of n node-wide
// entries (about 80 bytes each), merged into every auth file we write.
func (e *env) writeLargeGlobalAuthFile(n int) {
	var b strings.Builder
	b.WriteString(`{"auths":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"registry-%04d.example.net":{"auth":"%s"}`, i, authOf(fmt.Sprintf("node-%04d", i)))
	}
	b.WriteString(`}}`)
	e.addSensitive(authOf("node-0042"), passwordOf("node-0042"))
	e.writeFile(e.globalAuth, b.String(), 0o600)
}

func is(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

// 50 concurrent runs for 5 namespaces' pods and 2 images: all succeed
// within budget, each file is complete, no temporary file is left.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.standardSecrets()
	images := []string{nginx, "docker.io/library/redis"}
	var wg sync.WaitGroup
	results := make([]result, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run(e.request(images[i%len(images)]))
		}()
	}
	wg.Wait()
	for _, res := range results {
		checkOK(t, res)
		checkBudget(t, res)
	}
	got := files(t, e.authDir)
	if len(got) != len(images) {
		t.Errorf("auth dir holds %v, want one file per image", got)
	}
	for _, img := range images {
		b, err := os.ReadFile(e.authFile(img))
		var v map[string]any
		if err != nil || json.Unmarshal(b, &v) != nil {
			t.Errorf("auth file for %s: %v (%d bytes)", img, err, len(b))
		}
	}
}
