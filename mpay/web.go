package mpay

import (
	"context"
	"errors"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/store"
)

// Paths of MPay's pages.
const (
	PathPay   = "/service/pay" // POST ServiceID, OrderKey, ReturnUrl: from the SP's page
	PathStart = "/mpay"        // the payer starts at MPay
	// PathTerminal is the simulated cash terminal: a payment code and the
	// cash inserted.
	PathTerminal = "/mpay/terminal"
)

// page is what every template gets.
type page struct {
	Lang      string
	Langs     []i18n.LangLink
	Refresh   bool
	Error     string
	BackURL   string
	Services  []SP
	Invoice   *Invoice
	SP        *SP
	Payment   *Payment
	Payments  []Payment
	Evidence  []mpayclient.Message
	Suggested string
	Change    string // the cash terminal's change, once paid
}

// T is a message in the page's language (for words built in Go).
func (p *page) T(id string) string { return text(p.Lang, id) }

func newPage(c echo.Context) *page {
	lang := i18n.Choose(c.Response(), c.Request())
	return &page{Lang: lang, Langs: i18n.Links(c.Request(), lang)}
}

func render(c echo.Context, status int, name string, p *page) error {
	var b strings.Builder
	if err := pages.Execute(&b, p.Lang, name, p); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}

// pageCSP is the policy of every MPay page: no script at all, no inline
// style; the pages load only MPay's style sheet and post only to MPay (the
// way back to a service is a link, which form-action does not restrict).
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageHeaders gives a page (and the redirects and error pages of its
// route) the strict policy; the payment links carry the invoice's token,
// so no referrer leaves MPay.
func pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderContentSecurityPolicy, pageCSP)
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		return next(c)
	}
}

// Mount adds MPay's pages and API.
func (s *Service) Mount(g *echo.Group) {
	g.GET("/mpay/static/mpay.css", func(c echo.Context) error {
		b, _ := webFS.ReadFile("web/mpay.css")
		return c.Blob(http.StatusOK, "text/css; charset=utf-8", b)
	})
	g.GET(PathStart, s.start, pageHeaders)
	g.POST(PathStart+"/start", s.pay, pageHeaders)
	g.POST(PathPay, s.pay, pageHeaders)
	g.GET("/mpay/invoice/:token", s.invoice, pageHeaders)
	g.POST("/mpay/invoice/:token/card", s.card, pageHeaders)
	g.POST("/mpay/invoice/:token/ebanking", s.ebanking, pageHeaders)
	g.POST("/mpay/invoice/:token/cash", s.cash, pageHeaders)
	g.POST("/mpay/invoice/:token/payment/:pid/cancel", s.cancelCash, pageHeaders)
	g.GET(PathTerminal, s.terminal, pageHeaders)
	g.POST(PathTerminal, s.terminal, pageHeaders)
	g.GET("/mpay/bank/:token/:pid", s.bankPage, pageHeaders)
	g.POST("/mpay/bank/:token/:pid", s.bankAnswer, pageHeaders)
	g.GET("/mpay/invoice/:token/payment/:pid", s.payment, pageHeaders)
	g.POST("/mpay/invoice/:token/payment/:pid/3ds", s.challenge, pageHeaders)
	g.GET("/mpay/invoice/:token/payment/:pid/receipt.pdf", s.receipt, pageHeaders)
	s.mountAPI(g)
	mountSOAP(g)
	s.mountPOS(g)
	s.mountPeople(g)
}

func (s *Service) start(c echo.Context) error {
	p := newPage(c)
	var err error
	if p.Services, err = Services(c.Request().Context(), s.cfg.Store); err != nil {
		return err
	}
	return render(c, http.StatusOK, "start", p)
}

// fail shows an error page.
func fail(c echo.Context, p *page, status int, msg string) error {
	p.Error = msg
	return render(c, status, "error", p)
}

// pullError shows what went wrong asking the SP.
func (s *Service) pullError(c echo.Context, p *page, err error) error {
	var f *mpayclient.Fault
	switch {
	case errors.Is(err, ErrUnknownService):
		return fail(c, p, http.StatusNotFound, p.T("err.unknownService"))
	case errors.As(err, &f) && f.Code == mpayclient.FaultUnknownOrder:
		return fail(c, p, http.StatusNotFound, p.T("err.unknownOrder"))
	case errors.As(err, &f):
		return fail(c, p, http.StatusConflict, p.T("err.notPayable")+": "+f.Code)
	case errors.Is(err, mpayclient.ErrUnreachable), errors.Is(err, mpayclient.ErrBadMessage), errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("mpay: order pull failed", "err", err)
		return fail(c, p, http.StatusBadGateway, p.T("err.unreachable"))
	}
	return err
}

// pay answers POST /service/pay (from the SP) and /mpay/start: the order
// is pulled and the payer sent to its invoice.
func (s *Service) pay(c echo.Context) error {
	p := newPage(c)
	ctx := c.Request().Context()
	id, key, ret := strings.TrimSpace(c.FormValue("ServiceID")), strings.TrimSpace(c.FormValue("OrderKey")), c.FormValue("ReturnUrl")
	if id == "" || key == "" || len(key) > 36 {
		return fail(c, p, http.StatusBadRequest, p.T("err.unknownOrder"))
	}
	if ret != "" {
		sp, err := LookupService(ctx, s.cfg.Store, id)
		if errors.Is(err, store.ErrNotFound) {
			return fail(c, p, http.StatusNotFound, p.T("err.unknownService"))
		} else if err != nil {
			return err
		}
		if !sameHost(ret, sp.Endpoint) {
			return fail(c, p, http.StatusBadRequest, p.T("err.returnUrl"))
		}
	}
	in, err := s.Pull(ctx, id, key, ret, p.Lang)
	if err != nil {
		return s.pullError(c, p, err)
	}
	return c.Redirect(http.StatusSeeOther, "/mpay/invoice/"+in.Token)
}

// sameHost: a return URL must be on the SP's own host (no open redirect).
func sameHost(ret, endpoint string) bool {
	r, err1 := url.Parse(ret)
	e, err2 := url.Parse(endpoint)
	return err1 == nil && err2 == nil && (r.Scheme == "https" || r.Scheme == "http") && r.Host != "" && strings.EqualFold(r.Host, e.Host)
}

// invoice shows the checkout: the order is pulled again (the latest answer
// wins) while it is payable.
func (s *Service) invoice(c echo.Context) error {
	p := newPage(c)
	ctx := c.Request().Context()
	in, err := s.ledger.Invoice(ctx, c.Param("token"))
	if errors.Is(err, ErrNotFound) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	if in.State.Payable() {
		if in, err = s.Pull(ctx, in.ServiceID, in.OrderKey, "", p.Lang); err != nil {
			return s.pullError(c, p, err)
		}
	}
	return s.showInvoice(c, p, in, http.StatusOK)
}

func (s *Service) showInvoice(c echo.Context, p *page, in *Invoice, status int) error {
	ctx := c.Request().Context()
	var err error
	p.Invoice = in
	if p.SP, err = s.spOf(ctx, in); err != nil {
		return err
	}
	if p.Payments, err = s.ledger.Payments(ctx, in.ID); err != nil {
		return err
	}
	if p.Evidence, err = s.ledger.Evidence(ctx, in.ID, ""); err != nil {
		return err
	}
	if rem := in.Remaining(); rem != nil {
		p.Suggested = FormatAmount(*rem)
	}
	return render(c, status, "invoice", p)
}

// card pays by card.
func (s *Service) card(c echo.Context) error {
	p := newPage(c)
	ctx := c.Request().Context()
	tok := c.Param("token")
	in, err := s.ledger.Invoice(ctx, tok)
	if errors.Is(err, ErrNotFound) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	p.BackURL = "/mpay/invoice/" + tok
	amount, err := ParseAmount(c.FormValue("amount"))
	if err != nil {
		return fail(c, p, http.StatusBadRequest, p.T("err.amount")+": "+c.FormValue("amount"))
	}
	card, err := cardsim.ParseCard(c.FormValue("number"), c.FormValue("holder"), c.FormValue("expiry"), c.FormValue("cvc"), s.cfg.Store.Now())
	if err != nil {
		return fail(c, p, http.StatusBadRequest, p.T("err.badCard")+" ("+strings.TrimPrefix(err.Error(), "cardsim: bad card: ")+")")
	}
	pay, err := s.PayCard(ctx, in.Token, amount, card)
	if err != nil {
		return s.payError(c, p, err)
	}
	s.recordLoggedIn(c, pay)
	return c.Redirect(http.StatusSeeOther, "/mpay/invoice/"+in.Token+"/payment/"+pay.ID)
}

// paymentOf finds the invoice and one of its payments.
func (s *Service) paymentOf(c echo.Context) (*Invoice, *Payment, error) {
	ctx := c.Request().Context()
	in, err := s.ledger.Invoice(ctx, c.Param("token"))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, echo.ErrNotFound
	} else if err != nil {
		return nil, nil, err
	}
	pay, err := s.ledger.Payment(ctx, c.Param("pid"))
	if errors.Is(err, ErrNotFound) || err == nil && pay.InvoiceID != in.ID {
		return nil, nil, echo.ErrNotFound
	}
	return in, pay, err
}

func (s *Service) payment(c echo.Context) error {
	p := newPage(c)
	ctx := c.Request().Context()
	in, pay, err := s.paymentOf(c)
	if err != nil {
		return err
	}
	if pay, err = s.Refresh(ctx, pay); err != nil {
		return err
	}
	if in, err = s.ledger.Invoice(ctx, in.Token); err != nil {
		return err
	}
	p.Invoice, p.Payment, p.Refresh = in, pay, pay.State == PayAuthorizing
	if p.Payments, err = s.ledger.Payments(ctx, in.ID); err != nil {
		return err
	}
	if p.Evidence, err = s.ledger.Evidence(ctx, in.ID, pay.ID); err != nil {
		return err
	}
	return render(c, http.StatusOK, "payment", p)
}

func (s *Service) challenge(c echo.Context) error {
	_, pay, err := s.paymentOf(c)
	if err != nil {
		return err
	}
	code := c.FormValue("code")
	if c.FormValue("action") == "cancel" {
		code = ""
	}
	if _, err := s.Challenge(c.Request().Context(), pay.ID, code); err != nil && !errors.Is(err, ErrTransition) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/mpay/invoice/"+c.Param("token")+"/payment/"+pay.ID)
}

func (s *Service) receipt(c echo.Context) error {
	p := newPage(c)
	_, pay, err := s.paymentOf(c)
	if err != nil {
		return err
	}
	if pay.State != PayApproved {
		return echo.ErrNotFound
	}
	b, err := s.Receipt(c.Request().Context(), pay, p.Lang)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="nota-de-plata-%s.pdf"`, pay.ID))
	return c.Blob(http.StatusOK, "application/pdf", b)
}

// ebanking sends the payer to the simulated bank.
func (s *Service) ebanking(c echo.Context) error {
	return s.startPayment(c, s.PayEBanking, func(tok, id string) string { return "/mpay/bank/" + tok + "/" + id })
}

// startPayment starts, through pay, a payment of the form's amount for
// the invoice of the path's token, records the payer logged in through
// MPass, and sends the browser to where next says.
func (s *Service) startPayment(c echo.Context, pay func(ctx context.Context, tok string, amount int64) (*Payment, error), next func(tok, id string) string) error {
	p := newPage(c)
	tok := c.Param("token")
	p.BackURL = "/mpay/invoice/" + tok
	amount, err := ParseAmount(c.FormValue("amount"))
	if err != nil {
		return fail(c, p, http.StatusBadRequest, p.T("err.amount")+": "+c.FormValue("amount"))
	}
	started, err := pay(c.Request().Context(), tok, amount)
	if err != nil {
		return s.payError(c, p, err)
	}
	s.recordLoggedIn(c, started)
	return c.Redirect(http.StatusSeeOther, next(tok, started.ID))
}

// payError shows why a payment could not start (err is not nil).
func (s *Service) payError(c echo.Context, p *page, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return echo.ErrNotFound
	case errors.Is(err, ErrAmount):
		return fail(c, p, http.StatusBadRequest, p.T("err.amount")+" ("+strings.TrimPrefix(err.Error(), ErrAmount.Error()+": ")+")")
	case errors.Is(err, ErrNotPayable):
		return fail(c, p, http.StatusConflict, p.T("err.notPayable")+" ("+strings.TrimPrefix(err.Error(), ErrNotPayable.Error()+": ")+")")
	}
	return err
}

// bankPage is the simulated bank's page: confirm or refuse the transfer.
func (s *Service) bankPage(c echo.Context) error {
	p := newPage(c)
	in, pay, err := s.paymentOf(c)
	if err != nil {
		return err
	}
	if pay.Instrument != InstrumentEBanking || pay.State != PayChallenge {
		return c.Redirect(http.StatusSeeOther, "/mpay/invoice/"+in.Token+"/payment/"+pay.ID)
	}
	p.Invoice, p.Payment = in, pay
	if p.SP, err = s.spOf(c.Request().Context(), in); err != nil {
		return err
	}
	return render(c, http.StatusOK, "bank", p)
}

func (s *Service) bankAnswer(c echo.Context) error {
	in, pay, err := s.paymentOf(c)
	if err != nil {
		return err
	}
	if pay.Instrument == InstrumentEBanking {
		if _, err := s.BankAnswer(c.Request().Context(), pay.ID, c.FormValue("action") == "confirm"); err != nil && !errors.Is(err, ErrTransition) {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/mpay/invoice/"+in.Token+"/payment/"+pay.ID)
}

// cash gives the payer a code to pay at a cash terminal.
func (s *Service) cash(c echo.Context) error {
	return s.startPayment(c, s.PayCash, func(tok, id string) string { return "/mpay/invoice/" + tok + "/payment/" + id })
}

// cancelCash withdraws an unpaid cash code.
func (s *Service) cancelCash(c echo.Context) error {
	in, pay, err := s.paymentOf(c)
	if err != nil {
		return err
	}
	if pay.Instrument == InstrumentCash {
		if err := s.CancelCash(c.Request().Context(), pay.ID); err != nil && !errors.Is(err, ErrTransition) {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/mpay/invoice/"+in.Token+"/payment/"+pay.ID)
}

// terminal is the simulated cash terminal: GET shows it, POST pays a code.
func (s *Service) terminal(c echo.Context) error {
	p := newPage(c)
	if c.Request().Method == http.MethodGet {
		return render(c, http.StatusOK, "terminal", p)
	}
	code := strings.ReplaceAll(c.FormValue("code"), " ", "")
	inserted, err := ParseAmount(c.FormValue("cash"))
	if err != nil {
		p.Error = p.T("err.amount") + ": " + c.FormValue("cash")
		return render(c, http.StatusBadRequest, "terminal", p)
	}
	pay, change, err := s.TerminalPay(c.Request().Context(), code, inserted)
	if errors.Is(err, ErrCash) {
		p.Error = p.T("terminal.refused") + " (" + strings.TrimPrefix(err.Error(), ErrCash.Error()+": ") + ")"
		return render(c, http.StatusConflict, "terminal", p)
	} else if err != nil {
		return err
	}
	p.Payment, p.Change = pay, FormatAmount(change)
	return render(c, http.StatusOK, "terminal", p)
}

// spOf is the SP of an invoice; one removed since is shown by its ServiceID.
func (s *Service) spOf(ctx context.Context, in *Invoice) (*SP, error) {
	sp, err := LookupService(ctx, s.cfg.Store, in.ServiceID)
	if errors.Is(err, store.ErrNotFound) {
		return &SP{ServiceID: in.ServiceID, Name: in.ServiceID}, nil
	}
	return sp, err
}
