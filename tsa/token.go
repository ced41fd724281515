package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The server encodes TSTInfo and the token's CMS SignedData itself (RFC
// 3161, RFC 5652, RFC 5816) for ECDSA and RSA keys: what does not change
// between tokens (signer identifier, ESSCertIDv2 attribute, algorithm
// identifiers, certificate set) is encoded once in NewServer, and a token
// costs one TSTInfo encoding, two hashes and one signature. The generic
// path through github.com/digitorus/timestamp re-verifies the TSA's chain
// on every token, which cost more than the signature itself; it remains the
// path for other key types. Tokens from both paths are checked by the same
// verifier (digitorus/pkcs7) and by `openssl ts -verify` in the tests.

var (
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidRSASHA256     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidRSASHA384     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidRSASHA512     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
)

// tokenTemplate holds the pre-encoded constant parts of the tokens.
type tokenTemplate struct {
	digestAlg []byte // AlgorithmIdentifier of the CMS digest
	sigAlg    []byte // AlgorithmIdentifier of the signature
	sid       []byte // IssuerAndSerialNumber
	essAttr   []byte // signing-certificate-v2 Attribute
	certs     []byte // content of certificates [0] (TSA certificate and chain)
}

func algID(oid asn1.ObjectIdentifier, nullParams bool) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
	return b.Bytes()
}

// newTokenTemplate prepares the fast path; it returns nil (use the generic
// path) for keys other than ECDSA and RSA.
func newTokenTemplate(cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer, h crypto.Hash) (*tokenTemplate, error) {
	var sigOID asn1.ObjectIdentifier
	rsaKey := false
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		sigOID = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSASHA256, crypto.SHA384: oidECDSASHA384, crypto.SHA512: oidECDSASHA512}[h]
	case *rsa.PublicKey:
		sigOID, rsaKey = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidRSASHA256, crypto.SHA384: oidRSASHA384, crypto.SHA512: oidRSASHA512}[h], true
	default:
		return nil, nil
	}
	hOID, ok := hashOID(h)
	if !ok || sigOID == nil {
		return nil, nil
	}
	t := &tokenTemplate{}
	var err error
	if t.digestAlg, err = algID(hOID, false); err != nil {
		return nil, err
	}
	if t.sigAlg, err = algID(sigOID, rsaKey); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
	if t.sid, err = b.Bytes(); err != nil {
		return nil, err
	}
	// SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash
	// (SHA-256, the DEFAULT, so no hashAlgorithm), issuerSerial } }.
	sum := crypto.SHA256.New()
	sum.Write(cert.Raw)
	b = cryptobyte.Builder{}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSigningCertificateV2)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(sum.Sum(nil))
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer) // directoryName
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		})
	})
	if t.essAttr, err = b.Bytes(); err != nil {
		return nil, err
	}
	for _, c := range append([]*x509.Certificate{cert}, chain...) {
		t.certs = append(t.certs, c.Raw...)
	}
	return t, nil
}

// tstInfo encodes the TSTInfo of a token.
func (s *Server) tstInfo(req *timestamp.Request, serial *big.Int, gen time.Time) ([]byte, error) {
	hOID, ok := hashOID(req.HashAlgorithm)
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, req.HashAlgorithm)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(s.opts.Policy)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // MessageImprint
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hOID) })
			b.AddASN1OctetString(req.HashedMessage)
		})
		b.AddASN1BigInt(serial)
		b.AddASN1GeneralizedTime(gen)
		if acc := s.opts.Accuracy; acc > 0 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				if sec := int64(acc / time.Second); sec > 0 {
					b.AddASN1Int64(sec)
				}
				if ms := int64(acc % time.Second / time.Millisecond); ms > 0 {
					b.AddASN1Int64WithTag(ms, cbasn1.Tag(0).ContextSpecific())
				}
				if us := int64(acc % time.Millisecond / time.Microsecond); us > 0 {
					b.AddASN1Int64WithTag(us, cbasn1.Tag(1).ContextSpecific())
				}
			})
		}
		if req.Nonce != nil {
			b.AddASN1BigInt(req.Nonce)
		}
		if s.opts.Qualified {
			b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extension
					b.AddASN1ObjectIdentifier(oidQCStatements)
					b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidQTSTStatement1) })
						})
					})
				})
			})
		}
	})
	return b.Bytes()
}

func attribute(oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, value)
	})
	return b.Bytes()
}

// newSerial returns a fresh serial number: 159 random bits. Random serials
// need no state shared between restarts or between instances signing with
// one key; a collision among 2^32 tokens has odds below 2^-95.
func newSerial() (*big.Int, error) {
	var buf [20]byte
	for {
		if _, err := rand.Read(buf[:]); err != nil {
			return nil, fmt.Errorf("tsa: serial number: %w", err)
		}
		buf[0] &= 0x7f
		if n := new(big.Int).SetBytes(buf[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}

// createResponse signs a token for req and returns the granted DER
// TimeStampResp.
func (s *Server) createResponse(req *timestamp.Request, gen time.Time) ([]byte, error) {
	t := s.tmpl
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tst, err := s.tstInfo(req, serial, gen)
	if err != nil {
		return nil, err
	}
	h := s.hash.New()
	h.Write(tst)
	md := h.Sum(nil)
	attrs := make([][]byte, 0, 4)
	attrs = append(attrs, t.essAttr)
	for _, f := range []func() ([]byte, error){
		func() ([]byte, error) {
			return attribute(oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) })
		},
		func() ([]byte, error) {
			return attribute(oidSigningTime, func(b *cryptobyte.Builder) { b.AddASN1UTCTime(gen) })
		},
		func() ([]byte, error) {
			return attribute(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(md) })
		},
	} {
		a, err := f()
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 }) // DER SET OF order
	var sb cryptobyte.Builder
	sb.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	signedAttrs, err := sb.Bytes()
	if err != nil {
		return nil, err
	}
	h = s.hash.New()
	h.Write(signedAttrs)
	sig, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("tsa: signing the token: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // TimeStampResp
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(StatusGranted) })
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
			b.AddASN1ObjectIdentifier(oidSignedData)
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
					b.AddASN1Int64(3)
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(t.digestAlg) })
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
						b.AddASN1ObjectIdentifier(oidTSTInfo)
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(tst)
						})
					})
					if req.Certificates {
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(t.certs) })
					}
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
							b.AddASN1Int64(1)
							b.AddBytes(t.sid)
							b.AddBytes(t.digestAlg)
							b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddBytes(signedAttrs[2+lenLen(signedAttrs):])
							})
							b.AddBytes(t.sigAlg)
							b.AddASN1OctetString(sig)
						})
					})
				})
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the token: %w", err)
	}
	return out, nil
}

// lenLen is the number of extra length octets of a DER header (0 for short
// form) whose first length octet is der[1].
func lenLen(der []byte) int {
	if len(der) < 2 || der[1] < 0x80 {
		return 0
	}
	return int(der[1] & 0x7f)
}
