package portal

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/internal/textpdf"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/store"
)

// ErrBadSignature: what MSign returned is not the application signed by
// the applicant.
var ErrBadSignature = errors.New("portal: the signed application is not the one sent, or not signed by the applicant")

func (s *Service) today() time.Time { return time.Now().In(s.cfg.Location) }

// RenderApplication is the application's PDF, as the applicant signs it:
// the service, who applies for whom and why they may, the form, the
// attached documents with their SHA-256, the delivery, the cost and the
// date, in the application's language.
func RenderApplication(a *application.Application, svc *catalog.Service, summary []labelValue, lang string, at time.Time) ([]byte, error) {
	w := wording(lang)
	lines := []string{w["DocTitle"] + " " + a.ID, svc.Title.In(lang), "", w["DocDate"] + ": " + at.Format("2006-01-02 15:04 MST"), "", w["DocData"] + ":"}
	for _, lv := range summary {
		lines = append(lines, "  "+lv.Label+": "+lv.Value)
	}
	lines = append(lines, "", w["DocAttachments"]+":")
	if len(a.Attachments) == 0 {
		lines = append(lines, "  "+w["DocNone"])
	}
	for i, at := range a.Attachments {
		lines = append(lines, fmt.Sprintf("  %d. %s (%s, %d B)", i+1, at.Name, at.ContentType, at.Size), "     SHA-256 "+at.SHA256)
	}
	lines = append(lines, "", w["DocStatement"])
	return textpdf.Document(lines)
}

// signStart renders the application, asks MSign for the applicant's
// signature on it and sends the browser to MSign.
func (s *Service) signStart(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	w := wording(langOf(c))
	if step, ok := s.ready(a, svc); !ok {
		return c.Redirect(http.StatusSeeOther, appPath(a.ID, step))
	}
	if !svc.Free() && s.cfg.Payments == nil {
		return s.errorPage(c, http.StatusConflict, w["e-paid"])
	}
	if s.cfg.MSign == nil {
		return s.errorPage(c, http.StatusServiceUnavailable, w["e-no-msign"])
	}
	ctx := c.Request().Context()
	// A power is valid at the moment of the question: asked again now.
	if a.OnBehalf != application.Self {
		basis, _, err := s.basisFor(ctx, svc, s.currentUser(c.Request()), a.OnBehalf, a.Beneficiary)
		switch {
		case errors.Is(err, ErrNoPower):
			return s.errorPage(c, http.StatusForbidden, w["e-no-power"])
		case err != nil:
			return s.errorPage(c, http.StatusServiceUnavailable, w["e-no-mpower"])
		}
		a.Basis = basis
	}
	doc, err := RenderApplication(a, svc, s.summary(a, svc, a.Lang), a.Lang, s.today())
	if err != nil {
		return err
	}
	if err := s.apps.PutFile(ctx, a.ID, application.FileApplication, "application/pdf", doc); err != nil {
		return err
	}
	short := truncate("Cerere "+a.ID+": "+svc.Title.In("ro"), 90)
	id, err := s.cfg.MSign.PostSignRequest(ctx, msignclient.SignRequest{
		ShortContentDescription: short,
		ContentDescription:      truncate(fmt.Sprintf("Cererea %s pentru serviciul %s (%s), depusă de %s", a.ID, svc.Code, svc.Title.In("ro"), a.ApplicantName), 512),
		SignatureReason:         truncate("Depunerea cererii "+a.ID, 255),
		ContentType:             msignclient.ContentPdf,
		Contents:                []msignclient.SignContent{{CorrelationID: a.ID, Name: "cerere-" + a.ID + ".pdf", Content: doc}},
		ExpectedSigner:          &msignclient.ExpectedSigner{ID: a.Applicant},
	})
	if err != nil {
		s.cfg.Log.Warn("portal: MSign refused the sign request", "application", a.ID, "err", err)
		return s.errorPage(c, http.StatusServiceUnavailable, w["e-no-msign"])
	}
	if _, err := s.apps.EditDraft(ctx, a.ID, func(d *application.Application) error {
		d.SignRequest, d.Basis = id, a.Basis
		return nil
	}); err != nil {
		return err
	}
	q := url.Values{msignclient.ParamReturnURL: {s.url(PathSigned)}, msignclient.ParamRelayState: {a.ID}, msignclient.ParamLang: {langOf(c)}}
	return c.Redirect(http.StatusSeeOther, s.cfg.MSign.RedirectURL(id)+"?"+q.Encode())
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// signedReturn is where MSign sends the browser back (RequestID,
// RelayState = the application): the result is fetched from MSign, checked
// and, when it is the application signed by the applicant, submitted.
func (s *Service) signedReturn(c echo.Context) error {
	id, reqID := c.FormValue(msignclient.ParamRelayState), c.FormValue(msignclient.ParamRequestID)
	a, err := s.apps.Get(c.Request().Context(), id)
	if err != nil || reqID == "" || a.SignRequest != reqID {
		if err == nil && a.State != application.Draft {
			return c.Redirect(http.StatusSeeOther, appPath(a.ID, "")) // came back twice
		}
		return s.errorPage(c, http.StatusBadRequest, "RequestID / RelayState")
	}
	msg, err := s.FinishSigning(c.Request().Context(), a.ID)
	switch {
	case errors.Is(err, ErrNotSigned):
		return c.Redirect(http.StatusSeeOther, appPath(a.ID, "confirmare")+"?semnare="+url.QueryEscape(msg))
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, ""))
}

// ErrNotSigned: MSign's request has not ended in a signature.
var ErrNotSigned = errors.New("portal: the application is not signed")

// FinishSigning fetches the result of the draft id's sign request from
// MSign; a signature by the applicant on the application's PDF submits it
// (the signed PDF kept with the change). ErrNotSigned (with MSign's
// message) while it is pending or when it failed; the draft can then be
// signed again.
func (s *Service) FinishSigning(ctx context.Context, id string) (string, error) {
	a, err := s.apps.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if a.State != application.Draft || a.SignRequest == "" {
		return "", fmt.Errorf("%w: application %s has no sign request pending", ErrNotSigned, id)
	}
	resp, err := s.cfg.MSign.GetSignResponse(ctx, a.SignRequest, a.Lang)
	if err != nil {
		return "", fmt.Errorf("portal: MSign request %s: %w", a.SignRequest, err)
	}
	if resp.Status == msignclient.StatusPending {
		return resp.Message, fmt.Errorf("%w: MSign request %s is pending", ErrNotSigned, a.SignRequest)
	}
	if resp.Status != msignclient.StatusSuccess || len(resp.Results) != 1 {
		_, _ = s.apps.EditDraft(ctx, id, func(d *application.Application) error { d.SignRequest = ""; return nil })
		return resp.Message, fmt.Errorf("%w: MSign request %s ended %s: %s", ErrNotSigned, a.SignRequest, resp.Status, resp.Message)
	}
	res := resp.Results[0]
	_, original, err := s.apps.File(ctx, id, application.FileApplication)
	if err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: the signer's certificate: %v", ErrBadSignature, err)
	case cert.Subject.SerialNumber != a.Applicant:
		return "", fmt.Errorf("%w: signed by IDNP %q, the applicant is %s", ErrBadSignature, cert.Subject.SerialNumber, a.Applicant)
	case len(res.Signature) <= len(original) || !bytes.Equal(res.Signature[:len(original)], original):
		return "", fmt.Errorf("%w: the signed PDF does not extend the application's", ErrBadSignature)
	}
	_, err = s.apps.Transition(ctx, a.Applicant, id, application.EvSubmit, "", func(tx *store.Tx, d *application.Application) error {
		if d.SignRequest != a.SignRequest {
			return fmt.Errorf("%w: the sign request changed meanwhile", ErrNotSigned)
		}
		d.SignedBy, d.SignedSHA, d.SignRequest = cert.Subject.SerialNumber, application.Digest(res.Signature), ""
		if err := application.PutFileTx(ctx, tx, id, application.FileSigned, "application/pdf", res.Signature); err != nil {
			return err
		}
		return s.enqueueTimeout(ctx, tx, d, s.today())
	})
	var te *application.TransitionError
	if errors.As(err, &te) {
		return "", nil // submitted by another request meanwhile
	}
	return "", err
}

// applicationPDF is the signed application (or, for a draft, the one
// rendered to be signed).
func (s *Service) applicationPDF(c echo.Context) error {
	a, _, err := s.owned(c)
	if err != nil {
		return err
	}
	name := application.FileSigned
	if a.State == application.Draft {
		name = application.FileApplication
	}
	_, data, err := s.apps.File(c.Request().Context(), a.ID, name)
	if err != nil {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="cerere-`+a.ID+`.pdf"`)
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "application/pdf", data)
}
