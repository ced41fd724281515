package mobileid

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A minimal CMS (RFC 5652) SignedData: what an MSSP returns for the ETSI
// PKCS7 format, built around a SIM signature, and the parser the client uses
// to check it.

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
)

// ErrCMS is wrapped by every CMS parsing error.
var ErrCMS = errors.New("mobileid: malformed CMS SignedData")

func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, true
	case crypto.SHA384:
		return oidSHA384, true
	case crypto.SHA512:
		return oidSHA512, true
	}
	return nil, false
}

func hashFromOID(o asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case o.Equal(oidSHA256):
		return crypto.SHA256
	case o.Equal(oidSHA384):
		return crypto.SHA384
	case o.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

func addAlgID(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

// buildCMS builds a SignedData with signed attributes (contentType,
// signingTime, messageDigest = digest) and the signer certificate plus chain.
// content, when set, is encapsulated; otherwise the signature is detached.
// sign receives the digest of the DER signed attributes.
func buildCMS(cert *x509.Certificate, chain []*x509.Certificate, h crypto.Hash, digest, content []byte, now time.Time, sign func([]byte) ([]byte, error)) ([]byte, error) {
	hOID, ok := hashOID(h)
	if !ok {
		return nil, fmt.Errorf("mobileid: CMS: unsupported hash %v", h)
	}
	var sigOID asn1.ObjectIdentifier
	sigNull := false
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey:
		sigOID, sigNull = oidRSA, true
	case *ecdsa.PublicKey:
		sigOID = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSASHA256, crypto.SHA384: oidECDSASHA384, crypto.SHA512: oidECDSASHA512}[h]
	default:
		return nil, errors.New("mobileid: CMS: unsupported key")
	}
	// Signed attributes, DER-sorted.
	attr := func(oid asn1.ObjectIdentifier, val func(*cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, val)
		})
		return b.BytesOrPanic()
	}
	attrs := [][]byte{
		attr(oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) }),
		attr(oidSigningTime, func(b *cryptobyte.Builder) { b.AddASN1UTCTime(now.UTC().Truncate(time.Second)) }),
		attr(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) }),
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	var set cryptobyte.Builder
	set.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	setDER, err := set.Bytes()
	if err != nil {
		return nil, err
	}
	hh := h.New()
	hh.Write(setDER)
	sig, err := sign(hh.Sum(nil))
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { addAlgID(b, hOID, false) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidData)
					if content != nil {
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(content)
						})
					}
				})
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddBytes(cert.Raw)
					for _, c := range chain {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						addAlgID(b, hOID, false)
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							for _, a := range attrs {
								b.AddBytes(a)
							}
						})
						addAlgID(b, sigOID, sigNull)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
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
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrCMS, what) }
	in := cryptobyte.String(der)
	var ci, sd, oid cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, bad("ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(oidSignedData) {
		return nil, bad("not SignedData")
	}
	if !ci.ReadASN1(&sd, cbasn1.Tag(0).ContextSpecific().Constructed()) || !sd.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, bad("SignedData")
	}
	var version int64
	var digestAlgs, encap, certsRaw, signerInfos cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) {
		return nil, bad("SignedData header")
	}
	out := &signedCMS{}
	var econtentType asn1.ObjectIdentifier
	if !encap.ReadASN1ObjectIdentifier(&econtentType) {
		return nil, bad("encapContentInfo")
	}
	if encap.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var ec, oct cryptobyte.String
		if !encap.ReadASN1(&ec, cbasn1.Tag(0).ContextSpecific().Constructed()) || !ec.ReadASN1(&oct, cbasn1.OCTET_STRING) {
			return nil, bad("eContent")
		}
		out.content = append([]byte{}, oct...)
	}
	if sd.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		if !sd.ReadASN1(&certsRaw, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return nil, bad("certificates")
		}
		for !certsRaw.Empty() {
			var c cryptobyte.String
			if !certsRaw.ReadASN1Element(&c, cbasn1.SEQUENCE) {
				return nil, bad("certificate")
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate: %w", ErrCMS, err)
			}
			out.certs = append(out.certs, cert)
		}
	}
	if sd.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		var crls cryptobyte.String
		sd.ReadASN1(&crls, cbasn1.Tag(1).ContextSpecific().Constructed())
	}
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) {
		return nil, bad("signerInfos")
	}
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) || !signerInfos.Empty() {
		return nil, bad("want exactly one SignerInfo")
	}
	var sid, issuer, dAlg, attrs, sAlg cryptobyte.String
	serial := new(big.Int)
	var dOID asn1.ObjectIdentifier
	if !si.ReadASN1Integer(&version) || !si.ReadASN1(&sid, cbasn1.SEQUENCE) ||
		!sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1Integer(serial) ||
		!si.ReadASN1(&dAlg, cbasn1.SEQUENCE) || !dAlg.ReadASN1ObjectIdentifier(&dOID) {
		return nil, bad("SignerInfo")
	}
	if out.hash = hashFromOID(dOID); out.hash == 0 {
		return nil, bad("digest algorithm " + dOID.String())
	}
	var attrsFull cryptobyte.String
	if !si.ReadASN1Element(&attrsFull, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, bad("signed attributes missing")
	}
	// Signed over as a universal SET OF: swap the implicit [0] tag.
	out.signedAttrs = append([]byte{0x31}, attrsFull[1:]...)
	if !attrsFull.ReadASN1(&attrs, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, bad("signed attributes")
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sAlg, cbasn1.SEQUENCE) || !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, bad("signature")
	}
	out.signature = append([]byte{}, sig...)
	for !attrs.Empty() {
		var a, vals cryptobyte.String
		if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&ctype) || !a.ReadASN1(&vals, cbasn1.SET) {
			return nil, bad("attribute")
		}
		if ctype.Equal(oidMessageDigest) {
			var md cryptobyte.String
			if out.messageDigest != nil || !vals.ReadASN1(&md, cbasn1.OCTET_STRING) || !vals.Empty() {
				return nil, bad("messageDigest")
			}
			out.messageDigest = append([]byte{}, md...)
		}
	}
	if out.messageDigest == nil {
		return nil, bad("no messageDigest attribute")
	}
	for _, c := range out.certs {
		if bytes.Equal(c.RawIssuer, issuer) && c.SerialNumber.Cmp(serial) == 0 {
			out.signer = c
			break
		}
	}
	if out.signer == nil {
		return nil, bad("signer certificate not included")
	}
	_ = oid
	return out, nil
}
