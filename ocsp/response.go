package ocsp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// ResponseTemplate describes a response to sign with CreateResponse.
type ResponseTemplate struct {
	ProducedAt time.Time
	Responses  []SingleResponse
	// Nonce, if set, is echoed in the response extensions.
	Nonce []byte
	// ByName identifies the responder by subject name instead of key hash.
	ByName bool
	// Certificates are sent with the response (the delegated responder
	// certificate, so that clients can check its authorization).
	Certificates []*x509.Certificate
}

// CreateResponse signs a successful BasicOCSPResponse with key, whose
// certificate is responderCert, and returns the DER OCSPResponse.
func CreateResponse(t ResponseTemplate, responderCert *x509.Certificate, key crypto.Signer) ([]byte, error) {
	if responderCert == nil || key == nil {
		return nil, errors.New("ocsp: CreateResponse needs the responder certificate and key")
	}
	rid, err := responderID(responderCert, t.ByName)
	if err != nil {
		return nil, err
	}
	algo, opts, err := signerParams(key.Public())
	if err != nil {
		return nil, err
	}
	return createResponse(t, rid, algo, opts, key)
}

func responderID(cert *x509.Certificate, byName bool) (asn1.RawValue, error) {
	if byName {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: cert.RawSubject}, nil
	}
	kh, err := keyHashSHA1(cert)
	if err != nil {
		return asn1.RawValue{}, err
	}
	khDER, err := asn1.Marshal(kh)
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: khDER}, nil
}

func createResponse(t ResponseTemplate, rid asn1.RawValue, algo pkix.AlgorithmIdentifier, opts crypto.SignerOpts, key crypto.Signer) ([]byte, error) {
	if len(t.Responses) == 0 {
		return nil, errors.New("ocsp: a response needs at least one certificate status")
	}
	data := responseDataASN1{ResponderID: rid, ProducedAt: t.ProducedAt.UTC().Truncate(time.Second)}
	for _, s := range t.Responses {
		id, err := s.CertID.asn1()
		if err != nil {
			return nil, err
		}
		st, err := marshalCertStatus(s.Status)
		if err != nil {
			return nil, err
		}
		sr := singleResponseASN1{CertID: id, CertStatus: st, ThisUpdate: s.ThisUpdate.UTC().Truncate(time.Second), Extensions: s.Extensions}
		if !s.NextUpdate.IsZero() {
			sr.NextUpdate = s.NextUpdate.UTC().Truncate(time.Second)
		}
		data.Responses = append(data.Responses, sr)
	}
	if t.Nonce != nil {
		ext, err := nonceExtension(t.Nonce)
		if err != nil {
			return nil, err
		}
		data.Extensions = []pkix.Extension{ext}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("ocsp: encoding response data: %w", err)
	}
	sig, err := signTBS(key, opts, tbs)
	if err != nil {
		return nil, fmt.Errorf("ocsp: signing response: %w", err)
	}
	basic := basicResponseASN1{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: algo,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	}
	for _, c := range t.Certificates {
		basic.Certificates = append(basic.Certificates, asn1.RawValue{FullBytes: c.Raw})
	}
	basicDER, err := asn1.Marshal(basic)
	if err != nil {
		return nil, fmt.Errorf("ocsp: encoding basic response: %w", err)
	}
	return asn1.Marshal(responseASN1{Status: asn1.Enumerated(Successful), Response: responseBytesASN1{ResponseType: oidBasicResponse, Response: basicDER}})
}

// VerifyOptions tune Response.Verify and Response.CertStatus.
type VerifyOptions struct {
	// Now is the validation time (default time.Now()).
	Now time.Time
	// Skew tolerates clock differences for thisUpdate/nextUpdate (default 5 min).
	Skew time.Duration
	// Nonce is the nonce sent in the request; when set, a response with a
	// different nonce is refused, and one without a nonce is refused if
	// RequireNonce is set.
	Nonce        []byte
	RequireNonce bool
	// TrustedResponders are responder certificates trusted for any CA
	// (RFC 6960 §4.2.2.2, "locally configured").
	TrustedResponders []*x509.Certificate
	// AllowStale accepts a response past its nextUpdate (validation at a past
	// time with archived responses).
	AllowStale bool
	// CheckIssued, if set, replaces child.CheckSignatureFrom(parent) when the
	// delegated responder's certificate is checked (a caller's cache).
	CheckIssued func(child, parent *x509.Certificate) error
}

func (o VerifyOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (r *Response) matchesResponder(c *x509.Certificate) bool {
	if r.ResponderName != nil {
		return bytes.Equal(c.RawSubject, r.ResponderName)
	}
	kh, err := keyHashSHA1(c)
	return err == nil && bytes.Equal(kh, r.ResponderKeyHash)
}

// Verify checks that the response is successful, that its signature is valid
// and that its signer may answer for issuer: the CA itself, a delegated
// responder certificate issued by the CA with the OCSPSigning extended key
// usage and valid now, or a locally trusted responder. It also checks the
// nonce (opts.Nonce). It returns the signer's certificate.
func (r *Response) Verify(issuer *x509.Certificate, opts VerifyOptions) (*x509.Certificate, error) {
	if r.Status != Successful {
		return nil, &StatusError{Status: r.Status}
	}
	if issuer == nil {
		return nil, errors.New("ocsp: Verify needs the issuer certificate")
	}
	if opts.Nonce != nil && r.Nonce != nil && !bytes.Equal(opts.Nonce, r.Nonce) {
		return nil, fmt.Errorf("%w: sent %x, got %x", ErrNonceMismatch, opts.Nonce, r.Nonce)
	}
	if opts.Nonce != nil && opts.RequireNonce && r.Nonce == nil {
		return nil, fmt.Errorf("%w: the response carries no nonce", ErrNonceMismatch)
	}
	now := opts.now()
	var lastErr error
	try := func(c *x509.Certificate, delegated bool) *x509.Certificate {
		if !r.matchesResponder(c) {
			return nil
		}
		if delegated {
			if err := authorizedDelegate(c, issuer, now, opts.CheckIssued); err != nil {
				lastErr = err
				return nil
			}
		}
		if err := c.CheckSignature(r.SignatureAlgorithm, r.TBSResponseData, r.Signature); err != nil {
			lastErr = fmt.Errorf("%w: %w", ErrBadSignature, err)
			return nil
		}
		return c
	}
	if c := try(issuer, false); c != nil {
		return c, nil
	}
	for _, c := range opts.TrustedResponders {
		if c := try(c, false); c != nil {
			return c, nil
		}
	}
	for _, c := range r.Certificates {
		if c := try(c, true); c != nil {
			return c, nil
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, fmt.Errorf("%w: no certificate matching the responder ID (neither the CA nor one sent with the response)", ErrUnauthorizedResponder)
}

func authorizedDelegate(c, issuer *x509.Certificate, now time.Time, checkIssued func(child, parent *x509.Certificate) error) error {
	if !bytes.Equal(c.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%w: responder %q was not issued by %q", ErrUnauthorizedResponder, c.Subject, issuer.Subject)
	}
	if checkIssued == nil {
		checkIssued = (*x509.Certificate).CheckSignatureFrom
	}
	if err := checkIssued(c, issuer); err != nil {
		if len(c.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, issuer.SubjectKeyId) {
			// Same issuer name, another key: typically two test PKIs
			// generated with the same base URL.
			return fmt.Errorf("%w: this responder answers for another PKI (its CA is also named %q but has key id %X, not %X): serve this PKI there, or generate it with another base URL",
				ErrUnauthorizedResponder, issuer.Subject.CommonName, c.AuthorityKeyId, issuer.SubjectKeyId)
		}
		return fmt.Errorf("%w: responder certificate %q: %w", ErrUnauthorizedResponder, c.Subject, err)
	}
	ok := false
	for _, eku := range c.ExtKeyUsage {
		if eku == x509.ExtKeyUsageOCSPSigning {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: responder %q lacks the OCSPSigning extended key usage", ErrUnauthorizedResponder, c.Subject)
	}
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("%w: responder certificate %q is not valid at %s", ErrUnauthorizedResponder, c.Subject, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// CertStatus verifies the response (Verify) and returns the status of cert,
// checking that thisUpdate is not in the future and nextUpdate not past.
func (r *Response) CertStatus(cert, issuer *x509.Certificate, opts VerifyOptions) (*SingleResponse, *x509.Certificate, error) {
	signer, err := r.Verify(issuer, opts)
	if err != nil {
		return nil, nil, err
	}
	var single *SingleResponse
	for i := range r.Responses {
		s := &r.Responses[i]
		if s.CertID.SerialNumber.Cmp(cert.SerialNumber) == 0 && s.CertID.IssuedBy(issuer) {
			single = s
			break
		}
	}
	if single == nil {
		return nil, signer, fmt.Errorf("%w: serial %x of %q", ErrNoMatchingResponse, cert.SerialNumber, issuer.Subject)
	}
	skew := opts.Skew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	now := opts.now()
	if single.ThisUpdate.After(now.Add(skew)) {
		return nil, signer, fmt.Errorf("%w: thisUpdate %s is in the future", ErrStale, single.ThisUpdate.Format(time.RFC3339))
	}
	if !opts.AllowStale && !single.NextUpdate.IsZero() && single.NextUpdate.Before(now.Add(-skew)) {
		return nil, signer, fmt.Errorf("%w: nextUpdate %s has passed", ErrStale, single.NextUpdate.Format(time.RFC3339))
	}
	return single, signer, nil
}
