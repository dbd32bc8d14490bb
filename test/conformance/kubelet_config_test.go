package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.podman.io/image/v5/types"
	kubeletconfigv1 "k8s.io/kubelet/config/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
	"sigs.k8s.io/yaml"
)

// The registries.conf of TestKubeletConfig: hosts, a path prefix, a port, a
// wildcard, a rewrite without mirrors, entries without mirrors, and a
// mirror that is itself blocked.
const kubeletConfigRegistries = `
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.corp/hub"

[[registry]]
prefix = "quay.io/team"
location = "quay.io/team"
[[registry.mirror]]
location = "mirror.corp/quay-team"

[[registry]]
location = "quay.io"

[[registry]]
location = "localhost:5000"
[[registry.mirror]]
location = "mirror.corp/local"

[[registry]]
prefix = "*.example.com"
[[registry.mirror]]
location = "mirror.corp/example"

[[registry]]
prefix = "gcr.io/rewritten"
location = "registry.corp/gcr"

[[registry]]
prefix = "*.nomirror.com"

[[registry]]
location = "ghcr.io"
[[registry.mirror]]
location = "blocked.corp"

[[registry]]
location = "blocked.corp"
blocked = true
`

// Images kubelet matches although registries.conf gives them no mirror:
// kubelet compares paths as plain string prefixes, so "quay.io/team"
// also matches "quay.io/teamfoo/..." (docs/interface.md). The provider is
// then run and answers without credentials.
var kubeletConfigOvermatch = map[string]bool{
	"quay.io/teamfoo/app": true,
}

func TestKubeletConfig(t *testing.T) {
	bin := providerBin(t)
	dir := t.TempDir()
	mainPath := filepath.Join(dir, "registries.conf")
	dropins := filepath.Join(dir, "registries.conf.d")
	if err := os.MkdirAll(dropins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mainPath, []byte(kubeletConfigRegistries), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := run(bin, "kubelet-config", "--registries-conf="+mainPath, "--registries-conf-dir="+dropins,
		"--audience=https://kubernetes.default.svc", "--auth-dir=/run/crio-auth", "--api-identity=node")
	if err != nil || res.Code != 0 {
		t.Fatalf("kubelet-config: %v %v", err, res)
	}

	// kubelet's own loader: decoding, validation (tokenAttributes,
	// cacheType, defaultCacheDuration, matchImages syntax) and the binary
	// lookup in the bin dir.
	configPath := filepath.Join(dir, "credential-provider.yaml")
	binDir := filepath.Join(dir, "bin")
	if err := os.WriteFile(configPath, res.Stdout, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "crio-credential-provider")); err != nil {
		t.Fatal(err)
	}
	if err := plugin.RegisterCredentialProviderPlugins(configPath, binDir, nil, nil); err != nil {
		t.Fatalf("kubelet rejects the generated config: %v\n%s", err, res.Stdout)
	}

	var config kubeletconfigv1.CredentialProviderConfig
	if err := yaml.UnmarshalStrict(res.Stdout, &config); err != nil {
		t.Fatal(err)
	}
	if len(config.Providers) != 1 {
		t.Fatalf("want one provider, got %d", len(config.Providers))
	}
	p := config.Providers[0]
	ta := p.TokenAttributes
	if ta == nil || ta.ServiceAccountTokenAudience != "https://kubernetes.default.svc" ||
		ta.RequireServiceAccount == nil || !*ta.RequireServiceAccount || ta.CacheType != kubeletconfigv1.TokenServiceAccountTokenCacheType {
		t.Errorf("tokenAttributes: %+v", ta)
	}
	// The provider must read the registries.conf the patterns came from.
	if strings.Join(p.Args, " ") != "--registries-conf="+mainPath+" --registries-conf-dir="+dropins+" --auth-dir=/run/crio-auth --api-identity=node" {
		t.Errorf("args: %q", p.Args)
	}
	if p.DefaultCacheDuration == nil || p.DefaultCacheDuration.Duration != 0 {
		t.Errorf("defaultCacheDuration: %v", p.DefaultCacheDuration)
	}

	// The patterns match exactly the images whose pulls need the provider
	// according to containers/image (a mirror or a rewritten location that
	// is not blocked), kubelet's matcher deciding.
	sys := &types.SystemContext{SystemRegistriesConfPath: mainPath, SystemRegistriesConfDirPath: dropins}
	images := []string{
		"docker.io/library/nginx", "docker.io/team/app",
		"quay.io/team", "quay.io/team/app", "quay.io/teamfoo/app", "quay.io/other/app",
		"localhost:5000/app", "localhost:5001/app", "localhost/app",
		"a.example.com/app", "a.b.example.com/app", "a.b.c.example.com/x/y", "example.com/app", "a.example.org/app", "a.nomirror.com/app",
		"gcr.io/rewritten/app", "gcr.io/other/app",
		"ghcr.io/owner/app", "blocked.corp/app", "mirror.corp/hub/library/nginx",
	}
	for _, image := range images {
		lib := libRegistries(mainPath, dropins, image)
		if lib.LoadErr != nil || lib.RefErr != nil {
			t.Fatalf("%s: %v %v", image, lib.LoadErr, lib.RefErr)
		}
		mirrored := len(libCredentialSources(lib, sys)) > 0
		matched := false
		for _, m := range p.MatchImages {
			ok, err := credentialprovider.URLsMatchStr(m, lib.Named.Name())
			if err != nil {
				t.Fatalf("matchImages %q: %v", m, err)
			}
			matched = matched || ok
		}
		switch {
		case kubeletConfigOvermatch[image]:
			if !matched || mirrored {
				t.Errorf("%s: the documented over-match changed (matched %v, mirrored %v)", image, matched, mirrored)
			}
		case matched != mirrored:
			t.Errorf("%s: kubelet runs the provider: %v, registries.conf needs it: %v (matchImages %q)", image, matched, mirrored, p.MatchImages)
		}
	}
}

func TestKubeletConfigRefusesAConfWithoutMirrors(t *testing.T) {
	bin := providerBin(t)
	dir := t.TempDir()
	mainPath := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(mainPath, []byte("[[registry]]\nlocation = \"quay.io\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := run(bin, "kubelet-config", "--registries-conf="+mainPath, "--registries-conf-dir="+filepath.Join(dir, "none"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 1 || !strings.Contains(string(res.Stderr), "no registries.conf entry has a mirror") || len(res.Stdout) != 0 {
		t.Errorf("want exit 1 naming the missing mirror, got %v", res)
	}
}
