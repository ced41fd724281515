package portal

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/store"
)

// The portal is an MPay service provider (egov-flows §4): the payer of a
// submitted application with a tariff is sent to MPay with the
// application's number as the order key; MPay pulls the order from the
// portal's endpoint (PathMPay, mpay/client's REST face with signed messages) and
// pushes the payment's confirmation there, which makes the application
// Paid, once however many times it comes.

// Payments sends payers to MPay: where their browser POSTs the fields
// (an *mpay/client.Client is one).
type Payments interface {
	PayForm(orderKey, returnURL string) (action string, fields url.Values)
}

// Receipts fetches a payment's sealed receipt from MPay (an
// *mpay/client.Client is one); the status page offers it when Payments
// can.
type Receipts interface {
	Receipt(ctx context.Context, paymentID string) ([]byte, error)
}

// receipt gives the applicant MPay's sealed receipt of their payment.
func (s *Service) receipt(c echo.Context) error {
	a, _, err := s.owned(c)
	if err != nil {
		return err
	}
	r, ok := s.cfg.Payments.(Receipts)
	if !ok || a.PaymentID == "" {
		return echo.ErrNotFound
	}
	pdf, err := r.Receipt(c.Request().Context(), a.PaymentID)
	if err != nil {
		s.cfg.Log.Warn("portal: MPay's receipt", "application", a.ID, "err", err)
		return s.errorPage(c, http.StatusBadGateway, wording(langOf(c))["e-receipt"])
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="chitanta-`+a.ID+`.pdf"`)
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}

// MPaySP is the portal's registration at MPay.
type MPaySP struct {
	ServiceID string             // the portal's service id at MPay
	MPay      *x509.Certificate  // MPay's message certificate: its requests must be signed by its key
	Signer    *mpayclient.Signer // the portal's key, whose certificate is registered with MPay
	// PayWithin is how long a submitted application may wait for its
	// payment (the order's due date; default 72 h): then it is Cancelled
	// (payment time-out) by a job of the durable queue.
	PayWithin time.Duration
	// Poll is how often the portal's job queue looks for work (default
	// 1 s).
	Poll time.Duration
}

// TimeoutArgs is the job that cancels a submitted application not paid
// in time; enqueued with the submission, in its transaction.
type TimeoutArgs struct {
	ID string `json:"id" river:"unique"`
}

// Kind is the job's stable name.
func (TimeoutArgs) Kind() string { return "portal.payment-timeout" }

// startJobs starts the portal's job queue: payment time-outs (with MPay)
// and notifications (with MNotify).
func (s *Service) startJobs(ctx context.Context) error {
	q, err := jobs.New(ctx, s.cfg.Store, jobs.Options{Queue: "portal", Workers: 4, PollInterval: s.jobPoll(), Backoff: s.cfg.JobBackoff, Log: s.cfg.Log})
	if err != nil {
		return err
	}
	if err := jobs.Register(q, jobs.WorkFunc(s.paymentTimeout)); err != nil {
		return err
	}
	if s.cfg.MNotify != nil {
		if err := jobs.Register(q, jobs.WorkFunc(s.notify)); err != nil {
			return err
		}
		s.apps.OnChange(s.enqueueNotify)
	}
	if err := q.Start(context.Background()); err != nil {
		return err
	}
	s.queue = q
	return nil
}

// paymentTimeout cancels an application still unpaid at its due date; one
// paid, withdrawn or decided meanwhile is left as it is.
func (s *Service) paymentTimeout(ctx context.Context, j *jobs.Job[TimeoutArgs]) error {
	_, err := s.apps.Transition(ctx, "portal", j.Args.ID, application.EvCancel, application.ReasonPaymentTimeout, nil)
	var te *application.TransitionError
	if errors.As(err, &te) || errors.Is(err, application.ErrNotFound) {
		return nil
	}
	return err
}

// enqueueTimeout schedules the payment time-out of a submitted
// application with a tariff, in the submission's transaction.
func (s *Service) enqueueTimeout(ctx context.Context, tx *store.Tx, a *application.Application, submitted time.Time) error {
	if s.queue == nil || a.Cost == 0 {
		return nil
	}
	_, err := s.queue.EnqueueTx(ctx, tx, TimeoutArgs{ID: a.ID}, &jobs.EnqueueOpts{RunAt: submitted.Add(s.payWithin()), Unique: true})
	return err
}

// PathMPay is the portal's endpoint for MPay (register it as the
// service's endpoint).
const PathMPay = PathPrefix + "/mpay"

// kindEvidence keeps the signed messages exchanged with MPay.
const kindEvidence = "portal.mpay-message"

func (s *Service) mountMPay(g *echo.Group) {
	sp := s.cfg.MPaySP
	h := mpayclient.Handler(mpayclient.HandlerConfig{Orders: mpayOrders{s}, MPay: sp.MPay, Signer: sp.Signer, Evidence: s.keepEvidence})
	g.POST(PathMPay+"/*", echo.WrapHandler(http.StripPrefix(PathMPay, h)), middleware.BodyLimit("1MB"))
}

// keepEvidence keeps a signed message, as MPay's rules ask of a provider.
func (s *Service) keepEvidence(m mpayclient.Message) {
	b, err := json.Marshal(m)
	if err == nil {
		err = s.cfg.Store.Put(context.Background(), kindEvidence, m.At.UTC().Format(time.RFC3339Nano)+" "+m.Op+" "+application.Digest(m.Body)[:16], b, store.Forever)
	}
	if err != nil {
		s.cfg.Log.Error("portal: keeping an MPay message", "op", m.Op, "err", err)
	}
}

// mpayOrders is the portal's orders: its applications with a tariff.
type mpayOrders struct{ s *Service }

func (o mpayOrders) application(ctx context.Context, serviceID, key string) (*application.Application, error) {
	if serviceID != o.s.cfg.MPaySP.ServiceID {
		return nil, &mpayclient.Fault{Code: mpayclient.FaultUnknownService, Message: "this is " + o.s.cfg.MPaySP.ServiceID}
	}
	a, err := o.s.apps.Get(ctx, key)
	if errors.Is(err, application.ErrNotFound) || err == nil && (a.Cost == 0 || a.State == application.Draft) {
		return nil, &mpayclient.Fault{Code: mpayclient.FaultUnknownOrder, Message: "no application " + key + " to pay"}
	}
	if err != nil {
		return nil, &mpayclient.Fault{Code: mpayclient.FaultInternalError, Message: "the application cannot be read now"}
	}
	return a, nil
}

// OrderDetails answers MPay's pull: the application's tariff, due until
// PayWithin after it was submitted.
func (o mpayOrders) OrderDetails(ctx context.Context, q mpayclient.OrderDetailsQuery) (*mpayclient.OrderDetails, error) {
	a, err := o.application(ctx, q.ServiceID, q.OrderKey)
	if err != nil {
		return nil, err
	}
	svc, err := o.s.cfg.Catalog.Service(a.Service)
	if err != nil {
		return nil, &mpayclient.Fault{Code: mpayclient.FaultUnknownOrder, Message: "the service is no longer offered"}
	}
	lang := q.Language
	reason := truncate(svc.Title.In(lang)+" ("+a.ID+")", 200)
	due := a.Changed.Add(o.s.payWithin())
	status, left := mpayclient.StatusActive, a.Cost
	switch a.State {
	case application.Submitted:
		if o.s.today().After(due) {
			status = mpayclient.StatusExpired
		}
	case application.Paid, application.InProgress, application.Completed:
		status, left = mpayclient.StatusPaid, 0
	default:
		status = mpayclient.StatusCancelled
	}
	customer := "Person"
	if idn.KindOf(a.Beneficiary) == idn.Entity {
		customer = "Organization"
	}
	return &mpayclient.OrderDetails{ServiceID: q.ServiceID, OrderKey: a.ID, Reason: reason, Status: status, IssuedAt: a.Changed,
		DueDate: &due, TotalAmountDue: &left, Currency: "MDL", CustomerType: customer, CustomerID: a.Beneficiary,
		CustomerName: truncate(a.BeneficiaryName, 60),
		Lines: []mpayclient.OrderLine{{LineID: "1", Reason: reason, AmountDue: left, DestinationAccount: mpayclient.DestinationAccount{
			BankCode: "TREZMD2X", BankFiscalCode: svc.Provider.IDNO, BeneficiaryName: truncate(svc.Provider.Name.In("ro"), 60)}}}}, nil
}

// ConfirmPayment answers MPay's push: the whole tariff in MDL makes the
// application Paid; the same payment again changes nothing.
func (o mpayOrders) ConfirmPayment(ctx context.Context, c mpayclient.PaymentConfirmation) error {
	a, err := o.application(ctx, c.ServiceID, c.OrderKey)
	if err != nil {
		return err
	}
	if c.Currency != "MDL" || c.TotalAmount < a.Cost {
		return &mpayclient.Fault{Code: mpayclient.FaultInvalidParameter, Message: fmt.Sprintf("%s: %d %s paid, %d MDL due", a.ID, c.TotalAmount, c.Currency, a.Cost)}
	}
	if a.State == application.Cancelled || a.State == application.Rejected {
		return &mpayclient.Fault{Code: mpayclient.FaultInvoiceExpired, Message: a.ID + " is " + string(a.State)}
	}
	if err := o.s.PaymentConfirmed(ctx, "mpay", a.ID, c.PaymentID); err != nil {
		return &mpayclient.Fault{Code: mpayclient.FaultInternalError, Message: "the payment could not be recorded now"}
	}
	return nil
}

func (s *Service) payWithin() time.Duration {
	if s.cfg.MPaySP != nil && s.cfg.MPaySP.PayWithin > 0 {
		return s.cfg.MPaySP.PayWithin
	}
	return 72 * time.Hour
}

// PaymentConfirmed records the payment of application id (MPay's
// confirmation): Submitted → Paid, the payment's id kept with it. A
// confirmation that comes again for an application already paid is not an
// error ("multiple calls must not be considered as multiple payments").
func (s *Service) PaymentConfirmed(ctx context.Context, actor, id, paymentID string) error {
	_, err := s.apps.Transition(ctx, actor, id, application.EvPay, "", func(_ *store.Tx, a *application.Application) error {
		a.PaymentID = paymentID
		return nil
	})
	var te *application.TransitionError
	if errors.As(err, &te) && (te.From == application.Paid || te.From == application.InProgress || te.From == application.Completed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("portal: payment %s of %s: %w", paymentID, id, err)
	}
	return nil
}
