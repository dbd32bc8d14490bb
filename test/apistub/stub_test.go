package apistub

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// The stub itself, through Go's HTTP client: the test double must behave
// like kube-apiserver where the provider's tests rely on it.
func TestStub(t *testing.T) {
	t.Parallel()
	id := Identity{Namespace: "ns1", ServiceAccount: "sa1", Pod: "p1", PodUID: "u1", Node: "n1"}
	token := ForgeToken(id)
	s, err := Start(serverCert, token)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddPod(Pod{Namespace: "ns1", Name: "p1", UID: "u1", ServiceAccount: "sa1", ImagePullSecrets: []string{"a"}})
	s.AddServiceAccount(ServiceAccount{Namespace: "ns1", Name: "sa1", ImagePullSecrets: []string{"b"}})
	s.AddSecret(DockerConfigJSON("ns1", "a", `{"auths":{}}`))
	s.AddSecret(DockerCfg("ns1", "b", `{}`))
	s.AddSecret(Secret{Namespace: "ns1", Name: "c", Type: "Opaque"})
	s.AddSecret(DockerCfg("ns2", "d", `{}`))

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path, tok string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: not JSON: %s", path, body)
		}
		return resp.StatusCode, m
	}
	names := func(m map[string]any) string {
		var out []string
		items, _ := m["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["metadata"].(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}

	if code, m := get("/api/v1/namespaces/ns1/pods/p1", ""); code != 401 || m["kind"] != "Status" || m["reason"] != "Unauthorized" {
		t.Errorf("no token: %d %v", code, m)
	}
	if code, _ := get("/api/v1/namespaces/ns1/pods/p1", token+"x"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, m := get("/api/v1/namespaces/ns1/pods/p1", token); code != 200 || m["kind"] != "Pod" {
		t.Errorf("pod: %d %v", code, m)
	}
	if code, m := get("/api/v1/namespaces/ns1/serviceaccounts/sa1", token); code != 200 || m["kind"] != "ServiceAccount" {
		t.Errorf("service account: %d %v", code, m)
	}
	code, m := get("/api/v1/namespaces/ns1/secrets/a", token)
	data, _ := m["data"].(map[string]any)
	raw, _ := base64.StdEncoding.DecodeString(data[".dockerconfigjson"].(string))
	if code != 200 || m["type"] != TypeDockerConfigJSON || string(raw) != `{"auths":{}}` {
		t.Errorf("secret: %d %v", code, m)
	}
	if code, m := get("/api/v1/namespaces/ns1/secrets/zz", token); code != 404 || m["reason"] != "NotFound" || m["code"] != float64(404) {
		t.Errorf("missing secret: %d %v", code, m)
	}
	if code, m := get("/api/v1/namespaces/ns1/secrets", token); code != 200 || names(m) != "a,b,c" {
		t.Errorf("list without selector: %d %v", code, names(m))
	}
	if code, m := get("/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%2Fdockercfg", token); code != 200 || names(m) != "b" {
		t.Errorf("list dockercfg: %d %v", code, names(m))
	}
	if code, m := get("/api/v1/namespaces/ns1/secrets?fieldSelector=type%3D%3Dkubernetes.io%2Fdockerconfigjson", token); code != 200 || names(m) != "a" {
		t.Errorf("list dockerconfigjson: %d %v", code, names(m))
	}
	if code, _ := get("/api/v1/namespaces/ns1/secrets?fieldSelector=metadata.name%3Da", token); code != 400 {
		t.Errorf("unsupported selector: %d", code)
	}
	s.AddFault(Fault{Resource: "pods", Times: 1, Status: 429, RetryAfter: "3"})
	if code, m := get("/api/v1/namespaces/ns1/pods/p1", token); code != 429 || m["reason"] != "TooManyRequests" {
		t.Errorf("fault: %d %v", code, m)
	}
	if code, _ := get("/api/v1/namespaces/ns1/pods/p1", token); code != 200 {
		t.Errorf("after a one-shot fault: %d", code)
	}
	reqs := s.Requests()
	if len(reqs) != 12 {
		t.Fatalf("recorded %d requests, want 12: %q", len(reqs), reads(reqs))
	}
	if reqs[0].HasAuth || !reqs[1].HasAuth || reqs[1].TokenOK || !reqs[2].TokenOK {
		t.Errorf("auth recording: %+v", reqs[:3])
	}
	if r := reqs[7]; r.Verb != "list" || r.Query.Get("fieldSelector") != "type=kubernetes.io/dockercfg" ||
		r.RawQuery != "fieldSelector=type%3Dkubernetes.io%2Fdockercfg" {
		t.Errorf("list recording: %+v", r)
	}
}

// ForgeToken makes three base64url segments whose payload carries the
// pod-bound claims.
func TestForgeToken(t *testing.T) {
	t.Parallel()
	tok := ForgeToken(Identity{Namespace: "ns1", ServiceAccount: "sa1", Pod: "p1", PodUID: "u1", Node: "n1", NodeUID: "nu"})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string `json:"sub"`
		K8s struct {
			Namespace string            `json:"namespace"`
			Pod       map[string]string `json:"pod"`
			SA        map[string]string `json:"serviceaccount"`
			Node      map[string]string `json:"node"`
		} `json:"kubernetes.io"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != "system:serviceaccount:ns1:sa1" || claims.K8s.Namespace != "ns1" ||
		claims.K8s.Pod["name"] != "p1" || claims.K8s.Pod["uid"] != "u1" ||
		claims.K8s.SA["name"] != "sa1" || claims.K8s.Node["name"] != "n1" || claims.K8s.Node["uid"] != "nu" {
		t.Errorf("claims: %+v", claims)
	}
}
