package mpay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

// InstrumentPOS is a card payment taken at a counter POS terminal.
const InstrumentPOS = "pos"

// opPosAck names MPay's signed answer to a POS payment.
const opPosAck = "pos.response"

var posSchema = store.Schema{Name: "mpay-pos",
	SQLite: `CREATE TABLE IF NOT EXISTS mpay_pos (service_id TEXT NOT NULL, terminal_id TEXT NOT NULL, transaction_id TEXT NOT NULL,
	payment_id TEXT NOT NULL, reserved INTEGER NOT NULL, PRIMARY KEY (service_id, terminal_id, transaction_id));`,
	Postgres: `CREATE TABLE IF NOT EXISTS mpay_pos (service_id TEXT NOT NULL, terminal_id TEXT NOT NULL, transaction_id TEXT NOT NULL,
	payment_id TEXT NOT NULL, reserved BIGINT NOT NULL, PRIMARY KEY (service_id, terminal_id, transaction_id));`}

var (
	posRef = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	last4  = regexp.MustCompile(`^[0-9]{4}$`)
)

// mountPOS serves the counter POS endpoint (client.PathPosPay), signed by
// the SP's key.
func (s *Service) mountPOS(g *echo.Group) {
	g.POST(client.PathPosPay+":sid/:key", s.posPay, s.signedBySP)
}

// ErrPOS is a POS payment refused for what it says.
var ErrPOS = errors.New("mpay: POS payment refused")

// PosPay records a card payment taken at a POS terminal for an order:
// the order is pulled, the payment recorded approved (the confirmation to
// the SP and the receipt follow as for any payment). The same terminal's
// TransactionID again is the same payment.
func (s *Service) PosPay(ctx context.Context, sp *SP, orderKey string, in client.PosPayment) (*Payment, error) {
	if !posRef.MatchString(in.TerminalID) || !posRef.MatchString(in.TransactionID) || in.Amount <= 0 || len(in.AuthCode) > 32 ||
		in.CardLast4 != "" && !last4.MatchString(in.CardLast4) {
		return nil, fmt.Errorf("%w: give TerminalID and TransactionID (1 to 64 letters, digits, '.', '_', '-'), a positive Amount in minor units, an AuthCode of at most 32 characters and at most the card's last 4 digits", ErrPOS)
	}
	if p, err := s.posPayment(ctx, sp.ServiceID, in); err != nil || p != nil && p.State != PayAuthorizing {
		return p, err
	}
	// The transaction is reserved first, so that reports of it at once
	// make one payment: the others wait for it.
	if err := s.reservePOS(ctx, sp.ServiceID, in); err != nil {
		var done errPOSDone
		if errors.As(err, &done) {
			return done.p, done.err
		}
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	release := func(err error) (*Payment, error) {
		_ = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM mpay_pos WHERE service_id = ? AND terminal_id = ? AND transaction_id = ? AND payment_id = ''`,
				sp.ServiceID, in.TerminalID, in.TransactionID)
			return err
		})
		return nil, err
	}
	inv, err := s.Pull(ctx, sp.ServiceID, orderKey, "", "ro")
	if err != nil {
		return release(err)
	}
	if inv.Currency != in.Currency {
		return release(fmt.Errorf("%w: the order is in %s, the payment in %s", ErrAmount, inv.Currency, in.Currency))
	}
	p, err := s.ledger.Start(ctx, inv.Token, in.Amount, InstrumentPOS, in.CardLast4)
	if err != nil {
		return release(err)
	}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mpay_pos SET payment_id = ? WHERE service_id = ? AND terminal_id = ? AND transaction_id = ?`,
			p.ID, sp.ServiceID, in.TerminalID, in.TransactionID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mpay: recording POS transaction %s/%s: %w", in.TerminalID, in.TransactionID, err)
	}
	auth := in.AuthCode
	if auth == "" {
		auth = "POS" + in.TransactionID
	}
	return s.settle(ctx, p.ID, cardsim.Result{Outcome: cardsim.Approved, AuthCode: auth})
}

// posReservation is how long a reserved POS transaction waits for its
// payment before another report may take it over (its process stopped).
const posReservation = time.Minute

// reservePOS reserves a POS transaction for this report; when another
// holds it, it waits for that one's payment to be settled (errPOSDone;
// ErrPOSBusy when it takes too long: report again).
func (s *Service) reservePOS(ctx context.Context, serviceID string, in client.PosPayment) error {
	deadline := s.cfg.Store.Now().Add(s.cfg.CallTimeout + 5*time.Second)
	for {
		var took bool
		err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
			now := s.cfg.Store.Now()
			r, err := tx.Exec(ctx, `INSERT INTO mpay_pos (service_id, terminal_id, transaction_id, payment_id, reserved) VALUES (?, ?, ?, '', ?)
				ON CONFLICT DO NOTHING`, serviceID, in.TerminalID, in.TransactionID, now.UnixNano())
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 0 { // held: taken over when stale
				r, err = tx.Exec(ctx, `UPDATE mpay_pos SET reserved = ? WHERE service_id = ? AND terminal_id = ? AND transaction_id = ? AND payment_id = '' AND reserved < ?`,
					now.UnixNano(), serviceID, in.TerminalID, in.TransactionID, now.Add(-posReservation).UnixNano())
				if err != nil {
					return err
				}
			}
			n, _ := r.RowsAffected()
			took = n == 1
			return nil
		})
		if err != nil || took {
			return err
		}
		// Done when the other report's payment is settled.
		if p, err := s.posPayment(ctx, serviceID, in); err != nil || p != nil && p.State != PayAuthorizing {
			return errPOSDone{p, err}
		}
		if s.cfg.Store.Now().After(deadline) {
			return fmt.Errorf("%w: transaction %s of terminal %s is being recorded; report it again", ErrPOSBusy, in.TransactionID, in.TerminalID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// errPOSDone carries the payment another report of the transaction made.
type errPOSDone struct {
	p   *Payment
	err error
}

func (e errPOSDone) Error() string { return "mpay: POS transaction recorded by another report" }

// ErrPOSBusy: the same POS transaction is being recorded by another report.
var ErrPOSBusy = errors.New("mpay: POS transaction busy")

// posPayment is the payment already recorded for a POS transaction (nil:
// none); one for another amount is refused.
func (s *Service) posPayment(ctx context.Context, serviceID string, in client.PosPayment) (*Payment, error) {
	var pid string
	err := s.cfg.Store.QueryRow(ctx, `SELECT payment_id FROM mpay_pos WHERE service_id = ? AND terminal_id = ? AND transaction_id = ?`,
		serviceID, in.TerminalID, in.TransactionID).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) || err == nil && pid == "" {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	p, err := s.ledger.Payment(ctx, pid)
	if err != nil {
		return nil, err
	}
	if p.Amount != in.Amount {
		return nil, fmt.Errorf("%w: transaction %s of terminal %s was reported for %s, not %s", ErrPOS, in.TransactionID, in.TerminalID, FormatAmount(p.Amount), FormatAmount(in.Amount))
	}
	return p, nil
}

func (s *Service) posPay(c echo.Context) error {
	sp := c.Get(spKey).(*SP)
	if c.Param("sid") != sp.ServiceID {
		return problem.New(http.StatusForbidden, "forbidden", "Forbidden", "a service reports POS payments for its own orders only")
	}
	var in client.PosPayment
	if err := json.Unmarshal(c.Get(bodyKey).([]byte), &in); err != nil {
		return problem.Newf(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", "the body is not a POS payment: %v", err)
	}
	p, err := s.PosPay(c.Request().Context(), sp, c.Param("key"), in)
	var f *client.Fault
	switch {
	case errors.Is(err, ErrPOSBusy):
		return problem.New(http.StatusConflict, "mpay-pos-busy", "Busy", err.Error())
	case errors.Is(err, ErrPOS):
		return problem.New(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", err.Error())
	case errors.As(err, &f) && f.Code == client.FaultUnknownOrder:
		return notFound("the service does not know order " + c.Param("key"))
	case errors.Is(err, ErrAmount), errors.Is(err, ErrNotPayable), errors.As(err, &f):
		return problem.New(http.StatusConflict, "mpay-not-payable", "Not payable", err.Error())
	case errors.Is(err, client.ErrUnreachable):
		return problem.New(http.StatusBadGateway, "mpay-sp-unreachable", "Service unreachable", "the service did not answer GetOrderDetails; report the payment again")
	case err != nil:
		return err
	case p.State != PayApproved:
		return problem.New(http.StatusConflict, "mpay-not-payable", "Not payable", "the payment was not recorded: "+p.Reason)
	}
	body, err := json.Marshal(client.PosReceipt{PaymentID: p.ID, InvoiceID: p.InvoiceID, Amount: p.Amount, Currency: p.Currency,
		PaidAt: p.PaidAt.UTC(), Receipt: "/mpay/api/v1/payments/" + p.ID + "/receipt"})
	if err != nil {
		return err
	}
	sig, err := s.caller.Signer.Sign(opPosAck, body)
	if err != nil {
		return err
	}
	c.Response().Header().Set(client.HeaderSignature, sig)
	return c.JSONBlob(http.StatusOK, body)
}
