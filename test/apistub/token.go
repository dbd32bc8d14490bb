package apistub

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"
)

// Identity is what a pod-bound service-account token says about its pod.
type Identity struct {
	Namespace      string
	ServiceAccount string
	SAUID          string
	Pod            string
	PodUID         string
	Node           string
	NodeUID        string
	Audience       string
}

// ForgeToken returns a well-formed JWT shaped like the projected token
// kubelet passes to a credential provider (header.payload.signature,
// base64url without padding). The signature is random bytes: the provider
// does not verify it and the stub compares the token string.
func ForgeToken(id Identity) string {
	return ForgeTokenClaims(Claims(id))
}

// Claims is the payload ForgeToken signs, for tests that want to edit it.
func Claims(id Identity) map[string]any {
	now := time.Now().Unix()
	aud := id.Audience
	if aud == "" {
		aud = "crio-credential-provider"
	}
	return map[string]any{
		"aud": []string{aud},
		"exp": now + 3600,
		"iat": now,
		"nbf": now,
		"iss": "https://kubernetes.default.svc.cluster.local",
		"jti": randomB64(12),
		"sub": "system:serviceaccount:" + id.Namespace + ":" + id.ServiceAccount,
		"kubernetes.io": map[string]any{
			"namespace": id.Namespace,
			"pod":       map[string]string{"name": id.Pod, "uid": id.PodUID},
			"serviceaccount": map[string]string{
				"name": id.ServiceAccount, "uid": id.SAUID,
			},
			"node": map[string]string{"name": id.Node, "uid": id.NodeUID},
		},
	}
}

// ForgeTokenClaims encodes any payload as a JWT with a random signature.
func ForgeTokenClaims(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "apistub-" + randomB64(6)})
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + randomB64(256)
}

func randomB64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
