// Package ocsp implements the Online Certificate Status Protocol (RFC 6960)
// with nonces (RFC 8954) and the lightweight profile (RFC 5019): encoding and
// parsing of requests and responses, a responder (an http.Handler answering
// GET and POST) and a client that verifies what it receives.
//
// Unlike golang.org/x/crypto/ocsp, requests and responses may carry several
// certificates, request and response extensions (the nonce) are supported,
// and the responder ID may be by name or by key. Statuses come from the
// crl package (crl.Good, crl.Revoked, crl.Unknown), so that one revocation
// registry drives both the CRLs and the OCSP answers.
package ocsp

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/semnat/semnat/crl"
)

// Errors callers can test with errors.Is.
var (
	// ErrMalformed: the bytes are not a well-formed OCSP request or response.
	ErrMalformed = errors.New("ocsp: malformed message")
	// ErrUnsupportedHash: a CertID uses a hash this package does not know.
	ErrUnsupportedHash = errors.New("ocsp: unsupported CertID hash algorithm")
	// ErrResponseStatus: the responder answered with an error status (the
	// error is a *StatusError).
	ErrResponseStatus = errors.New("ocsp: responder returned an error status")
	// ErrBadSignature: the response signature does not verify.
	ErrBadSignature = errors.New("ocsp: response signature invalid")
	// ErrUnauthorizedResponder: the response is signed by someone who may not
	// answer for this CA (RFC 6960 §4.2.2.2).
	ErrUnauthorizedResponder = errors.New("ocsp: response signer is not authorized for this CA")
	// ErrNonceMismatch: the response nonce differs from the request's, or is
	// missing when it was required.
	ErrNonceMismatch = errors.New("ocsp: nonce mismatch")
	// ErrNoMatchingResponse: the response has no status for the certificate asked about.
	ErrNoMatchingResponse = errors.New("ocsp: response does not cover the certificate")
	// ErrStale: thisUpdate is in the future or nextUpdate has passed.
	ErrStale = errors.New("ocsp: response is not current")
	// ErrNoResponderURL: the certificate names no OCSP responder.
	ErrNoResponderURL = errors.New("ocsp: certificate has no OCSP responder URL")
	// ErrTransport: the HTTP exchange with the responder failed.
	ErrTransport = errors.New("ocsp: request to responder failed")
)

// ResponseStatus is the OCSPResponseStatus (RFC 6960 §4.2.1).
type ResponseStatus int

const (
	Successful       ResponseStatus = 0
	MalformedRequest ResponseStatus = 1
	InternalError    ResponseStatus = 2
	TryLater         ResponseStatus = 3
	SigRequired      ResponseStatus = 5
	Unauthorized     ResponseStatus = 6
)

func (s ResponseStatus) String() string {
	switch s {
	case Successful:
		return "successful"
	case MalformedRequest:
		return "malformedRequest"
	case InternalError:
		return "internalError"
	case TryLater:
		return "tryLater"
	case SigRequired:
		return "sigRequired"
	case Unauthorized:
		return "unauthorized"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// StatusError is the error for a response whose status is not successful.
type StatusError struct{ Status ResponseStatus }

func (e *StatusError) Error() string { return "ocsp: responder returned " + e.Status.String() }
func (e *StatusError) Unwrap() error { return ErrResponseStatus }

// CertID identifies a certificate by its issuer's name and key hashes and its
// serial number (RFC 6960 §4.1.1).
type CertID struct {
	HashAlgorithm  crypto.Hash
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// NewCertID computes the CertID of serial issued by issuer with hash h
// (crypto.SHA1 is what RFC 5019 responders expect; SHA-256/384/512 also work).
func NewCertID(h crypto.Hash, issuer *x509.Certificate, serial *big.Int) (CertID, error) {
	if oidFromHash(h) == nil || !h.Available() {
		return CertID{}, fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
	}
	if issuer == nil || serial == nil {
		return CertID{}, errors.New("ocsp: CertID needs an issuer and a serial number")
	}
	nh, kh, err := issuerHashes(h, issuer)
	if err != nil {
		return CertID{}, err
	}
	return CertID{HashAlgorithm: h, IssuerNameHash: nh, IssuerKeyHash: kh, SerialNumber: new(big.Int).Set(serial)}, nil
}

// subjectPublicKey returns the subjectPublicKey BIT STRING content of cert.
func subjectPublicKey(cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("ocsp: reading the issuer public key: %w", err)
	}
	return spki.PublicKey.RightAlign(), nil
}

func issuerHashes(h crypto.Hash, issuer *x509.Certificate) (nameHash, keyHash []byte, err error) {
	pk, err := subjectPublicKey(issuer)
	if err != nil {
		return nil, nil, err
	}
	hh := h.New()
	hh.Write(issuer.RawSubject)
	nameHash = hh.Sum(nil)
	hh.Reset()
	hh.Write(pk)
	return nameHash, hh.Sum(nil), nil
}

// keyHashSHA1 is the ResponderID byKey value of cert.
func keyHashSHA1(cert *x509.Certificate) ([]byte, error) {
	pk, err := subjectPublicKey(cert)
	if err != nil {
		return nil, err
	}
	s := sha1.Sum(pk)
	return s[:], nil
}

// Equal tells whether two CertIDs are the same (same hash algorithm, hashes and serial).
func (id CertID) Equal(o CertID) bool {
	return id.HashAlgorithm == o.HashAlgorithm && bytes.Equal(id.IssuerNameHash, o.IssuerNameHash) &&
		bytes.Equal(id.IssuerKeyHash, o.IssuerKeyHash) && id.SerialNumber != nil && o.SerialNumber != nil &&
		id.SerialNumber.Cmp(o.SerialNumber) == 0
}

// IssuedBy tells whether the CertID names issuer (name and key hashes).
func (id CertID) IssuedBy(issuer *x509.Certificate) bool {
	if oidFromHash(id.HashAlgorithm) == nil || !id.HashAlgorithm.Available() {
		return false
	}
	nh, kh, err := issuerHashes(id.HashAlgorithm, issuer)
	return err == nil && bytes.Equal(nh, id.IssuerNameHash) && bytes.Equal(kh, id.IssuerKeyHash)
}

func (id CertID) asn1() (certIDASN1, error) {
	oid := oidFromHash(id.HashAlgorithm)
	if oid == nil {
		return certIDASN1{}, fmt.Errorf("%w: %v", ErrUnsupportedHash, id.HashAlgorithm)
	}
	if id.SerialNumber == nil {
		return certIDASN1{}, errors.New("ocsp: CertID without serial number")
	}
	return certIDASN1{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{Tag: asn1.TagNull}},
		IssuerNameHash: id.IssuerNameHash, IssuerKeyHash: id.IssuerKeyHash, SerialNumber: id.SerialNumber,
	}, nil
}

func certIDFromASN1(c certIDASN1) (CertID, error) {
	h := hashFromOID(c.HashAlgorithm.Algorithm)
	if h == 0 {
		return CertID{}, fmt.Errorf("%w: %v", ErrUnsupportedHash, c.HashAlgorithm.Algorithm)
	}
	if c.SerialNumber == nil || len(c.IssuerNameHash) != h.Size() || len(c.IssuerKeyHash) != h.Size() {
		return CertID{}, fmt.Errorf("%w: CertID hashes do not match %v", ErrMalformed, h)
	}
	return CertID{HashAlgorithm: h, IssuerNameHash: c.IssuerNameHash, IssuerKeyHash: c.IssuerKeyHash, SerialNumber: c.SerialNumber}, nil
}

// Request is an OCSP request.
type Request struct {
	// CertIDs are the certificates asked about (at least one).
	CertIDs []CertID
	// Nonce, if set, is sent in the nonce extension (RFC 8954: 1 to 32 bytes).
	Nonce []byte
	// Extensions holds the raw request extensions when parsing (nonce included).
	Extensions []pkix.Extension
	// Signed reports that the parsed request carried an optionalSignature
	// (accepted, not verified: this responder does not require signed requests).
	Signed bool
}

// MaxNonceSize is the largest nonce RFC 8954 allows.
const MaxNonceSize = 32

// ParseRequest parses a DER OCSP request. Unknown hash algorithms in a
// CertID are not an error here: the responder answers them as unknown
// issuers; they come back as CertIDs with HashAlgorithm 0.
func ParseRequest(der []byte) (*Request, error) {
	var req ocspRequestASN1
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: trailing data after request", ErrMalformed)
	}
	if req.TBSRequest.Version != 0 {
		return nil, fmt.Errorf("%w: request version %d", ErrMalformed, req.TBSRequest.Version)
	}
	if len(req.TBSRequest.RequestList) == 0 {
		return nil, fmt.Errorf("%w: request lists no certificate", ErrMalformed)
	}
	out := &Request{Extensions: req.TBSRequest.Extensions, Signed: len(req.Signature.FullBytes) > 0}
	for _, r := range req.TBSRequest.RequestList {
		id, err := certIDFromASN1(r.Cert)
		if errors.Is(err, ErrUnsupportedHash) && r.Cert.SerialNumber != nil {
			id = CertID{IssuerNameHash: r.Cert.IssuerNameHash, IssuerKeyHash: r.Cert.IssuerKeyHash, SerialNumber: r.Cert.SerialNumber}
		} else if err != nil {
			return nil, err
		}
		out.CertIDs = append(out.CertIDs, id)
	}
	for _, ext := range req.TBSRequest.Extensions {
		if ext.Id.Equal(OIDNonce) {
			n, err := decodeNonce(ext.Value)
			if err != nil {
				return nil, err
			}
			out.Nonce = n
		}
	}
	return out, nil
}

// decodeNonce reads a nonce extension value: an OCTET STRING (RFC 8954); a
// bare value (old clients) is taken as is.
func decodeNonce(v []byte) ([]byte, error) {
	var n []byte
	if rest, err := asn1.Unmarshal(v, &n); err == nil && len(rest) == 0 {
		v = n
	}
	if len(v) < 1 || len(v) > MaxNonceSize {
		return nil, fmt.Errorf("%w: nonce of %d bytes (RFC 8954 allows 1 to %d)", ErrMalformed, len(v), MaxNonceSize)
	}
	return v, nil
}

func nonceExtension(n []byte) (pkix.Extension, error) {
	v, err := asn1.Marshal(n)
	return pkix.Extension{Id: OIDNonce, Value: v}, err
}

// Marshal encodes the request in DER (unsigned).
func (r *Request) Marshal() ([]byte, error) {
	if len(r.CertIDs) == 0 {
		return nil, errors.New("ocsp: request needs at least one CertID")
	}
	var tbs tbsRequestASN1
	for _, id := range r.CertIDs {
		c, err := id.asn1()
		if err != nil {
			return nil, err
		}
		tbs.RequestList = append(tbs.RequestList, requestASN1{Cert: c})
	}
	if r.Nonce != nil {
		if len(r.Nonce) < 1 || len(r.Nonce) > MaxNonceSize {
			return nil, fmt.Errorf("ocsp: nonce of %d bytes (RFC 8954 allows 1 to %d)", len(r.Nonce), MaxNonceSize)
		}
		ext, err := nonceExtension(r.Nonce)
		if err != nil {
			return nil, err
		}
		tbs.Extensions = []pkix.Extension{ext}
	}
	return asn1.Marshal(ocspRequestASN1{TBSRequest: tbs})
}

// SingleResponse is the status of one certificate in a response.
type SingleResponse struct {
	CertID     CertID
	Status     crl.Status
	ThisUpdate time.Time
	// NextUpdate is zero when the responder gave none.
	NextUpdate time.Time
	Extensions []pkix.Extension
}

// Response is a parsed OCSP response. For a non-successful status only
// Status and Raw are set.
type Response struct {
	Status ResponseStatus
	// ResponderName (byName, raw DER Name) or ResponderKeyHash (byKey, SHA-1
	// of the responder's public key) identifies the signer.
	ResponderName    []byte
	ResponderKeyHash []byte
	ProducedAt       time.Time
	Responses        []SingleResponse
	// Nonce from the response extensions, nil if absent.
	Nonce      []byte
	Extensions []pkix.Extension
	// Certificates sent with the response (the delegated responder's, usually).
	Certificates       []*x509.Certificate
	SignatureAlgorithm x509.SignatureAlgorithm
	Signature          []byte
	// TBSResponseData is the signed part, Raw the whole response.
	TBSResponseData []byte
	Raw             []byte
}

// ParseResponse parses a DER OCSP response without verifying it (see
// Response.Verify). A non-successful status is not an error here: check
// Response.Status.
func ParseResponse(der []byte) (*Response, error) {
	var outer responseASN1
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: trailing data after response", ErrMalformed)
	}
	r := &Response{Status: ResponseStatus(outer.Status), Raw: der}
	if r.Status != Successful {
		if len(outer.Response.Response) > 0 {
			return nil, fmt.Errorf("%w: %v response carries response bytes", ErrMalformed, r.Status)
		}
		return r, nil
	}
	if !outer.Response.ResponseType.Equal(oidBasicResponse) {
		return nil, fmt.Errorf("%w: response type %v is not id-pkix-ocsp-basic", ErrMalformed, outer.Response.ResponseType)
	}
	var basic basicResponseASN1
	if rest, err := asn1.Unmarshal(outer.Response.Response, &basic); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: BasicOCSPResponse: %v", ErrMalformed, errOrTrailing(err))
	}
	var data responseDataASN1
	if rest, err := asn1.Unmarshal(basic.TBSResponseData.FullBytes, &data); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: ResponseData: %v", ErrMalformed, errOrTrailing(err))
	}
	if data.Version != 0 {
		return nil, fmt.Errorf("%w: response version %d", ErrMalformed, data.Version)
	}
	r.TBSResponseData = basic.TBSResponseData.FullBytes
	r.SignatureAlgorithm = signatureAlgorithmOf(basic.SignatureAlgorithm)
	r.Signature = basic.Signature.RightAlign()
	r.ProducedAt = data.ProducedAt
	r.Extensions = data.Extensions

	rid := data.ResponderID
	switch {
	case rid.Class == asn1.ClassContextSpecific && rid.Tag == 1 && rid.IsCompound:
		var name asn1.RawValue
		if rest, err := asn1.Unmarshal(rid.Bytes, &name); err != nil || len(rest) > 0 || name.Tag != asn1.TagSequence {
			return nil, fmt.Errorf("%w: responderID byName", ErrMalformed)
		}
		r.ResponderName = name.FullBytes
	case rid.Class == asn1.ClassContextSpecific && rid.Tag == 2 && rid.IsCompound:
		var kh []byte
		if rest, err := asn1.Unmarshal(rid.Bytes, &kh); err != nil || len(rest) > 0 || len(kh) != sha1.Size {
			return nil, fmt.Errorf("%w: responderID byKey", ErrMalformed)
		}
		r.ResponderKeyHash = kh
	default:
		return nil, fmt.Errorf("%w: unknown responderID choice", ErrMalformed)
	}

	for _, ext := range data.Extensions {
		if ext.Id.Equal(OIDNonce) {
			n, err := decodeNonce(ext.Value)
			if err != nil {
				return nil, err
			}
			r.Nonce = n
		} else if ext.Critical {
			return nil, fmt.Errorf("%w: unknown critical response extension %v", ErrMalformed, ext.Id)
		}
	}
	for _, s := range data.Responses {
		id, err := certIDFromASN1(s.CertID)
		if err != nil {
			return nil, err
		}
		st, err := parseCertStatus(s.CertStatus)
		if err != nil {
			return nil, err
		}
		r.Responses = append(r.Responses, SingleResponse{CertID: id, Status: st, ThisUpdate: s.ThisUpdate, NextUpdate: s.NextUpdate, Extensions: s.Extensions})
	}
	if len(r.Responses) == 0 {
		return nil, fmt.Errorf("%w: response holds no certificate status", ErrMalformed)
	}
	for _, raw := range basic.Certificates {
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: responder certificate: %w", ErrMalformed, err)
		}
		r.Certificates = append(r.Certificates, c)
	}
	return r, nil
}

func errOrTrailing(err error) error {
	if err != nil {
		return err
	}
	return errors.New("trailing data")
}

func parseCertStatus(v asn1.RawValue) (crl.Status, error) {
	if v.Class != asn1.ClassContextSpecific {
		return crl.Status{}, fmt.Errorf("%w: certStatus", ErrMalformed)
	}
	switch v.Tag {
	case 0:
		if v.IsCompound || len(v.Bytes) != 0 {
			return crl.Status{}, fmt.Errorf("%w: certStatus good", ErrMalformed)
		}
		return crl.Status{State: crl.Good}, nil
	case 1:
		if !v.IsCompound {
			return crl.Status{}, fmt.Errorf("%w: certStatus revoked", ErrMalformed)
		}
		// Re-wrap the IMPLICIT [1] content as a SEQUENCE to decode it.
		seq, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: v.Bytes})
		if err != nil {
			return crl.Status{}, fmt.Errorf("%w: certStatus revoked: %w", ErrMalformed, err)
		}
		var ri revokedInfoASN1
		if rest, err := asn1.Unmarshal(seq, &ri); err != nil || len(rest) > 0 {
			return crl.Status{}, fmt.Errorf("%w: revokedInfo: %v", ErrMalformed, errOrTrailing(err))
		}
		if ri.Reason < 0 || ri.Reason > 10 || ri.Reason == 7 {
			return crl.Status{}, fmt.Errorf("%w: revocation reason %d", ErrMalformed, ri.Reason)
		}
		return crl.Status{State: crl.Revoked, RevokedAt: ri.RevocationTime, Reason: int(ri.Reason)}, nil
	case 2:
		if v.IsCompound || len(v.Bytes) != 0 {
			return crl.Status{}, fmt.Errorf("%w: certStatus unknown", ErrMalformed)
		}
		return crl.Status{State: crl.Unknown}, nil
	}
	return crl.Status{}, fmt.Errorf("%w: certStatus tag %d", ErrMalformed, v.Tag)
}

func marshalCertStatus(s crl.Status) (asn1.RawValue, error) {
	switch s.State {
	case crl.Good:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: []byte{}}, nil
	case crl.Unknown:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte{}}, nil
	case crl.Revoked:
		// RFC 5280 §5.3.1: reason unspecified (0) is better left out.
		var der []byte
		var err error
		if s.Reason == 0 {
			der, err = asn1.Marshal(struct {
				RevocationTime time.Time `asn1:"generalized"`
			}{s.RevokedAt.UTC()})
		} else {
			der, err = asn1.Marshal(revokedInfoASN1{RevocationTime: s.RevokedAt.UTC(), Reason: asn1.Enumerated(s.Reason)})
		}
		if err != nil {
			return asn1.RawValue{}, err
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			return asn1.RawValue{}, err
		}
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: seq.Bytes}, nil
	}
	return asn1.RawValue{}, fmt.Errorf("ocsp: unknown certificate state %v", s.State)
}

// ErrorResponse returns the DER of a response with a non-successful status.
func ErrorResponse(s ResponseStatus) []byte {
	// SEQUENCE { ENUMERATED s }: fixed bytes, nothing can fail.
	return []byte{0x30, 0x03, 0x0a, 0x01, byte(s)}
}

// Find returns the single response for id, if the response has one.
func (r *Response) Find(id CertID) (*SingleResponse, bool) {
	for i := range r.Responses {
		if r.Responses[i].CertID.Equal(id) {
			return &r.Responses[i], true
		}
	}
	return nil, false
}
