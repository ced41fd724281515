package client

// WS-Security X.509 message signatures (OASIS WSS 1.0, X.509 token profile)
// for the SOAP face: the sender signs the SOAP Body and the wsu:Timestamp of
// its wsse:Security header with one XML-DSig signature (RSA-SHA256,
// SHA-256 digests, exclusive C14N), its certificate travelling as a
// BinarySecurityToken; the receiver checks that signature against the
// certificate it holds for the sender (the registered one), the
// Timestamp's Created/Expires, and that the Body it signed is the Body it
// will process (no signature wrapping). Canonicalisation and the RSA
// signature are goxmldsig's (the library MPass's SAML uses); this file
// only assembles and checks the WS-Security structure around them.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Namespaces and algorithms of the SOAP face.
const (
	NSSoap    = "http://schemas.xmlsoap.org/soap/envelope/"
	NSWSSE    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSDSig    = dsig.Namespace
	NSExcC14N = string(dsig.CanonicalXML10ExclusiveAlgorithmId)

	valueX509    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	encodingB64  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
	algRSASHA256 = dsig.RSASHA256SignatureMethod
	algSHA256    = "http://www.w3.org/2001/04/xmlenc#sha256"

	// TimestampTTL is how long a signed SOAP message is valid (the
	// Timestamp's Expires - Created), and TimestampSkew the clock
	// difference tolerated between the two sides.
	TimestampTTL  = 5 * time.Minute
	TimestampSkew = 1 * time.Minute
	// maxTimestampTTL bounds the validity a sender may claim.
	maxTimestampTTL = time.Hour
	// maxDepth bounds the nesting of a SOAP message.
	maxDepth = 64
)

// ErrSOAPMessage: a SOAP message that is not XML we take (a DTD, an
// entity, another envelope, too deep), before any signature is looked at.
var ErrSOAPMessage = errors.New("mpay client: malformed SOAP message")

// SignEnvelope wraps content (one XML element: the operation's request or
// answer, or a soap:Fault) in a SOAP 1.1 envelope whose Body and Timestamp
// are signed with the signer's key (RSA only: XML-DSig's ECDSA encoding
// differs between implementations, and MPay's SPs use RSA system
// certificates), its certificate as a BinarySecurityToken.
func (s *Signer) SignEnvelope(content []byte) ([]byte, error) {
	if _, ok := s.raw.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("mpay client: the SOAP face signs with RSA keys (WS-Security RSA-SHA256); this key is %T", s.raw.Public())
	}
	inner := etree.NewDocument()
	if err := inner.ReadFromBytes(content); err != nil || inner.Root() == nil {
		return nil, fmt.Errorf("mpay client: the SOAP body content is not XML: %v", err)
	}
	id := newIDs()
	doc := etree.NewDocument()
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSoap)
	hdr := env.CreateElement("soap:Header")
	sec := hdr.CreateElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	sec.CreateAttr("xmlns:wsu", NSWSU)
	sec.CreateAttr("soap:mustUnderstand", "1")
	now := s.now().UTC()
	ts := sec.CreateElement("wsu:Timestamp")
	ts.CreateAttr("wsu:Id", id("TS"))
	ts.CreateElement("wsu:Created").SetText(now.Format("2006-01-02T15:04:05.000Z"))
	ts.CreateElement("wsu:Expires").SetText(now.Add(TimestampTTL).Format("2006-01-02T15:04:05.000Z"))
	bst := sec.CreateElement("wsse:BinarySecurityToken")
	bst.CreateAttr("EncodingType", encodingB64)
	bst.CreateAttr("ValueType", valueX509)
	bst.CreateAttr("wsu:Id", id("X509"))
	bst.SetText(base64.StdEncoding.EncodeToString(s.cert.Raw))
	body := env.CreateElement("soap:Body")
	body.CreateAttr("xmlns:wsu", NSWSU)
	body.CreateAttr("wsu:Id", id("Body"))
	body.AddChild(inner.Root())

	sig := sec.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	sig.CreateAttr("Id", id("SIG"))
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", NSExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", algRSASHA256)
	for _, el := range []*etree.Element{ts, body} {
		d, err := digestOf(el, "")
		if err != nil {
			return nil, err
		}
		ref := si.CreateElement("ds:Reference")
		ref.CreateAttr("URI", "#"+el.SelectAttrValue("wsu:Id", ""))
		ref.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", NSExcC14N)
		ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA256)
		ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(d))
	}
	canon, err := canonical(si, "")
	if err != nil {
		return nil, err
	}
	ctx, err := dsig.NewSigningContext(s.raw, [][]byte{s.cert.Raw})
	if err != nil {
		return nil, fmt.Errorf("mpay client: %w", err)
	}
	if err := ctx.SetSignatureMethod(algRSASHA256); err != nil {
		return nil, fmt.Errorf("mpay client: %w", err)
	}
	value, err := ctx.SignString(string(canon))
	if err != nil {
		return nil, fmt.Errorf("mpay client: signing the SOAP message: %w", err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	str := sig.CreateElement("ds:KeyInfo").CreateElement("wsse:SecurityTokenReference")
	r := str.CreateElement("wsse:Reference")
	r.CreateAttr("URI", "#"+bst.SelectAttrValue("wsu:Id", ""))
	r.CreateAttr("ValueType", valueX509)
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.Child = append(doc.Child[len(doc.Child)-1:], doc.Child[:len(doc.Child)-1]...) // the declaration first
	return doc.WriteToBytes()
}

// newIDs makes the wsu:Id values of one message: unique and unguessable,
// so that a message's IDs never meet another's.
func newIDs() func(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	n := hex.EncodeToString(b[:])
	return func(p string) string { return p + "-" + n }
}

// canonical is the exclusive C14N of el in its document (the namespaces
// in scope carried over, then pruned to those visibly used).
func canonical(el *etree.Element, prefixes string) ([]byte, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSOAPMessage, err)
	}
	det, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSOAPMessage, err)
	}
	out, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixes).Canonicalize(det)
	if err != nil {
		return nil, fmt.Errorf("%w: canonicalising %s: %v", ErrSOAPMessage, el.Tag, err)
	}
	return out, nil
}

func digestOf(el *etree.Element, prefixes string) ([]byte, error) {
	c, err := canonical(el, prefixes)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(c)
	return d[:], nil
}

// Envelope is a SOAP message whose WS-Security signature was checked.
type Envelope struct {
	// Body is the soap:Body element the signature covers, the one to
	// process; Content is its one child element (the operation or a
	// soap:Fault), detached with the namespaces in scope.
	Body    *etree.Element
	Content *etree.Element
	// Created and Expires are the signed Timestamp's.
	Created, Expires time.Time
}

// ParseEnvelope reads a SOAP 1.1 envelope without trusting it: no DTD,
// entity or processing instruction, a bounded depth, exactly one Header
// (optional) and one Body, the Body last. It checks no signature.
func ParseEnvelope(msg []byte) (env, header, body *etree.Element, err error) {
	if len(msg) > maxMessage {
		return nil, nil, nil, fmt.Errorf("%w: over %d bytes", ErrSOAPMessage, maxMessage)
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{} // strict: unknown entities are errors
	if err := doc.ReadFromBytes(msg); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrSOAPMessage, err)
	}
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Directive:
			return nil, nil, nil, fmt.Errorf("%w: a DTD or other directive (<!%.20s…>) is not allowed", ErrSOAPMessage, t.Data)
		case *etree.ProcInst:
			if t.Target != "xml" {
				return nil, nil, nil, fmt.Errorf("%w: processing instruction <?%s?> not allowed", ErrSOAPMessage, t.Target)
			}
		}
	}
	env = doc.Root()
	if env == nil || env.NamespaceURI() != NSSoap || env.Tag != "Envelope" {
		return nil, nil, nil, fmt.Errorf("%w: the root is not a SOAP 1.1 Envelope", ErrSOAPMessage)
	}
	if err := checkTree(env, 0); err != nil {
		return nil, nil, nil, err
	}
	kids := env.ChildElements()
	for i, k := range kids {
		switch {
		case k.NamespaceURI() == NSSoap && k.Tag == "Header" && i == 0 && len(kids) == 2:
			header = k
		case k.NamespaceURI() == NSSoap && k.Tag == "Body" && i == len(kids)-1:
			body = k
		default:
			return nil, nil, nil, fmt.Errorf("%w: the Envelope must hold an optional Header and then one Body, not %s", ErrSOAPMessage, k.FullTag())
		}
	}
	if body == nil {
		return nil, nil, nil, fmt.Errorf("%w: no Body", ErrSOAPMessage)
	}
	return env, header, body, nil
}

// checkTree refuses processing instructions, directives and deep nesting
// anywhere in the message.
func checkTree(el *etree.Element, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d elements", ErrSOAPMessage, maxDepth)
	}
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if err := checkTree(t, depth+1); err != nil {
				return err
			}
		case *etree.Directive, *etree.ProcInst:
			return fmt.Errorf("%w: a directive or processing instruction inside %s", ErrSOAPMessage, el.Tag)
		}
	}
	return nil
}

// VerifyEnvelope checks a signed SOAP message: it must be by cert's key
// (the certificate registered for the sender, named by the message's key
// info), sign both its Body and its Timestamp, and be within the
// Timestamp's validity at now (±TimestampSkew). Errors wrap
// ErrSOAPMessage (not a message we take) or ErrBadSignature.
func VerifyEnvelope(msg []byte, cert *x509.Certificate, now time.Time) (*Envelope, error) {
	env, header, body, err := ParseEnvelope(msg)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		return nil, fmt.Errorf("%w: no certificate to check the signature against", ErrBadSignature)
	}
	if header == nil {
		return nil, fmt.Errorf("%w: the message is not signed (no SOAP Header)", ErrBadSignature)
	}
	sec, err := onlyChild(header, NSWSSE, "Security")
	if err != nil {
		return nil, err
	}
	ts, err := onlyChild(sec, NSWSU, "Timestamp")
	if err != nil {
		return nil, err
	}
	sig, err := onlyChild(sec, NSDSig, "Signature")
	if err != nil {
		return nil, err
	}
	ids, err := indexIDs(env)
	if err != nil {
		return nil, err
	}
	si, err := onlyChild(sig, NSDSig, "SignedInfo")
	if err != nil {
		return nil, err
	}
	siPrefixes, err := c14nMethod(si, "CanonicalizationMethod")
	if err != nil {
		return nil, err
	}
	if m, _ := onlyChild(si, NSDSig, "SignatureMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != algRSASHA256 {
		return nil, fmt.Errorf("%w: the signature method must be RSA-SHA256 (%s)", ErrBadSignature, algRSASHA256)
	}
	var signedBody, signedTS bool
	for _, ref := range si.ChildElements() {
		if ref.NamespaceURI() != NSDSig || ref.Tag != "Reference" {
			continue
		}
		el, err := checkReference(ref, ids)
		if err != nil {
			return nil, err
		}
		signedBody = signedBody || el == body
		signedTS = signedTS || el == ts
	}
	if !signedBody || !signedTS {
		return nil, fmt.Errorf("%w: the signature must cover the message's own Body and Timestamp (Body %v, Timestamp %v)", ErrBadSignature, signedBody, signedTS)
	}
	if err := checkKeyInfo(sig, ids, cert); err != nil {
		return nil, err
	}
	sv, err := onlyChild(sig, NSDSig, "SignatureValue")
	if err != nil {
		return nil, err
	}
	value, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sv.Text()), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: SignatureValue is not base64", ErrBadSignature)
	}
	canon, err := canonical(si, siPrefixes)
	if err != nil {
		return nil, err
	}
	if err := cert.CheckSignature(x509.SHA256WithRSA, canon, value); err != nil {
		return nil, fmt.Errorf("%w: not signed by the key of %s: %v", ErrBadSignature, cert.Subject.CommonName, err)
	}
	created, expires, err := checkTimestamp(ts, now)
	if err != nil {
		return nil, err
	}
	content := body.ChildElements()
	if len(content) != 1 {
		return nil, fmt.Errorf("%w: the Body holds %d elements, not one", ErrSOAPMessage, len(content))
	}
	ctx, err := etreeutils.NSBuildParentContext(content[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSOAPMessage, err)
	}
	c, err := etreeutils.NSDetatch(ctx, content[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSOAPMessage, err)
	}
	return &Envelope{Body: body, Content: c, Created: created, Expires: expires}, nil
}

// onlyChild is el's one child element ns:tag (ErrBadSignature when there
// is none or more than one).
func onlyChild(el *etree.Element, ns, tag string) (*etree.Element, error) {
	var found *etree.Element
	for _, k := range el.ChildElements() {
		if k.NamespaceURI() == ns && k.Tag == tag {
			if found != nil {
				return nil, fmt.Errorf("%w: more than one %s in %s", ErrBadSignature, tag, el.Tag)
			}
			found = k
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no %s in %s", ErrBadSignature, tag, el.Tag)
	}
	return found, nil
}

// indexIDs maps the ID attributes (wsu:Id, Id, xml:id) of the message to
// their elements; an ID given twice is refused (it is how a signature is
// wrapped around another element than the one processed).
func indexIDs(root *etree.Element) (map[string]*etree.Element, error) {
	ids := map[string]*etree.Element{}
	var walk func(*etree.Element) error
	walk = func(el *etree.Element) error {
		for _, a := range el.Attr {
			if a.Key != "Id" && a.Key != "id" || a.Space != "" && a.NamespaceURI() != NSWSU && a.Space != "xml" {
				continue
			}
			if _, dup := ids[a.Value]; dup {
				return fmt.Errorf("%w: the ID %q is given to two elements", ErrBadSignature, a.Value)
			}
			ids[a.Value] = el
		}
		for _, k := range el.ChildElements() {
			if err := walk(k); err != nil {
				return err
			}
		}
		return nil
	}
	return ids, walk(root)
}

// c14nMethod checks that el's child method is exclusive C14N and returns
// its InclusiveNamespaces PrefixList.
func c14nMethod(el *etree.Element, method string) (string, error) {
	m, err := onlyChild(el, NSDSig, method)
	if err != nil {
		return "", err
	}
	if m.SelectAttrValue("Algorithm", "") != NSExcC14N {
		return "", fmt.Errorf("%w: %s must be exclusive C14N (%s)", ErrBadSignature, method, NSExcC14N)
	}
	for _, k := range m.ChildElements() {
		if k.Tag == "InclusiveNamespaces" {
			return k.SelectAttrValue("PrefixList", ""), nil
		}
	}
	return "", nil
}

// checkReference checks one Reference's digest and returns the element
// it covers.
func checkReference(ref *etree.Element, ids map[string]*etree.Element) (*etree.Element, error) {
	uri := ref.SelectAttrValue("URI", "")
	el, ok := ids[strings.TrimPrefix(uri, "#")]
	if !strings.HasPrefix(uri, "#") || !ok {
		return nil, fmt.Errorf("%w: Reference %q names no element of the message", ErrBadSignature, uri)
	}
	tr, err := onlyChild(ref, NSDSig, "Transforms")
	if err != nil {
		return nil, err
	}
	if len(tr.ChildElements()) != 1 {
		return nil, fmt.Errorf("%w: Reference %s: one transform (exclusive C14N) expected", ErrBadSignature, uri)
	}
	prefixes, err := c14nMethod(tr, "Transform")
	if err != nil {
		return nil, err
	}
	if m, _ := onlyChild(ref, NSDSig, "DigestMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != algSHA256 {
		return nil, fmt.Errorf("%w: Reference %s: the digest must be SHA-256", ErrBadSignature, uri)
	}
	dv, err := onlyChild(ref, NSDSig, "DigestValue")
	if err != nil {
		return nil, err
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(dv.Text()))
	if err != nil {
		return nil, fmt.Errorf("%w: Reference %s: DigestValue is not base64", ErrBadSignature, uri)
	}
	got, err := digestOf(el, prefixes)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, fmt.Errorf("%w: %s was changed after it was signed (digest mismatch)", ErrBadSignature, el.Tag)
	}
	return el, nil
}

// checkKeyInfo checks that the signature names cert: a
// SecurityTokenReference to a BinarySecurityToken holding it, or its
// issuer and serial number (X509Data or SecurityTokenReference).
func checkKeyInfo(sig *etree.Element, ids map[string]*etree.Element, cert *x509.Certificate) error {
	ki, err := onlyChild(sig, NSDSig, "KeyInfo")
	if err != nil {
		return err
	}
	var named *x509.Certificate
	var issuerSerial *etree.Element
	for _, k := range ki.FindElements(".//*") {
		switch {
		case k.Tag == "Reference" && k.NamespaceURI() == NSWSSE:
			uri := k.SelectAttrValue("URI", "")
			bst := ids[strings.TrimPrefix(uri, "#")]
			if bst == nil || bst.Tag != "BinarySecurityToken" || bst.NamespaceURI() != NSWSSE {
				return fmt.Errorf("%w: the key info names %q, not a BinarySecurityToken", ErrBadSignature, uri)
			}
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(bst.Text()), ""))
			if err != nil {
				return fmt.Errorf("%w: the BinarySecurityToken is not base64", ErrBadSignature)
			}
			if named, err = x509.ParseCertificate(der); err != nil {
				return fmt.Errorf("%w: the BinarySecurityToken is not a certificate: %v", ErrBadSignature, err)
			}
		case k.Tag == "X509IssuerSerial" && k.NamespaceURI() == NSDSig:
			issuerSerial = k
		}
	}
	switch {
	case named != nil:
		if !bytes.Equal(named.Raw, cert.Raw) {
			return fmt.Errorf("%w: signed with the certificate of %s (serial %x), not the registered one of %s (serial %x)",
				ErrBadSignature, named.Subject.CommonName, named.SerialNumber, cert.Subject.CommonName, cert.SerialNumber)
		}
	case issuerSerial != nil:
		sn, in := issuerSerial.FindElement("./X509SerialNumber"), issuerSerial.FindElement("./X509IssuerName")
		if sn == nil || in == nil {
			return fmt.Errorf("%w: X509IssuerSerial needs X509IssuerName and X509SerialNumber", ErrBadSignature)
		}
		if serial := strings.TrimSpace(sn.Text()); serial != cert.SerialNumber.String() || !sameDN(in.Text(), cert.Issuer.String()) {
			return fmt.Errorf("%w: signed with the certificate of serial %s by %q, not the registered one (%s by %q)",
				ErrBadSignature, serial, strings.TrimSpace(in.Text()), cert.SerialNumber, cert.Issuer.String())
		}
	default:
		return fmt.Errorf("%w: the key info names no certificate (a BinarySecurityToken reference or issuer and serial)", ErrBadSignature)
	}
	return nil
}

// sameDN compares two RFC 4514 distinguished names written by different
// tools: the same attributes in the same order, spaces around the
// separators and the attribute names' case aside.
func sameDN(a, b string) bool {
	norm := func(s string) string {
		parts := strings.Split(s, ",")
		for i, p := range parts {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			parts[i] = strings.ToUpper(strings.TrimSpace(k)) + "=" + strings.TrimSpace(v)
		}
		return strings.Join(parts, ",")
	}
	return norm(a) == norm(b)
}

// checkTimestamp checks the Timestamp's Created and Expires against now.
func checkTimestamp(ts *etree.Element, now time.Time) (created, expires time.Time, err error) {
	c, e := ts.FindElement("./Created"), ts.FindElement("./Expires")
	if c == nil || e == nil {
		return created, expires, fmt.Errorf("%w: the Timestamp needs Created and Expires", ErrBadSignature)
	}
	if created, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(c.Text())); err != nil {
		return created, expires, fmt.Errorf("%w: Timestamp Created %q: %v", ErrBadSignature, c.Text(), err)
	}
	if expires, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(e.Text())); err != nil {
		return created, expires, fmt.Errorf("%w: Timestamp Expires %q: %v", ErrBadSignature, e.Text(), err)
	}
	switch {
	case !expires.After(created) || expires.Sub(created) > maxTimestampTTL:
		return created, expires, fmt.Errorf("%w: Timestamp from %s to %s: want a validity of at most %v", ErrBadSignature, c.Text(), e.Text(), maxTimestampTTL)
	case created.After(now.Add(TimestampSkew)):
		return created, expires, fmt.Errorf("%w: created %s, in the future", ErrBadSignature, c.Text())
	case !now.Add(-TimestampSkew).Before(expires):
		return created, expires, fmt.Errorf("%w: the message expired at %s", ErrBadSignature, e.Text())
	}
	return created, expires, nil
}
