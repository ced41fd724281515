package mnotify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/store"
)

// emailArgs is the job of one e-mail delivery.
type emailArgs struct {
	Delivery int64 `json:"delivery" river:"unique"`
}

func (emailArgs) Kind() string { return "mnotify.email" }

// emailWorker sends a delivery's e-mail: Pending → Sending → Sent, back to
// Pending (with the error) for a retry, Failed when the relay refuses for
// good or the attempts run out. A delivery cancelled meanwhile is left.
type emailWorker struct {
	jobs.WorkerDefaults[emailArgs]
	s *Service
}

func (w *emailWorker) Work(ctx context.Context, j *jobs.Job[emailArgs]) error {
	s := w.s
	id := j.Args.Delivery
	var d *delivery
	var c content
	// Status changes must land even when ctx ends mid-send (Close).
	bg := context.WithoutCancel(ctx)
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRowForUpdate(ctx, `SELECT `+deliveryCols+` FROM mnotify_deliveries WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if d.Status != client.StatusPending && d.Status != client.StatusSending { // cancelled, sent or failed
			return nil
		}
		var b []byte
		if err := tx.QueryRow(ctx, `SELECT content FROM mnotify_notifications WHERE id = ?`, d.Notification).Scan(&b); err != nil {
			return err
		}
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		d.Attempts++
		_, err = tx.Exec(ctx, `UPDATE mnotify_deliveries SET status = ?, attempts = ?, updated = ? WHERE id = ?`,
			client.StatusSending, d.Attempts, s.st.Now().UnixNano(), id)
		d.Status = client.StatusSending
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.Cancel(fmt.Errorf("delivery %d is gone", id))
	}
	if err != nil {
		return fmt.Errorf("mnotify: delivery %d: %w", id, err)
	}
	if d.Status != client.StatusSending {
		return nil
	}
	if s.cfg.SMTP == nil {
		return w.finish(bg, id, client.StatusFailed, "no e-mail relay is configured", jobs.Cancel(errors.New("no e-mail relay")))
	}
	msg := mailMessage(s.cfg.SMTP.From, d.Address, c.Subject.In(d.Lang), c.Body.In(d.Lang),
		fmt.Sprintf("%s.%d@mnotify", d.Notification, d.ID), d.Lang, s.st.Now())
	sendErr := s.cfg.SMTP.send(ctx, d.Address, msg)
	var perm *permanentError
	switch {
	case sendErr == nil:
		return w.finish(bg, id, client.StatusSent, "", nil)
	case errors.As(sendErr, &perm):
		s.log.Warn("mnotify: the relay refused an e-mail", "delivery", id, "err", sendErr)
		return w.finish(bg, id, client.StatusFailed, summary(sendErr), jobs.Cancel(sendErr))
	case j.Attempt >= j.MaxAttempts:
		s.log.Warn("mnotify: an e-mail failed its last attempt", "delivery", id, "attempts", j.Attempt, "err", sendErr)
		return w.finish(bg, id, client.StatusFailed, summary(sendErr), sendErr)
	default:
		s.log.Info("mnotify: an e-mail will be retried", "delivery", id, "attempt", j.Attempt, "err", sendErr)
		return w.finish(bg, id, client.StatusPending, summary(sendErr), sendErr)
	}
}

// finish records the outcome of an attempt (if the delivery is still
// Sending) and returns ret to the queue.
func (w *emailWorker) finish(ctx context.Context, id int64, status, lastErr string, ret error) error {
	s := w.s
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mnotify_deliveries SET status = ?, last_error = ?, updated = ? WHERE id = ? AND status = ?`,
			status, lastErr, s.st.Now().UnixNano(), id, client.StatusSending)
		return err
	})
	if err != nil {
		return fmt.Errorf("mnotify: delivery %d: recording %s: %w", id, status, err)
	}
	return ret
}
