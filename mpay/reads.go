package mpay

// Reads of the payment path folded into fewer statements: on PostgreSQL
// each statement is a round trip, and its cost on both sides is most of a
// small statement's.

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/store"
)

// paymentInvoiceCols are a payment's columns and its invoice's, read
// paymentInvoiceFrom.
var paymentInvoiceCols = strings.ReplaceAll("p."+paymentCols, ", ", ", p.") + ", " + strings.ReplaceAll("i."+invoiceCols, ", ", ", i.")

// paymentInvoiceFrom reads the payment of id ? (the second argument) with
// its invoice and its SP's registration s (NULL when there is none; the
// first argument is storeService).
const paymentInvoiceFrom = ` FROM mpay_payments p
		JOIN mpay_invoices i ON i.id = p.invoice_id LEFT JOIN systems s ON s.service = ? AND s.name = i.service_id
		WHERE p.id = ?`

// deliveryCols are a delivery's columns: the payment, its invoice, and
// its SP's registration.
var deliveryCols = paymentInvoiceCols + ", s.cert, s.settings, s.created"

// delivery reads what a confirmation's delivery needs in one query (it was
// three): the payment (ErrNotFound), its invoice, and its SP's
// registration as it is now. spErr is LookupService's error when the SP
// is not registered (the delivery fails and is retried).
func (s *Service) delivery(ctx context.Context, paymentID string) (p *Payment, in *Invoice, sp *SP, spErr error, err error) {
	var pf paymentFields
	var inf invoiceFields
	var cert, settings []byte
	var created sql.NullInt64
	err = s.cfg.Store.QueryRow(ctx, `SELECT `+deliveryCols+paymentInvoiceFrom, storeService, paymentID).Scan(append(append(pf.dest(), inf.dest()...), &cert, &settings, &created)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, nil, ErrNotFound
	} else if err != nil {
		return nil, nil, nil, nil, err
	}
	if in, err = inf.invoice(); err != nil {
		return nil, nil, nil, nil, err
	}
	p = pf.payment()
	if !created.Valid {
		return p, in, nil, fmt.Errorf("mpay: service %s: %w: system", in.ServiceID, store.ErrNotFound), nil
	}
	sp, spErr = spOf(&store.System{Service: storeService, Name: in.ServiceID, Cert: cert, Settings: settings, Created: time.Unix(0, created.Int64).UTC()})
	return p, in, sp, spErr, nil
}

// spCerts keeps the SPs' certificates parsed, by their DER: the
// registration is read from the store at each use (another instance may
// change it), but parsing the same bytes again gives the same certificate.
var spCerts sync.Map // string(DER) → *x509.Certificate

// maxSPCerts bounds spCerts (certificates replaced stay until then).
const maxSPCerts = 1024

var spCertsN atomic.Int64

func parseSPCert(der []byte) (*x509.Certificate, error) {
	if c, ok := spCerts.Load(string(der)); ok {
		return c.(*x509.Certificate), nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if spCertsN.Add(1) <= maxSPCerts {
		spCerts.Store(string(der), c)
	}
	return c, nil
}

// settlingCols are a settling's columns: the payment, its invoice, and
// its SP's settings (NULL when not registered).
var settlingCols = paymentInvoiceCols + ", s.settings"

// lockSettling reads and locks a payment and its invoice in one statement
// (they were two), with the SP's settings for its webhooks (not locked:
// as read a moment before). On PostgreSQL both rows are locked (FOR
// UPDATE OF both) before the statement returns, and a row changed by a
// transaction it waited for is read as that one committed it (READ
// COMMITTED re-reads locked rows): the invoice's in-flight amount too, a
// column of its row (a sum of the payments in a subquery would see the
// snapshot from before the lock wait).
func (l *Ledger) lockSettling(ctx context.Context, tx *store.Tx, paymentID string) (*Payment, *Invoice, error) {
	var pf paymentFields
	var inf invoiceFields
	var settings []byte
	forUpdate := ""
	if l.st.Backend() == "postgres" {
		forUpdate = ` FOR UPDATE OF p, i` // SQLite's write transactions are serialised already
	}
	err := tx.QueryRow(ctx, `SELECT `+settlingCols+paymentInvoiceFrom+forUpdate, storeService, paymentID).Scan(append(append(pf.dest(), inf.dest()...), &settings)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	} else if err != nil {
		return nil, nil, err
	}
	in, err := inf.invoice()
	if err != nil {
		return nil, nil, err
	}
	in.spSettings = &settings
	return pf.payment(), in, nil
}

// withInvoiceState writes the invoice's new state (its time and its
// in-flight amount) and runs the payment's statement q with it: on
// PostgreSQL as one statement (the invoice's UPDATE a data-modifying
// WITH, run once and to completion whether q reads it or not), on SQLite
// as two. Only these change when a payment starts or settles: the order
// stays as it is. The invoice is locked by tx (lockInvoice,
// lockSettling), so that in.InFlight is the row's as read plus this
// transaction's change.
func (l *Ledger) withInvoiceState(ctx context.Context, tx *store.Tx, in *Invoice, q string, args ...any) error {
	const update = `UPDATE mpay_invoices SET state = ?, updated = ?, in_flight = ? WHERE id = ?`
	head := []any{in.State, in.Updated.UnixNano(), in.InFlight, in.ID}
	if l.st.Backend() == "postgres" {
		_, err := tx.Exec(ctx, `WITH invoice AS (`+update+`) `+q, append(head, args...)...)
		return err
	}
	if _, err := tx.Exec(ctx, update, head...); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, q, args...)
	return err
}

// confirmed records the SP's acknowledgement of p with the exchange's
// messages as evidence, unless p was acknowledged already (false), and
// takes its amount off its invoice's in-flight amount. On PostgreSQL it
// is one statement: the payment's UPDATE a data-modifying WITH that the
// invoice's UPDATE and the evidence's rows are selected from, so that
// nothing is changed or kept when it changed no row.
func (l *Ledger) confirmed(ctx context.Context, tx *store.Tx, p *Payment, ex *mpayclient.Exchange) (bool, error) {
	const confirm = `UPDATE mpay_payments SET confirmed_at = ?, next_attempt = NULL, attempts = attempts + 1, last_error = '' WHERE id = ? AND confirmed_at = 0`
	head := []any{l.st.Now().UnixNano(), p.ID}
	if rows, args := evidenceRows(p.InvoiceID, p.ID, ex, "confirmed"); l.st.Backend() == "postgres" && len(rows) > 0 {
		res, err := tx.Exec(ctx, `WITH confirmed AS (`+confirm+` RETURNING id, invoice_id, `+landed+` AS amount),
			landed AS (UPDATE mpay_invoices i SET in_flight = i.in_flight - c.amount FROM confirmed c WHERE i.id = c.invoice_id)
			INSERT INTO mpay_evidence (`+evidenceCols+`) `+strings.Join(rows, " UNION ALL "), append(head, args...)...)
		if err != nil {
			return false, fmt.Errorf("mpay: recording the acknowledgement: %w", err)
		}
		n, err := res.RowsAffected()
		return n > 0, err
	}
	res, err := tx.Exec(ctx, confirm, head...)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE mpay_invoices SET in_flight = in_flight - (SELECT `+landed+` FROM mpay_payments WHERE id = ?) WHERE id = ?`,
		p.ID, p.InvoiceID); err != nil {
		return false, fmt.Errorf("mpay: recording the acknowledgement: %w", err)
	}
	return true, addEvidence(ctx, tx, p.InvoiceID, p.ID, ex)
}

// landed is what a payment's acknowledgement takes off its invoice's
// in-flight amount: its amount when it was approved (only approved
// payments are counted in flight, Settle).
const landed = `CASE WHEN state = 'approved' THEN amount ELSE 0 END`
