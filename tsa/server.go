package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/semnat/semnat/cms"
)

// ServerOptions tune a Server.
type ServerOptions struct {
	// Policy is the TSA policy OID put in every token (default DefaultPolicy).
	// Requests asking for another policy are rejected (unacceptedPolicy).
	Policy asn1.ObjectIdentifier
	// Accuracy of the clock (default 1s; negative: leave the field out).
	Accuracy time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Hashes accepted in message imprints (default SHA-256, SHA-384,
	// SHA-512; SHA-1 is refused with badAlg).
	Hashes []crypto.Hash
	// MaxRequestBytes bounds a request (default 16 KiB).
	MaxRequestBytes int
	// Qualified marks tokens as qualified electronic time-stamps (ETSI EN
	// 319 422 §9.1: qcStatements extension with esi4-qtstStatement-1). Set
	// it only for a TSA that is qualified under the applicable law.
	Qualified bool
	// UseLibrary encodes every token with github.com/digitorus/timestamp
	// instead of the built-in encoder (which it otherwise does only for key
	// types other than ECDSA and RSA). The library re-verifies the TSA's
	// chain for each token, so this is several times slower.
	UseLibrary bool
}

// Server is an RFC 3161 time-stamp authority. It keeps no state (serial
// numbers are 160 random bits), so several instances can share one key.
// It is an http.Handler and safe for concurrent use.
type Server struct {
	cert  *x509.Certificate
	chain []*x509.Certificate
	key   crypto.Signer
	hash  crypto.Hash // digest for the CMS signature
	opts  ServerOptions
	tmpl  *tokenTemplate // nil: encode with digitorus/timestamp
}

// NewServer returns a TSA signing with key, whose certificate cert must be a
// time-stamping certificate (RFC 3161 §2.3); chain holds the intermediates
// sent with the tokens when the request asks for certificates.
func NewServer(cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer, opts ServerOptions) (*Server, error) {
	if cert == nil || key == nil {
		return nil, errors.New("tsa: NewServer needs the TSA certificate and key")
	}
	if err := checkTSACert(cert); err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("tsa: key does not match certificate %q", cert.Subject)
	}
	if opts.Policy == nil {
		opts.Policy = DefaultPolicy
	}
	if opts.Accuracy == 0 {
		opts.Accuracy = defaultAccuracy
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.Hashes) == 0 {
		opts.Hashes = defaultAcceptedHashes
	}
	for _, h := range opts.Hashes {
		if h == crypto.SHA1 {
			return nil, fmt.Errorf("%w: SHA-1 imprints cannot be accepted (ESSCertIDv2 uses the imprint hash)", ErrUnsupportedHash)
		}
		if _, ok := hashOID(h); !ok {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
		}
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = defaultMaxRequestBytes
	}
	h := crypto.SHA256
	if k, ok := key.Public().(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P384():
			h = crypto.SHA384
		case elliptic.P521():
			h = crypto.SHA512
		}
	}
	s := &Server{cert: cert, chain: chain, key: key, hash: h, opts: opts}
	if !opts.UseLibrary {
		tmpl, err := newTokenTemplate(cert, chain, key, h)
		if err != nil {
			return nil, fmt.Errorf("tsa: preparing the token encoder: %w", err)
		}
		s.tmpl = tmpl
	}
	return s, nil
}

// hashOID is the digest algorithm OID of h, if it is one a TSA uses.
func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	oid, err := cms.HashOID(h)
	return oid, err == nil
}

// hashOf is the hash an OID names, 0 if none we know.
func hashOf(oid asn1.ObjectIdentifier) crypto.Hash {
	h, _ := cms.HashFromOID(oid)
	return h
}

// Certificate returns the TSA certificate.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// Respond answers a DER TimeStampReq with a DER TimeStampResp. Refusals are
// rejection responses, not errors; the returned error, if any, says why
// the request was refused, for logging.
func (s *Server) Respond(_ context.Context, der []byte) ([]byte, error) {
	if len(der) > s.opts.MaxRequestBytes {
		return marshalRejection(FailBadRequest, "request too large"), fmt.Errorf("%w: request of %d bytes", ErrMalformed, len(der))
	}
	req, err := parseRequest(der)
	if err != nil {
		return marshalRejection(FailBadDataFormat, "malformed TimeStampReq"), err
	}
	ok := false
	for _, h := range s.opts.Hashes {
		ok = ok || h == req.HashAlgorithm
	}
	if !ok {
		return marshalRejection(FailBadAlg, "hash algorithm not accepted"), fmt.Errorf("%w: %v", ErrUnsupportedHash, req.HashAlgorithm)
	}
	if len(req.HashedMessage) != req.HashAlgorithm.Size() {
		return marshalRejection(FailBadDataFormat, "imprint length does not match its hash algorithm"), fmt.Errorf("%w: imprint of %d bytes", ErrMalformed, len(req.HashedMessage))
	}
	if req.TSAPolicyOID != nil && !req.TSAPolicyOID.Equal(s.opts.Policy) {
		return marshalRejection(FailUnacceptedPolicy, "policy "+req.TSAPolicyOID.String()+" not offered"), fmt.Errorf("%w: policy %v", ErrRejected, req.TSAPolicyOID)
	}
	if len(req.Extensions) > 0 {
		return marshalRejection(FailUnacceptedExtension, "no request extension is supported"), fmt.Errorf("%w: request extension %v", ErrRejected, req.Extensions[0].Id)
	}
	gen := s.opts.Now().UTC().Truncate(time.Second)
	if s.tmpl != nil {
		out, err := s.createResponse(req, gen)
		if err != nil {
			return marshalRejection(FailSystemFailure, "signing failed"), err
		}
		return out, nil
	}
	t := &timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              gen,
		Policy:            s.opts.Policy,
		Nonce:             req.Nonce,
		AddTSACertificate: req.Certificates,
		Qualified:         s.opts.Qualified,
	}
	if s.opts.Accuracy > 0 {
		t.Accuracy = s.opts.Accuracy
	}
	if req.Certificates {
		t.Certificates = s.chain
	}
	out, err := t.CreateResponseWithOpts(s.cert, s.key, s.hash)
	if err != nil {
		return marshalRejection(FailSystemFailure, "signing failed"), fmt.Errorf("tsa: signing the token: %w", err)
	}
	return out, nil
}

// parseRequest wraps timestamp.ParseRequest (errors become ErrMalformed and
// a panic in the library cannot escape).
func parseRequest(der []byte) (req *timestamp.Request, err error) {
	defer func() {
		if r := recover(); r != nil {
			req, err = nil, fmt.Errorf("%w: TimeStampReq: %v", ErrMalformed, r)
		}
	}()
	req, err = timestamp.ParseRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: TimeStampReq: %w", ErrMalformed, err)
	}
	if req.Nonce != nil && (req.Nonce.Sign() < 0 || req.Nonce.BitLen() > 1024) {
		return nil, fmt.Errorf("%w: nonce out of range", ErrMalformed)
	}
	return req, nil
}

// ServeHTTP answers POST with a DER TimeStampReq body (Content-Type
// application/timestamp-query) with application/timestamp-reply.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "time-stamp authority: POST an RFC 3161 TimeStampReq (application/timestamp-query)", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxRequestBytes)+1))
	if err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	out, _ := s.Respond(r.Context(), body)
	w.Header().Set("Content-Type", timeStampRespContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}
