package testbed

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TokenServer is the token service of a registry that uses distribution's
// token authentication (the Bearer scheme most hosted registries use): it
// checks a client's Basic credential against its users and answers a JWT
// that the registry verifies against the signing certificate
// (rootcertbundle). It serves HTTPS with a certificate from the test bed's
// CA and records who asked for what.
type TokenServer struct {
	Realm       string // https://127.0.0.1:<port>/token
	Service     string
	Issuer      string
	SignerPath  string // the signing certificate (PEM), the registry's rootcertbundle
	signer      *rsa.PrivateKey
	signerDER   []byte
	srv         *http.Server
	mu          sync.Mutex
	users       map[string]string
	grants      []TokenGrant
	refusedCred int
}

// TokenGrant is one token the server issued: to whom, for which scope.
type TokenGrant struct {
	User  string
	Scope string
}

// StartTokenServer starts a token service for service under dir.
func StartTokenServer(dir, service string, ca *CA, users map[string]string) (*TokenServer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: service + " token signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ts := &TokenServer{Service: service, Issuer: service + "-token-issuer",
		SignerPath: filepath.Join(dir, "token-signer.crt"), signer: key, signerDER: der, users: users}
	if err := os.WriteFile(ts.SignerPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	kp, err := ca.Issue(dir, "token-tls", service+" token service", nil, []string{"127.0.0.1"}, time.Time{})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ts.Realm = "https://" + ln.Addr().String() + "/token"
	ts.srv = &http.Server{Handler: http.HandlerFunc(ts.serve), ReadHeaderTimeout: 10 * time.Second}
	go ts.srv.ServeTLS(ln, kp.CertPath, kp.KeyPath) //nolint:errcheck
	return ts, nil
}

// SetUsers replaces the users (a rotation at the registry).
func (ts *TokenServer) SetUsers(users map[string]string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.users = users
}

// Grants returns the tokens issued so far, and how many requests carried a
// credential that did not match.
func (ts *TokenServer) Grants() ([]TokenGrant, int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]TokenGrant(nil), ts.grants...), ts.refusedCred
}

// Close stops the token service.
func (ts *TokenServer) Close() { ts.srv.Close() }

func (ts *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	user, password, ok := r.BasicAuth()
	ts.mu.Lock()
	want, known := ts.users[user]
	valid := ok && known && want == password && r.URL.Query().Get("service") == ts.Service
	if ok && !valid {
		ts.refusedCred++
	}
	scopes := r.URL.Query()["scope"]
	if valid {
		for _, s := range scopes {
			ts.grants = append(ts.grants, TokenGrant{User: user, Scope: s})
		}
	}
	ts.mu.Unlock()
	if !valid {
		// Anonymous pulls are not offered: every repository is private.
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}
	token, err := ts.sign(user, scopes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_in": 300}) //nolint:errcheck
}

// sign makes the compact JWS (RS256) distribution 2.8 verifies: the signing
// certificate in x5c (checked against rootcertbundle), issuer, audience
// (the service), subject (the user it logs as auth.user.name) and the
// requested scopes granted in full.
func (ts *TokenServer) sign(user string, scopes []string) (string, error) {
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	grants := []access{}
	for _, s := range scopes {
		// repository:<name>:<actions>; the name may itself hold a colon
		// (a host with a port), the actions never do.
		first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
		if first < 0 || last == first {
			continue
		}
		grants = append(grants, access{Type: s[:first], Name: s[first+1 : last], Actions: strings.Split(s[last+1:], ",")})
	}
	now := time.Now()
	header := map[string]any{"typ": "JWT", "alg": "RS256", "x5c": []string{base64.StdEncoding.EncodeToString(ts.signerDER)}}
	claims := map[string]any{"iss": ts.Issuer, "sub": user, "aud": ts.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprintf("%d", now.UnixNano()), "access": grants}
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b), err
	}
	h, err := enc(header)
	if err != nil {
		return "", err
	}
	c, err := enc(claims)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(h + "." + c))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.signer, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
