package main

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/semnat/semnat/internal/keyfile"
)

// ecdsaKey is MPass's optional ECDSA P-256 key and certificate (--ecdsa-key,
// --ecdsa-cert): it signs the Responses of relying services registered
// with --signature-algorithm ecdsa-sha256 (mpass/ecdsa.go). Neither: nil.
func (mf *mpassFlags) ecdsaKey() (crypto.Signer, *x509.Certificate, error) {
	if mf.ecdsaKeyFile == "" && mf.ecdsaCertFile == "" {
		return nil, nil, nil
	}
	if mf.ecdsaKeyFile == "" || mf.ecdsaCertFile == "" {
		return nil, nil, errors.New("--ecdsa-key and --ecdsa-cert go together: the P-256 key and its certificate")
	}
	k, err := keyfile.LoadKey(mf.ecdsaKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--ecdsa-key: %w", err)
	}
	certs, err := loadCertificates([]string{mf.ecdsaCertFile})
	if err != nil {
		return nil, nil, fmt.Errorf("--ecdsa-cert: %w", err)
	}
	if len(certs) != 1 {
		return nil, nil, fmt.Errorf("--ecdsa-cert: %d certificates in %s, want the key's one", len(certs), mf.ecdsaCertFile)
	}
	return k, certs[0], nil
}
