package mpay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// Webhooks tell an SP what happened, as GOV.UK Pay's do: a JSON event
// POSTed to the SP's webhook URL, its body signed with the SP's own secret
// (HeaderWebhookSignature: hex HMAC-SHA256), retried from the job queue
// until the SP answers 2xx, each attempt kept in a delivery log. They are
// on top of, never instead of, the signed ConfirmOrderPayment.

// Event types.
const (
	EventPaymentSucceeded = "payment_succeeded"
	EventPaymentFailed    = "payment_failed"
	EventRefundSucceeded  = "refund_succeeded"
	// HeaderWebhookSignature carries the hex HMAC-SHA256 of the body.
	HeaderWebhookSignature = "Pay-Signature"
)

// WebhookEvent is the body of a webhook.
type WebhookEvent struct {
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	ServiceID string    `json:"service_id"`
	Created   time.Time `json:"created"`
	Resource  any       `json:"resource"`
}

// WebhookAttempt is one delivery attempt of a webhook.
type WebhookAttempt struct {
	EventID   string
	EventType string
	Attempt   int
	At        time.Time
	Status    int    // the SP's HTTP status; 0: no answer
	Error     string // why it failed
}

// WebhookArgs is the job that delivers one webhook.
type WebhookArgs struct {
	EventID string `json:"eventID" river:"unique"`
}

// Kind names the job.
func (WebhookArgs) Kind() string { return "mpay.webhook" }

// WebhookSignature is the signature of body with secret.
func WebhookSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// webhook records an event for the SP (if it takes webhooks) in the
// transaction of the change, and enqueues its delivery. settings are the
// SP's registered settings when the transaction read them already (nil:
// read them here; pointing to nil: the SP is not registered).
func (s *Service) webhook(ctx context.Context, tx *store.Tx, serviceID string, settings *[]byte, typ string, resource any) error {
	var raw []byte
	if settings != nil {
		raw = *settings
	} else {
		// Read in the transaction: no second connection while it holds one.
		err := tx.QueryRow(ctx, `SELECT settings FROM systems WHERE service = ? AND name = ?`, storeService, serviceID).Scan(&raw)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if raw == nil {
		return nil
	}
	var set spSettings
	if err := json.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("mpay: service %s: settings: %w", serviceID, err)
	}
	if set.WebhookURL == "" || set.WebhookSecret == "" {
		return nil
	}
	id, err := token()
	if err != nil {
		return err
	}
	body, err := json.Marshal(WebhookEvent{EventID: id, EventType: typ, ServiceID: serviceID, Created: s.cfg.Store.Now().UTC(), Resource: resource})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mpay_webhooks (id, service_id, type, body, created, delivered_at) VALUES (?, ?, ?, ?, ?, 0)`,
		id, serviceID, typ, body, s.cfg.Store.Now().UnixNano()); err != nil {
		return fmt.Errorf("mpay: webhook: %w", err)
	}
	s.queue.EnqueueAtCommit(tx, WebhookArgs{EventID: id}, &jobs.EnqueueOpts{Unique: true})
	return nil
}

// deliverWebhook POSTs one webhook and logs the attempt.
func (s *Service) deliverWebhook(ctx context.Context, j *jobs.Job[WebhookArgs]) error {
	var serviceID string
	var body []byte
	var delivered int64
	err := s.cfg.Store.QueryRow(ctx, `SELECT service_id, body, delivered_at FROM mpay_webhooks WHERE id = ?`, j.Args.EventID).Scan(&serviceID, &body, &delivered)
	if err != nil {
		return jobs.Cancel(fmt.Errorf("mpay: webhook %s: %w", j.Args.EventID, err))
	}
	if delivered != 0 {
		return nil
	}
	sp, err := LookupService(ctx, s.cfg.Store, serviceID)
	if err != nil || sp.WebhookURL == "" {
		return jobs.Cancel(fmt.Errorf("mpay: webhook %s: the service %s no longer takes webhooks", j.Args.EventID, serviceID))
	}
	status, perr := s.postWebhook(ctx, sp, body)
	now := s.cfg.Store.Now()
	why := ""
	if perr != nil {
		why = perr.Error()
	}
	if err := s.cfg.Store.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO mpay_webhook_attempts (webhook_id, attempt, at, status, error)
			SELECT ?, COALESCE(MAX(attempt), 0) + 1, ?, ?, ? FROM mpay_webhook_attempts WHERE webhook_id = ?`,
			j.Args.EventID, now.UnixNano(), status, why, j.Args.EventID); err != nil {
			return err
		}
		if perr == nil {
			_, err := tx.Exec(ctx, `UPDATE mpay_webhooks SET delivered_at = ? WHERE id = ?`, now.UnixNano(), j.Args.EventID)
			return err
		}
		return nil
	}); err != nil {
		return err
	}
	return perr
}

func (s *Service) postWebhook(ctx context.Context, sp *SP, body []byte) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, sp.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderWebhookSignature, WebhookSignature(sp.WebhookSecret, body))
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// WebhookAttempts is the delivery log of an SP's webhooks, oldest first.
func (l *Ledger) WebhookAttempts(ctx context.Context, serviceID string) ([]WebhookAttempt, error) {
	rows, err := l.st.Query(ctx, `SELECT w.id, w.type, a.attempt, a.at, a.status, a.error FROM mpay_webhook_attempts a
		JOIN mpay_webhooks w ON w.id = a.webhook_id WHERE w.service_id = ? ORDER BY a.at, a.attempt`, serviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WebhookAttempt
	for rows.Next() {
		var a WebhookAttempt
		var at int64
		if err := rows.Scan(&a.EventID, &a.EventType, &a.Attempt, &at, &a.Status, &a.Error); err != nil {
			return nil, err
		}
		a.At = time.Unix(0, at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// paymentResource is a payment as a webhook tells it.
func paymentResource(in *Invoice, p *Payment) map[string]any {
	return map[string]any{"payment_id": p.ID, "invoice_id": in.ID, "order_key": in.OrderKey, "amount": p.Amount,
		"currency": p.Currency, "state": p.State, "instrument": p.Instrument, "reason": p.Reason}
}
