package msign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/tsa"
)

// verifySignaturesAPI answers POST /api/v1/signature-verifications
// (VerifySignatures) for registered systems.
func (s *Service) verifySignaturesAPI(c echo.Context) error {
	if _, err := s.authenticate(c); err != nil {
		return err
	}
	var req client.VerificationRequest
	ctx, release, err := s.readSystemJSON(c, &req, "VerificationRequest")
	if err != nil {
		return err
	}
	defer release()
	resp, err := s.verifySignatures(ctx, &req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// verifySignatures is VerifySignatures of the REST and SOAP faces. A
// signature is valid when nothing failed and its integrity, value and
// chain to the trust anchors are confirmed; the full report says more
// (revocation may be undecided offline).
func (s *Service) verifySignatures(ctx context.Context, req *client.VerificationRequest) (*client.VerificationResponse, error) {
	lang := req.Language
	if lang == "" {
		lang = "ro"
	}
	if !slices.Contains(i18n.Langs, lang) {
		return nil, errInvalid(fmt.Sprintf("Language: %q: want ro, ru or en", req.Language))
	}
	switch {
	case req.SignedContentType != client.ContentPdf && req.SignedContentType != client.ContentHash:
		return nil, errInvalid(fmt.Sprintf("SignedContentType: %q: want Pdf or Hash", req.SignedContentType))
	case len(req.Contents) == 0 || len(req.Contents) > maxDocuments:
		return nil, errInvalid(fmt.Sprintf("Contents: send 1 to %d contents", maxDocuments))
	}
	for i, ct := range req.Contents {
		switch {
		case len(ct.Signature) == 0:
			return nil, errInvalid(fmt.Sprintf("Contents[%d].Signature: empty", i))
		case req.SignedContentType == client.ContentHash && len(ct.Content) != 32:
			return nil, errInvalid(fmt.Sprintf("Contents[%d].Content: the 32-byte SHA-256 the signature is over; got %d bytes", i, len(ct.Content)))
		}
	}
	if req.ReportPdf && s.cfg.Seal == nil {
		return nil, errNoSealKey
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	out := &client.VerificationResponse{}
	for _, ct := range req.Contents {
		var res client.VerificationResult
		if req.SignedContentType == client.ContentPdf {
			res, err = s.verifyPDF(ctx, ct.Signature, req.ReportPdf, lang)
		} else {
			res = s.verifyHash(ct.Content, ct.Signature)
		}
		if err != nil {
			return nil, err
		}
		res.CorrelationID = ct.CorrelationID
		res.SignaturesValid = len(res.Certificates) > 0
		for _, c := range res.Certificates {
			res.SignaturesValid = res.SignaturesValid && c.SignatureValid
		}
		if res.SignaturesValid {
			res.Message = s.web.cat.Localizer(lang).T("verify_result.valid")
		} else if res.Message == "" {
			res.Message = s.web.cat.Localizer(lang).T("verify_result.invalid")
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

// verifyPDF verifies a signed PDF; with pdfReport, the result carries
// the report as a sealed PDF in lang.
func (s *Service) verifyPDF(ctx context.Context, doc []byte, pdfReport bool, lang string) (client.VerificationResult, error) {
	rep, err := s.verifyDoc(ctx, bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		if ctx.Err() != nil {
			return client.VerificationResult{}, ctx.Err()
		}
		return client.VerificationResult{Message: "The signature is not a readable PDF: " + err.Error()}, nil
	}
	var res client.VerificationResult
	for _, sig := range rep.Signatures {
		if sig.Kind != "signature" {
			continue
		}
		c := client.VerificationCertificate{SignatureValid: sig.Indication != pades.TotalFailed && sig.Checks.Integrity == pades.CheckPassed &&
			sig.Checks.Signature == pades.CheckPassed && sig.Checks.Chain == pades.CheckPassed}
		if sig.Signer != nil {
			c.Subject = sig.Signer.Subject
		}
		if ts := sig.Timestamp; ts != nil && ts.Valid {
			t := ts.Time
			c.SignedAt = &t
		}
		res.Certificates = append(res.Certificates, c)
	}
	if res.Report, err = json.Marshal(rep); err != nil || !pdfReport {
		return res, err
	}
	sum := sha256.Sum256(doc)
	res.ReportPdf, err = s.sealedReport(ctx, rep, sum[:], lang)
	return res, err
}

// hashReport is the report of a CAdES signature over a hash.
type hashReport struct {
	Valid     bool     `json:"valid"`
	Reasons   []string `json:"reasons,omitempty"`
	Timestamp string   `json:"timestamp,omitempty"` // why the timestamp does not count, when it does not
}

// verifyHash checks a detached CMS signature over hash: the
// message-digest is the hash, the value verifies with the signer
// certificate, which chains to the trust anchors (at the timestamp's time
// when there is a valid one).
func (s *Service) verifyHash(hash, sig []byte) client.VerificationResult {
	var res client.VerificationResult
	var rep hashReport
	fail := func(reason string) {
		rep.Reasons = append(rep.Reasons, reason)
	}
	defer func() { res.Report, _ = json.Marshal(rep) }()
	p, err := cms.Parse(sig)
	if err != nil {
		res.Message = "The signature is not a CMS SignedData: " + err.Error()
		return res
	}
	cert := p.Signer.FindSignerCertificate(p.Certificates)
	if cert == nil {
		res.Message = "The signature does not carry its signer's certificate."
		return res
	}
	c := client.VerificationCertificate{Subject: cert.Subject.String(), Certificate: cert.Raw}
	if md, err := p.Signer.MessageDigest(); err != nil || !bytes.Equal(md, hash) {
		fail("the signature is over another content (its message-digest is not the hash)")
	}
	if err := p.Signer.VerifySignature(cert); err != nil {
		fail("the signature value does not verify with the signer's certificate")
	}
	at := time.Now()
	if tokens := p.Signer.UnsignedValues(cms.OIDAttrTimeStampToken); len(tokens) == 1 {
		h, err := p.Signer.Hash()
		if err == nil {
			d := h.New()
			d.Write(p.Signer.Signature)
			var info *tsa.Info
			if info, err = tsa.Verify(tokens[0], h, d.Sum(nil), tsa.VerifyOptions{Roots: s.cfg.Roots}); err == nil {
				at = info.GenTime
				c.SignedAt = &at
			}
		}
		if err != nil {
			rep.Timestamp = err.Error()
		}
	}
	inter := x509.NewCertPool()
	for _, ca := range p.Certificates {
		inter.AddCert(ca)
	}
	if s.cfg.Roots == nil {
		fail("no trust anchors are configured")
	} else if _, err := cert.Verify(x509.VerifyOptions{Roots: s.cfg.Roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		var ue x509.UnknownAuthorityError
		if errors.As(err, &ue) {
			fail("the signer's certificate does not chain to a trusted anchor")
		} else {
			fail("the signer's certificate is not valid: " + err.Error())
		}
	}
	c.SignatureValid = len(rep.Reasons) == 0
	rep.Valid = c.SignatureValid
	res.Certificates = append(res.Certificates, c)
	return res
}
