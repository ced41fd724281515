package mpass

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// A relying service's Responses are signed with MPass's RSA key
// (rsa-sha256, the default, which every SAML relying service supports) or,
// when it is registered so (`semnat mpass sp add --signature-algorithm
// ecdsa-sha256`), with MPass's ECDSA P-256 key (XML-DSig
// ecdsa-sha256, RFC 6931 §2.3.6). One RSA-2048 signature costs about 30
// times the CPU of a P-256 one and is half of a Response's CPU time; a
// relying service that can check ECDSA lets MPass answer it for half the
// cost. The metadata publishes both certificates as signing keys, so that
// a relying service trusts both from the one metadata document.
const (
	SigRSASHA256   = "rsa-sha256"
	SigECDSASHA256 = "ecdsa-sha256"
)

// SignatureAlgorithms are the values of SPOptions.SignatureAlgorithm.
var SignatureAlgorithms = []string{SigRSASHA256, SigECDSASHA256}

// ErrNoECDSAKey: a relying service registered for ecdsa-sha256 Responses
// while MPass runs without an ECDSA key.
var ErrNoECDSAKey = errors.New("mpass: the relying service is registered for ecdsa-sha256 Responses, but MPass has no ECDSA key: start it with one (Config.ECDSAKey, `semnat mpass serve --ecdsa-key --ecdsa-cert`) or register the service with rsa-sha256")

// checkSignatureAlgorithm is the options' check of SignatureAlgorithm.
func checkSignatureAlgorithm(alg string) error {
	if alg != "" && !slices.Contains(SignatureAlgorithms, alg) {
		return fmt.Errorf("%w: unknown signature algorithm %q (one of rsa-sha256, ecdsa-sha256)", ErrBadOptions, alg)
	}
	return nil
}

// checkECDSAKey checks the configured ECDSA key: a P-256 key with its
// certificate, or neither.
func checkECDSAKey(cfg *Config) error {
	if cfg.ECDSAKey == nil && cfg.ECDSACertificate == nil {
		return nil
	}
	if cfg.ECDSAKey == nil || cfg.ECDSACertificate == nil {
		return errors.New("mpass: the ECDSA key needs its certificate and the certificate its key")
	}
	pub, ok := cfg.ECDSAKey.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return errors.New("mpass: the ECDSA key must be an ECDSA P-256 key (XML-DSig ecdsa-sha256)")
	}
	if cp, ok := cfg.ECDSACertificate.PublicKey.(*ecdsa.PublicKey); !ok || !cp.Equal(pub) {
		return errors.New("mpass: the ECDSA certificate is not the ECDSA key's")
	}
	return nil
}

// ecdsaSigner is idp signing with the ECDSA key instead, for a relying
// service registered for ecdsa-sha256 (idp itself when it is not).
func (s *Service) ecdsaSigner(o *SPOptions, idp *saml.IdentityProvider) (*saml.IdentityProvider, error) {
	if o.SignatureAlgorithm != SigECDSASHA256 {
		return idp, nil
	}
	if s.cfg.ECDSAKey == nil {
		return nil, ErrNoECDSAKey
	}
	c := *idp
	c.Signer, c.Certificate, c.Intermediates = s.cfg.ECDSAKey, s.cfg.ECDSACertificate, nil
	c.SignatureMethod = dsig.ECDSASHA256SignatureMethod
	return &c, nil
}

// signedMetadata is the identity provider's signed metadata: crewjam's,
// plus the ECDSA certificate as a second signing key when there is one.
// Signed with the RSA key (as without the ECDSA key), by goxmldsig.
func (s *Service) signedMetadata() (*etree.Element, error) {
	if s.cfg.ECDSAKey == nil {
		return s.idp.SignedMetadata()
	}
	ed := s.idp.Metadata()
	for i := range ed.IDPSSODescriptors {
		d := &ed.IDPSSODescriptors[i]
		d.KeyDescriptors = append(d.KeyDescriptors, saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{
			X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(s.cfg.ECDSACertificate.Raw)}}}}})
	}
	var id [20]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	ed.ID = "id-" + hex.EncodeToString(id[:])
	buf, err := xml.Marshal(ed)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(buf); err != nil {
		return nil, err
	}
	sc, err := signingContext(s.cfg.Key, s.cfg.Certificate, s.cfg.Chain) // response.go
	if err != nil {
		return nil, err
	}
	el := doc.Root()
	sig, err := sc.ConstructSignature(el, true)
	if err != nil {
		return nil, err
	}
	el.InsertChildAt(0, sig) // the metadata schema wants ds:Signature first
	return el, nil
}

// serveMetadata serves /meta/saml: crewjam's handler, or with the ECDSA
// key the metadata of signedMetadata.
func (s *Service) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ECDSAKey == nil {
		s.idp.ServeMetadata(w, r)
		return
	}
	b, err := s.Metadata()
	if err != nil {
		s.idp.OnError(w, r, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Write(b)
}
