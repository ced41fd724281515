package mpass

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
	"sync"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// How MPass makes and sends a Response for an assertion, with crewjam's
// types and goxmldsig's signature, without the work crewjam's
// IdpAuthnRequest.MakeResponse and WriteResponse do on top (measured in
// BenchmarkSSOResponse, issue 14): goxmldsig's SignEnveloped, which
// MakeResponse calls, copies the whole signed tree (Assertion included)
// only for MakeResponse to throw the copy away; WriteResponse serialises
// into a fresh buffer, base64-encodes into a fresh string and renders the
// form into a third buffer. Here the signature is goxmldsig's
// ConstructSignature (enveloped signature, exclusive c14n, as crewjam
// signs) without the copy, and the form is rendered through pooled
// buffers. The document a relying service receives is crewjam's, up to its
// random ID and signature values (TestResponseAsCrewjam).

// signingContext is goxmldsig's signing context for signer, with its
// certificate (and chain) in KeyInfo: exclusive canonicalisation without
// a prefix list, and rsa-sha256 or ecdsa-sha256 for the key, as crewjam
// signs Responses.
func signingContext(signer crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) (*dsig.SigningContext, error) {
	certs := make([][]byte, 0, 1+len(chain))
	certs = append(certs, cert.Raw)
	for _, c := range chain {
		certs = append(certs, c.Raw)
	}
	sc, err := dsig.NewSigningContext(signer, certs)
	if err != nil {
		return nil, err
	}
	sc.Canonicalizer = excC14N{}
	method := dsig.RSASHA256SignatureMethod
	if _, ok := signer.Public().(*ecdsa.PublicKey); ok {
		method = dsig.ECDSASHA256SignatureMethod
	}
	if err := sc.SetSignatureMethod(method); err != nil {
		return nil, err
	}
	return sc, nil
}

// excC14N is goxmldsig's exclusive canonicalisation without a prefix list
// or comments (MakeC14N10ExclusiveCanonicalizerWithPrefixList("")): its
// transform, then its serialisation (etree with goxmldsig's canonical
// write settings) from the transformed element itself, where goxmldsig's
// copies the whole tree into a new document first and writes it through a
// new bufio.Writer. The same bytes (TestExcC14NAsGoxmldsig).
type excC14N struct{}

// c14nSettings are goxmldsig's settings for canonical output.
var c14nSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalEndTags: true, CanonicalText: true}

func (excC14N) Canonicalize(el *etree.Element) ([]byte, error) {
	if err := transformExcC14n(el); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(8 << 10)
	el.WriteTo(&b, &c14nSettings)
	return b.Bytes(), nil
}

func (excC14N) Algorithm() dsig.AlgorithmID { return dsig.CanonicalXML10ExclusiveAlgorithmId }

// idpSigningContext is the signing context of the identity provider idp
// (MPass's, or its ECDSA or wrong-key copy).
func idpSigningContext(idp *saml.IdentityProvider) (*dsig.SigningContext, error) {
	return signingContext(idp.Signer, idp.Certificate, idp.Intermediates)
}

// makeResponse sets req.ResponseEl: the Response (status Success) around
// req.AssertionEl, as crewjam's MakeResponse makes it, signed unless sign
// is false (FaultUnsignedResponse).
func makeResponse(req *saml.IdpAuthnRequest, sign bool) error {
	var id [20]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	response := &saml.Response{
		Destination:  req.ACSEndpoint.Location,
		ID:           "id-" + hex.EncodeToString(id[:]),
		InResponseTo: req.Request.ID,
		IssueInstant: req.Now,
		Version:      "2.0",
		Issuer:       &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: req.IDP.MetadataURL.String()},
		Status:       saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	if sign {
		sc, err := idpSigningContext(req.IDP)
		if err != nil {
			return err
		}
		el := response.Element()
		el.AddChild(req.AssertionEl)
		// The digest canonicalises el in place (exclusive c14n drops the
		// root's xmlns:xs, which only attribute values use): the Response
		// sent is built again around the signature, as crewjam does, with
		// the Assertion element as signed.
		if response.Signature, err = sc.ConstructSignature(el, true); err != nil {
			return err
		}
	}
	el := response.Element()
	el.AddChild(req.AssertionEl)
	req.ResponseEl = el
	return nil
}

// formBuffers are the buffers of writeResponse, reused: a Response's XML,
// its base64 and the rendered form are each some ten kilobytes.
var formBuffers = sync.Pool{New: func() any { return new(formBuffer) }}

// maxPooledForm: a buffer grown past this (a Response with very many
// attribute values) is left to the garbage collector.
const maxPooledForm = 1 << 20

// writeSettings are etree's defaults, crewjam's.
var writeSettings = etree.NewDocument().WriteSettings

type formBuffer struct {
	xml, form bytes.Buffer
	b64       []byte
}

// writeResponse sends req.ResponseEl to the relying service's ACS through
// the browser (HTTP-POST binding): the page tmpl auto-submits it.
// crewjam's WriteResponse for any other binding of the endpoint. Like
// crewjam's, the page is rendered in full before anything is written.
func writeResponse(w http.ResponseWriter, req *saml.IdpAuthnRequest) error {
	tmpl := req.IDP.ResponseFormTemplate
	if tmpl == nil || req.ACSEndpoint == nil || req.ACSEndpoint.Binding != saml.HTTPPostBinding || req.ResponseEl == nil {
		return req.WriteResponse(w)
	}
	fb := formBuffers.Get().(*formBuffer)
	defer func() {
		if fb.form.Cap() <= maxPooledForm {
			formBuffers.Put(fb)
		}
	}()
	fb.xml.Reset()
	fb.form.Reset()
	req.ResponseEl.WriteTo(&fb.xml, &writeSettings) // as crewjam's etree document, without its bufio.Writer
	fb.b64 = base64.StdEncoding.AppendEncode(fb.b64[:0], fb.xml.Bytes())
	form := saml.IdpAuthnRequestForm{URL: req.ACSEndpoint.Location, RelayState: req.RelayState}
	split := formSplits(tmpl)
	if split {
		// The page with a marker for the value, then the value escaped
		// into its place: html/template's escaping of ten kilobytes of
		// base64 costs more than the rest of the page. Not when the URL
		// or RelayState has the marker too.
		form.SAMLResponse = formMarker
		fb.xml.Reset()
		if err := tmpl.Execute(&fb.xml, form); err != nil {
			return err
		}
		split = bytes.Count(fb.xml.Bytes(), []byte(formMarker)) == 1
	}
	if split {
		pre, post, _ := bytes.Cut(fb.xml.Bytes(), []byte(formMarker))
		fb.form.Write(pre)
		fb.form.Write(appendHTMLBase64(fb.form.AvailableBuffer(), fb.b64))
		fb.form.Write(post)
	} else {
		form.SAMLResponse = string(fb.b64)
		if err := tmpl.Execute(&fb.form, form); err != nil {
			return err
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Known before the first byte: the page goes out with its length (one
	// write less than chunked, where crewjam's leaves it to net/http).
	h.Set("Content-Length", strconv.Itoa(fb.form.Len()))
	_, err := w.Write(fb.form.Bytes())
	return err
}

// formMarker stands for the SAMLResponse in a page rendered by
// writeResponse: letters and digits, which html/template writes as they are
// in any context.
const formMarker = "mpassSAMLResponse7f3e9a2c"

// splitForms records, per form template, whether formSplits found it
// splittable.
var splitForms sync.Map // *template.Template → bool

// formSplits reports whether tmpl writes its SAMLResponse as html/template
// escapes HTML text or a quoted attribute value, once, with nothing else of
// the page depending on it: then the page is tmpl's output for the marker
// with the marker replaced by appendHTMLBase64 of the value. Checked once
// per template by rendering the whole base64 alphabet and comparing.
func formSplits(tmpl *template.Template) bool {
	if v, ok := splitForms.Load(tmpl); ok {
		return v.(bool)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
	render := func(v string) []byte {
		var b bytes.Buffer
		if tmpl.Execute(&b, saml.IdpAuthnRequestForm{URL: "https://sp.test/acs?a=1&b=2", SAMLResponse: v, RelayState: "r&s"}) != nil {
			return nil
		}
		return b.Bytes()
	}
	ok := false
	if page := render(formMarker); page != nil && bytes.Count(page, []byte(formMarker)) == 1 {
		pre, post, _ := bytes.Cut(page, []byte(formMarker))
		want := append(appendHTMLBase64(bytes.Clone(pre), []byte(alphabet)), post...)
		ok = bytes.Equal(render(alphabet), want)
	}
	splitForms.Store(tmpl, ok)
	return ok
}

// appendHTMLBase64 appends b64 (standard base64) as html/template escapes
// it in HTML text and attribute values: + is the only character it
// changes.
func appendHTMLBase64(dst, b64 []byte) []byte {
	for {
		i := bytes.IndexByte(b64, '+')
		if i < 0 {
			return append(dst, b64...)
		}
		dst = append(append(dst, b64[:i]...), "&#43;"...)
		b64 = b64[i+1:]
	}
}
