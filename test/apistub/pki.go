package apistub

import (
	"crypto/tls"
	"time"

	"crio-credential-provider/test/internal/pki"
)

// CA is the harness's certificate authority (test/internal/pki).
type CA struct{ *pki.CA }

// NewCA makes a self-signed CA named cn.
func NewCA(cn string) (*CA, error) {
	ca, err := pki.NewCA(cn)
	if err != nil {
		return nil, err
	}
	return &CA{ca}, nil
}

// APIServerName is a name of the stub's certificate that no DNS server
// knows: only a test's own hosts file maps it.
const APIServerName = "apiserver.crio-credential-provider.test"

// ServerCert issues a TLS server certificate for 127.0.0.1, ::1 and
// localhost, as a kube-apiserver serving certificate would carry them, and
// APIServerName.
func (ca *CA) ServerCert() (tls.Certificate, error) {
	kp, err := ca.Issue("kube-apiserver", nil, []string{"localhost", "kubernetes",
		"kubernetes.default.svc", APIServerName, "127.0.0.1", "::1"}, time.Time{})
	if err != nil {
		return tls.Certificate{}, err
	}
	return kp.TLS(), nil
}
