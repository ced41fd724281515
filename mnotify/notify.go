package mnotify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/store"
)

// ErrNothingToCancel: every delivery of the notification is made (or
// failed, or cancelled) already.
var ErrNothingToCancel = errors.New("mnotify: nothing left to cancel")

// ErrNoChannel: a recipient no channel reaches (an e-mail address with no
// relay configured).
var ErrNoChannel = errors.New("mnotify: no channel reaches the recipient")

// planned is a delivery to create.
type planned struct {
	rc      client.Recipient
	channel string
	address string
	lang    string
}

// plan resolves the recipients into deliveries: an IDNP gets its inbox,
// and e-mail when its contact has an address; its contact's channel
// preferences hold unless the priority is High; an e-mail address gets
// e-mail.
func (s *Service) plan(ctx context.Context, tx *store.Tx, req *client.NotificationRequest) ([]planned, error) {
	var out []planned
	for _, rc := range req.Recipients {
		if rc.Type == client.RecipientEmail {
			if s.cfg.SMTP == nil {
				return nil, fmt.Errorf("%w: %s: this MNotify has no e-mail relay", ErrNoChannel, rc.Value)
			}
			out = append(out, planned{rc, client.ChannelEmail, rc.Value, "ro"})
			continue
		}
		ct, err := getContact(ctx, tx, rc.Value)
		if errors.Is(err, ErrNotFound) {
			ct, err = &client.Contact{IDNP: rc.Value}, nil
		}
		if err != nil {
			return nil, err
		}
		lang := ct.Language
		if lang == "" {
			lang = "ro"
		}
		wants := func(ch string) bool {
			return req.Priority == client.PriorityHigh || len(ct.Channels) == 0 || slices.Contains(ct.Channels, ch)
		}
		email := ct.Email != "" && s.cfg.SMTP != nil && wants(client.ChannelEmail)
		if wants(client.ChannelInbox) || !email { // the inbox always reaches a person
			out = append(out, planned{rc, client.ChannelInbox, rc.Value, lang})
		}
		if email {
			out = append(out, planned{rc, client.ChannelEmail, ct.Email, lang})
		}
	}
	return out, nil
}

// priority is the job priority of a notification's priority.
func priority(p string) int {
	switch p {
	case client.PriorityHigh:
		return 1
	case client.PriorityLow:
		return 3
	}
	return 2
}

// Send records a notification of system and its deliveries, and enqueues
// the e-mails, in one transaction; it returns the notification's id. With
// an idempotency key, a second call with the same key returns the first
// notification's id and sends nothing.
func (s *Service) Send(ctx context.Context, system string, req client.NotificationRequest, idemKey string) (string, error) {
	if err := req.Check(); err != nil {
		return "", err
	}
	if len(idemKey) > 128 {
		return "", client.Invalid("Idempotency-Key: at most 128 characters")
	}
	c := content{UserID: req.UserID, Priority: req.Priority, Subject: req.Subject, Body: req.Body, BodyShort: req.BodyShort}
	if c.Priority == "" {
		c.Priority = client.PriorityMedium
	}
	if req.Template != nil {
		t, err := getTemplate(ctx, s.st, req.Template.ID)
		if errors.Is(err, ErrNotFound) {
			return "", client.Invalid("template.id: there is no template %s (GET %s lists them)", req.Template.ID, client.PathTemplates)
		}
		if err != nil {
			return "", err
		}
		vars, err := client.ParseVariables(req.Template.Variables)
		if err != nil {
			return "", err
		}
		r, err := renderTemplate(t, vars)
		if err != nil {
			return "", err
		}
		c.TemplateID, c.Subject, c.Body, c.BodyShort = t.ID, r.Subject, r.Body, r.BodyShort
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	id := newID()
	now := s.st.Now()
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		if idemKey != "" {
			var prev string
			err := tx.QueryRow(ctx, `SELECT id FROM mnotify_notifications WHERE system = ? AND idem = ?`, system, idemKey).Scan(&prev)
			if err == nil {
				id = prev
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		plan, err := s.plan(ctx, tx, &req)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mnotify_notifications (id, system, created, content, idem) VALUES (?, ?, ?, ?, ?)`,
			id, system, now.UnixNano(), b, idemKey); err != nil {
			return fmt.Errorf("mnotify: recording the notification: %w", err)
		}
		emails := 0
		for _, p := range plan {
			status := client.StatusPending
			if p.channel == client.ChannelInbox {
				status = client.StatusDelivered // in the inbox as the transaction commits
			}
			var did int64
			if err := tx.QueryRow(ctx, `INSERT INTO mnotify_deliveries (notification, rtype, rvalue, channel, address, lang, status, updated)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, id, p.rc.Type, p.rc.Value, p.channel, p.address, p.lang, status, now.UnixNano()).Scan(&did); err != nil {
				return fmt.Errorf("mnotify: recording a delivery: %w", err)
			}
			if p.channel != client.ChannelEmail {
				continue
			}
			emails++
			e, err := s.q.EnqueueTx(ctx, tx, emailArgs{Delivery: did}, &jobs.EnqueueOpts{Unique: true, Priority: priority(c.Priority)})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE mnotify_deliveries SET job = ? WHERE id = ?`, e.ID, did); err != nil {
				return err
			}
		}
		_, err = tx.Append(ctx, store.Event{Actor: system, Action: "mnotify-send", Subject: id,
			Details: map[string]string{"recipients": fmt.Sprint(len(req.Recipients)), "deliveries": fmt.Sprint(len(plan)),
				"emails": fmt.Sprint(emails), "priority": c.Priority, "template": c.TemplateID}})
		return err
	})
	if err != nil {
		if idemKey != "" && store.IsUniqueViolation(err) { // a concurrent call with the same key won
			var prev string
			if e := s.st.QueryRow(ctx, `SELECT id FROM mnotify_notifications WHERE system = ? AND idem = ?`, system, idemKey).Scan(&prev); e == nil {
				return prev, nil
			}
		}
		return "", err
	}
	return id, nil
}

// rank orders the statuses of progress.
var rank = map[string]int{client.StatusPending: 0, client.StatusSending: 1, client.StatusSent: 2, client.StatusDelivered: 3, client.StatusRead: 4}

// sum sums up statuses: the furthest a delivery went (a person who read
// the inbox has the notification, whatever the e-mail does) for a
// recipient (most), or the least far for a notification (!most); Cancelled
// or Failed only when nothing else is left.
func sum(statuses []string, most bool) string {
	best, cancelled, failed := "", 0, 0
	for _, st := range statuses {
		switch st {
		case client.StatusCancelled:
			cancelled++
			continue
		case client.StatusFailed:
			failed++
			continue
		}
		if best == "" || most == (rank[st] > rank[best]) {
			best = st
		}
	}
	switch {
	case best != "":
		return best
	case failed > 0:
		return client.StatusFailed
	case cancelled > 0:
		return client.StatusCancelled
	}
	return client.StatusPending
}

// Notification returns a notification of system with its statuses
// (ErrNotFound, also for another system's).
func (s *Service) Notification(ctx context.Context, system, id string) (*client.Notification, error) {
	var b []byte
	var created int64
	var owner string
	err := s.st.QueryRow(ctx, `SELECT system, created, content FROM mnotify_notifications WHERE id = ?`, id).Scan(&owner, &created, &b)
	if errors.Is(err, sql.ErrNoRows) || err == nil && owner != system {
		return nil, fmt.Errorf("%w: no notification %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("mnotify: notification %s: %w", id, err)
	}
	return s.assemble(ctx, id, owner, created, b)
}

func (s *Service) assemble(ctx context.Context, id, owner string, created int64, b []byte) (*client.Notification, error) {
	var c content
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("mnotify: notification %s: %w", id, err)
	}
	n := &client.Notification{ID: id, System: owner, UserID: c.UserID, Created: time.Unix(0, created).UTC(), Priority: c.Priority,
		TemplateID: c.TemplateID, Subject: c.Subject, Body: c.Body, BodyShort: c.BodyShort, Recipients: []client.RecipientStatus{}}
	rows, err := s.st.Query(ctx, `SELECT `+deliveryCols+` FROM mnotify_deliveries WHERE notification = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("mnotify: notification %s: %w", id, err)
	}
	defer rows.Close()
	idx := map[client.Recipient]int{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("mnotify: notification %s: %w", id, err)
		}
		rc := client.Recipient{Value: d.RValue, Type: d.RType}
		i, ok := idx[rc]
		if !ok {
			i = len(n.Recipients)
			idx[rc] = i
			n.Recipients = append(n.Recipients, client.RecipientStatus{Value: rc.Value, Type: rc.Type})
		}
		n.Recipients[i].Channels = append(n.Recipients[i].Channels, client.ChannelStatus{Channel: d.Channel, Address: d.Address,
			Language: d.Lang, Status: d.Status, Attempts: d.Attempts, LastError: d.LastError, Updated: d.Updated})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var all []string
	for i := range n.Recipients {
		var st []string
		for _, ch := range n.Recipients[i].Channels {
			st = append(st, ch.Status)
		}
		n.Recipients[i].Status = sum(st, true)
		all = append(all, n.Recipients[i].Status)
	}
	n.Status = sum(all, false)
	return n, nil
}

// Notifications lists a page (from 1) of system's notifications, newest
// first, and how many it has in all.
func (s *Service) Notifications(ctx context.Context, system string, page, size int) ([]client.Notification, int, error) {
	var total int
	if err := s.st.QueryRow(ctx, `SELECT count(*) FROM mnotify_notifications WHERE system = ?`, system).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("mnotify: notifications: %w", err)
	}
	rows, err := s.st.Query(ctx, `SELECT id, created, content FROM mnotify_notifications WHERE system = ? ORDER BY created DESC, id LIMIT ? OFFSET ?`,
		system, size, (page-1)*size)
	if err != nil {
		return nil, 0, fmt.Errorf("mnotify: notifications: %w", err)
	}
	type row struct {
		id      string
		created int64
		b       []byte
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.created, &r.b); err != nil {
			rows.Close()
			return nil, 0, err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out := make([]client.Notification, 0, len(list))
	for _, r := range list {
		n, err := s.assemble(ctx, r.id, system, r.created, r.b)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *n)
	}
	return out, total, nil
}

// Cancel cancels the deliveries of system's notification that are still
// Pending, and their jobs, in one transaction (ErrNothingToCancel when
// none is).
func (s *Service) Cancel(ctx context.Context, system, id string) (*client.Notification, error) {
	if _, err := s.Notification(ctx, system, id); err != nil {
		return nil, err
	}
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		rows, err := s.st.Query(ctx, `SELECT id, job FROM mnotify_deliveries WHERE notification = ? AND status = ?`, id, client.StatusPending)
		if err != nil {
			return err
		}
		type pending struct{ id, job int64 }
		var list []pending
		for rows.Next() {
			var p pending
			if err := rows.Scan(&p.id, &p.job); err != nil {
				rows.Close()
				return err
			}
			list = append(list, p)
		}
		rows.Close()
		n := 0
		for _, p := range list {
			// Guarded: a worker that moved it to Sending meanwhile wins.
			var st string
			if err := tx.QueryRowForUpdate(ctx, `SELECT status FROM mnotify_deliveries WHERE id = ?`, p.id).Scan(&st); err != nil {
				return err
			}
			if st != client.StatusPending {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE mnotify_deliveries SET status = ?, updated = ? WHERE id = ?`, client.StatusCancelled, s.st.Now().UnixNano(), p.id); err != nil {
				return err
			}
			if p.job != 0 {
				if _, err := s.q.CancelTx(ctx, tx, p.job); err != nil && !errors.Is(err, jobs.ErrNotFound) {
					return err
				}
			}
			n++
		}
		if n == 0 {
			return fmt.Errorf("%w: notification %s", ErrNothingToCancel, id)
		}
		_, err = tx.Append(ctx, store.Event{Actor: system, Action: "mnotify-cancel", Subject: id, Details: map[string]string{"cancelled": fmt.Sprint(n)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Notification(ctx, system, id)
}

// Inbox lists the person's inbox, newest first (at most 200 messages).
func (s *Service) Inbox(ctx context.Context, idnp string) ([]client.InboxMessage, error) {
	rows, err := s.st.Query(ctx, `SELECT d.id, d.notification, d.lang, d.status, d.read_at, n.system, n.created, n.content
		FROM mnotify_deliveries d JOIN mnotify_notifications n ON n.id = d.notification
		WHERE d.channel = ? AND d.address = ? AND d.status IN (?, ?) ORDER BY d.id DESC LIMIT 200`,
		client.ChannelInbox, idnp, client.StatusDelivered, client.StatusRead)
	if err != nil {
		return nil, fmt.Errorf("mnotify: inbox: %w", err)
	}
	defer rows.Close()
	out := []client.InboxMessage{}
	for rows.Next() {
		m, err := scanInbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

func scanInbox(r scanner) (*client.InboxMessage, error) {
	var m client.InboxMessage
	var lang string
	var read, created int64
	var b []byte
	if err := r.Scan(&m.ID, &m.NotificationID, &lang, &m.Status, &read, &m.System, &created, &b); err != nil {
		return nil, fmt.Errorf("mnotify: inbox: %w", err)
	}
	var c content
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("mnotify: inbox: %w", err)
	}
	m.Subject, m.Body, m.BodyShort, m.Priority = c.Subject.In(lang), c.Body.In(lang), c.BodyShort.In(lang), c.Priority
	m.Created = time.Unix(0, created).UTC()
	if read != 0 {
		t := time.Unix(0, read).UTC()
		m.ReadAt = &t
	}
	return &m, nil
}

// MarkRead marks message msg of the person's inbox read (ErrNotFound when
// it is not in that inbox).
func (s *Service) MarkRead(ctx context.Context, actor, idnp string, msg int64) (*client.InboxMessage, error) {
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		var st string
		err := tx.QueryRowForUpdate(ctx, `SELECT status FROM mnotify_deliveries WHERE id = ? AND channel = ? AND address = ?`, msg, client.ChannelInbox, idnp).Scan(&st)
		if errors.Is(err, sql.ErrNoRows) || err == nil && st != client.StatusDelivered && st != client.StatusRead {
			return fmt.Errorf("%w: no message %d in the inbox of %s", ErrNotFound, msg, idnp)
		}
		if err != nil || st == client.StatusRead {
			return err
		}
		now := s.st.Now().UnixNano()
		if _, err := tx.Exec(ctx, `UPDATE mnotify_deliveries SET status = ?, read_at = ?, updated = ? WHERE id = ?`, client.StatusRead, now, now, msg); err != nil {
			return err
		}
		_, err = tx.Append(ctx, store.Event{Actor: actor, Action: "mnotify-read", Subject: fmt.Sprint(msg), Details: map[string]string{"idnp": idnp}})
		return err
	})
	if err != nil {
		return nil, err
	}
	row := s.st.QueryRow(ctx, `SELECT d.id, d.notification, d.lang, d.status, d.read_at, n.system, n.created, n.content
		FROM mnotify_deliveries d JOIN mnotify_notifications n ON n.id = d.notification WHERE d.id = ?`, msg)
	return scanInbox(row)
}

// summary is a one-line error for the status page (no secrets: the relay's
// own words and our context).
func summary(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
