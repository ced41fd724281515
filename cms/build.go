// Package cms builds and parses the CMS SignedData structures (RFC 5652)
// that PAdES signatures carry: detached CAdES baseline signatures with the
// signed attributes EN 319 122-1 asks for (content-type, message-digest,
// ESS signing-certificate-v2 and no signing-time), and RFC 3161 timestamp
// tokens as unsigned attributes.
//
// Signing is split in two so that the private-key operation can happen
// elsewhere (a token, a phone, a browser): Prepare computes the signed
// attributes and the digest to sign; Pending.Complete takes the signature
// value and returns a SignedData ready to be marshalled.
package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers used in PAdES CMS structures.
var (
	OIDData                     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDTSTInfo                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	OIDAttrContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	OIDAttrSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	OIDAttrTimeStampToken       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	OIDAttrAdobeRevocation      = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}
	OIDAttrCMSAlgProtection     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 52}

	OIDSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	OIDSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	OIDSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	OIDRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	OIDSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	OIDSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	OIDSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	OIDRSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	OIDMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	OIDECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	OIDECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	OIDECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	OIDECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	OIDECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	OIDEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// Errors callers test with errors.Is.
var (
	ErrUnsupportedKey  = errors.New("cms: unsupported key type")
	ErrUnsupportedHash = errors.New("cms: unsupported digest algorithm")
	ErrBadSignature    = errors.New("cms: signature value does not verify with the signer certificate")
	ErrMalformed       = errors.New("cms: malformed structure")
)

// HashOID returns the digest algorithm OID of h.
func HashOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return OIDSHA256, nil
	case crypto.SHA384:
		return OIDSHA384, nil
	case crypto.SHA512:
		return OIDSHA512, nil
	case crypto.SHA1:
		return OIDSHA1, nil
	}
	return nil, fmt.Errorf("%w: %v (use SHA-256, SHA-384 or SHA-512)", ErrUnsupportedHash, h)
}

// HashFromOID maps a digest algorithm OID to a crypto.Hash.
func HashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(OIDSHA256):
		return crypto.SHA256, nil
	case oid.Equal(OIDSHA384):
		return crypto.SHA384, nil
	case oid.Equal(OIDSHA512):
		return crypto.SHA512, nil
	case oid.Equal(OIDSHA1):
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("%w: %v", ErrUnsupportedHash, oid)
}

// Attribute is a CMS attribute with one or more DER-encoded values.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte // each a complete DER encoding
}

func (a Attribute) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(a.Type)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, v := range sortedDER(a.Values) {
				b.AddBytes(v)
			}
		})
	})
	return b.Bytes()
}

// sortedDER orders encodings as DER requires for SET OF (X.690 §11.6).
func sortedDER(vals [][]byte) [][]byte {
	out := append([][]byte(nil), vals...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

// marshalAttributes returns the DER "SET OF Attribute" (tag 0x31), the form
// that is hashed and signed (RFC 5652 §5.4).
func marshalAttributes(attrs []Attribute) ([]byte, error) {
	enc := make([][]byte, 0, len(attrs))
	for _, a := range attrs {
		d, err := a.marshal()
		if err != nil {
			return nil, err
		}
		enc = append(enc, d)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, e := range sortedDER(enc) {
			b.AddBytes(e)
		}
	})
	return b.Bytes()
}

// SignatureAlgorithm says how the signer key signs.
type SignatureAlgorithm int

const (
	RSAPKCS1v15 SignatureAlgorithm = iota + 1
	RSAPSS
	ECDSA
)

func (s SignatureAlgorithm) String() string {
	switch s {
	case RSAPKCS1v15:
		return "RSA PKCS#1 v1.5"
	case RSAPSS:
		return "RSA-PSS"
	case ECDSA:
		return "ECDSA"
	}
	return "unknown"
}

// AlgorithmFor picks the signature algorithm for a public key; pss selects
// RSA-PSS for RSA keys.
func AlgorithmFor(pub crypto.PublicKey, pss bool) (SignatureAlgorithm, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		if pss {
			return RSAPSS, nil
		}
		return RSAPKCS1v15, nil
	case *ecdsa.PublicKey:
		return ECDSA, nil
	case ed25519.PublicKey:
		return 0, fmt.Errorf("%w: Ed25519 is not allowed in PAdES baseline signatures", ErrUnsupportedKey)
	}
	return 0, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// SignerOpts returns the crypto.SignerOpts to pass to crypto.Signer.Sign.
func (s SignatureAlgorithm) SignerOpts(h crypto.Hash) crypto.SignerOpts {
	if s == RSAPSS {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return h
}

// algorithmIdentifier writes the signatureAlgorithm of a SignerInfo.
func (s SignatureAlgorithm) algorithmIdentifier(b *cryptobyte.Builder, h crypto.Hash) {
	switch s {
	case RSAPKCS1v15:
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(OIDRSAEncryption)
			b.AddASN1NULL()
		})
	case RSAPSS:
		hoid, _ := HashOID(h)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(OIDRSASSAPSS)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					digestAlgorithm(b, hoid)
				})
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(OIDMGF1)
						digestAlgorithm(b, hoid)
					})
				})
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(h.Size()))
				})
			})
		})
	case ECDSA:
		var oid asn1.ObjectIdentifier
		switch h {
		case crypto.SHA384:
			oid = OIDECDSAWithSHA384
		case crypto.SHA512:
			oid = OIDECDSAWithSHA512
		default:
			oid = OIDECDSAWithSHA256
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	default:
		b.SetError(fmt.Errorf("%w: algorithm %d", ErrUnsupportedKey, s))
	}
}

func digestAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
}

// Params describe the signature to prepare.
type Params struct {
	// ContentDigest is the digest of the signed content (the PDF ByteRange).
	ContentDigest []byte
	// Hash is the digest algorithm (SHA-256 when zero).
	Hash crypto.Hash
	// Certificate is the signer's certificate.
	Certificate *x509.Certificate
	// Chain holds the intermediates to embed (root excluded).
	Chain []*x509.Certificate
	// PSS selects RSA-PSS for RSA keys.
	PSS bool
	// ExtraSigned are further signed attributes (e.g. commitment type).
	ExtraSigned []Attribute
	// SigningTime adds the signing-time attribute. PAdES baseline forbids
	// it (the time goes in /M); other CMS users (an MSSP's PKCS7 answer)
	// carry it.
	SigningTime time.Time
	// Content, when set, is encapsulated (eContent); otherwise the
	// signature is detached, as PAdES requires.
	Content []byte
}

// Pending is a prepared signature waiting for its signature value. It holds
// no secret and can be serialised (e.g. as JSON) between the two phases.
type Pending struct {
	Hash        crypto.Hash
	Algorithm   SignatureAlgorithm
	SignedAttrs []byte   // DER SET OF Attribute: what is signed
	Certs       [][]byte // DER certificates, signer first
	Content     []byte   `json:",omitempty"` // encapsulated content, nil when detached
}

// Prepare builds the signed attributes for p and returns the pending
// signature. The bytes to sign are Pending.SignedAttrs; the digest to sign
// is Pending.Digest().
func Prepare(p Params) (*Pending, error) {
	if p.Certificate == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	h := p.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	if h == crypto.SHA1 {
		return nil, fmt.Errorf("%w: SHA-1 is not allowed for new signatures", ErrUnsupportedHash)
	}
	hoid, err := HashOID(h)
	if err != nil {
		return nil, err
	}
	if len(p.ContentDigest) != h.Size() {
		return nil, fmt.Errorf("cms: content digest is %d bytes, %v needs %d", len(p.ContentDigest), h, h.Size())
	}
	alg, err := AlgorithmFor(p.Certificate.PublicKey, p.PSS)
	if err != nil {
		return nil, err
	}
	ct, _ := asn1.Marshal(OIDData)
	md, _ := asn1.Marshal(p.ContentDigest)
	scv2, err := signingCertificateV2(p.Certificate, h, hoid)
	if err != nil {
		return nil, err
	}
	attrs := []Attribute{
		{Type: OIDAttrContentType, Values: [][]byte{ct}},
		{Type: OIDAttrMessageDigest, Values: [][]byte{md}},
		{Type: OIDAttrSigningCertificateV2, Values: [][]byte{scv2}},
	}
	if !p.SigningTime.IsZero() {
		st, err := asn1.Marshal(p.SigningTime.UTC().Truncate(time.Second))
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, Attribute{Type: OIDAttrSigningTime, Values: [][]byte{st}})
	}
	for _, a := range p.ExtraSigned {
		if a.Type.Equal(OIDAttrSigningTime) {
			return nil, errors.New("cms: signing-time is forbidden in PAdES baseline signatures (the time goes in /M)")
		}
		attrs = append(attrs, a)
	}
	sa, err := marshalAttributes(attrs)
	if err != nil {
		return nil, err
	}
	certs := [][]byte{p.Certificate.Raw}
	for _, c := range p.Chain {
		if c != nil && !c.Equal(p.Certificate) {
			certs = append(certs, c.Raw)
		}
	}
	return &Pending{Hash: h, Algorithm: alg, SignedAttrs: sa, Certs: certs, Content: p.Content}, nil
}

// signingCertificateV2 encodes the ESS signing-certificate-v2 value
// (RFC 5035) for cert: its hash, and issuer + serial.
func signingCertificateV2(cert *x509.Certificate, h crypto.Hash, hoid asn1.ObjectIdentifier) ([]byte, error) {
	hh := h.New()
	hh.Write(cert.Raw)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
				if h != crypto.SHA256 { // DEFAULT id-sha256 is omitted in DER
					digestAlgorithm(b, hoid)
				}
				b.AddASN1OctetString(hh.Sum(nil))
				issuerSerial(b, cert)
			})
		})
	})
	return b.Bytes()
}

func issuerSerial(b *cryptobyte.Builder, cert *x509.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
			b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // directoryName
				b.AddBytes(cert.RawIssuer)
			})
		})
		b.AddASN1BigInt(cert.SerialNumber)
	})
}

// Digest returns the digest of the signed attributes: what the private key
// signs (for CKM_RSA_PKCS it must still be wrapped in a DigestInfo).
func (p *Pending) Digest() []byte {
	h := p.Hash.New()
	h.Write(p.SignedAttrs)
	return h.Sum(nil)
}

// SignerOpts returns the options to pass to crypto.Signer.Sign with Digest.
func (p *Pending) SignerOpts() crypto.SignerOpts { return p.Algorithm.SignerOpts(p.Hash) }

// Certificate parses the signer certificate.
func (p *Pending) Certificate() (*x509.Certificate, error) {
	if len(p.Certs) == 0 {
		return nil, errors.New("cms: pending signature has no certificate")
	}
	return x509.ParseCertificate(p.Certs[0])
}

// Complete takes the signature value over Digest() and returns the
// SignedData. ECDSA values may be DER or raw r||s (as PKCS#11 and Mobile-ID
// return them). The value is verified against the signer certificate:
// a wrong value is ErrBadSignature, never a broken file.
func (p *Pending) Complete(sig []byte) (*SignedData, error) {
	cert, err := p.Certificate()
	if err != nil {
		return nil, err
	}
	if p.Algorithm == ECDSA {
		if sig, err = NormalizeECDSA(cert.PublicKey, sig); err != nil {
			return nil, err
		}
	}
	if err := VerifyDigest(cert.PublicKey, p.Algorithm, p.Hash, p.Digest(), sig); err != nil {
		return nil, err
	}
	return &SignedData{pending: *p, Signature: sig}, nil
}

// CompleteUnverified is Complete without the check of the signature value:
// for simulators that must produce a signature that does not verify (an
// MSSP's "invalid signature" test user). Signers use Complete.
func (p *Pending) CompleteUnverified(sig []byte) (*SignedData, error) {
	if p.Algorithm == ECDSA {
		cert, err := p.Certificate()
		if err != nil {
			return nil, err
		}
		if sig, err = NormalizeECDSA(cert.PublicKey, sig); err != nil {
			return nil, err
		}
	}
	return &SignedData{pending: *p, Signature: sig}, nil
}

// Sign runs both phases with a local crypto.Signer.
func Sign(rand io.Reader, signer crypto.Signer, p Params) (*SignedData, error) {
	pend, err := Prepare(p)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand, pend.Digest(), pend.SignerOpts())
	if err != nil {
		return nil, fmt.Errorf("cms: signing: %w", err)
	}
	return pend.Complete(sig)
}

// VerifyDigest checks a signature value over a digest.
func VerifyDigest(pub crypto.PublicKey, alg SignatureAlgorithm, h crypto.Hash, digest, sig []byte) error {
	var ok bool
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case RSAPKCS1v15:
			ok = rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case RSAPSS:
			ok = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h}) == nil
		}
	case *ecdsa.PublicKey:
		ok = alg == ECDSA && ecdsa.VerifyASN1(k, digest, sig)
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// NormalizeECDSA returns an ECDSA signature in DER form, converting a raw
// r||s value (fixed-width halves of the curve's byte size) when needed.
func NormalizeECDSA(pub crypto.PublicKey, sig []byte) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: ECDSA value for a %T key", ErrUnsupportedKey, pub)
	}
	size := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) == 2*size {
		// Could still be DER by coincidence: DER starts with 0x30 and parses fully.
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(sig, &rs); err == nil && len(rest) == 0 && sig[0] == 0x30 {
			return sig, nil
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return asn1.Marshal(struct{ R, S *big.Int }{r, s})
	}
	return sig, nil
}

// SignedData is a complete detached signature; unsigned attributes (the
// signature timestamp) may still be added before Marshal.
type SignedData struct {
	pending   Pending
	Signature []byte
	Unsigned  []Attribute
	// CRLs and OCSP data are not embedded here: PAdES baseline keeps them in
	// the /DSS.
}

// Hash returns the digest algorithm of the signature.
func (s *SignedData) Hash() crypto.Hash { return s.pending.Hash }

// AddTimestamp adds an RFC 3161 timestamp token (a DER ContentInfo) as the
// signature-time-stamp unsigned attribute. Its imprint must be the hash of
// Signature.
func (s *SignedData) AddTimestamp(token []byte) {
	s.Unsigned = append(s.Unsigned, Attribute{Type: OIDAttrTimeStampToken, Values: [][]byte{token}})
}

// Marshal encodes the ContentInfo holding the SignedData.
func (s *SignedData) Marshal() ([]byte, error) {
	p := &s.pending
	cert, err := p.Certificate()
	if err != nil {
		return nil, err
	}
	hoid, err := HashOID(p.Hash)
	if err != nil {
		return nil, err
	}
	// The signed attributes are kept as the exact signed bytes; in the
	// SignerInfo the SET tag is replaced by [0] IMPLICIT.
	var saContent cryptobyte.String
	in := cryptobyte.String(p.SignedAttrs)
	if !in.ReadASN1(&saContent, cbasn1.SET) {
		return nil, fmt.Errorf("%w: signed attributes", ErrMalformed)
	}
	var unsigned []byte
	if len(s.Unsigned) > 0 {
		if unsigned, err = marshalAttributes(s.Unsigned); err != nil {
			return nil, err
		}
		var c cryptobyte.String
		in := cryptobyte.String(unsigned)
		in.ReadASN1(&c, cbasn1.SET)
		unsigned = c
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { digestAlgorithm(b, hoid) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(OIDData)
					if p.Content != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(p.Content)
						})
					}
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, c := range p.Certs {
						b.AddBytes(c)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						digestAlgorithm(b, hoid)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(saContent)
						})
						p.Algorithm.algorithmIdentifier(b, p.Hash)
						b.AddASN1OctetString(s.Signature)
						if unsigned != nil {
							b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(unsigned)
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}
