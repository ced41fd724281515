package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"hash"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/pades/pdf"
)

// certSet collects distinct certificates in order.
type certSet struct {
	list []*x509.Certificate
}

func (s *certSet) add(certs ...*x509.Certificate) {
	for _, c := range certs {
		if c == nil {
			continue
		}
		dup := false
		for _, have := range s.list {
			if have.Equal(c) {
				dup = true
				break
			}
		}
		if !dup {
			s.list = append(s.list, c)
		}
	}
}

// issuerOf finds the certificate in s that issued c.
func (s *certSet) issuerOf(c *x509.Certificate) *x509.Certificate {
	for _, cand := range s.list {
		if bytes.Equal(cand.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(cand) == nil {
			return cand
		}
	}
	return nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// validationData gathers the certificates, OCSP responses and CRLs that let
// a verifier check certs without going online: the B-LT payload.
func validationData(ctx context.Context, certs []*x509.Certificate, extra [][]byte, src RevocationSource) (*certSet, [][]byte, [][]byte, error) {
	ex := parseCerts(extra)
	set := &certSet{} // stored in the DSS: grows with responder certificates
	set.add(certs...)
	set.add(ex...)
	issuers := &certSet{} // candidate issuers: the certificates given, only
	issuers.add(certs...)
	issuers.add(ex...)
	var ocsps, crls [][]byte
	for i := 0; i < len(set.list); i++ { // set grows with responder certificates
		c := set.list[i]
		if selfSigned(c) || hasOCSPNoCheck(c) {
			continue
		}
		issuer := issuers.issuerOf(c)
		o, l, err := src.Revocation(ctx, c, issuer)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pades: revocation data for %q: %w", c.Subject.CommonName, err)
		}
		if len(o) == 0 && len(l) == 0 {
			return nil, nil, nil, fmt.Errorf("pades: no OCSP response or CRL could be had for %q", c.Subject.CommonName)
		}
		for _, der := range o {
			// Store the responder's certificate too (Adobe "LTV enabled").
			if resp, err := ocsp.ParseResponse(der, nil); err == nil && resp.Certificate != nil {
				set.add(resp.Certificate)
			}
		}
		ocsps = append(ocsps, o...)
		crls = append(crls, l...)
	}
	return set, ocsps, crls, nil
}

var oidOCSPNoCheck = []int{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

func hasOCSPNoCheck(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidOCSPNoCheck) {
			return true
		}
	}
	return false
}

// addDSS appends an update that adds (or extends) the /DSS with the
// validation data of the signature and its timestamp.
func addDSS(ctx context.Context, doc *document, cert *x509.Certificate, chain []*x509.Certificate, sd *cms.SignedData, opts *Options) ([]byte, error) {
	certs := append([]*x509.Certificate{cert}, chain...)
	for _, a := range sd.Unsigned {
		if !a.Type.Equal(cms.OIDAttrTimeStampToken) {
			continue
		}
		for _, v := range a.Values {
			if p, err := cms.Parse(v); err == nil {
				certs = append(certs, p.Certificates...)
			}
		}
	}
	set, ocsps, crls, err := validationData(ctx, certs, opts.ExtraCerts, opts.Revocation)
	if err != nil {
		return nil, err
	}
	r, cat, catRef, err := openForUpdate(doc, doc.Size(), opts.Password)
	if err != nil {
		return nil, err
	}
	u := r.NewUpdate()
	u.SetCompress(true)
	dss, _ := r.ResolveDict(cat.Get("DSS"))
	nd := dss.Clone()
	appendStreams := func(key pdf.Name, items [][]byte) {
		arr, _ := mustResolve(r, nd.Get(key)).(pdf.Array)
		out := append(pdf.Array(nil), arr...)
		for _, it := range items {
			out = append(out, u.Add(pdf.NewStream(nil, it)))
		}
		if len(out) > 0 {
			nd.Set(key, out)
		}
	}
	var certDER [][]byte
	for _, c := range set.list {
		certDER = append(certDER, c.Raw)
	}
	appendStreams("Certs", certDER)
	appendStreams("OCSPs", ocsps)
	appendStreams("CRLs", crls)
	nd.Set("Type", pdf.Name("DSS"))
	newCat := cat.Clone()
	if ref, ok := cat.Get("DSS").(pdf.Ref); ok {
		if err := u.Set(ref, nd); err != nil {
			return nil, err
		}
	} else {
		newCat.Set("DSS", u.Add(nd))
	}
	if err := u.Set(catRef, newCat); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := u.Write(&buf); err != nil {
		return nil, fmt.Errorf("pades: writing the DSS update: %w", err)
	}
	return buf.Bytes(), nil
}

// addDocTimestamp appends a document timestamp (SubFilter ETSI.RFC3161)
// covering everything before it, DSS included.
func addDocTimestamp(ctx context.Context, doc *document, opts *Options, orig []byte) ([]byte, time.Time, error) {
	size := 12 << 10
	for attempt := 0; attempt < 2; attempt++ {
		r, cat, catRef, err := openForUpdate(doc, doc.Size(), opts.Password)
		if err != nil {
			return nil, time.Time{}, err
		}
		af, err := readAcroForm(r, cat)
		if err != nil {
			return nil, time.Time{}, err
		}
		u := r.NewUpdate()
		u.SetCompress(true)
		sig := sigDictPlan("ETSI.RFC3161", true, size, opts, time.Time{})
		sigRef := u.Add(sig)
		newCat := cat.Clone()
		if _, _, err := placeField(r, u, newCat, af, sigRef, fieldPlan{docTS: true}); err != nil {
			return nil, time.Time{}, err
		}
		if err := u.Set(catRef, newCat); err != nil {
			return nil, time.Time{}, err
		}
		upd, cOff, cWidth, _, err := writeUpdate(u, doc.Size())
		if err != nil {
			return nil, time.Time{}, err
		}
		h, err := hashDocument(ctx, doc, opts, orig)
		if err != nil {
			return nil, time.Time{}, err
		}
		hashSkipping(h, upd, cOff, cWidth)
		token, err := opts.Timestamper.Timestamp(ctx, h.Sum(nil), opts.hash())
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("pades: document timestamp: %w", err)
		}
		if len(token) > size {
			size = len(token) + 4096
			continue
		}
		t, err := tokenTime(token)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("pades: document timestamp: %w", err)
		}
		hexed, err := pdf.FormatContents(token, size)
		if err != nil {
			return nil, time.Time{}, err
		}
		copy(upd[cOff:], hexed)
		return upd, t, nil
	}
	return nil, time.Time{}, fmt.Errorf("%w: document timestamp token", ErrPlaceholderSmall)
}

// hashDocument hashes everything in doc: from the saved state of the
// original when there is one, else by reading the original again.
func hashDocument(ctx context.Context, doc *document, opts *Options, orig []byte) (hash.Hash, error) {
	if orig == nil {
		h := opts.hash().New()
		return h, copyRange(ctx, h, doc, 0, doc.Size())
	}
	h, err := restoreHash(opts.hash(), orig)
	if err != nil {
		return nil, err
	}
	for _, u := range doc.updates {
		h.Write(u)
	}
	return h, nil
}
