package mpass

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// SelfSigned makes an RSA-2048 key and a self-signed certificate for it,
// valid for years from now, as the MPass staging IdP's (CN=testmpass.gov.md):
// relying services pin the certificate from the metadata, no CA is involved.
func SelfSigned(commonName string, now time.Time, years int) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	cert, err := selfCertify(commonName, now, years, key)
	return key, cert, err
}

// SelfSignedECDSA is SelfSigned for an ECDSA P-256 key (ecdsa.go).
func SelfSignedECDSA(commonName string, now time.Time, years int) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	cert, err := selfCertify(commonName, now, years, key)
	return key, cert, err
}

// selfCertify is key's self-signed certificate, valid for years from now.
func selfCertify(commonName string, now time.Time, years int, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(years, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("mpass: self-signed certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
