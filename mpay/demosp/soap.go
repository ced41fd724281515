package demosp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"math/big"
	"net/http"
	"time"
)

// SOAPHandler serves the SP's SOAP endpoint (IServiceProvider with
// WS-Security; mpayclient.SOAPHandler) over the same orders: MPay's requests
// checked against mpayCert, the answers signed by signer (an RSA key, see
// NewRSAKey, whose certificate is the one registered with --face soap).
func (sp *SP) SOAPHandler(mpayCert *x509.Certificate, signer *mpayclient.Signer) http.Handler {
	return mpayclient.SOAPHandler(mpayclient.HandlerConfig{Orders: sp, MPay: mpayCert, Signer: signer, Evidence: sp.keep})
}

// keep records a signed message in and out.
func (sp *SP) keep(m mpayclient.Message) {
	sp.mu.Lock()
	if len(sp.evidence) < 10000 {
		sp.evidence = append(sp.evidence, m)
	}
	sp.mu.Unlock()
}

// NewRSAKey is NewKey with an RSA-2048 key, as the SOAP face signs with.
func NewRSAKey(serviceID string) (*mpayclient.Signer, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	return selfSigned(serviceID, key)
}

// selfSigned makes the SP's self-signed certificate for key.
func selfSigned(serviceID string, key crypto.Signer) (*mpayclient.Signer, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: serviceID + " (MPay service provider)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	s, err := mpayclient.NewSigner(key, cert)
	return s, cert, err
}
