package mpay

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"math/big"
	"strings"
	"time"

	"github.com/semnat/semnat/store"
)

var schema = store.Schema{Name: "mpay", SQLite: `
CREATE TABLE IF NOT EXISTS mpay_invoices (
	id TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE, service_id TEXT NOT NULL, order_key TEXT NOT NULL,
	state TEXT NOT NULL, status TEXT NOT NULL, amount_due INTEGER, currency TEXT NOT NULL, reason TEXT NOT NULL,
	due_at INTEGER NOT NULL, allow_partial INTEGER NOT NULL, allow_advance INTEGER NOT NULL,
	order_json BLOB NOT NULL, return_url TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
	in_flight INTEGER NOT NULL DEFAULT 0,
	UNIQUE (service_id, order_key));
CREATE INDEX IF NOT EXISTS mpay_invoices_due ON mpay_invoices (state, due_at);
CREATE TABLE IF NOT EXISTS mpay_payments (
	id TEXT PRIMARY KEY, invoice_id TEXT NOT NULL REFERENCES mpay_invoices (id), state TEXT NOT NULL,
	amount INTEGER NOT NULL, currency TEXT NOT NULL, instrument TEXT NOT NULL, card_last4 TEXT NOT NULL,
	auth_code TEXT NOT NULL, reason TEXT NOT NULL, approve_at INTEGER NOT NULL, created INTEGER NOT NULL,
	paid_at INTEGER NOT NULL, confirmed_at INTEGER NOT NULL, attempts INTEGER NOT NULL,
	next_attempt INTEGER, last_error TEXT NOT NULL, receipt BLOB);
CREATE INDEX IF NOT EXISTS mpay_payments_invoice ON mpay_payments (invoice_id, created);
CREATE INDEX IF NOT EXISTS mpay_payments_due ON mpay_payments (next_attempt);
CREATE TABLE IF NOT EXISTS mpay_refunds (
	service_id TEXT NOT NULL, refund_id TEXT NOT NULL, payment_id TEXT NOT NULL REFERENCES mpay_payments (id),
	amount INTEGER NOT NULL, reason TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (service_id, refund_id));
CREATE INDEX IF NOT EXISTS mpay_refunds_payment ON mpay_refunds (payment_id);
CREATE TABLE IF NOT EXISTS mpay_webhooks (
	id TEXT PRIMARY KEY, service_id TEXT NOT NULL, type TEXT NOT NULL, body BLOB NOT NULL,
	created INTEGER NOT NULL, delivered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mpay_webhook_attempts (
	webhook_id TEXT NOT NULL REFERENCES mpay_webhooks (id), attempt INTEGER NOT NULL, at INTEGER NOT NULL,
	status INTEGER NOT NULL, error TEXT NOT NULL, PRIMARY KEY (webhook_id, attempt));
CREATE TABLE IF NOT EXISTS mpay_evidence (
	invoice_id TEXT NOT NULL, payment_id TEXT NOT NULL, seq INTEGER NOT NULL, op TEXT NOT NULL,
	body BLOB NOT NULL, signature TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (invoice_id, seq));
`}

func init() {
	schema.Postgres = strings.NewReplacer(" BLOB ", " BYTEA ", " BLOB)", " BYTEA)", " INTEGER ", " BIGINT ", " INTEGER,", " BIGINT,").Replace(schema.SQLite)
}

// Invoice is MPay's record of an order it collects payment for.
type Invoice struct {
	ID        string // InvoiceID, 14 digits
	Token     string // the unguessable part of the payer's URLs
	ServiceID string
	OrderKey  string
	State     State
	Status    string // the SP's order status in its latest answer
	AmountDue *int64 // the SP's latest TotalAmountDue; nil: unknown
	Currency  string
	Reason    string
	DueAt     time.Time // zero: none
	Partial   bool      // partial payments allowed
	Advance   bool      // advance payments allowed
	Order     mpayclient.OrderDetails
	ReturnURL string
	Created   time.Time
	Updated   time.Time
	// InFlight is what was paid but not yet acknowledged by the SP: the
	// SP's amount does not know it yet. It is kept in the invoice's row
	// (in_flight, read with it under its lock): added when a payment is
	// approved (Settle), taken off when the SP acknowledges it (confirmed).
	InFlight int64

	// spSettings are the SP's registered settings when the transaction
	// read them with the invoice (settling: reads.go), nil when not.
	spSettings *[]byte
}

// Remaining is what is left to pay (nil: unknown).
func (in *Invoice) Remaining() *int64 {
	if in.AmountDue == nil {
		return nil
	}
	r := *in.AmountDue - in.InFlight
	if r < 0 {
		r = 0
	}
	return &r
}

// CheckAmount tells whether amount may be paid now.
func (in *Invoice) CheckAmount(amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("%w: the amount must be positive", ErrAmount)
	}
	rem := in.Remaining()
	switch {
	case rem == nil:
		return nil // Check of the order: partial or advance payments are allowed
	case amount == *rem:
		return nil
	case amount < *rem && in.Partial:
		return nil
	case amount > *rem && in.Advance:
		return nil
	case amount < *rem:
		return fmt.Errorf("%w: this order is paid in full: %s %s", ErrAmount, FormatAmount(*rem), in.Currency)
	}
	return fmt.Errorf("%w: at most %s %s is due", ErrAmount, FormatAmount(*rem), in.Currency)
}

// Payment is one payment attempt of an invoice; its ID is the PaymentID
// the SP counts once.
type Payment struct {
	ID          string
	InvoiceID   string
	State       PayState
	Amount      int64
	Currency    string
	Instrument  string // "card"
	CardLast4   string
	AuthCode    string
	Reason      string    // why declined
	ApproveAt   time.Time // a delayed approval
	Created     time.Time
	PaidAt      time.Time // zero until approved
	ConfirmedAt time.Time // zero until the SP acknowledged
	Attempts    int       // confirmation deliveries tried
	NextAttempt time.Time // zero: no delivery due
	LastError   string
}

// Errors callers test with errors.Is.
var (
	ErrNotFound   = errors.New("mpay: not found")
	ErrAmount     = errors.New("mpay: amount not allowed")
	ErrNotPayable = errors.New("mpay: the order cannot be paid now")
)

// Ledger keeps invoices, payments and their evidence in the store, each
// change in one transaction with its audit event. The changes of the
// payment path (an order pulled, a payment started, settled, confirmed)
// are group-committed (store.InGroupTx): those made at the same moment
// share one transaction and one commit, each caller's answer as InTx's.
type Ledger struct {
	st *store.Store
	// onApproved and onDueDate, when set, run in the transaction that
	// approves a payment (its confirmation is due) and that gives an
	// invoice a new due date (its expiry is due): the durable jobs are
	// enqueued with the change or not at all.
	onApproved func(context.Context, *store.Tx, *Invoice, *Payment) error
	onDueDate  func(context.Context, *store.Tx, *Invoice) error
	// onWaiting runs in the transaction that leaves a payment waiting (a
	// 3-D Secure, bank or cash page, a delayed approval): it is settled by
	// a job when its time comes, not left pending. A payment the processor
	// never answered (the process stopped mid-payment) is found by the
	// settle sweep (settle.go).
	onWaiting func(context.Context, *store.Tx, *Payment) error
	// onSettled and onRefund run in the transaction of a payment approved
	// or declined and of a refund (webhooks).
	onSettled func(context.Context, *store.Tx, *Invoice, *Payment) error
	onRefund  func(context.Context, *store.Tx, *Refund) error
}

// NewLedger creates MPay's tables if needed.
func NewLedger(ctx context.Context, st *store.Store) (*Ledger, error) {
	if err := st.CreateSchema(ctx, schema); err != nil {
		return nil, err
	}
	if err := addInFlight(ctx, st); err != nil {
		return nil, err
	}
	return &Ledger{st: st}, nil
}

const invoiceCols = `id, token, service_id, order_key, state, status, amount_due, currency, reason, due_at, allow_partial, allow_advance, order_json, return_url, created, updated, in_flight`

type rowScanner interface{ Scan(...any) error }

func scanInvoice(r rowScanner) (*Invoice, error) {
	var f invoiceFields
	if err := r.Scan(f.dest()...); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return f.invoice()
}

// invoiceFields are an invoice's columns as scanned (invoiceCols).
type invoiceFields struct {
	in                      Invoice
	due                     sql.NullInt64
	dueAt, created, updated int64
	partial, advance        int
	order                   []byte
}

func (f *invoiceFields) dest() []any {
	in := &f.in
	return []any{&in.ID, &in.Token, &in.ServiceID, &in.OrderKey, &in.State, &in.Status, &f.due, &in.Currency, &in.Reason,
		&f.dueAt, &f.partial, &f.advance, &f.order, &in.ReturnURL, &f.created, &f.updated, &in.InFlight}
}

func (f *invoiceFields) invoice() (*Invoice, error) {
	in := f.in
	if f.due.Valid {
		in.AmountDue = &f.due.Int64
	}
	if f.dueAt != 0 {
		in.DueAt = time.Unix(0, f.dueAt)
	}
	in.Partial, in.Advance = f.partial == 1, f.advance == 1
	in.Created, in.Updated = time.Unix(0, f.created), time.Unix(0, f.updated)
	if err := json.Unmarshal(f.order, &in.Order); err != nil {
		return nil, fmt.Errorf("mpay: invoice %s: order: %w", in.ID, err)
	}
	return &in, nil
}

const paymentCols = `id, invoice_id, state, amount, currency, instrument, card_last4, auth_code, reason, approve_at, created, paid_at, confirmed_at, attempts, next_attempt, last_error`

func scanPayment(r rowScanner) (*Payment, error) {
	var f paymentFields
	if err := r.Scan(f.dest()...); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return f.payment(), nil
}

// paymentFields are a payment's columns as scanned (paymentCols).
type paymentFields struct {
	p                                     Payment
	approveAt, created, paidAt, confirmed int64
	next                                  sql.NullInt64
}

func (f *paymentFields) dest() []any {
	p := &f.p
	return []any{&p.ID, &p.InvoiceID, &p.State, &p.Amount, &p.Currency, &p.Instrument, &p.CardLast4, &p.AuthCode, &p.Reason,
		&f.approveAt, &f.created, &f.paidAt, &f.confirmed, &p.Attempts, &f.next, &p.LastError}
}

func (f *paymentFields) payment() *Payment {
	p := f.p
	p.ApproveAt, p.Created, p.PaidAt, p.ConfirmedAt = unixOrZero(f.approveAt), time.Unix(0, f.created), unixOrZero(f.paidAt), unixOrZero(f.confirmed)
	if f.next.Valid {
		p.NextAttempt = time.Unix(0, f.next.Int64)
	}
	return &p
}

func unixOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func nano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Invoice finds an invoice by its token (ErrNotFound).
func (l *Ledger) Invoice(ctx context.Context, token string) (*Invoice, error) {
	return scanInvoice(l.st.QueryRow(ctx, `SELECT `+invoiceCols+` FROM mpay_invoices WHERE token = ?`, token))
}

// InvoiceByOrder finds the invoice of an order (ErrNotFound).
func (l *Ledger) InvoiceByOrder(ctx context.Context, serviceID, orderKey string) (*Invoice, error) {
	return scanInvoice(l.st.QueryRow(ctx, `SELECT `+invoiceCols+` FROM mpay_invoices WHERE service_id = ? AND order_key = ?`, serviceID, orderKey))
}

// Payment finds a payment (ErrNotFound).
func (l *Ledger) Payment(ctx context.Context, id string) (*Payment, error) {
	return scanPayment(l.st.QueryRow(ctx, `SELECT `+paymentCols+` FROM mpay_payments WHERE id = ?`, id))
}

// Payments lists an invoice's payments, oldest first.
func (l *Ledger) Payments(ctx context.Context, invoiceID string) ([]Payment, error) {
	rows, err := l.st.Query(ctx, `SELECT `+paymentCols+` FROM mpay_payments WHERE invoice_id = ? ORDER BY created, id`, invoiceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// Evidence lists the signed messages of an invoice (paymentID "": all).
func (l *Ledger) Evidence(ctx context.Context, invoiceID, paymentID string) ([]mpayclient.Message, error) {
	q := `SELECT op, body, signature, at FROM mpay_evidence WHERE invoice_id = ?`
	args := []any{invoiceID}
	if paymentID != "" {
		q += ` AND payment_id = ?`
		args = append(args, paymentID)
	}
	rows, err := l.st.Query(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mpayclient.Message
	for rows.Next() {
		var m mpayclient.Message
		var at int64
		if err := rows.Scan(&m.Op, &m.Body, &m.Signature, &at); err != nil {
			return nil, err
		}
		m.At = time.Unix(0, at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// addEvidence keeps the messages of ex (the request and the answer) with
// one INSERT (evidenceRows).
func addEvidence(ctx context.Context, tx *store.Tx, invoiceID, paymentID string, ex *mpayclient.Exchange) error {
	rows, args := evidenceRows(invoiceID, paymentID, ex, "")
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mpay_evidence (`+evidenceCols+`) VALUES `+strings.Join(rows, ", "), args...); err != nil {
		return fmt.Errorf("mpay: keeping evidence: %w", err)
	}
	return nil
}

const evidenceCols = `invoice_id, payment_id, seq, op, body, signature, at`

// evidenceRows are the rows (VALUES, or SELECTs FROM from when from is
// not "") and arguments that keep the messages of ex: each numbered
// after the invoice's last (the second after the first: SQLite's
// subquery may see the first row already, a gap then, never the same
// number). The SELECTs' values are typed (PostgreSQL types a UNION's
// parameters apart from the columns they go to).
func evidenceRows(invoiceID, paymentID string, ex *mpayclient.Exchange, from string) ([]string, []any) {
	if ex == nil {
		return nil, nil
	}
	row := `(?, ?, (SELECT COALESCE(MAX(seq), 0) + ? FROM mpay_evidence WHERE invoice_id = ?), ?, ?, ?, ?)`
	if from != "" {
		row = `SELECT CAST(? AS TEXT), CAST(? AS TEXT), (SELECT COALESCE(MAX(seq), 0) + CAST(? AS BIGINT) FROM mpay_evidence WHERE invoice_id = CAST(? AS TEXT)),
			CAST(? AS TEXT), CAST(? AS BYTEA), CAST(? AS TEXT), CAST(? AS BIGINT) FROM ` + from
	}
	var rows []string
	var args []any
	for _, m := range []mpayclient.Message{ex.Request, ex.Response} {
		if m.Op == "" {
			continue
		}
		rows = append(rows, row)
		args = append(args, invoiceID, paymentID, len(rows), invoiceID, m.Op, m.Body, m.Signature, m.At.UnixNano())
	}
	return rows, args
}

func (l *Ledger) lockInvoice(ctx context.Context, tx *store.Tx, where string, args ...any) (*Invoice, error) {
	return scanInvoice(tx.QueryRowForUpdate(ctx, `SELECT `+invoiceCols+` FROM mpay_invoices WHERE `+where, args...))
}

// orderAndDue are the invoice's order as stored (JSON) and its amount
// due (NULL when the order has none).
func orderAndDue(in *Invoice) (order []byte, due any, err error) {
	if order, err = json.Marshal(in.Order); err != nil {
		return nil, nil, err
	}
	if in.AmountDue != nil {
		due = *in.AmountDue
	}
	return order, due, nil
}

func (l *Ledger) saveInvoice(ctx context.Context, tx *store.Tx, in *Invoice) error {
	order, due, err := orderAndDue(in)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE mpay_invoices SET state = ?, status = ?, amount_due = ?, currency = ?, reason = ?, due_at = ?,
		allow_partial = ?, allow_advance = ?, order_json = ?, return_url = ?, updated = ? WHERE id = ?`,
		in.State, in.Status, due, in.Currency, in.Reason, nano(in.DueAt), b2i(in.Partial), b2i(in.Advance), order, in.ReturnURL, in.Updated.UnixNano(), in.ID)
	return err
}

// insertInvoice writes a new invoice (one statement: the payment path's
// statements are round trips on PostgreSQL).
func (l *Ledger) insertInvoice(ctx context.Context, tx *store.Tx, in *Invoice) error {
	q, args, err := invoiceInsert(in)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, q, args...)
	return err
}

// invoiceInsert is the INSERT of a new invoice and its arguments.
func invoiceInsert(in *Invoice) (string, []any, error) {
	order, due, err := orderAndDue(in)
	if err != nil {
		return "", nil, err
	}
	return `INSERT INTO mpay_invoices (` + invoiceCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		[]any{in.ID, in.Token, in.ServiceID, in.OrderKey, in.State, in.Status, due, in.Currency, in.Reason, nano(in.DueAt),
			b2i(in.Partial), b2i(in.Advance), order, in.ReturnURL, in.Created.UnixNano(), in.Updated.UnixNano(), in.InFlight}, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// apply copies the SP's answer onto the invoice.
func (in *Invoice) apply(o *mpayclient.OrderDetails) {
	in.Order, in.Status, in.AmountDue, in.Currency, in.Reason = *o, o.Status, o.TotalAmountDue, o.Currency, o.Reason
	in.Partial, in.Advance = o.AllowPartialPayments, o.AllowAdvancePayments
	in.DueAt = time.Time{}
	if o.DueDate != nil {
		in.DueAt = *o.DueDate
	}
}

// orderEvent is what the SP's answer means for an invoice in its state.
func orderEvent(in *Invoice, o *mpayclient.OrderDetails, now time.Time) Event {
	switch {
	case o.Status == mpayclient.StatusPaid || o.Status == mpayclient.StatusCompleted:
		return EvSettledBySP
	case !mpayclient.Payable(o.Status), o.DueDate != nil && now.After(*o.DueDate):
		return EvExpire
	}
	return EvRefresh
}

// Pulled records the SP's latest answer for an order: a new invoice, or
// the existing one refreshed (the latest answer wins: amount, due date,
// status), with the signed exchange as evidence. While a payment is at the
// provider the amount stays as it was (the answer is kept as evidence).
func (l *Ledger) Pulled(ctx context.Context, o *mpayclient.OrderDetails, returnURL string, ex *mpayclient.Exchange) (*Invoice, error) {
	var out *Invoice
	err := l.st.InGroupTx(ctx, func(tx *store.Tx) error {
		now := l.st.Now()
		if l.st.Backend() == "postgres" { // most pulls are of a new order: try that first
			in, err := newInvoice(o, returnURL, now)
			if err != nil {
				return err
			}
			created, err := l.insertPulled(ctx, tx, in, ex)
			if err != nil {
				return err
			}
			if created {
				out = in
				return l.invoiceCreated(ctx, tx, in)
			}
		}
		in, err := l.lockInvoice(ctx, tx, `service_id = ? AND order_key = ?`, o.ServiceID, o.OrderKey)
		if errors.Is(err, ErrNotFound) {
			if in, err = newInvoice(o, returnURL, now); err != nil {
				return err
			}
			if err := l.insertInvoice(ctx, tx, in); err != nil {
				return fmt.Errorf("mpay: new invoice: %w", err)
			}
			if err := addEvidence(ctx, tx, in.ID, "", ex); err != nil {
				return err
			}
			out = in
			return l.invoiceCreated(ctx, tx, in)
		}
		if err != nil {
			return err
		}
		if err := addEvidence(ctx, tx, in.ID, "", ex); err != nil {
			return err
		}
		ev := orderEvent(in, o, now)
		next, terr := Next(in.State, ev)
		if terr != nil { // pending (amount locked) or final: keep as it is
			out = in
			return nil
		}
		before := fmt.Sprintf("%s %s %s %v", in.State, amountText(in.AmountDue), in.Status, in.DueAt)
		oldDue := in.DueAt
		in.apply(o)
		in.State, in.Updated = next, now
		if returnURL != "" {
			in.ReturnURL = returnURL
		}
		if err := l.saveInvoice(ctx, tx, in); err != nil {
			return err
		}
		if err := l.dueDate(ctx, tx, in, oldDue); err != nil {
			return err
		}
		out = in
		if before == fmt.Sprintf("%s %s %s %v", in.State, amountText(in.AmountDue), in.Status, in.DueAt) {
			return nil
		}
		return tx.AppendAtCommit(store.Event{Actor: in.ServiceID, Action: "mpay-invoice-" + string(ev), Subject: in.ID,
			Details: map[string]string{"amountDue": amountText(in.AmountDue), "status": in.Status, "state": string(in.State)}})
	})
	return out, err
}

// newInvoice is the invoice of an order pulled for the first time (not
// written yet), with its ID and token.
func newInvoice(o *mpayclient.OrderDetails, returnURL string, now time.Time) (*Invoice, error) {
	in := &Invoice{ServiceID: o.ServiceID, OrderKey: o.OrderKey, State: Created, ReturnURL: returnURL, Created: now, Updated: now}
	in.apply(o)
	switch orderEvent(in, o, now) {
	case EvExpire:
		in.State = Expired
	case EvSettledBySP:
		in.State = Paid
	}
	var err error
	if in.ID, err = digits(14); err != nil {
		return nil, err
	}
	if in.Token, err = token(); err != nil {
		return nil, err
	}
	return in, nil
}

// invoiceCreated schedules a new invoice's expiry and records it.
func (l *Ledger) invoiceCreated(ctx context.Context, tx *store.Tx, in *Invoice) error {
	if err := l.dueDate(ctx, tx, in, time.Time{}); err != nil {
		return err
	}
	return tx.AppendAtCommit(store.Event{Actor: in.ServiceID, Action: "mpay-invoice-create", Subject: in.ID,
		Details: map[string]string{"orderKey": in.OrderKey, "amountDue": amountText(in.AmountDue), "currency": in.Currency, "state": string(in.State)}})
}

// insertPulled writes in, a new invoice, with the exchange's messages as
// its evidence, unless its order has an invoice already (false: nothing
// written). On PostgreSQL, one statement: the invoice's INSERT ... ON
// CONFLICT DO NOTHING a data-modifying WITH that the evidence's rows are
// selected from. It replaces a look-up of the order's invoice (none, for
// nearly every pull) and two INSERTs: two round trips fewer inside the
// group transaction, for each payment. A conflicting invoice written by a
// transaction not yet committed is waited for (READ COMMITTED), and then
// found by the look-up that follows.
func (l *Ledger) insertPulled(ctx context.Context, tx *store.Tx, in *Invoice, ex *mpayclient.Exchange) (bool, error) {
	insert, args, err := invoiceInsert(in)
	if err != nil {
		return false, err
	}
	q := `WITH inv AS (` + insert + ` ON CONFLICT (service_id, order_key) DO NOTHING RETURNING id)`
	if rows, eargs := evidenceRows(in.ID, "", ex, "inv"); len(rows) > 0 {
		q += `, evidence AS (INSERT INTO mpay_evidence (` + evidenceCols + `) ` + strings.Join(rows, " UNION ALL ") + `)`
		args = append(args, eargs...)
	}
	var n int
	if err := tx.QueryRow(ctx, q+` SELECT COUNT(*) FROM inv`, args...).Scan(&n); err != nil {
		return false, fmt.Errorf("mpay: new invoice: %w", err)
	}
	return n == 1, nil
}

// dueDate schedules the expiry of a payable invoice whose due date is new.
func (l *Ledger) dueDate(ctx context.Context, tx *store.Tx, in *Invoice, old time.Time) error {
	if l.onDueDate == nil || in.DueAt.IsZero() || in.DueAt.Equal(old) || !in.State.Payable() {
		return nil
	}
	if err := l.onDueDate(ctx, tx, in); err != nil {
		return fmt.Errorf("mpay: scheduling the expiry of %s: %w", in.ID, err)
	}
	return nil
}

func amountText(a *int64) string {
	if a == nil {
		return "unknown"
	}
	return FormatAmount(*a)
}

// Start begins a payment of amount on the invoice (ErrNotPayable,
// ErrAmount): the invoice goes pending.
func (l *Ledger) Start(ctx context.Context, invoiceToken string, amount int64, instrument, last4 string) (*Payment, error) {
	var p *Payment
	err := l.st.InGroupTx(ctx, func(tx *store.Tx) error {
		now := l.st.Now()
		in, err := l.lockInvoice(ctx, tx, `token = ?`, invoiceToken)
		if err != nil {
			return err
		}
		if !in.DueAt.IsZero() && now.After(in.DueAt) {
			return fmt.Errorf("%w: the order expired on %s", ErrNotPayable, in.DueAt.Format(time.DateOnly))
		}
		next, err := Next(in.State, EvStart)
		if err != nil {
			return fmt.Errorf("%w: the invoice is %s", ErrNotPayable, in.State)
		}
		if err := in.CheckAmount(amount); err != nil {
			return err
		}
		in.State, in.Updated = next, now
		p = &Payment{InvoiceID: in.ID, State: PayAuthorizing, Amount: amount, Currency: in.Currency, Instrument: instrument, CardLast4: last4, Created: now}
		if p.ID, err = digits(12); err != nil {
			return err
		}
		if err := l.withInvoiceState(ctx, tx, in, `INSERT INTO mpay_payments (`+paymentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, '', '', 0, ?, 0, 0, 0, NULL, '')`,
			p.ID, p.InvoiceID, p.State, p.Amount, p.Currency, p.Instrument, p.CardLast4, now.UnixNano()); err != nil {
			return fmt.Errorf("mpay: new payment: %w", err)
		}
		return tx.AppendAtCommit(store.Event{Actor: "payer", Action: "mpay-payment-start", Subject: p.ID,
			Details: map[string]string{"invoice": in.ID, "amount": FormatAmount(amount), "currency": in.Currency, "instrument": instrument}})
	})
	return p, err
}

// Outcome is what the provider said of a payment.
type Outcome struct {
	State     PayState // PayApproved, PayDeclined, PayChallenge, or PayAuthorizing with ApproveAt
	AuthCode  string
	Reason    string
	ApproveAt time.Time
}

// Settle records the provider's answer for a payment: approved (the
// invoice paid or partly paid, the confirmation due now), declined (the
// invoice failed, payable again), a 3-D Secure challenge, or a delayed
// approval. A payment already approved or declined stays so (ErrTransition).
func (l *Ledger) Settle(ctx context.Context, paymentID string, o Outcome) (*Payment, error) {
	var out *Payment
	err := l.st.InGroupTx(ctx, func(tx *store.Tx) error {
		now := l.st.Now()
		p, in, err := l.lockSettling(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		if o.State == PayAuthorizing { // a delayed approval: when
			if p.State != PayAuthorizing {
				return fmt.Errorf("%w: payment %s is %s", ErrTransition, p.ID, p.State)
			}
			if _, err := tx.Exec(ctx, `UPDATE mpay_payments SET approve_at = ? WHERE id = ?`, o.ApproveAt.UnixNano(), p.ID); err != nil {
				return err
			}
			p.ApproveAt, out = o.ApproveAt, p
			return l.waiting(ctx, tx, p)
		}
		if err := payNext(p.State, o.State); err != nil {
			return err
		}
		p.State = o.State
		if o.State == PayChallenge {
			if _, err := tx.Exec(ctx, `UPDATE mpay_payments SET state = ? WHERE id = ?`, p.State, p.ID); err != nil {
				return err
			}
			out = p
			return l.waiting(ctx, tx, p)
		}
		ev := EvFail
		if o.State == PayApproved {
			ev = EvPaidPart
			if rem := in.Remaining(); rem != nil && p.Amount >= *rem {
				ev = EvPaidInFull
			}
			p.PaidAt, p.AuthCode, p.NextAttempt = now, o.AuthCode, now
			in.InFlight += p.Amount // until the SP acknowledges it (confirmed)
		} else {
			p.Reason = o.Reason
		}
		next, err := Next(in.State, ev)
		if err != nil {
			return err
		}
		in.State, in.Updated = next, now
		var nextAttempt any
		if !p.NextAttempt.IsZero() {
			nextAttempt = p.NextAttempt.UnixNano()
		}
		if err := l.withInvoiceState(ctx, tx, in, `UPDATE mpay_payments SET state = ?, auth_code = ?, reason = ?, paid_at = ?, next_attempt = ? WHERE id = ?`,
			p.State, p.AuthCode, p.Reason, nano(p.PaidAt), nextAttempt, p.ID); err != nil {
			return err
		}
		out = p
		if p.State == PayApproved && l.onApproved != nil {
			if err := l.onApproved(ctx, tx, in, p); err != nil {
				return fmt.Errorf("mpay: scheduling the confirmation of %s: %w", p.ID, err)
			}
		}
		if l.onSettled != nil {
			if err := l.onSettled(ctx, tx, in, p); err != nil {
				return err
			}
		}
		return tx.AppendAtCommit(store.Event{Actor: "processor", Action: "mpay-payment-" + string(p.State), Subject: p.ID,
			Details: map[string]string{"invoice": in.ID, "amount": FormatAmount(p.Amount), "currency": p.Currency, "reason": p.Reason, "invoiceState": string(in.State)}})
	})
	return out, err
}

// waiting schedules the settlement of a payment left waiting.
func (l *Ledger) waiting(ctx context.Context, tx *store.Tx, p *Payment) error {
	if l.onWaiting == nil {
		return nil
	}
	if err := l.onWaiting(ctx, tx, p); err != nil {
		return fmt.Errorf("mpay: scheduling the settlement of %s: %w", p.ID, err)
	}
	return nil
}

// Delivered records the SP's acknowledgement of a payment's confirmation,
// with the signed exchange.
func (l *Ledger) Delivered(ctx context.Context, p *Payment, ex *mpayclient.Exchange) error {
	return l.st.InGroupTx(ctx, func(tx *store.Tx) error {
		if confirmed, err := l.confirmed(ctx, tx, p, ex); err != nil || !confirmed {
			return err // !confirmed: acknowledged already (another worker): keep the first
		}
		return tx.AppendAtCommit(store.Event{Actor: "mpay", Action: "mpay-payment-confirmed", Subject: p.ID,
			Details: map[string]string{"invoice": p.InvoiceID, "attempts": fmt.Sprint(p.Attempts + 1)}})
	})
}

// Undelivered records a failed delivery and when to try again.
func (l *Ledger) Undelivered(ctx context.Context, p *Payment, ex *mpayclient.Exchange, why string, next time.Time) error {
	return l.st.InTx(ctx, func(tx *store.Tx) error {
		if len(why) > 500 {
			why = why[:500]
		}
		if _, err := tx.Exec(ctx, `UPDATE mpay_payments SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE id = ? AND confirmed_at = 0`,
			why, next.UnixNano(), p.ID); err != nil {
			return err
		}
		return addEvidence(ctx, tx, p.InvoiceID, p.ID, ex)
	})
}

// expireOne expires an invoice if it is payable and its due date passed
// (false: paid, started or given a new due date meanwhile).
func (l *Ledger) expireOne(ctx context.Context, id string, now time.Time) (bool, error) {
	done := false
	err := l.st.InTx(ctx, func(tx *store.Tx) error {
		in, err := l.lockInvoice(ctx, tx, `id = ?`, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		next, err := Next(in.State, EvExpire)
		if err != nil || in.DueAt.IsZero() || !now.After(in.DueAt) {
			return nil
		}
		in.State, in.Updated = next, now
		if err := l.saveInvoice(ctx, tx, in); err != nil {
			return err
		}
		done = true
		return tx.AppendAtCommit(store.Event{Actor: "mpay", Action: "mpay-invoice-expire", Subject: in.ID,
			Details: map[string]string{"dueAt": in.DueAt.UTC().Format(time.RFC3339)}})
	})
	return done, err
}

// Receipt is a payment's stored receipt (nil when not made yet).
func (l *Ledger) Receipt(ctx context.Context, paymentID string) ([]byte, error) {
	var b []byte
	err := l.st.QueryRow(ctx, `SELECT receipt FROM mpay_payments WHERE id = ?`, paymentID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

// KeepReceipt stores a payment's receipt (the first one made wins) and
// returns the one kept.
func (l *Ledger) KeepReceipt(ctx context.Context, paymentID string, pdf []byte, digest string) ([]byte, error) {
	err := l.st.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE mpay_payments SET receipt = ? WHERE id = ? AND receipt IS NULL`, pdf, paymentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return tx.AppendAtCommit(store.Event{Actor: "mpay", Action: "mpay-receipt", Subject: paymentID, Digest: digest})
	})
	if err != nil {
		return nil, err
	}
	return l.Receipt(ctx, paymentID)
}

// digits is a random string of n decimal digits (not starting with 0).
func digits(n int) (string, error) {
	var b strings.Builder
	for i := 0; i < n; i++ {
		lo := int64(0)
		if i == 0 {
			lo = 1
		}
		d, err := rand.Int(rand.Reader, big.NewInt(10-lo))
		if err != nil {
			return "", err
		}
		b.WriteByte(byte('0' + lo + d.Int64()))
	}
	return b.String(), nil
}

func token() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Refund is money given back to the payer of a payment, at the SP's
// request; RefundID is the SP's idempotency key.
type Refund struct {
	ServiceID, RefundID, PaymentID string
	Amount                         int64
	Currency                       string
	Reason                         string
	Created                        time.Time
}

// ErrRefund is a refund refused: more than is left of the payment, a
// payment not approved, or a RefundID reused for another refund.
var ErrRefund = errors.New("mpay: refund refused")

// RefundPayment gives back amount of a payment of the SP's (the simulated
// processor refunds at once), in one transaction with its audit event. The
// same RefundID again returns the refund made; with other facts it is
// ErrRefund.
func (l *Ledger) RefundPayment(ctx context.Context, serviceID, refundID, paymentID string, amount int64, reason string) (*Refund, error) {
	var out *Refund
	err := l.st.InTx(ctx, func(tx *store.Tx) error {
		var prev Refund
		var created int64
		err := tx.QueryRow(ctx, `SELECT payment_id, amount, reason, created FROM mpay_refunds WHERE service_id = ? AND refund_id = ?`, serviceID, refundID).
			Scan(&prev.PaymentID, &prev.Amount, &prev.Reason, &created)
		p, perr := scanPayment(tx.QueryRowForUpdate(ctx, `SELECT `+paymentCols+` FROM mpay_payments WHERE id = ?`, paymentID))
		switch {
		case err == nil && (prev.PaymentID != paymentID || prev.Amount != amount):
			return fmt.Errorf("%w: refund %s was made for %s of payment %s", ErrRefund, refundID, FormatAmount(prev.Amount), prev.PaymentID)
		case err == nil:
			prev.ServiceID, prev.RefundID, prev.Created, prev.Currency = serviceID, refundID, time.Unix(0, created), p.Currency
			out = &prev
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		case errors.Is(perr, ErrNotFound):
			return fmt.Errorf("%w: no payment %s", ErrNotFound, paymentID)
		case perr != nil:
			return perr
		}
		var owner string
		if err := tx.QueryRow(ctx, `SELECT service_id FROM mpay_invoices WHERE id = ?`, p.InvoiceID).Scan(&owner); err != nil {
			return err
		}
		if owner != serviceID {
			return fmt.Errorf("%w: no payment %s of service %s", ErrNotFound, paymentID, serviceID)
		}
		if p.State != PayApproved {
			return fmt.Errorf("%w: payment %s is %s, not paid", ErrRefund, p.ID, p.State)
		}
		var done int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(SUM(amount), 0) FROM mpay_refunds WHERE payment_id = ?`, p.ID).Scan(&done); err != nil {
			return err
		}
		if amount <= 0 || amount > p.Amount-done {
			return fmt.Errorf("%w: %s asked, %s of %s %s left to refund", ErrRefund, FormatAmount(amount), FormatAmount(p.Amount-done), FormatAmount(p.Amount), p.Currency)
		}
		now := l.st.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO mpay_refunds (service_id, refund_id, payment_id, amount, reason, created) VALUES (?, ?, ?, ?, ?, ?)`,
			serviceID, refundID, p.ID, amount, reason, now.UnixNano()); err != nil {
			return err
		}
		out = &Refund{ServiceID: serviceID, RefundID: refundID, PaymentID: p.ID, Amount: amount, Currency: p.Currency, Reason: reason, Created: now}
		if l.onRefund != nil {
			if err := l.onRefund(ctx, tx, out); err != nil {
				return err
			}
		}
		return tx.AppendAtCommit(store.Event{Actor: serviceID, Action: "mpay-refund", Subject: p.ID,
			Details: map[string]string{"refundID": refundID, "amount": FormatAmount(amount), "currency": p.Currency, "left": FormatAmount(p.Amount - done - amount)}})
	})
	return out, err
}

// Refunded is how much of each of an invoice's payments was given back.
func (l *Ledger) Refunded(ctx context.Context, invoiceID string) (map[string]int64, error) {
	rows, err := l.st.Query(ctx, `SELECT r.payment_id, SUM(r.amount) FROM mpay_refunds r JOIN mpay_payments p ON p.id = r.payment_id
		WHERE p.invoice_id = ? GROUP BY r.payment_id`, invoiceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// ServicePayment is a payment with its order, for an SP's or operator's view.
type ServicePayment struct {
	Payment
	OrderKey string
}

// ServicePayments lists the latest n payments of an SP's orders, newest
// first, with their delivery attempts.
func (l *Ledger) ServicePayments(ctx context.Context, serviceID string, n int) ([]ServicePayment, error) {
	cols := strings.ReplaceAll("p."+paymentCols, ", ", ", p.")
	rows, err := l.st.Query(ctx, `SELECT `+cols+`, i.order_key FROM mpay_payments p JOIN mpay_invoices i ON i.id = p.invoice_id
		WHERE i.service_id = ? ORDER BY p.created DESC, p.id LIMIT ?`, serviceID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ServicePayment
	for rows.Next() {
		var sp ServicePayment
		var orderKey string
		p, err := scanPayment(scanWith{rows, &orderKey})
		if err != nil {
			return nil, err
		}
		sp.Payment, sp.OrderKey = *p, orderKey
		out = append(out, sp)
	}
	return out, rows.Err()
}

// scanWith scans a row's columns and then extra ones.
type scanWith struct {
	r     rowScanner
	extra *string
}

func (s scanWith) Scan(dest ...any) error { return s.r.Scan(append(dest, s.extra)...) }
