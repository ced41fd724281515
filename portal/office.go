package portal

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/i18n"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/portal/shortcode"
	"github.com/semnat/semnat/store"
)

// Office is the back office (Config.Office): the clerks of the
// institutions named in the catalogue's institutions.toml log in with
// MPass (their employee certificate on a USB token: MPass says IDNO and
// CompanyName), see their institution's applications, and approve or
// reject them. Approving renders the service's result document, which the
// clerk signs through MSign's integrator flow and the institution then
// seals at B-LTA with its key.
type Office struct {
	// Seals are the institutions' seals by IDNO; an institution without one
	// cannot issue documents (its clerks can still reject).
	Seals map[string]pades.Signer
	// Timestamper, Revocation and ExtraCerts make the seal B-LTA (a
	// timestamp authority and the signer's revocation data; ExtraCerts:
	// e.g. the root, put in the DSS).
	Timestamper pades.Timestamper
	Revocation  pades.RevocationSource
	ExtraCerts  [][]byte
}

// Back office paths.
const (
	PathOffice       = PathPrefix + "/birou"
	PathOfficeSigned = PathOffice + "/semnat" // MSign's POST back after the clerk signed
)

// Errors of the back office.
var (
	// ErrNotClerk: the logged-in person is not a clerk of an institution
	// with a back office (a citizen, or a certificate without the IDNO).
	ErrNotClerk = errors.New("portal: the back office is for the clerks of an institution")
	// ErrClerkNoToken: a clerk logged in otherwise than with the employee
	// certificate on the USB token.
	ErrClerkNoToken = errors.New("portal: a clerk must log in with the employee certificate on the USB token")
	// ErrNoSeal: the institution has no seal configured.
	ErrNoSeal = errors.New("portal: the institution has no seal configured")
)

// officePages are the back office's page templates.
var officePages = []string{"office", "office-app"}

// officeData is what the back office's pages show.
type officeData struct {
	Institution *catalog.Institution
	Clerk       string
	States      []choice
	Cards       *reportView
	Issued      *application.Issued
	Code        string // formatted
	Actions     struct{ Start, Decide, Approve bool }
	Reasons     []choice
	Message     string
}

// institutionOf is the institution u is a clerk of (MPass's IDNO
// attribute, from the employee certificate, and the clerks' list), or nil.
// The login must have been with the certificate on the token (MPass's
// authentication context SmartcardPKI): a clerk who logged in otherwise is
// not let in, whatever the attributes say.
func (s *Service) institutionOf(u *user) *catalog.Institution {
	in := s.cfg.Catalog.Institution(u.Attrs.Get("IDNO"))
	if in == nil || !in.HasClerk(u.IDNP) || !u.ByCertificate() {
		return nil
	}
	return in
}

// clerkWithoutToken tells whether u is on an institution's list of clerks
// but did not log in with the token's certificate (e.g. by phone).
func (s *Service) clerkWithoutToken(u *user) bool {
	if u == nil || u.ByCertificate() {
		return false
	}
	return slices.ContainsFunc(s.cfg.Catalog.Institutions(), func(in *catalog.Institution) bool { return in.HasClerk(u.IDNP) })
}

// clerk is the logged-in clerk's institution, or ErrNotClerk.
func (s *Service) clerk(c echo.Context) (*user, *catalog.Institution, error) {
	u := s.currentUser(c.Request())
	if s.clerkWithoutToken(u) {
		return u, nil, ErrClerkNoToken
	}
	if u == nil || !u.Clerk {
		return u, nil, ErrNotClerk
	}
	return u, s.institutionOf(u), nil
}

// requireClerk lets only an institution's clerks in; anyone else logged
// in gets 403 (plain words: a clerk who logged in without the token is
// told to log in again with it), anyone not logged in goes to MPass.
func (s *Service) requireClerk(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireUser(func(c echo.Context) error {
		if _, _, err := s.clerk(c); errors.Is(err, ErrClerkNoToken) {
			return s.errorPage(c, http.StatusForbidden, wording(langOf(c))["e-clerk-token"])
		} else if err != nil {
			return s.errorPage(c, http.StatusForbidden, wording(langOf(c))["e-not-clerk"])
		}
		return next(c)
	})
}

func (s *Service) mountOffice(g *echo.Group, w *echo.Group) {
	if s.cfg.Office == nil {
		return
	}
	g.POST(PathOfficeSigned, s.officeSignedReturn, s.pageErrors, middleware.BodyLimit("64KB"))
	o := w.Group("", s.requireClerk)
	o.GET(PathOffice, s.officeQueue)
	o.GET(PathOffice+"/:id", s.officeApp)
	o.GET(PathOffice+"/:id/documente/:att", s.officeAttachment)
	o.GET(PathOffice+"/:id/cerere.pdf", s.officeFile)
	o.GET(PathOffice+"/:id/rezultat.pdf", s.officeFile)
	o.POST(PathOffice+"/:id/preia", s.officeStart)
	o.POST(PathOffice+"/:id/respinge", s.officeReject)
	o.POST(PathOffice+"/:id/aproba", s.officeApprove)
}

// queueStates are the states a back office works on, in the order shown.
var queueStates = []application.State{application.Submitted, application.Paid, application.InProgress, application.Completed, application.Rejected}

// officeQueue lists the institution's applications in a state (?stare=,
// default: those waiting for a decision).
func (s *Service) officeQueue(c echo.Context) error {
	u, in, _ := s.clerk(c)
	p := s.newPage(c, "")
	p.Title = p.T["Office"] + " — " + in.Name.In(p.Lang)
	states := []application.State{application.Submitted, application.Paid, application.InProgress}
	want := c.QueryParam("stare")
	if st := application.State(want); slices.Contains(queueStates, st) {
		states = []application.State{st}
	}
	od := &officeData{Institution: in, Clerk: u.IDNP}
	od.States = append(od.States, choice{Value: "", Label: p.T["Waiting"], Selected: want == ""})
	for _, st := range queueStates {
		od.States = append(od.States, choice{Value: string(st), Label: p.T[string(st)], Selected: want == string(st)})
	}
	var err error
	if p.Apps, err = s.apps.Queue(c.Request().Context(), s.cfg.Catalog.ServicesOf(in.IDNO), states, 200); err != nil {
		return err
	}
	for _, a := range p.Apps { // shown by its title (the list is not kept)
		if svc, err := s.cfg.Catalog.Service(a.Service); err == nil {
			a.Service = svc.Code + " — " + svc.Title.In(p.Lang)
		}
	}
	p.Office = od
	return s.render(c, http.StatusOK, "office", p)
}

// officeOwn is the path's application if it is one of the clerk's
// institution (else not found: a clerk learns nothing of the others').
func (s *Service) officeOwn(c echo.Context) (*user, *catalog.Institution, *application.Application, *catalog.Service, error) {
	u, in, err := s.clerk(c)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	a, err := s.apps.Get(c.Request().Context(), c.Param("id"))
	if err != nil || a.State == application.Draft {
		return nil, nil, nil, nil, echo.ErrNotFound
	}
	svc, err := s.cfg.Catalog.Service(a.Service)
	if err != nil || svc.Provider.IDNO != in.IDNO {
		return nil, nil, nil, nil, echo.ErrNotFound
	}
	return u, in, a, svc, nil
}

// officeApp is an application as the clerk sees it: the form, the
// applicant's signature report (MSign's VerifySignatures), the attached
// documents, the history and what can be done.
func (s *Service) officeApp(c echo.Context) error {
	u, in, a, svc, err := s.officeOwn(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := s.newPage(c, "")
	p.App, p.Service, p.Title = a, svc, svc.Title.In(p.Lang)+" — "+a.ID
	if p.History, err = s.apps.History(ctx, a.ID); err != nil {
		return err
	}
	p.Summary = s.summary(a, svc, p.Lang)
	p.Docs = docSlots(a, svc, p.Lang, p.T)
	od := &officeData{Institution: in, Clerk: u.IDNP, Message: c.QueryParam("semnare")}
	if _, signed, err := s.apps.File(ctx, a.ID, application.FileSigned); err == nil {
		od.Cards = s.reportOf(ctx, signed, "cerere-"+a.ID+".pdf", p.Lang)
	}
	if d, err := s.apps.IssuedOf(ctx, a.ID); err == nil && !d.IssuedAt.IsZero() {
		od.Issued, od.Code = d, shortcode.Format(d.Code)
	}
	od.Actions.Start = a.State == application.Paid || a.State == application.Submitted && a.Cost == 0
	od.Actions.Decide = a.State == application.Submitted || a.State == application.Paid || a.State == application.InProgress
	od.Actions.Approve = a.State == application.InProgress
	for _, r := range []string{application.ReasonRefused, application.ReasonIncomplete} {
		od.Reasons = append(od.Reasons, choice{Value: r, Label: p.T[r]})
	}
	p.Office = od
	return s.render(c, http.StatusOK, "office-app", p)
}

// officeAttachment is an attached document, for the clerk.
func (s *Service) officeAttachment(c echo.Context) error {
	_, _, a, _, err := s.officeOwn(c)
	if err != nil {
		return err
	}
	return s.sendAttachment(c, a)
}

// sendAttachment sends the attachment :att of a.
func (s *Service) sendAttachment(c echo.Context, a *application.Application) error {
	for _, at := range a.Attachments {
		if at.ID == c.Param("att") {
			ct, data, err := s.apps.File(c.Request().Context(), a.ID, "att-"+at.ID)
			if err != nil {
				return err
			}
			return sendFile(c, ct, at.Name, data)
		}
	}
	return echo.ErrNotFound
}

// officeFile is the signed application or the issued document.
func (s *Service) officeFile(c echo.Context) error {
	_, _, a, _, err := s.officeOwn(c)
	if err != nil {
		return err
	}
	name, file := application.FileSigned, "cerere-"+a.ID+".pdf"
	if strings.HasSuffix(c.Path(), "rezultat.pdf") {
		name, file = application.FileResult, "document-"+a.ID+".pdf"
	}
	ct, data, err := s.apps.File(c.Request().Context(), a.ID, name)
	if err != nil {
		return echo.ErrNotFound
	}
	return sendFile(c, ct, file, data)
}

func sendFile(c echo.Context, ct, name string, data []byte) error {
	c.Response().Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, ct, data)
}

func officePath(id string) string { return PathOffice + "/" + url.PathEscape(id) }

// officeStart: the clerk takes the application (EvStart: InProgress).
func (s *Service) officeStart(c echo.Context) error {
	u, _, a, _, err := s.officeOwn(c)
	if err != nil {
		return err
	}
	if _, err := s.apps.Transition(c.Request().Context(), u.IDNP, a.ID, application.EvStart, "", nil); err != nil {
		return s.transitionRefused(c, err)
	}
	return c.Redirect(http.StatusSeeOther, officePath(a.ID))
}

// transitionRefused shows a change the state machine refuses as a 409.
func (s *Service) transitionRefused(c echo.Context, err error) error {
	var te *application.TransitionError
	if errors.As(err, &te) {
		return s.errorPage(c, http.StatusConflict, wording(langOf(c))["e-state"])
	}
	return err
}

// officeReject: the clerk rejects the application with a reason and their
// words (kept as the application's note, shown to the applicant).
func (s *Service) officeReject(c echo.Context) error {
	u, _, a, _, err := s.officeOwn(c)
	if err != nil {
		return err
	}
	w := wording(langOf(c))
	reason, note := c.FormValue("reason"), strings.TrimSpace(c.FormValue("note"))
	if reason != application.ReasonRefused && reason != application.ReasonIncomplete || note == "" || len([]rune(note)) > 1000 ||
		strings.ContainsFunc(note, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }) {
		return s.errorPage(c, http.StatusBadRequest, w["e-reject-reason"])
	}
	if _, err := s.apps.Transition(c.Request().Context(), u.IDNP, a.ID, application.EvReject, reason, func(_ *store.Tx, d *application.Application) error {
		d.Note = note
		return nil
	}); err != nil {
		return s.transitionRefused(c, err)
	}
	return c.Redirect(http.StatusSeeOther, officePath(a.ID))
}

// RenderResult is the result document of an application: the service's
// result text, the issuing institution, the document's short code and the
// address of its public verification page (also as the QR code).
func RenderResult(a *application.Application, svc *catalog.Service, code, verifyURL string, at time.Time) ([]byte, error) {
	w := wording(a.Lang)
	text, err := svc.RenderResult(a.Lang, catalog.ResultData{Code: a.ID, Applicant: a.ApplicantName, Beneficiary: beneficiaryOf(a),
		Date: at.Format(time.DateOnly), Fields: a.Fields})
	if err != nil {
		return nil, err
	}
	lines := []string{svc.Provider.Name.In(a.Lang), "", svc.Title.In(a.Lang), ""}
	lines = append(lines, strings.Split(text, "\n")...)
	lines = append(lines, "", w["DocCode"]+": "+shortcode.Format(code), w["DocVerifyAt"]+": "+verifyURL)
	qr, err := qrModules(verifyURL)
	if err != nil {
		return nil, err
	}
	return textpdfRender(lines, qr)
}

func beneficiaryOf(a *application.Application) string {
	if a.OnBehalf == application.Self {
		return a.ApplicantName
	}
	return a.BeneficiaryName + ", " + a.Beneficiary
}

// officeApprove renders the result document, asks MSign for the clerk's
// signature on it and sends the clerk's browser there.
func (s *Service) officeApprove(c echo.Context) error {
	u, in, a, svc, err := s.officeOwn(c)
	if err != nil {
		return err
	}
	w := wording(langOf(c))
	ctx := c.Request().Context()
	switch {
	case a.State != application.InProgress:
		return s.errorPage(c, http.StatusConflict, w["e-state"])
	case s.cfg.Office.Seals[in.IDNO] == nil:
		return s.errorPage(c, http.StatusServiceUnavailable, w["e-no-seal"])
	case s.cfg.MSign == nil:
		return s.errorPage(c, http.StatusServiceUnavailable, w["e-no-msign"])
	}
	code := shortcode.New()
	doc, err := RenderResult(a, svc, code, s.url(PathVerify+"/"+code), s.today())
	if err != nil {
		return err
	}
	id, err := s.cfg.MSign.PostSignRequest(ctx, msignclient.SignRequest{
		ShortContentDescription: truncate("Document "+a.ID+": "+svc.Title.In("ro"), 90),
		ContentDescription:      truncate(fmt.Sprintf("Documentul eliberat pentru cererea %s (%s), %s", a.ID, svc.Title.In("ro"), in.Name.In("ro")), 512),
		SignatureReason:         truncate("Eliberarea documentului pentru cererea "+a.ID, 255),
		ContentType:             msignclient.ContentPdf,
		Contents:                []msignclient.SignContent{{CorrelationID: a.ID, Name: "document-" + a.ID + ".pdf", Content: doc}},
		ExpectedSigner:          &msignclient.ExpectedSigner{ID: u.IDNP},
	})
	if err != nil {
		s.cfg.Log.Warn("portal: MSign refused the clerk's sign request", "application", a.ID, "err", err)
		return s.errorPage(c, http.StatusServiceUnavailable, w["e-no-msign"])
	}
	if err := s.apps.StartIssuing(ctx, &application.Issued{ID: a.ID, Code: code, Institution: in.IDNO, Clerk: u.IDNP, SignRequest: id}, doc); err != nil {
		return err
	}
	q := url.Values{msignclient.ParamReturnURL: {s.url(PathOfficeSigned)}, msignclient.ParamRelayState: {a.ID}, msignclient.ParamLang: {langOf(c)},
		msignclient.ParamInstrument: {"token"}}
	return c.Redirect(http.StatusSeeOther, s.cfg.MSign.RedirectURL(id)+"?"+q.Encode())
}

// officeSignedReturn is where MSign sends the clerk back: the signed
// document is fetched, checked, sealed and issued.
func (s *Service) officeSignedReturn(c echo.Context) error {
	id, reqID := c.FormValue(msignclient.ParamRelayState), c.FormValue(msignclient.ParamRequestID)
	d, err := s.apps.IssuedOf(c.Request().Context(), id)
	if err != nil || reqID == "" || d.SignRequest != reqID {
		if err == nil && !d.IssuedAt.IsZero() {
			return c.Redirect(http.StatusSeeOther, officePath(id)) // came back twice
		}
		return s.errorPage(c, http.StatusBadRequest, "RequestID / RelayState")
	}
	msg, err := s.FinishIssuing(c.Request().Context(), id)
	switch {
	case errors.Is(err, ErrNotSigned):
		return c.Redirect(http.StatusSeeOther, officePath(id)+"?semnare="+url.QueryEscape(msg))
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, officePath(id))
}

// FinishIssuing fetches the clerk's signature on the document of
// application id from MSign; when it is the clerk's, on the document
// rendered, the institution seals it at B-LTA and the application is
// Completed with it. ErrNotSigned (with MSign's message) while pending or
// when it failed: the clerk may approve again.
func (s *Service) FinishIssuing(ctx context.Context, id string) (string, error) {
	d, err := s.apps.IssuedOf(ctx, id)
	if err != nil {
		return "", err
	}
	if !d.IssuedAt.IsZero() || d.SignRequest == "" {
		return "", fmt.Errorf("%w: application %s has no document being signed", ErrNotSigned, id)
	}
	resp, err := s.cfg.MSign.GetSignResponse(ctx, d.SignRequest, "ro")
	if err != nil {
		return "", fmt.Errorf("portal: MSign request %s: %w", d.SignRequest, err)
	}
	if resp.Status != msignclient.StatusSuccess || len(resp.Results) != 1 {
		return resp.Message, fmt.Errorf("%w: MSign request %s is %s: %s", ErrNotSigned, d.SignRequest, resp.Status, resp.Message)
	}
	res := resp.Results[0]
	_, draft, err := s.apps.File(ctx, id, application.FileResultDraft)
	if err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: the clerk's certificate: %v", ErrBadSignature, err)
	case cert.Subject.SerialNumber != d.Clerk:
		return "", fmt.Errorf("%w: signed by IDNP %q, the clerk is %s", ErrBadSignature, cert.Subject.SerialNumber, d.Clerk)
	case i18n.PersonOf(cert.Subject).IDNO != d.Institution:
		return "", fmt.Errorf("%w: the signer's certificate is not an employee certificate of %s", ErrBadSignature, d.Institution)
	case len(res.Signature) <= len(draft) || !bytes.Equal(res.Signature[:len(draft)], draft):
		return "", fmt.Errorf("%w: the signed PDF does not extend the document rendered", ErrBadSignature)
	}
	sealed, err := s.seal(ctx, d.Institution, res.Signature, res.Certificate)
	if err != nil {
		return "", err
	}
	_, err = s.apps.Transition(ctx, d.Clerk, id, application.EvComplete, "", func(tx *store.Tx, a *application.Application) error {
		return s.apps.IssueTx(ctx, tx, id, sealed)
	})
	return "", err
}

// seal seals doc with the institution's key at B-LTA; the DSS also holds
// the validation data of the clerk's certificate (clerk, DER), so that the
// clerk's signature validates offline for as long as the seal's.
func (s *Service) seal(ctx context.Context, idno string, doc, clerk []byte) ([]byte, error) {
	signer := s.cfg.Office.Seals[idno]
	if signer == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSeal, idno)
	}
	o := s.cfg.Office
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &out, signer, &pades.Options{Level: pades.LevelBLTA,
		Reason: "Sigiliul instituției", Timestamper: o.Timestamper, Revocation: o.Revocation, ExtraCerts: append(slices.Clone(o.ExtraCerts), clerk)}); err != nil {
		return nil, fmt.Errorf("portal: sealing the document for %s: %w", idno, err)
	}
	return out.Bytes(), nil
}

// reportView is a verification report as the pages show it (the cards
// of MSign's verify page).
type reportView struct {
	*pades.Report
	Valid bool
	Error bool // MSign could not be asked
}

// reportOf asks MSign to verify a signed PDF (VerifySignatures) and reads
// its report; on failure the view says so (Error).
func (s *Service) reportOf(ctx context.Context, doc []byte, name, lang string) *reportView {
	if s.cfg.MSign == nil {
		return &reportView{Error: true}
	}
	resp, err := s.cfg.MSign.VerifySignatures(ctx, msignclient.VerificationRequest{SignedContentType: msignclient.ContentPdf, Language: lang,
		Contents: []msignclient.VerificationContent{{CorrelationID: name, Signature: doc}}})
	if err != nil || len(resp.Results) != 1 {
		s.cfg.Log.Warn("portal: MSign's VerifySignatures failed", "doc", name, "err", err)
		return &reportView{Error: true}
	}
	var rep pades.Report
	if err := json.Unmarshal(resp.Results[0].Report, &rep); err != nil {
		return &reportView{Error: true}
	}
	rep.File = name
	return &reportView{Report: &rep, Valid: resp.Results[0].SignaturesValid}
}
