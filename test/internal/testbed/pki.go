package testbed

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"crio-credential-provider/test/internal/pki"
)

// CA is the test bed's certificate authority (test/internal/pki) with its
// certificate also written to a file, for the components that read files.
type CA struct {
	*pki.CA
	CertPath string // PEM file
}

// NewCA creates a CA whose certificate is written to dir/<name>.crt.
func NewCA(dir, name string) (*CA, error) {
	ca, err := pki.NewCA(name)
	if err != nil {
		return nil, err
	}
	out := &CA{CA: ca, CertPath: filepath.Join(dir, name+".crt")}
	if err := os.WriteFile(out.CertPath, ca.CertPEM, 0o644); err != nil {
		return nil, err
	}
	return out, nil
}

// KeyPair is a signed certificate and its key, as PEM files.
type KeyPair struct {
	CertPath, KeyPath string
	CertPEM, KeyPEM   []byte
}

// Issue signs a certificate for cn/orgs (see pki.CA.Issue) and writes it to
// dir/<base>.crt and dir/<base>.key.
func (ca *CA) Issue(dir, base, cn string, orgs []string, hosts []string, notAfter time.Time) (*KeyPair, error) {
	issued, err := ca.CA.Issue(cn, orgs, hosts, notAfter)
	if err != nil {
		return nil, err
	}
	kp := &KeyPair{
		CertPath: filepath.Join(dir, base+".crt"),
		KeyPath:  filepath.Join(dir, base+".key"),
		CertPEM:  issued.CertPEM,
		KeyPEM:   issued.KeyPEM,
	}
	if err := os.WriteFile(kp.CertPath, kp.CertPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(kp.KeyPath, kp.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	return kp, nil
}

// writeRSAKeyPair writes the service-account signing key pair.
func writeRSAKeyPair(privPath, pubPath string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubPath, pub, 0o644)
}
