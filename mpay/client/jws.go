package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/semnat/semnat/internal/osslrsa"
)

// Message kinds, named in each signature's protected "op" header so that a
// signed message of one kind cannot be replayed as another (an answer as a
// request, a GetOrderDetails as a confirmation).
const (
	OpOrderQuery  = "GetOrderDetails.request"
	OpOrderAnswer = "GetOrderDetails.response"
	OpConfirm     = "ConfirmOrderPayment.request"
	OpConfirmAck  = "ConfirmOrderPayment.response"
	OpClientCall  = "client.request"  // an SP's call of MPay's API
	OpRefundAck   = "refund.response" // MPay's confirmation of a refund
	headerOp      = "op"
	headerIat     = "iat"
	headerX5tS256 = "x5t#S256"
	maxClockSkew  = 5 * time.Minute
)

var algs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// Signer signs messages with a key and names its certificate.
type Signer struct {
	key  jose.OpaqueSigner
	raw  crypto.Signer // for the SOAP face's XML signatures
	cert *x509.Certificate
	now  func() time.Time
}

// NewSigner signs with key (RSA, ECDSA P-256/384/521 or Ed25519; a token's
// crypto.Signer does), whose certificate is cert.
func NewSigner(key crypto.Signer, cert *x509.Certificate) (*Signer, error) {
	if key == nil || cert == nil {
		return nil, errors.New("mpay client: a signer needs a key and its certificate")
	}
	// A software RSA key signs through libcrypto (the same bytes, four
	// times faster); other keys, and keys in tokens, sign as they are.
	key = osslrsa.Wrap(key)
	o, err := opaque(key)
	if err != nil {
		return nil, err
	}
	return &Signer{key: o, raw: key, cert: cert, now: time.Now}, nil
}

// Certificate is the signer's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Sign is the detached compact JWS (header..signature) of body as a
// message of kind op, with the unencoded payload of RFC 7797.
func (s *Signer) Sign(op string, body []byte) (string, error) {
	alg := s.key.Algs()[0]
	t := sha256.Sum256(s.cert.Raw)
	opts := (&jose.SignerOptions{}).WithBase64(false).
		WithHeader(headerOp, op).
		WithHeader(headerIat, s.now().Unix()).
		WithHeader(headerX5tS256, b64url(t[:]))
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: s.key}, opts)
	if err != nil {
		return "", fmt.Errorf("mpay client: signer: %w", err)
	}
	obj, err := js.Sign(body)
	if err != nil {
		return "", fmt.Errorf("mpay client: signing %s: %w", op, err)
	}
	return obj.DetachedCompactSerialize()
}

// Verified is what a good signature says.
type Verified struct {
	Op       string
	SignedAt time.Time
}

// Verify checks that sig is a detached JWS over the unencoded body, of
// kind op, by cert's key, made within five minutes of now
// (ErrBadSignature otherwise).
func Verify(sig string, body []byte, op string, cert *x509.Certificate, now time.Time) (*Verified, error) {
	if sig == "" {
		return nil, fmt.Errorf("%w: the message is not signed (no %s header)", ErrBadSignature, HeaderSignature)
	}
	if cert == nil {
		return nil, fmt.Errorf("%w: no certificate to check the signature against", ErrBadSignature)
	}
	obj, err := jose.ParseDetached(sig, body, algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature, got %d", ErrBadSignature, len(obj.Signatures))
	}
	h := obj.Signatures[0].Protected
	if b, ok := h.ExtraHeaders["b64"].(bool); !ok || b {
		return nil, fmt.Errorf("%w: the signature must be over the unencoded payload (\"b64\": false, RFC 7797)", ErrBadSignature)
	}
	if got, _ := h.ExtraHeaders[headerOp].(string); got != op {
		return nil, fmt.Errorf("%w: the signature is for a %q message, not %q", ErrBadSignature, got, op)
	}
	iat, ok := h.ExtraHeaders[headerIat].(float64)
	if !ok {
		return nil, fmt.Errorf("%w: no signing time (iat)", ErrBadSignature)
	}
	at := time.Unix(int64(iat), 0)
	if d := now.Sub(at); d > maxClockSkew || d < -maxClockSkew {
		return nil, fmt.Errorf("%w: signed at %s, more than %v from now", ErrBadSignature, at.UTC().Format(time.RFC3339), maxClockSkew)
	}
	if err := obj.DetachedVerify(body, cert.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: not signed by the key of %s: %v", ErrBadSignature, cert.Subject.CommonName, err)
	}
	return &Verified{Op: op, SignedAt: at}, nil
}

// opaqueKey makes a crypto.Signer (a software key or a token's) a
// go-jose OpaqueSigner.
type opaqueKey struct {
	s   crypto.Signer
	alg jose.SignatureAlgorithm
}

func opaque(s crypto.Signer) (jose.OpaqueSigner, error) {
	switch p := s.Public().(type) {
	case *rsa.PublicKey:
		return &opaqueKey{s, jose.RS256}, nil
	case *ecdsa.PublicKey:
		switch p.Curve.Params().BitSize {
		case 256:
			return &opaqueKey{s, jose.ES256}, nil
		case 384:
			return &opaqueKey{s, jose.ES384}, nil
		case 521:
			return &opaqueKey{s, jose.ES512}, nil
		}
	case ed25519.PublicKey:
		return &opaqueKey{s, jose.EdDSA}, nil
	}
	return nil, fmt.Errorf("mpay client: a %T key cannot sign a JWS here (use RSA, ECDSA or Ed25519)", s.Public())
}

func (o *opaqueKey) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.s.Public(), Algorithm: string(o.alg)}
}
func (o *opaqueKey) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{o.alg} }

func (o *opaqueKey) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != o.alg {
		return nil, fmt.Errorf("mpay client: the key signs %s, not %s", o.alg, alg)
	}
	var h crypto.Hash
	switch alg {
	case jose.EdDSA:
		return o.s.Sign(rand.Reader, payload, crypto.Hash(0))
	case jose.RS256, jose.ES256:
		h = crypto.SHA256
	case jose.ES384:
		h = crypto.SHA384
	case jose.ES512:
		h = crypto.SHA512
	}
	d := h.New()
	d.Write(payload)
	sig, err := o.s.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil || alg == jose.RS256 {
		return sig, err
	}
	// ECDSA: ASN.1 (r, s) to the fixed-width r || s of RFC 7518 §3.4.
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		return nil, fmt.Errorf("mpay client: the key's ECDSA signature: %w", err)
	}
	n := (o.s.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*n)
	rs.R.FillBytes(out[:n])
	rs.S.FillBytes(out[n:])
	return out, nil
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
