package mpay

import (
	"context"
	"errors"
	"fmt"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/jobs"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/store"
)

// The payer hears through MNotify that their payment is confirmed: a job
// enqueued in the transaction that records the approval posts the
// notification (ro, ru, en) to the order's customer — by IDNP when the SP
// named a person, else to the order's CustomerEmail — retried until MNotify
// takes it, with an Idempotency-Key so that it arrives once.

// NotifyPayerArgs is the job that tells the payer of a payment it is
// confirmed.
type NotifyPayerArgs struct {
	PaymentID string `json:"paymentID" river:"unique"`
}

// Kind names the job.
func (NotifyPayerArgs) Kind() string { return "mpay.notify-payer" }

// enqueueNotify is called in the approval's transaction.
func (s *Service) enqueueNotify(ctx context.Context, tx *store.Tx, p *Payment) error {
	if s.cfg.MNotify == nil {
		return nil
	}
	s.queue.EnqueueAtCommit(tx, NotifyPayerArgs{PaymentID: p.ID}, &jobs.EnqueueOpts{Unique: true})
	return nil
}

// notifyPayer posts the confirmation's notification (an error: retried).
func (s *Service) notifyPayer(ctx context.Context, j *jobs.Job[NotifyPayerArgs]) error {
	p, err := s.ledger.Payment(ctx, j.Args.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return jobs.Cancel(err)
	} else if err != nil {
		return err
	}
	in, err := scanInvoice(s.cfg.Store.QueryRow(ctx, `SELECT `+invoiceCols+` FROM mpay_invoices WHERE id = ?`, p.InvoiceID))
	if err != nil {
		return fmt.Errorf("mpay: the invoice of payment %s: %w", p.ID, err)
	}
	to, ok := payer(in)
	if !ok {
		return nil // the order names nobody MNotify can reach
	}
	req := mnotifyclient.NotificationRequest{Priority: mnotifyclient.PriorityMedium, Recipients: []mnotifyclient.Recipient{to}}
	for _, lang := range i18n.Langs {
		loc := catalog.Localizer(lang)
		args := []any{"Amount", FormatAmount(p.Amount), "Currency", p.Currency, "Reason", in.Reason, "Order", in.OrderKey,
			"Payment", p.ID, "When", loc.Time(p.PaidAt.In(i18n.Zone))}
		req.Subject.Set(lang, loc.T("notify.subject", args...))
		req.Body.Set(lang, loc.T("notify.body", args...))
	}
	req.BodyShort = req.Subject
	if _, err := s.cfg.MNotify.Send(ctx, req, "mpay-paid-"+p.ID); err != nil {
		if errors.Is(err, mnotifyclient.ErrInvalid) || errors.Is(err, mnotifyclient.ErrAuthorizationFailed) {
			return jobs.Cancel(fmt.Errorf("mpay: MNotify refused the notification of payment %s: %w", p.ID, err))
		}
		s.log.Warn("mpay: notifying the payer", "payment", p.ID, "attempt", j.Attempt, "err", err)
		return err
	}
	return nil
}

// payer is whom to tell of a payment of in: the customer's IDNP when the
// SP named a person, else the order's e-mail address.
func payer(in *Invoice) (mnotifyclient.Recipient, bool) {
	o := in.Order
	if o.CustomerType != "Organization" && idn.KindOf(o.CustomerID) == idn.Person {
		return mnotifyclient.Recipient{Value: o.CustomerID, Type: mnotifyclient.RecipientIdnp}, true
	}
	if o.CustomerEmail != "" {
		return mnotifyclient.Recipient{Value: o.CustomerEmail, Type: mnotifyclient.RecipientEmail}, true
	}
	return mnotifyclient.Recipient{}, false
}
