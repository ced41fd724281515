package msign

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/reportpdf"
	"github.com/semnat/semnat/problem"
)

// The sealed verification report: the verify page, POST
// /api/v1/verifications (Accept: application/pdf) and VerifySignatures
// (ReportPdf) give the report as a PDF sealed with the service's seal key,
// so that the report itself can be checked with any PAdES verifier.

const kindReportSum = "report-sha256" // id → the SHA-256 of the verified document (for its PDF report)

var errNoSealKey = problem.New(http.StatusServiceUnavailable, "no-seal-key", "No seal key", "this server has no seal key configured, so it cannot seal a report; ask for the JSON report")

// reportLevel is the level of a report's seal: B-LT when the service can
// timestamp and fetch revocation data (what a verifier needs years
// later), else as far as its settings reach.
func (s *Service) reportLevel() pades.Level {
	switch {
	case s.cfg.Timestamper != nil && s.cfg.Revocation != nil:
		return pades.LevelBLT
	case s.cfg.Timestamper != nil:
		return pades.LevelBT
	}
	return pades.LevelBB
}

// reportIssuer names the service at the report's foot: its seal's
// holder, and where it answers.
func (s *Service) reportIssuer() string {
	name := s.cfg.Seal.Certificate().Subject.CommonName
	if s.cfg.PublicOrigin != "" {
		name += " (" + s.cfg.PublicOrigin + ")"
	}
	return name
}

// sealedReport renders rep in lang and seals it.
func (s *Service) sealedReport(ctx context.Context, rep *pades.Report, docSHA256 []byte, lang string) ([]byte, error) {
	if s.cfg.Seal == nil {
		return nil, errNoSealKey
	}
	doc, err := reportpdf.Render(reportpdf.Input{Report: rep, DocumentSHA256: docSHA256, Lang: lang, Issuer: s.reportIssuer()})
	if errors.Is(err, reportpdf.ErrLanguage) {
		return nil, errInvalid(fmt.Sprintf("lang %q: want ro, ru or en", lang))
	}
	if err != nil {
		return nil, err
	}
	opts := &pades.Options{Level: s.reportLevel(), Timestamper: s.cfg.Timestamper, Revocation: s.cfg.Revocation, ExtraCerts: s.cfg.ExtraCerts,
		Name: s.cfg.Seal.Certificate().Subject.CommonName, Reason: "Verification report"}
	return reportpdf.Seal(ctx, doc, s.cfg.Seal, opts)
}

// wantsPDF tells whether the client asked for the PDF report (Accept:
// application/pdf, or ?format=pdf).
func wantsPDF(c echo.Context) bool {
	return c.QueryParam("format") == "pdf" || strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "application/pdf")
}

// fileSHA256 is the SHA-256 of the first n bytes of r.
func fileSHA256(r io.ReaderAt, n int64) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, n)); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// reportPDF answers GET /verify/:id/report.pdf?lang=: the sealed PDF of a
// report the verify page showed.
func (s *Service) reportPDF(c echo.Context) error {
	ctx := c.Request().Context()
	sum, err := s.cfg.Store.Get(ctx, kindReportSum, c.Param("id"))
	if err != nil {
		return problem.New(http.StatusNotFound, "unknown-report", "Unknown report", "the report has expired; verify the file again")
	}
	b, err := s.cfg.Store.Get(ctx, kindReport, c.Param("id"))
	if err != nil {
		return problem.New(http.StatusNotFound, "unknown-report", "Unknown report", "the report has expired; verify the file again")
	}
	var rep pades.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return err
	}
	lang := c.QueryParam("lang")
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	doc, err := s.sealedReport(ctx, &rep, sum, lang)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="verification-report.pdf"`)
	return sizedBlob(c, "application/pdf", doc)
}
