package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// Resources the manifests in deploy/ may hold.
var deployResources = map[string]schema.GroupVersionResource{
	"rbac.authorization.k8s.io/v1/Role":               {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"rbac.authorization.k8s.io/v1/RoleBinding":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"rbac.authorization.k8s.io/v1/ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"apps/v1/DaemonSet":                               {Group: "apps", Version: "v1", Resource: "daemonsets"},
}

// issue 12: every manifest in deploy/ passes a server-side dry-run apply
// against the test bed's kube-apiserver (schema, RBAC validation, the
// DaemonSet's pod template), and the default mode's Role reads secrets only
// by name.
func TestDeployManifestsDryRunApply(t *testing.T) {
	b := sharedBed.Get(t)
	e := b.NewEnv(t)
	if _, err := e.CP.CreateFreshNamespace("team-alpha"); err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(e.CP.AdminREST)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("deploy/*.yaml: %v %v", files, err)
	}
	applied := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj unstructured.Unstructured
			if err := decoder.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetKind() == "CredentialProviderConfig" {
				continue // kubelet's file (the example config), not an API object
			}
			key := obj.GetAPIVersion() + "/" + obj.GetKind()
			gvr, ok := deployResources[key]
			if !ok {
				t.Fatalf("%s: unexpected %s", file, key)
			}
			body, err := obj.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var ri dynamic.ResourceInterface = client.Resource(gvr)
			if ns := obj.GetNamespace(); ns != "" {
				ri = client.Resource(gvr).Namespace(ns)
			}
			if _, err := ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "ccp-deploy-test"}); err != nil {
				t.Errorf("%s: dry-run apply of %s %s: %v", file, key, obj.GetName(), err)
			}
			applied++
			if obj.GetKind() == "DaemonSet" {
				checkInstallerImage(t, &obj)
			}
			if filepath.Base(file) == "rbac-pod-mode.yaml" && obj.GetKind() == "Role" {
				rules, _, _ := unstructured.NestedSlice(obj.Object, "rules")
				for _, r := range rules {
					rule := r.(map[string]any)
					resources, _ := rule["resources"].([]any)
					for _, res := range resources {
						if res == "secrets" && rule["resourceNames"] == nil {
							t.Errorf("the pod mode Role lets the service account get every Secret: %v", rule)
						}
					}
				}
			}
		}
	}
	if applied < 7 {
		t.Errorf("applied %d objects, want the 7 of deploy/", applied)
	}
}

// checkInstallerImage: the installer runs the image deploy/Containerfile
// builds, REGISTRY/crio-credential-provider:<the release's version>, the
// name the README's build, push and sed commands use.
func checkInstallerImage(t *testing.T, ds *unstructured.Unstructured) {
	t.Helper()
	cmake, err := os.ReadFile(filepath.Join("..", "..", "CMakeLists.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`project\(crio-credential-provider VERSION ([0-9.]+)`).FindSubmatch(cmake)
	if m == nil {
		t.Fatal("no project version in CMakeLists.txt")
	}
	want := "REGISTRY/crio-credential-provider:" + string(m[1])
	inits, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "initContainers")
	if len(inits) != 1 {
		t.Fatalf("want one init container, got %d", len(inits))
	}
	if got := inits[0].(map[string]any)["image"]; got != want {
		t.Errorf("installer image %v, want %s", got, want)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("s|image: REGISTRY/|")) {
		t.Error("README.md does not show how to set the installer's image")
	}
}
