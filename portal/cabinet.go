package portal

import (
	"net/http"

	"github.com/labstack/echo/v4"

	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/shortcode"
)

// The citizen's cabinet (MCabinet) beyond the applications: the issued
// documents (download, verification report, QR code and short code), the
// payments with their receipts, and the notifications inbox (MNotify's,
// through mnotify/client).

// cabinetPages are the cabinet's page templates.
var cabinetPages = []string{"documents", "document", "payments", "inbox", "verify"}

// cabinetData is what the cabinet's pages show.
type cabinetData struct {
	Docs     []issuedDoc
	Doc      *issuedDoc
	Cards    *reportView
	Payments []*application.Application
	Inbox    []mnotifyclient.InboxMessage
	NoInbox  bool // MNotify is not configured or did not answer
}

func (s *Service) mountCabinet(a *echo.Group, w *echo.Group) {
	w.GET(PathVerify, s.verifyPage)
	w.GET(PathVerify+"/:code", s.verifyPage)
	a.GET(PathPrefix+"/documente", s.documentsPage)
	a.GET(PathPrefix+"/cereri/:id/rezultat", s.documentPage)
	a.GET(PathPrefix+"/cereri/:id/rezultat.pdf", s.resultPDF)
	a.GET(PathPrefix+"/plati", s.paymentsPage)
	a.GET(PathPrefix+"/notificari", s.inboxPage)
}

// issuedOf is the issued document of the person's application a, or nil.
func (s *Service) issuedOf(c echo.Context, a *application.Application, withQR bool) *issuedDoc {
	if a.State != application.Completed {
		return nil
	}
	d, err := s.apps.IssuedOf(c.Request().Context(), a.ID)
	if err != nil || d.IssuedAt.IsZero() {
		return nil
	}
	doc := &issuedDoc{App: a, Issued: d, Code: shortcode.Format(d.Code), Link: s.url(PathVerify + "/" + d.Code)}
	if svc, err := s.cfg.Catalog.Service(a.Service); err == nil {
		doc.Service = svc
	}
	if withQR {
		doc.QR, _ = qrSVG(doc.Link, wording(langOf(c))["QRLabel"])
	}
	return doc
}

// cabinetPage starts a cabinet page titled by the word title: the
// person's applications, newest first.
func (s *Service) cabinetPage(c echo.Context, title string) ([]*application.Application, *page, *cabinetData, error) {
	u := s.currentUser(c.Request())
	list, err := s.apps.ByApplicant(c.Request().Context(), u.IDNP, 200)
	if err != nil {
		return nil, nil, nil, err
	}
	p := s.newPage(c, "")
	p.Title = p.T[title]
	return list, p, &cabinetData{}, nil
}

// documentsPage lists the person's issued documents.
func (s *Service) documentsPage(c echo.Context) error {
	list, p, cd, err := s.cabinetPage(c, "MyDocuments")
	if err != nil {
		return err
	}
	for _, a := range list {
		if d := s.issuedOf(c, a, false); d != nil {
			cd.Docs = append(cd.Docs, *d)
		}
	}
	p.Cabinet = cd
	return s.render(c, http.StatusOK, "documents", p)
}

// documentPage is one issued document: its code, QR code and link, and
// its verification report.
func (s *Service) documentPage(c echo.Context) error {
	a, svc, err := s.owned(c)
	if err != nil {
		return err
	}
	d := s.issuedOf(c, a, true)
	if d == nil {
		return echo.ErrNotFound
	}
	p := s.newPage(c, "")
	p.App, p.Service, p.Title = a, svc, svc.Title.In(p.Lang)
	cd := &cabinetData{Doc: d}
	if _, doc, err := s.apps.File(c.Request().Context(), a.ID, application.FileResult); err == nil {
		cd.Cards = s.reportOf(c.Request().Context(), doc, "document-"+a.ID+".pdf", p.Lang)
	}
	p.Cabinet = cd
	return s.render(c, http.StatusOK, "document", p)
}

// resultPDF is the issued document (signed by the clerk, sealed).
func (s *Service) resultPDF(c echo.Context) error {
	a, _, err := s.owned(c)
	if err != nil {
		return err
	}
	ct, data, err := s.apps.File(c.Request().Context(), a.ID, application.FileResult)
	if err != nil || a.State != application.Completed {
		return echo.ErrNotFound
	}
	return sendFile(c, ct, "document-"+a.ID+".pdf", data)
}

// paymentsPage lists the person's paid applications with their receipts.
func (s *Service) paymentsPage(c echo.Context) error {
	list, p, cd, err := s.cabinetPage(c, "MyPayments")
	if err != nil {
		return err
	}
	for _, a := range list {
		if a.PaymentID != "" {
			if svc, err := s.cfg.Catalog.Service(a.Service); err == nil {
				a.Service = svc.Title.In(p.Lang)
			}
			cd.Payments = append(cd.Payments, a)
		}
	}
	_, p.Receipt = s.cfg.Payments.(Receipts)
	p.Cabinet = cd
	return s.render(c, http.StatusOK, "payments", p)
}

// inboxPage is the person's MCabinet inbox at MNotify.
func (s *Service) inboxPage(c echo.Context) error {
	u := s.currentUser(c.Request())
	p := s.newPage(c, "")
	p.Title = p.T["Notifications"]
	cd := &cabinetData{NoInbox: true}
	if s.cfg.MNotify != nil {
		msgs, err := s.cfg.MNotify.Inbox(c.Request().Context(), u.IDNP)
		if err != nil {
			s.cfg.Log.Warn("portal: MNotify's inbox", "err", err)
		} else {
			cd.Inbox, cd.NoInbox = msgs, false
		}
	}
	p.Cabinet = cd
	return s.render(c, http.StatusOK, "inbox", p)
}
