package mobileid

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/semnat/semnat/cms"
)

// The CMS (RFC 5652) SignedData of the ETSI PKCS7 format: built by the
// simulator around a SIM signature, parsed by the client. Both go through
// package cms, the project's one CMS encoder and strict parser.

// ErrCMS is wrapped by every CMS parsing error.
var ErrCMS = errors.New("mobileid: malformed CMS SignedData")

// hashFromOID maps a digest OID to a hash, 0 when it is not SHA-2.
func hashFromOID(o asn1.ObjectIdentifier) crypto.Hash {
	h, err := cms.HashFromOID(o)
	if err != nil || h == crypto.SHA1 {
		return 0
	}
	return h
}

// buildCMS builds a SignedData with signed attributes (contentType,
// signingTime, messageDigest = digest, signing-certificate-v2) and the
// signer certificate plus chain. content, when set, is encapsulated;
// otherwise the signature is detached. sign receives the digest of the DER
// signed attributes; its value is not checked, so that the simulator can
// answer with a signature that does not verify when a test user asks for it.
func buildCMS(cert *x509.Certificate, chain []*x509.Certificate, h crypto.Hash, digest, content []byte, now time.Time, sign func([]byte) ([]byte, error)) ([]byte, error) {
	pend, err := cms.Prepare(cms.Params{ContentDigest: digest, Hash: h, Certificate: cert, Chain: chain, SigningTime: now, Content: content})
	if err != nil {
		return nil, fmt.Errorf("mobileid: CMS: %w", err)
	}
	sig, err := sign(pend.Digest())
	if err != nil {
		return nil, err
	}
	sd, err := pend.CompleteUnverified(sig)
	if err != nil {
		return nil, fmt.Errorf("mobileid: CMS: %w", err)
	}
	return sd.Marshal()
}

// signedCMS is what the client needs from a SignedData.
type signedCMS struct {
	certs         []*x509.Certificate
	signer        *x509.Certificate
	hash          crypto.Hash
	messageDigest []byte
	signedAttrs   []byte // DER SET OF, as signed
	signature     []byte
	content       []byte // encapsulated content, if any
}

// parseCMS parses a DER ContentInfo holding a SignedData with one signer
// that has signed attributes. It checks structure only; verify separately.
func parseCMS(der []byte) (*signedCMS, error) {
	p, err := cms.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCMS, err)
	}
	si := &p.Signer
	h, err := si.Hash()
	if err != nil || h == crypto.SHA1 {
		return nil, fmt.Errorf("%w: digest algorithm %v", ErrCMS, si.DigestOID)
	}
	if si.SignedAttrsDER == nil {
		return nil, fmt.Errorf("%w: signed attributes missing", ErrCMS)
	}
	md, err := si.MessageDigest()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCMS, err)
	}
	signer := si.FindSignerCertificate(p.Certificates)
	if signer == nil {
		return nil, fmt.Errorf("%w: signer certificate not included", ErrCMS)
	}
	return &signedCMS{certs: p.Certificates, signer: signer, hash: h, messageDigest: md,
		signedAttrs: si.SignedAttrsDER, signature: si.Signature, content: p.EContent}, nil
}
