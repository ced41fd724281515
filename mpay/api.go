package mpay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

func (s *Service) mountAPI(g *echo.Group) {
	g.GET(client.PathInvoices, s.apiInvoice, s.signedBySP)
	g.GET("/mpay/api/v1/payments/:pid/receipt", s.apiReceipt, s.signedBySP)
	g.POST(client.PathRefunds, s.apiRefund, s.signedBySP)
}

const (
	spKey   = "mpay.sp"
	bodyKey = "mpay.body"
)

// signedBySP lets through calls signed by a registered SP's key.
func (s *Service) signedBySP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(client.HeaderService)
		sp, err := LookupService(c.Request().Context(), s.cfg.Store, id)
		if errors.Is(err, store.ErrNotFound) || id == "" {
			return sysauth.Unauthenticated("name a registered service in " + client.HeaderService)
		} else if err != nil {
			return err
		}
		r := c.Request()
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
		if err != nil || len(body) > 64<<10 {
			return problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request too large", "an API call's body is at most 64 KiB")
		}
		c.Set(bodyKey, body)
		if _, err := client.Verify(r.Header.Get(client.HeaderSignature), client.SigningInput(r.Method, r.RequestURI, body), client.OpClientCall, sp.Cert, s.cfg.Store.Now()); err != nil {
			return sysauth.Unauthenticated(err.Error())
		}
		c.Set(spKey, sp)
		return next(c)
	}
}

func notFound(detail string) error {
	return problem.New(http.StatusNotFound, "mpay-not-found", "Not found", detail)
}

func (s *Service) apiInvoice(c echo.Context) error {
	sp := c.Get(spKey).(*SP)
	ctx := c.Request().Context()
	if c.QueryParam("serviceID") != sp.ServiceID {
		return notFound("no invoice of this order for service " + sp.ServiceID)
	}
	in, err := s.ledger.InvoiceByOrder(ctx, sp.ServiceID, c.QueryParam("orderKey"))
	if errors.Is(err, ErrNotFound) {
		return notFound("MPay has no invoice for this order: the payer has not come yet")
	} else if err != nil {
		return err
	}
	pays, err := s.ledger.Payments(ctx, in.ID)
	if err != nil {
		return err
	}
	refunded, err := s.ledger.Refunded(ctx, in.ID)
	if err != nil {
		return err
	}
	out := client.Invoice{InvoiceID: in.ID, ServiceID: in.ServiceID, OrderKey: in.OrderKey, State: string(in.State), AmountDue: in.AmountDue,
		Currency: in.Currency, Payments: []client.Payment{}}
	for _, p := range pays {
		out.Payments = append(out.Payments, client.Payment{PaymentID: p.ID, State: string(p.State), Amount: p.Amount, Currency: p.Currency,
			PaidAt: timePtr(p.PaidAt), ConfirmedAt: timePtr(p.ConfirmedAt), Attempts: p.Attempts, Reason: p.Reason, Refunded: refunded[p.ID],
			Instrument: p.Instrument, LastError: p.LastError})
	}
	return c.JSON(http.StatusOK, out)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Service) apiReceipt(c echo.Context) error {
	sp := c.Get(spKey).(*SP)
	ctx := c.Request().Context()
	p, err := s.ledger.Payment(ctx, c.Param("pid"))
	if errors.Is(err, ErrNotFound) {
		return notFound("no such payment")
	} else if err != nil {
		return err
	}
	var owner string
	if err := s.cfg.Store.QueryRow(ctx, `SELECT service_id FROM mpay_invoices WHERE id = ?`, p.InvoiceID).Scan(&owner); err != nil {
		return err
	}
	if owner != sp.ServiceID || p.State != PayApproved {
		return notFound("no paid payment of this id for service " + sp.ServiceID)
	}
	b, err := s.Receipt(ctx, p, "ro")
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/pdf", b)
}

// apiRefund gives back (part of) one of the SP's payments; the answer is
// signed by MPay's key: the refund's confirmation.
func (s *Service) apiRefund(c echo.Context) error {
	sp := c.Get(spKey).(*SP)
	var r client.RefundRequest
	if err := json.Unmarshal(c.Get(bodyKey).([]byte), &r); err != nil {
		return problem.Newf(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", "the body is not a refund request: %v", err)
	}
	if r.PaymentID == "" || r.RefundID == "" || len(r.RefundID) > 64 || len(r.Reason) > 200 {
		return problem.New(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", "give paymentID, refundID (at most 64 characters) and an amount; a reason of at most 200")
	}
	ref, err := s.ledger.RefundPayment(c.Request().Context(), sp.ServiceID, r.RefundID, r.PaymentID, r.Amount, r.Reason)
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound(err.Error())
	case errors.Is(err, ErrRefund):
		return problem.New(http.StatusConflict, "mpay-refund-refused", "Refund refused", err.Error())
	case err != nil:
		return err
	}
	body, err := json.Marshal(client.Refund{RefundID: ref.RefundID, PaymentID: ref.PaymentID, Amount: ref.Amount, Currency: ref.Currency, RefundedAt: ref.Created.UTC()})
	if err != nil {
		return err
	}
	sig, err := s.caller.Signer.Sign(client.OpRefundAck, body)
	if err != nil {
		return err
	}
	c.Response().Header().Set(client.HeaderSignature, sig)
	return c.JSONBlob(http.StatusOK, body)
}
