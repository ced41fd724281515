// Package keyfile loads signing keys and certificates from files: PKCS#12
// bundles, and PEM keys (PKCS#8, PKCS#1, SEC 1) with PEM certificates.
package keyfile

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/semnat/semnat/internal/certparse"
)

// ErrWrongPassword is returned when a PKCS#12 password is wrong.
var ErrWrongPassword = errors.New("keyfile: wrong PKCS#12 password")

// Bundle is a private key with its certificate and intermediates.
type Bundle struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Chain []*x509.Certificate // intermediates, issuer first (roots dropped)
}

// LoadPEM reads a PEM private key, a PEM certificate and optionally a PEM
// bundle of intermediates.
func LoadPEM(keyPath, certPath, chainPath string) (*Bundle, error) {
	key, err := LoadKey(keyPath)
	if err != nil {
		return nil, err
	}
	certs, err := LoadCerts(certPath)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("keyfile: %s holds no certificate", certPath)
	}
	var chain []*x509.Certificate
	if len(certs) > 1 {
		chain = certs[1:]
	}
	if chainPath != "" {
		more, err := LoadCerts(chainPath)
		if err != nil {
			return nil, err
		}
		chain = append(chain, more...)
	}
	b := &Bundle{Key: key, Cert: certs[0], Chain: orderChain(certs[0], chain)}
	if !publicKeysEqual(key.Public(), b.Cert.PublicKey) {
		return nil, fmt.Errorf("keyfile: the key in %s does not belong to the certificate in %s", keyPath, certPath)
	}
	return b, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(eq); ok {
		return e.Equal(b)
	}
	return false
}

// LoadKey reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC 1 EC).
func LoadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("keyfile: %s holds no PEM private key", path)
		}
		var k any
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("keyfile: %s is an encrypted PEM key; use a PKCS#12 file (--p12) instead", path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("keyfile: %s: %w", path, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("keyfile: %s: key type %T cannot sign", path, k)
		}
		return s, nil
	}
}

// LoadCerts reads every certificate of a PEM (or single DER) file.
func LoadCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	return certs, nil
}

// ErrNoCertificate is returned when data holds no certificate.
var ErrNoCertificate = errors.New("no certificate found (want PEM or DER)")

// ParseCerts reads every CERTIFICATE block of PEM data, or one DER
// certificate.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := certparse.Certificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		c, err := certparse.Certificate(data)
		if errors.Is(err, certparse.ErrNegativeSerial) {
			return nil, err
		}
		if err != nil {
			return nil, ErrNoCertificate
		}
		out = append(out, c)
	}
	return out, nil
}

// orderChain puts intermediates in issuer order starting from leaf and
// drops self-signed roots and certificates that are not on the path; what
// cannot be ordered is appended as given.
func orderChain(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	used := make([]bool, len(pool))
	cur := leaf
	for {
		next := -1
		for i, c := range pool {
			if !used[i] && string(c.RawSubject) == string(cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		c := pool[next]
		if string(c.RawSubject) == string(c.RawIssuer) {
			break // a root: trust anchors are not embedded
		}
		out = append(out, c)
		cur = c
	}
	for i, c := range pool {
		if !used[i] && string(c.RawSubject) != string(c.RawIssuer) && !c.Equal(leaf) {
			out = append(out, c)
		}
	}
	return out
}
