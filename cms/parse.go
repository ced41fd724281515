package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/semnat/semnat/internal/certparse"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Limits that keep a hostile signature from costing much.
const (
	maxCerts      = 64
	maxAttributes = 64
	maxInput      = 4 << 20
)

// Parsed is a parsed CMS ContentInfo holding a SignedData with exactly one
// SignerInfo (PAdES allows no other).
type Parsed struct {
	Raw []byte
	// EContentType is the encapsulated content type (id-data for PAdES
	// signatures, id-ct-TSTInfo for timestamp tokens); EContent is the
	// encapsulated content (nil when detached).
	EContentType asn1.ObjectIdentifier
	EContent     []byte
	Certificates []*x509.Certificate
	// CRLs are the raw revocation entries of the SignedData crls field.
	CRLs [][]byte
	// DigestAlgorithms lists the SignedData digestAlgorithms OIDs.
	DigestAlgorithms []asn1.ObjectIdentifier
	Signer           SignerInfo
}

// SignerInfo is the one signer of a Parsed SignedData.
type SignerInfo struct {
	Version int
	// Issuer (raw DER Name) and Serial identify the signer certificate, or
	// SubjectKeyID does.
	Issuer       []byte
	Serial       *big.Int
	SubjectKeyID []byte
	DigestOID    asn1.ObjectIdentifier
	// SignedAttrsDER is the signed attributes re-tagged as SET OF (what was
	// signed); nil when the SignerInfo has none.
	SignedAttrsDER []byte
	SignedAttrs    []Attribute
	SigAlgOID      asn1.ObjectIdentifier
	SigAlgParams   []byte // raw DER parameters, nil if absent
	Signature      []byte
	UnsignedAttrs  []Attribute
}

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// Parse parses a DER (or BER-padded: trailing zero bytes, as PDF /Contents
// placeholders leave them) ContentInfo holding a SignedData.
func Parse(der []byte) (*Parsed, error) {
	if len(der) > maxInput {
		return nil, malformed("larger than 4 MiB")
	}
	in := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, malformed("not a DER ContentInfo (only DER is accepted)")
	}
	raw := der[:len(der)-len(in)]
	if len(bytes.Trim(in, "\x00")) != 0 {
		return nil, malformed("data after the ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(OIDSignedData) {
		return nil, malformed("content type is not signedData")
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() {
		return nil, malformed("ContentInfo content")
	}
	if !content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("SignedData")
	}
	p := &Parsed{Raw: raw}
	var version int64
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) || version < 1 || version > 5 {
		return nil, malformed("SignedData version")
	}
	if !sd.ReadASN1(&digestAlgs, cbasn1.SET) {
		return nil, malformed("digestAlgorithms")
	}
	for !digestAlgs.Empty() {
		oid, _, err := readAlgorithm(&digestAlgs)
		if err != nil {
			return nil, err
		}
		p.DigestAlgorithms = append(p.DigestAlgorithms, oid)
	}
	if !sd.ReadASN1(&encap, cbasn1.SEQUENCE) || !encap.ReadASN1ObjectIdentifier(&p.EContentType) {
		return nil, malformed("encapContentInfo")
	}
	if !encap.Empty() {
		var ec, oct cryptobyte.String
		if !encap.ReadASN1(&ec, cbasn1.Tag(0).Constructed().ContextSpecific()) || !encap.Empty() {
			return nil, malformed("eContent")
		}
		if !ec.ReadASN1(&oct, cbasn1.OCTET_STRING) || !ec.Empty() {
			return nil, malformed("eContent is not a primitive OCTET STRING")
		}
		p.EContent = oct
	}
	var certs cryptobyte.String
	var has bool
	if !sd.ReadOptionalASN1(&certs, &has, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, malformed("certificates")
	}
	for has && !certs.Empty() {
		var c cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&c, &tag) {
			return nil, malformed("certificate entry")
		}
		if tag != cbasn1.SEQUENCE {
			continue // attribute certificates and other formats are not ours
		}
		if len(p.Certificates) >= maxCerts {
			return nil, malformed("too many certificates")
		}
		cert, err := ParseCertificate(c)
		if errors.Is(err, ErrNegativeSerial) {
			return nil, fmt.Errorf("%w: embedded certificate %d: %w", ErrMalformed, len(p.Certificates)+1, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: embedded certificate: %v", ErrMalformed, err)
		}
		p.Certificates = append(p.Certificates, cert)
	}
	var crls cryptobyte.String
	if !sd.ReadOptionalASN1(&crls, &has, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, malformed("crls")
	}
	for has && !crls.Empty() {
		var c cryptobyte.String
		var tag cbasn1.Tag
		if !crls.ReadAnyASN1Element(&c, &tag) {
			return nil, malformed("crl entry")
		}
		p.CRLs = append(p.CRLs, c)
	}
	var signers cryptobyte.String
	if !sd.ReadASN1(&signers, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("signerInfos")
	}
	var si cryptobyte.String
	if !signers.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, malformed("no SignerInfo")
	}
	if !signers.Empty() {
		return nil, malformed("more than one SignerInfo (PAdES allows exactly one)")
	}
	if err := parseSignerInfo(si, &p.Signer); err != nil {
		return nil, err
	}
	return p, nil
}

func readAlgorithm(s *cryptobyte.String) (asn1.ObjectIdentifier, []byte, error) {
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, malformed("AlgorithmIdentifier")
	}
	var params []byte
	if !alg.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !alg.ReadAnyASN1Element(&el, &tag) || !alg.Empty() {
			return nil, nil, malformed("AlgorithmIdentifier parameters")
		}
		if tag != cbasn1.NULL {
			params = el
		}
	}
	return oid, params, nil
}

func parseSignerInfo(si cryptobyte.String, out *SignerInfo) error {
	var v int64
	if !si.ReadASN1Integer(&v) || (v != 1 && v != 3) {
		return malformed("SignerInfo version")
	}
	out.Version = int(v)
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, name cryptobyte.String
		out.Serial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(out.Serial) || !ias.Empty() {
			return malformed("IssuerAndSerialNumber")
		}
		out.Issuer = name
	case si.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		if !si.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) {
			return malformed("SubjectKeyIdentifier")
		}
		out.SubjectKeyID = ski
	default:
		return malformed("SignerIdentifier")
	}
	var err error
	if out.DigestOID, _, err = readAlgorithm(&si); err != nil {
		return err
	}
	if si.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var full cryptobyte.String
		if !si.ReadASN1Element(&full, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return malformed("signedAttrs")
		}
		// Re-tag [0] IMPLICIT as SET OF for hashing (RFC 5652 §5.4).
		der := append([]byte(nil), full...)
		der[0] = 0x31
		out.SignedAttrsDER = der
		if out.SignedAttrs, err = parseAttributes(der); err != nil {
			return err
		}
	}
	if out.SigAlgOID, out.SigAlgParams, err = readAlgorithm(&si); err != nil {
		return err
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return malformed("signature value")
	}
	out.Signature = sig
	if si.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var full cryptobyte.String
		if !si.ReadASN1Element(&full, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return malformed("unsignedAttrs")
		}
		der := append([]byte(nil), full...)
		der[0] = 0x31
		if out.UnsignedAttrs, err = parseAttributes(der); err != nil {
			return err
		}
	}
	if !si.Empty() {
		return malformed("data after the SignerInfo")
	}
	return nil
}

func parseAttributes(set []byte) ([]Attribute, error) {
	in := cryptobyte.String(set)
	var attrs cryptobyte.String
	if !in.ReadASN1(&attrs, cbasn1.SET) || !in.Empty() {
		return nil, malformed("attributes")
	}
	var out []Attribute
	for !attrs.Empty() {
		if len(out) >= maxAttributes {
			return nil, malformed("too many attributes")
		}
		var a, vals cryptobyte.String
		var attr Attribute
		if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&attr.Type) ||
			!a.ReadASN1(&vals, cbasn1.SET) || !a.Empty() {
			return nil, malformed("attribute")
		}
		for !vals.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !vals.ReadAnyASN1Element(&v, &tag) {
				return nil, malformed("attribute value")
			}
			attr.Values = append(attr.Values, v)
		}
		out = append(out, attr)
	}
	return out, nil
}

// Attr returns the single value of the signed attribute typ, whether it is
// present, and an error if it occurs more than once or with several values
// (both forbidden by RFC 5652 for the attributes PAdES uses).
func (s *SignerInfo) Attr(typ asn1.ObjectIdentifier) ([]byte, bool, error) {
	return findAttr(s.SignedAttrs, typ)
}

// UnsignedAttr is Attr for the unsigned attributes.
func (s *SignerInfo) UnsignedAttr(typ asn1.ObjectIdentifier) ([]byte, bool, error) {
	return findAttr(s.UnsignedAttrs, typ)
}

// UnsignedValues returns every value of every unsigned attribute typ (there
// may be several signature timestamps).
func (s *SignerInfo) UnsignedValues(typ asn1.ObjectIdentifier) [][]byte {
	var out [][]byte
	for _, a := range s.UnsignedAttrs {
		if a.Type.Equal(typ) {
			out = append(out, a.Values...)
		}
	}
	return out
}

func findAttr(attrs []Attribute, typ asn1.ObjectIdentifier) ([]byte, bool, error) {
	var found []byte
	n := 0
	for _, a := range attrs {
		if a.Type.Equal(typ) {
			n++
			if len(a.Values) != 1 {
				return nil, true, malformed(fmt.Sprintf("attribute %v has %d values", typ, len(a.Values)))
			}
			found = a.Values[0]
		}
	}
	if n > 1 {
		return nil, true, malformed(fmt.Sprintf("attribute %v occurs %d times", typ, n))
	}
	return found, n == 1, nil
}

// MessageDigest returns the message-digest signed attribute.
func (s *SignerInfo) MessageDigest() ([]byte, error) {
	v, ok, err := s.Attr(OIDAttrMessageDigest)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed("no message-digest attribute")
	}
	var md []byte
	if rest, err := asn1.Unmarshal(v, &md); err != nil || len(rest) != 0 {
		return nil, malformed("message-digest value")
	}
	return md, nil
}

// Hash returns the digest algorithm of the SignerInfo.
func (s *SignerInfo) Hash() (crypto.Hash, error) { return HashFromOID(s.DigestOID) }

// FindSignerCertificate returns the certificate the SignerInfo names among
// candidates, or nil.
func (s *SignerInfo) FindSignerCertificate(candidates []*x509.Certificate) *x509.Certificate {
	for _, c := range candidates {
		if s.Serial != nil && c.SerialNumber.Cmp(s.Serial) == 0 && bytes.Equal(c.RawIssuer, s.Issuer) {
			return c
		}
		if s.SubjectKeyID != nil && bytes.Equal(c.SubjectKeyId, s.SubjectKeyID) {
			return c
		}
	}
	return nil
}

// Algorithm classifies the signatureAlgorithm of the SignerInfo and checks
// it against the digest algorithm. It returns the algorithm and the hash the
// signature is computed with.
func (s *SignerInfo) Algorithm() (SignatureAlgorithm, crypto.Hash, error) {
	h, err := s.Hash()
	if err != nil {
		return 0, 0, err
	}
	o := s.SigAlgOID
	switch {
	case o.Equal(OIDRSAEncryption):
		return RSAPKCS1v15, h, nil
	case o.Equal(OIDSHA1WithRSA), o.Equal(OIDSHA256WithRSA), o.Equal(OIDSHA384WithRSA), o.Equal(OIDSHA512WithRSA):
		return RSAPKCS1v15, h, nil
	case o.Equal(OIDRSASSAPSS):
		ph, err := pssHash(s.SigAlgParams)
		if err != nil {
			return 0, 0, err
		}
		return RSAPSS, ph, nil
	case o.Equal(OIDECPublicKey), o.Equal(OIDECDSAWithSHA1), o.Equal(OIDECDSAWithSHA256), o.Equal(OIDECDSAWithSHA384), o.Equal(OIDECDSAWithSHA512):
		return ECDSA, h, nil
	}
	return 0, 0, fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedKey, o)
}

// pssHash reads the hash of RSASSA-PSS-params (SHA-1 when absent, the
// RFC 4055 default).
func pssHash(params []byte) (crypto.Hash, error) {
	if params == nil {
		return crypto.SHA1, nil
	}
	in := cryptobyte.String(params)
	var seq, h cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return 0, malformed("RSASSA-PSS parameters")
	}
	var has bool
	if !seq.ReadOptionalASN1(&h, &has, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return 0, malformed("RSASSA-PSS hashAlgorithm")
	}
	if !has {
		return crypto.SHA1, nil
	}
	oid, _, err := readAlgorithm(&h)
	if err != nil {
		return 0, err
	}
	return HashFromOID(oid)
}

// VerifySignature checks the SignerInfo's signature over its signed
// attributes with cert's public key.
func (s *SignerInfo) VerifySignature(cert *x509.Certificate) error {
	if s.SignedAttrsDER == nil {
		return malformed("no signed attributes (PAdES requires them)")
	}
	alg, h, err := s.Algorithm()
	if err != nil {
		return err
	}
	if !h.Available() {
		return fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
	}
	d := h.New()
	d.Write(s.SignedAttrsDER)
	return VerifyDigest(cert.PublicKey, alg, h, d.Sum(nil), s.Signature)
}

// SigningCertificateV2Matches checks the ESS signing-certificate-v2 (or v1)
// attribute against cert: present is false when neither attribute exists.
func (s *SignerInfo) SigningCertificateV2Matches(cert *x509.Certificate) (present bool, err error) {
	if v, ok, err := s.Attr(OIDAttrSigningCertificateV2); err != nil {
		return true, err
	} else if ok {
		return true, matchESSCertID(v, cert, true)
	}
	if v, ok, err := s.Attr(OIDAttrSigningCertificate); err != nil {
		return true, err
	} else if ok {
		return true, matchESSCertID(v, cert, false)
	}
	return false, nil
}

func matchESSCertID(v []byte, cert *x509.Certificate, v2 bool) error {
	in := cryptobyte.String(v)
	var sc, certs, id cryptobyte.String
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return malformed("signing-certificate attribute")
	}
	h := crypto.SHA1
	if v2 {
		h = crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			oid, _, err := readAlgorithm(&id)
			if err != nil {
				return err
			}
			if h, err = HashFromOID(oid); err != nil {
				return err
			}
		}
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) {
		return malformed("ESSCertID certHash")
	}
	d := h.New()
	d.Write(cert.Raw)
	if !bytes.Equal(d.Sum(nil), certHash) {
		return fmt.Errorf("%w: the signing-certificate attribute names another certificate", ErrBadSignature)
	}
	if !id.Empty() {
		var is, gns, gn cryptobyte.String
		serial := new(big.Int)
		if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !is.ReadASN1(&gns, cbasn1.SEQUENCE) || !is.ReadASN1Integer(serial) {
			return malformed("ESSCertID issuerSerial")
		}
		if serial.Cmp(cert.SerialNumber) != 0 {
			return fmt.Errorf("%w: the signing-certificate attribute names another serial number", ErrBadSignature)
		}
		if gns.ReadASN1(&gn, cbasn1.Tag(4).Constructed().ContextSpecific()) && !bytes.Equal(gn, cert.RawIssuer) {
			return fmt.Errorf("%w: the signing-certificate attribute names another issuer", ErrBadSignature)
		}
	}
	return nil
}

// ErrNegativeSerial marks a certificate whose serial number is negative,
// which crypto/x509 parses only with GODEBUG x509negativeserial=1; its
// message names the setting. Parse's error then also wraps ErrMalformed.
var ErrNegativeSerial = certparse.ErrNegativeSerial

// ParseCertificate parses one DER certificate like x509.ParseCertificate,
// but a certificate refused for its negative serial number gives an error
// that wraps ErrNegativeSerial.
func ParseCertificate(der []byte) (*x509.Certificate, error) { return certparse.Certificate(der) }

// NegativeSerial reports whether der is a certificate whose serial number
// is a negative INTEGER (it does not otherwise check der).
func NegativeSerial(der []byte) bool { return certparse.NegativeSerial(der) }
