// Package mpay is MPay, the payment gateway of egov-flows §4: the service
// provider (SP) owns the order, MPay owns the payment. The payer comes
// from the SP's page (POST /service/pay) or starts at MPay; MPay pulls the
// order from the SP (GetOrderDetails, again whenever the payer comes back:
// the latest answer wins), the payer pays at the simulated card processor
// (cardsim), and MPay pushes the signed ConfirmOrderPayment to the SP until
// the SP acknowledges it; PaymentID is the idempotency key on both sides.
// The payer gets a receipt ("Notă de plată") sealed by MPay's key.
//
// SPs are registered (AddService) with their endpoint and the certificate
// their answers are signed with; the REST/JSON face of the protocol and its
// detached JWS signatures are in mpay/client/mpayclient. Invoices follow one state
// machine (model.go); the Ledger keeps invoices, payments and the signed
// messages as evidence in the store, each change in one transaction with
// its audit event. Amounts are integers in minor units (bani).
package mpay

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/jobs"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
)

// Config configures MPay.
type Config struct {
	Store *store.Store // required
	Log   *slog.Logger
	// Key and Cert (with Chain, leaf's issuers) are MPay's: they sign the
	// messages to SPs and seal the receipts. Required.
	Key   crypto.Signer
	Cert  *x509.Certificate
	Chain []*x509.Certificate
	// MessageKey and MessageCert, when set, sign MPay's REST/JWS messages
	// (order pulls, confirmations, signed API answers) instead of Key: an
	// EC P-256 key (NewMessageKey) makes them ES256 (msgkey.go). Receipts
	// and the SOAP face's WS-Security stay signed by Key.
	MessageKey  crypto.Signer
	MessageCert *x509.Certificate
	// Timestamper, and Revocation with ExtraCerts, raise the receipts'
	// seal to B-T and B-LT (B-B without them).
	Timestamper pades.Timestamper
	Revocation  pades.RevocationSource
	ExtraCerts  [][]byte
	// HTTP calls the SPs (a 10 s time-out when nil).
	HTTP *http.Client
	// Card tunes the simulated card processor.
	Card cardsim.Options
	// RetryBase and RetryMax bound the back-off between confirmation
	// attempts (250 ms and 5 min when zero); Poll is how often the job
	// queue looks for work (200 ms when zero).
	RetryBase, RetryMax, Poll time.Duration
	// Workers is how many jobs (mostly confirmation deliveries, each
	// waiting on an SP) run at once: 100 when zero. The queue runs at
	// most about Workers jobs per 10 ms fetch.
	Workers int
	// MNotify is where payers are told their payment is confirmed (MPay is
	// a system registered there). nil: they are not.
	MNotify *mnotifyclient.Client
	// CallTimeout bounds one call of an SP (15 s when zero).
	CallTimeout time.Duration
	// ChallengeTimeout is how long a 3-D Secure page waits for the payer
	// before the payment fails (10 min when zero).
	ChallengeTimeout time.Duration
	// Instance names this MPay among those sharing the store, the same
	// across restarts (jobs.Options.Instance): a restarted instance takes
	// back at once the deliveries its previous run was making when it
	// died. "": a new name each start.
	Instance string
	// AnswerGrace is how long past the processor's time-out a payment
	// may stay unanswered (the process stopped mid-payment) before a job
	// fails it (30 s when zero).
	AnswerGrace time.Duration
	// Web turns on the pages for people logged in with MPass (a payer's
	// history, an SP's view: people.go). nil: off.
	Web *WebConfig
}

// Service is MPay as a service.Service.
type Service struct {
	cfg    Config
	log    *slog.Logger
	ledger *Ledger
	caller *mpayclient.Caller // the REST face, signed by the message key
	// soapSigner signs the SOAP face's WS-Security: MPay's key (RSA).
	soapSigner *mpayclient.Signer
	proc       *cardsim.Processor

	queue  *jobs.Queue
	m      *metrics
	people *samlsp.Middleware // the pages for people (nil: off)
	closed sync.Once

	backlog backlog // per SP: failing, when a drain was asked for (backlog.go)
}

// New builds MPay, creates its tables and starts its delivery worker.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("mpay: a store is required")
	}
	if cfg.Key == nil || cfg.Cert == nil {
		return nil, errors.New("mpay: MPay's key and certificate are required (they sign the messages to service providers and the receipts)")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.HTTP == nil {
		cfg.HTTP = defaultHTTP()
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 250 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 15 * time.Second
	}
	if cfg.AnswerGrace <= 0 {
		cfg.AnswerGrace = 30 * time.Second
	}
	if cfg.ChallengeTimeout <= 0 {
		cfg.ChallengeTimeout = 10 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 100
	}
	seal, err := mpayclient.NewSigner(cfg.Key, cfg.Cert)
	if err != nil {
		return nil, err
	}
	signer, err := messageSigner(cfg, seal)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := NewLedger(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	if err := cfg.Store.CreateSchema(ctx, posSchema); err != nil {
		return nil, err
	}
	if err := cfg.Store.CreateSchema(ctx, payersSchema); err != nil {
		return nil, err
	}
	people, err := newPeople(cfg.Web)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Log, ledger: l, proc: cardsim.New(cfg.Card), m: newMetrics(), people: people, soapSigner: seal,
		caller: &mpayclient.Caller{Signer: signer, HTTP: cfg.HTTP, Now: cfg.Store.Now}}
	// Retried until acknowledged: at RetryMax apart, a year of attempts.
	maxAttempts := int(365*24*time.Hour/cfg.RetryMax) + 32
	// A job's context ends JobTimeout after it started (the SP's call is
	// bounded by CallTimeout, the rest is a few reads and one write), so a
	// job still "running" RescueAfter later belongs to a process that died
	// (SIGKILL, power): it is run again then (a second delivery is counted
	// once by the SP) rather than minutes later.
	jobTimeout := cfg.CallTimeout + 10*time.Second
	s.queue, err = jobs.New(ctx, cfg.Store, jobs.Options{Queue: "mpay", Workers: cfg.Workers, PollInterval: cfg.Poll, FetchCooldown: fetchCooldown, Backoff: s.backoff,
		MaxAttempts: maxAttempts, JobTimeout: jobTimeout, RescueAfter: jobTimeout + 10*time.Second, Log: cfg.Log,
		Instance: cfg.Instance})
	if err != nil {
		return nil, err
	}
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.deliver)); err != nil {
		return nil, err
	}
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.expire)); err != nil {
		return nil, err
	}
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.drain)); err != nil {
		return nil, err
	}
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.settleLate)); err != nil {
		return nil, err
	}
	l.onWaiting = s.settleWhenDue
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.sweepUnanswered)); err != nil {
		return nil, err
	}
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.deliverWebhook)); err != nil {
		return nil, err
	}
	l.onSettled = func(ctx context.Context, tx *store.Tx, in *Invoice, p *Payment) error {
		typ := EventPaymentFailed
		if p.State == PayApproved {
			typ = EventPaymentSucceeded
		}
		return s.webhook(ctx, tx, in.ServiceID, in.spSettings, typ, paymentResource(in, p))
	}
	l.onRefund = func(ctx context.Context, tx *store.Tx, r *Refund) error {
		return s.webhook(ctx, tx, r.ServiceID, nil, EventRefundSucceeded, map[string]any{"refund_id": r.RefundID, "payment_id": r.PaymentID,
			"amount": r.Amount, "currency": r.Currency, "reason": r.Reason})
	}
	if err := jobs.Register(s.queue, jobs.WorkFunc(s.notifyPayer)); err != nil {
		return nil, err
	}
	if cfg.MNotify == nil {
		cfg.Log.Info("mpay: no MNotify configured: payers are not notified of their confirmed payments")
	}
	l.onApproved = func(ctx context.Context, tx *store.Tx, in *Invoice, p *Payment) error {
		s.queue.EnqueueAtCommit(tx, ConfirmArgs{PaymentID: p.ID}, &jobs.EnqueueOpts{Unique: true})
		if err := s.recordOrderPayer(ctx, tx, in, p); err != nil {
			return err
		}
		return s.enqueueNotify(ctx, tx, p)
	}
	l.onDueDate = func(ctx context.Context, tx *store.Tx, in *Invoice) error {
		_, err := s.queue.EnqueueTx(ctx, tx, ExpireArgs{InvoiceID: in.ID, DueAt: in.DueAt.UnixNano()}, &jobs.EnqueueOpts{RunAt: in.DueAt, Unique: true})
		return err
	}
	if err := s.queue.Start(context.Background()); err != nil {
		return nil, err
	}
	if err := s.startSweep(ctx); err != nil {
		s.queue.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

// Ledger is MPay's ledger.
func (s *Service) Ledger() *Ledger { return s.ledger }

// Name is "mpay".
func (s *Service) Name() string { return "mpay" }

// Close stops the job queue and waits for the running jobs; deliveries
// not done are taken up again at the next start (they are in the store).
func (s *Service) Close() error {
	var err error
	s.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.queue.Stop(ctx)
	})
	return err
}

// ConfirmArgs is the job that pushes a payment's confirmation to its SP,
// enqueued in the transaction that records the approval and retried with
// back-off until the SP acknowledges it.
type ConfirmArgs struct {
	PaymentID string `json:"paymentID" river:"unique"`
}

// Kind names the job.
func (ConfirmArgs) Kind() string { return "mpay.confirm" }

// ExpireArgs is the job that expires an invoice at its due date (a new
// due date makes a new job; a stale one finds nothing to do).
type ExpireArgs struct {
	InvoiceID string `json:"invoiceID" river:"unique"`
	DueAt     int64  `json:"dueAt" river:"unique"` // Unix nanoseconds
}

// Kind names the job.
func (ExpireArgs) Kind() string { return "mpay.expire" }

// SettleArgs is the job that settles a payment the payer's request left
// waiting: a delayed approval whose time came, a 3-D Secure, bank or cash
// page abandoned. It is enqueued in the transaction that leaves the
// payment waiting (a payment the processor never answered is the settle
// sweep's: settle.go; jobs enqueued by earlier versions with every
// payment settle those too).
type SettleArgs struct {
	PaymentID string `json:"paymentID" river:"unique"`
}

// Kind names the job.
func (SettleArgs) Kind() string { return "mpay.settle" }

// waitFor is how long a payment may wait for the payer (3-D Secure or
// bank page, cash at a terminal).
func (s *Service) waitFor(p *Payment) time.Duration {
	if p.Instrument == InstrumentCash {
		return CashCodeValidity
	}
	return s.cfg.ChallengeTimeout
}

// answerDeadline is when a payment's processor answer is overdue.
func (s *Service) answerDeadline() time.Duration {
	return max(s.cfg.Card.Timeout, 2*time.Second) + s.cfg.AnswerGrace
}

func (s *Service) settleLate(ctx context.Context, j *jobs.Job[SettleArgs]) error {
	p, err := s.ledger.Payment(ctx, j.Args.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return jobs.Cancel(err)
	} else if err != nil {
		return err
	}
	now := s.cfg.Store.Now()
	var r cardsim.Result
	switch {
	case p.State == PayAuthorizing && !p.ApproveAt.IsZero() && now.Before(p.ApproveAt):
		return jobs.Snooze(p.ApproveAt.Sub(now))
	case p.State == PayAuthorizing && !p.ApproveAt.IsZero():
		_, err := s.Refresh(ctx, p)
		return err
	case p.State == PayAuthorizing:
		r = cardsim.Result{Outcome: cardsim.TimedOut, Reason: "no answer from the processor"}
	case p.State == PayChallenge && now.Before(p.Created.Add(s.waitFor(p))):
		return jobs.Snooze(p.Created.Add(s.waitFor(p)).Sub(now))
	case p.State == PayChallenge:
		r = cardsim.Result{Outcome: cardsim.Declined, Reason: "not completed in time"}
	default:
		return nil // settled
	}
	_, err = s.settle(ctx, p.ID, r)
	if errors.Is(err, ErrTransition) {
		return nil // settled meanwhile
	}
	return err
}

// deliver pushes one payment's confirmation to its SP; an error makes the
// queue try again after the back-off.
func (s *Service) deliver(ctx context.Context, j *jobs.Job[ConfirmArgs]) error {
	p, in, sp, spErr, err := s.delivery(ctx, j.Args.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return jobs.Cancel(err)
	} else if err != nil {
		return err
	}
	if !p.ConfirmedAt.IsZero() {
		return nil
	}
	svc := in.ServiceID
	var ex *mpayclient.Exchange
	if err = spErr; err == nil {
		ex, err = s.confirm(ctx, p, in, sp)
	}
	if err == nil {
		s.m.confirmations.WithLabelValues("acknowledged").Inc()
		if err := s.ledger.Delivered(ctx, p, ex); err != nil {
			return err
		}
		s.deliveryAcknowledged(ctx, svc, j.Attempt)
		return nil
	}
	s.m.confirmations.WithLabelValues("failed").Inc()
	if svc != "" {
		s.deliveryFailed(svc)
	}
	next := s.cfg.Store.Now().Add(s.backoff(j.Attempt))
	s.log.Warn("mpay: confirmation not acknowledged", "payment", p.ID, "attempt", j.Attempt, "err", err)
	if uerr := s.ledger.Undelivered(context.WithoutCancel(ctx), p, ex, err.Error(), next); uerr != nil {
		s.log.Error("mpay: recording a failed delivery", "payment", p.ID, "err", uerr)
	}
	return err
}

// expire expires an invoice whose due date came.
func (s *Service) expire(ctx context.Context, j *jobs.Job[ExpireArgs]) error {
	_, err := s.ledger.expireOne(ctx, j.Args.InvoiceID, s.cfg.Store.Now())
	return err
}

// backoff is the wait before attempt n+1: doubling from RetryBase, capped
// at RetryMax, with a quarter of jitter.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	if d > s.cfg.RetryMax {
		d = s.cfg.RetryMax
	}
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// confirm sends the confirmation of p (of invoice in) to its SP.
func (s *Service) confirm(ctx context.Context, p *Payment, in *Invoice, sp *SP) (*mpayclient.Exchange, error) {
	c := mpayclient.PaymentConfirmation{ServiceID: in.ServiceID, OrderKey: in.OrderKey, InvoiceID: in.ID, PaymentID: p.ID,
		PaidAt: p.PaidAt.UTC(), TotalAmount: p.Amount, Currency: p.Currency,
		Properties: map[string]string{"Bank": bankOf(p.Instrument), "AuthCode": p.AuthCode}}
	c.Lines = splitLines(in.Order.Lines, p.Amount)
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	return s.callerFor(sp).ConfirmOrderPayment(cctx, sp.Endpoint, sp.Cert, c)
}

// splitLines spreads amount over the order's lines in their order.
func splitLines(lines []mpayclient.OrderLine, amount int64) []mpayclient.ConfirmedLine {
	var out []mpayclient.ConfirmedLine
	for i, l := range lines {
		a := min(l.AmountDue, amount)
		if i == len(lines)-1 {
			a = amount // an advance goes to the last line
		}
		if a <= 0 {
			continue
		}
		out = append(out, mpayclient.ConfirmedLine{LineID: l.LineID, Amount: a})
		amount -= a
	}
	return out
}

// Pull asks the SP for an order and records the answer (ErrNotFound for
// an unregistered ServiceID; a *mpayclient.Fault for the SP's refusal).
func (s *Service) Pull(ctx context.Context, serviceID, orderKey, returnURL, lang string) (*Invoice, error) {
	sp, err := LookupService(ctx, s.cfg.Store, serviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownService
	}
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	o, ex, err := s.callerFor(sp).GetOrderDetails(cctx, sp.Endpoint, sp.Cert, mpayclient.OrderDetailsQuery{ServiceID: serviceID, OrderKey: orderKey, Language: lang})
	if err != nil {
		return nil, err
	}
	return s.ledger.Pulled(ctx, o, returnURL, ex)
}

// ErrUnknownService: no SP of that ServiceID is registered.
var ErrUnknownService = errors.New("mpay: unknown service")

// PayCard pays amount of the invoice by card: the payment is started, the
// processor asked, its answer recorded.
func (s *Service) PayCard(ctx context.Context, invoiceToken string, amount int64, c cardsim.Card) (*Payment, error) {
	p, err := s.ledger.Start(ctx, invoiceToken, amount, InstrumentCard, c.Last4())
	if err != nil {
		return nil, err
	}
	// The processor's answer must be recorded even when the payer's
	// request is gone.
	actx := context.WithoutCancel(ctx)
	r, err := s.proc.Authorize(actx, c, amount, s.cfg.Store.Now())
	if err != nil {
		r = cardsim.Result{Outcome: cardsim.Declined, Reason: err.Error()}
	}
	return s.settle(actx, p.ID, r)
}

func (s *Service) settle(ctx context.Context, pid string, r cardsim.Result) (*Payment, error) {
	var o Outcome
	switch r.Outcome {
	case cardsim.Approved:
		o = Outcome{State: PayApproved, AuthCode: r.AuthCode}
	case cardsim.Challenge:
		o = Outcome{State: PayChallenge}
	case cardsim.Delayed:
		o = Outcome{State: PayAuthorizing, ApproveAt: r.ApproveAt}
	default:
		o = Outcome{State: PayDeclined, Reason: string(r.Outcome) + ": " + r.Reason}
	}
	p, err := s.ledger.Settle(ctx, pid, o)
	if err == nil && (p.State == PayApproved || p.State == PayDeclined) {
		s.m.payments.WithLabelValues(p.Instrument, string(p.State)).Inc()
	}
	return p, err
}

// Challenge answers a payment's 3-D Secure page with code.
func (s *Service) Challenge(ctx context.Context, pid, code string) (*Payment, error) {
	return s.settle(ctx, pid, s.proc.Challenge(code))
}

// Instruments of payment.
const (
	InstrumentCard     = "card"
	InstrumentEBanking = "ebanking"
	InstrumentCash     = "cash"
)

// CashCodeValidity is how long a cash-terminal payment code may be paid.
const CashCodeValidity = 24 * time.Hour

// bankOf is the "Bank" property of a confirmation (egov-flows §4.3).
func bankOf(instrument string) string {
	switch instrument {
	case InstrumentEBanking:
		return "semnat bank simulator (e-banking)"
	case InstrumentCash:
		return "semnat cash terminal simulator (Cash)"
	case InstrumentPOS:
		return "POS terminal at the service's counter (Card)"
	}
	return "semnat card simulator (Card)"
}

// PayEBanking starts a payment by e-banking: the payer is sent to the
// (simulated) bank's page, which approves or refuses it (BankAnswer).
func (s *Service) PayEBanking(ctx context.Context, invoiceToken string, amount int64) (*Payment, error) {
	p, err := s.ledger.Start(ctx, invoiceToken, amount, InstrumentEBanking, "")
	if err != nil {
		return nil, err
	}
	return s.ledger.Settle(context.WithoutCancel(ctx), p.ID, Outcome{State: PayChallenge})
}

// PayCash gives the payer a code to pay amount in cash at a terminal
// (the payment's ID, valid CashCodeValidity; the invoice is pending until
// it is paid, cancelled or expires).
func (s *Service) PayCash(ctx context.Context, invoiceToken string, amount int64) (*Payment, error) {
	p, err := s.ledger.Start(ctx, invoiceToken, amount, InstrumentCash, "")
	if err != nil {
		return nil, err
	}
	return s.ledger.Settle(context.WithoutCancel(ctx), p.ID, Outcome{State: PayChallenge})
}

// ErrCash is a cash-terminal payment refused: an unknown or spent code,
// or less cash than due.
var ErrCash = errors.New("mpay: cash payment refused")

// TerminalPay is the cash terminal paying a code with inserted cash
// (minor units); the change is what is given back.
func (s *Service) TerminalPay(ctx context.Context, code string, inserted int64) (p *Payment, change int64, err error) {
	p, err = s.ledger.Payment(ctx, code)
	if errors.Is(err, ErrNotFound) || err == nil && (p.Instrument != InstrumentCash || p.State != PayChallenge) {
		return nil, 0, fmt.Errorf("%w: code %s is not a payment code waiting for cash", ErrCash, code)
	} else if err != nil {
		return nil, 0, err
	}
	if s.cfg.Store.Now().After(p.Created.Add(CashCodeValidity)) {
		return nil, 0, fmt.Errorf("%w: code %s expired", ErrCash, code)
	}
	if inserted < p.Amount {
		return nil, 0, fmt.Errorf("%w: %s inserted, %s %s due", ErrCash, FormatAmount(inserted), FormatAmount(p.Amount), p.Currency)
	}
	q, err := s.settle(ctx, p.ID, cardsim.Result{Outcome: cardsim.Approved, AuthCode: "CASH" + code[len(code)-4:]})
	if errors.Is(err, ErrTransition) {
		return nil, 0, fmt.Errorf("%w: code %s was paid or cancelled meanwhile", ErrCash, code)
	}
	return q, inserted - p.Amount, err
}

// CancelCash withdraws an unpaid cash code (the invoice is payable again).
func (s *Service) CancelCash(ctx context.Context, pid string) error {
	_, err := s.settle(ctx, pid, cardsim.Result{Outcome: cardsim.Declined, Reason: "payment code cancelled"})
	return err
}

// BankAnswer is the simulated bank's answer for an e-banking payment.
func (s *Service) BankAnswer(ctx context.Context, pid string, approve bool) (*Payment, error) {
	r := cardsim.Result{Outcome: cardsim.Declined, Reason: "refused at the bank"}
	if approve {
		r = cardsim.Result{Outcome: cardsim.Approved, AuthCode: "EB" + pid[len(pid)-6:]}
	}
	return s.settle(ctx, pid, r)
}

// Refresh completes a delayed approval whose time came.
func (s *Service) Refresh(ctx context.Context, p *Payment) (*Payment, error) {
	if p.State != PayAuthorizing || p.ApproveAt.IsZero() || s.cfg.Store.Now().Before(p.ApproveAt) {
		return p, nil
	}
	q, err := s.settle(ctx, p.ID, cardsim.Result{Outcome: cardsim.Approved, AuthCode: "D" + p.ID[len(p.ID)-5:]})
	if errors.Is(err, ErrTransition) { // settled meanwhile
		return s.ledger.Payment(ctx, p.ID)
	}
	return q, err
}
