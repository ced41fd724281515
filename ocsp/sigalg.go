package ocsp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/semnat/semnat/cms"
)

var (
	signatureAlgorithms = []struct {
		alg x509.SignatureAlgorithm
		oid asn1.ObjectIdentifier
	}{
		{x509.SHA1WithRSA, cms.OIDSHA1WithRSA}, {x509.SHA256WithRSA, cms.OIDSHA256WithRSA},
		{x509.SHA384WithRSA, cms.OIDSHA384WithRSA}, {x509.SHA512WithRSA, cms.OIDSHA512WithRSA},
		{x509.ECDSAWithSHA1, cms.OIDECDSAWithSHA1}, {x509.ECDSAWithSHA256, cms.OIDECDSAWithSHA256},
		{x509.ECDSAWithSHA384, cms.OIDECDSAWithSHA384}, {x509.ECDSAWithSHA512, cms.OIDECDSAWithSHA512},
		{x509.PureEd25519, cms.OIDEd25519},
	}
)

type pssParams struct {
	Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
}

// signatureAlgorithmOf maps a signatureAlgorithm AlgorithmIdentifier to the
// x509 constant, for checking with x509.Certificate.CheckSignature.
func signatureAlgorithmOf(ai pkix.AlgorithmIdentifier) x509.SignatureAlgorithm {
	for _, s := range signatureAlgorithms {
		if s.oid.Equal(ai.Algorithm) {
			return s.alg
		}
	}
	if ai.Algorithm.Equal(cms.OIDRSASSAPSS) {
		var p pssParams
		if _, err := asn1.Unmarshal(ai.Parameters.FullBytes, &p); err != nil {
			return x509.UnknownSignatureAlgorithm
		}
		switch hashFromOID(p.Hash.Algorithm) {
		case crypto.SHA256:
			return x509.SHA256WithRSAPSS
		case crypto.SHA384:
			return x509.SHA384WithRSAPSS
		case crypto.SHA512:
			return x509.SHA512WithRSAPSS
		}
	}
	return x509.UnknownSignatureAlgorithm
}

// signerParams chooses the signature algorithm for a responder key: SHA-256
// (SHA-384/512 for P-384/P-521) with PKCS#1 v1.5 for RSA, ECDSA, or Ed25519.
func signerParams(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, crypto.SignerOpts, error) {
	null := asn1.RawValue{Tag: asn1.TagNull}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: cms.OIDSHA256WithRSA, Parameters: null}, crypto.SHA256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return pkix.AlgorithmIdentifier{Algorithm: cms.OIDECDSAWithSHA384}, crypto.SHA384, nil
		case elliptic.P521():
			return pkix.AlgorithmIdentifier{Algorithm: cms.OIDECDSAWithSHA512}, crypto.SHA512, nil
		}
		return pkix.AlgorithmIdentifier{Algorithm: cms.OIDECDSAWithSHA256}, crypto.SHA256, nil
	case ed25519.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: cms.OIDEd25519}, crypto.Hash(0), nil
	}
	return pkix.AlgorithmIdentifier{}, nil, fmt.Errorf("ocsp: unsupported responder key type %T", pub)
}

func signTBS(key crypto.Signer, opts crypto.SignerOpts, tbs []byte) ([]byte, error) {
	msg := tbs
	if h := opts.HashFunc(); h != 0 {
		hh := h.New()
		hh.Write(tbs)
		msg = hh.Sum(nil)
	}
	return key.Sign(rand.Reader, msg, opts)
}
