package portal

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/semnat/semnat/internal/textpdf"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/portal/shortcode"
)

// PathVerify is the public page that verifies an issued document, by its
// short code (PathVerify+"/CODE", the QR code's link, or ?cod=).
const PathVerify = PathPrefix + "/verificare"

// qrModules is the QR code (error correction M, quiet zone included) of
// link, module by module: github.com/skip2/go-qrcode encodes, the PDF and
// the pages draw the modules themselves.
func qrModules(link string) ([][]bool, error) {
	q, err := qrcode.New(link, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("portal: QR code of %s: %w", link, err)
	}
	return q.Bitmap(), nil
}

// qrSVG is the QR code of link as an inline SVG image, labelled.
func qrSVG(link, label string) (template.HTML, error) {
	m, err := qrModules(link)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges"><rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="`,
		template.HTMLEscapeString(label), len(m), len(m), 4*len(m), 4*len(m))
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

func textpdfRender(lines []string, code [][]bool) ([]byte, error) {
	return textpdf.Render([][]string{lines}, textpdf.Options{MaxPages: textpdf.MaxPages, Code: code})
}

// verifyData is what the public verification page shows: what the
// document itself states about its issue, never the applicant.
type verifyData struct {
	Code, Number, Issuer, Service, SHA256 string
	Issued                                string // date, Europe/Chisinau
	State                                 application.State
	Cards                                 *reportView
	Asked                                 string // what was typed, when no document matched
}

// verifyPage is the public "verify an issued document" page: a form for
// the short code, and for a known code the document's status, issuer,
// date and verification report. No login. An unknown code is a plain 404.
func (s *Service) verifyPage(c echo.Context) error {
	raw := c.Param("code")
	if raw == "" {
		raw = c.QueryParam("cod")
	}
	p := s.newPage(c, "")
	p.Title = p.T["VerifyDoc"]
	if raw == "" {
		p.Verify = &verifyData{}
		return s.render(c, http.StatusOK, "verify", p)
	}
	code, err := shortcode.Parse(raw)
	if err != nil {
		return s.errorPage(c, http.StatusNotFound, p.T["e-no-document"])
	}
	if c.Param("code") == "" {
		return c.Redirect(http.StatusSeeOther, PathVerify+"/"+url.PathEscape(code))
	}
	ctx := c.Request().Context()
	d, err := s.apps.IssuedByCode(ctx, code)
	if errors.Is(err, application.ErrNotFound) || err == nil && d.IssuedAt.IsZero() {
		return s.errorPage(c, http.StatusNotFound, p.T["e-no-document"])
	}
	if err != nil {
		return err
	}
	a, err := s.apps.Get(ctx, d.ID)
	if err != nil {
		return err
	}
	v := &verifyData{Code: shortcode.Format(code), Number: a.ID, SHA256: d.SHA256, State: a.State,
		Issued: d.IssuedAt.In(s.cfg.Location).Format("2006-01-02 15:04")}
	if svc, err := s.cfg.Catalog.Service(a.Service); err == nil {
		v.Service, v.Issuer = svc.Title.In(p.Lang), svc.Provider.Name.In(p.Lang)
	}
	if _, doc, err := s.apps.File(ctx, d.ID, application.FileResult); err == nil {
		v.Cards = s.reportOf(ctx, doc, "document-"+a.ID+".pdf", p.Lang)
	}
	p.Verify = v
	c.Response().Header().Set("X-Robots-Tag", "noindex")
	return s.render(c, http.StatusOK, "verify", p)
}

// issuedDoc is an issued document as the citizen's cabinet lists it.
type issuedDoc struct {
	App     *application.Application
	Service *catalog.Service
	Issued  *application.Issued
	Code    string
	Link    string
	QR      template.HTML
}
