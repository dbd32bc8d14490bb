// Command regbench measures how registries.conf loading and matching scale:
// `crio-credential-provider resolve` against the same generated
// registries.conf (N entries, each with a mirror, plus a drop-in replacing
// every tenth prefix) and a Go program doing what containers/image does on a
// pull (sysregistriesv2.FindRegistry + Registry.PullSourcesFromReference),
// both as fresh processes, side by side. It reports the median wall time and
// peak RSS of each, and their ratio.
//
// Usage (from test/): go run ./cmd/regbench -bin ../build/crio-credential-provider [-sizes 1000,10000,100000] [-runs 3]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

func main() {
	bin := flag.String("bin", "../build/crio-credential-provider", "provider binary")
	sizes := flag.String("sizes", "1000,10000,100000", "registries.conf entries")
	runs := flag.Int("runs", 3, "invocations per size and program")
	reference := flag.String("containers-image", "", "internal: resolve this image as containers/image does (args: main file, drop-in dir)")
	flag.Parse()
	if *reference != "" {
		os.Exit(resolveWithContainersImage(*reference, flag.Arg(0), flag.Arg(1)))
	}
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "regbench: %v: build the provider first\n", err)
		os.Exit(1)
	}
	self, err := os.Executable()
	check(err)
	fmt.Println("median wall time (CPU time: user+system), peak RSS; ratio = containers/image / ours")
	fmt.Printf("%8s  %24s %10s  %24s %10s  %13s\n", "entries", "ours", "RSS", "containers/image", "RSS", "ratio wall/cpu")
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(field)
		check(err)
		dir, err := os.MkdirTemp("", "ccp-regbench-")
		check(err)
		main, dropins, image := writeConf(dir, n)
		ours := measure(*runs, *bin, "resolve", "--json", "--registries-conf", main, "--registries-conf-dir", dropins, image)
		theirs := measure(*runs, self, "-containers-image", image, main, dropins)
		os.RemoveAll(dir)
		fmt.Printf("%8d  %24s %6.1f MiB  %24s %6.1f MiB  %5.1fx /%5.1fx\n", n,
			ours.times(), ours.rssMiB, theirs.times(), theirs.rssMiB,
			float64(theirs.wall)/float64(ours.wall), float64(theirs.cpu)/float64(ours.cpu))
	}
}

// writeConf writes N registries (prefix rI.example.com/ns, one mirror each)
// in shuffled order, and a drop-in replacing every tenth one. The image
// matches an entry the drop-in replaced.
func writeConf(dir string, n int) (main, dropins, image string) {
	var b, d strings.Builder
	for i := range n {
		j := (i * 7919) % n // a permutation when n is not a multiple of 7919
		fmt.Fprintf(&b, "[[registry]]\nprefix = \"r%d.example.com/ns\"\nlocation = \"r%d.example.com/ns\"\n[[registry.mirror]]\nlocation = \"m%d.example.net/ns\"\n\n", j, j, j)
		if j%10 == 0 {
			fmt.Fprintf(&d, "[[registry]]\nprefix = \"r%d.example.com/ns\"\nlocation = \"r%d.example.com/ns\"\n[[registry.mirror]]\nlocation = \"d%d.example.net/ns\"\n\n", j, j, j)
		}
	}
	main = filepath.Join(dir, "registries.conf")
	dropins = filepath.Join(dir, "registries.conf.d")
	check(os.WriteFile(main, []byte(b.String()), 0o644))
	check(os.Mkdir(dropins, 0o755))
	check(os.WriteFile(filepath.Join(dropins, "50-override.conf"), []byte(d.String()), 0o644))
	return main, dropins, fmt.Sprintf("r%d.example.com/ns/app:1", (n-1)/10*10)
}

func resolveWithContainersImage(image, main, dropins string) int {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sys := &types.SystemContext{SystemRegistriesConfPath: main, SystemRegistriesConfDirPath: dropins}
	reg, err := sysregistriesv2.FindRegistry(sys, ref.Name())
	if err != nil || reg == nil {
		fmt.Fprintln(os.Stderr, "no registry:", err)
		return 1
	}
	sources, err := reg.PullSourcesFromReference(ref)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, s := range sources {
		fmt.Println(s.Reference.String())
	}
	return 0
}

type result struct {
	wall   time.Duration // median
	cpu    time.Duration // median user + system time
	rssMiB float64       // largest
}

// measure runs the command `runs` times and returns the median wall time and
// the largest peak RSS; a failing run ends the benchmark.
func measure(runs int, name string, args ...string) result {
	var walls, cpus []time.Duration
	var rss int64
	for range runs {
		cmd := exec.Command(name, args...)
		cmd.Stdout = nil
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "regbench: %s %v: %v: %s\n", name, args, err, stderr.String())
			os.Exit(1)
		}
		walls = append(walls, time.Since(start))
		cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		rss = max(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	}
	return result{median(walls), median(cpus), float64(rss) / 1024}
}

func (r result) times() string {
	return fmt.Sprintf("%s (%s)", r.wall.Round(100*time.Microsecond), r.cpu.Round(100*time.Microsecond))
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "regbench:", err)
		os.Exit(1)
	}
}
