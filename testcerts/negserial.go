package testcerts

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// WithNegativeSerial returns cert re-issued with the sign bit of its serial
// number set (a negative serial, as CAs issued before RFC 5280 was
// enforced), signed again by issuer (the key that signed cert) with the
// same algorithm. crypto/x509 refuses to create such certificates, and
// parses them only with GODEBUG x509negativeserial=1.
func WithNegativeSerial(cert *x509.Certificate, issuer crypto.Signer) ([]byte, error) {
	in := cryptobyte.String(cert.Raw)
	var outer, tbs cryptobyte.String
	var alg cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1Element(&tbs, cbasn1.SEQUENCE) || !outer.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return nil, errors.New("testcerts: malformed certificate")
	}
	newTBS := bytes.Clone(tbs) // tbs aliases cert.Raw
	body := cryptobyte.String(tbs)
	var inner cryptobyte.String
	if !body.ReadASN1(&inner, cbasn1.SEQUENCE) {
		return nil, errors.New("testcerts: malformed TBSCertificate")
	}
	hdr := len(tbs) - len(inner)
	rest := inner
	if !rest.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("testcerts: malformed version")
	}
	var serial cryptobyte.String
	var serialTag cbasn1.Tag
	before := len(rest)
	if !rest.ReadAnyASN1Element(&serial, &serialTag) || serialTag != cbasn1.INTEGER {
		return nil, errors.New("testcerts: no serial number")
	}
	// Offset of the serial's first content byte (tag and short length).
	at := hdr + (len(inner) - before) + 2
	// The first byte becomes 0x80, not just sign-bit set: a serial that
	// began 0x7F and then a byte of 0x80 or more would become 0xFF and
	// that byte, a longer encoding than its value needs, which crypto/x509
	// refuses as malformed whatever GODEBUG says (1 serial in 256: a test
	// failed at random).
	newTBS[at] = 0x80
	var h crypto.Hash
	var opts crypto.SignerOpts
	switch cert.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.ECDSAWithSHA256:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512:
		h = crypto.SHA512
	case x509.SHA256WithRSAPSS:
		h, opts = crypto.SHA256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	default:
		return nil, fmt.Errorf("testcerts: signature algorithm %v not supported", cert.SignatureAlgorithm)
	}
	if opts == nil {
		opts = h
	}
	d := h.New()
	d.Write(newTBS)
	sig, err := issuer.Sign(rand.Reader, d.Sum(nil), opts)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(newTBS)
		b.AddBytes(alg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}
