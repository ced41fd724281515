package mnotify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/store"
)

// The tables: a notification (its texts as JSON), one delivery per
// recipient and channel (its status, attempts and job), the contact
// registry and the templates. Times are Unix nanoseconds.
var schema = store.Schema{Name: "mnotify",
	SQLite: `
CREATE TABLE IF NOT EXISTS mnotify_notifications (
	id       TEXT    PRIMARY KEY,
	system   TEXT    NOT NULL,
	created  INTEGER NOT NULL,
	content  BLOB    NOT NULL,
	idem     TEXT    NOT NULL DEFAULT '' -- the Idempotency-Key of its POST
);
CREATE INDEX IF NOT EXISTS mnotify_notifications_system ON mnotify_notifications (system, created);
CREATE UNIQUE INDEX IF NOT EXISTS mnotify_notifications_idem ON mnotify_notifications (system, idem) WHERE idem <> '';
CREATE TABLE IF NOT EXISTS mnotify_deliveries (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	notification TEXT    NOT NULL REFERENCES mnotify_notifications (id),
	rtype        TEXT    NOT NULL,
	rvalue       TEXT    NOT NULL,
	channel      TEXT    NOT NULL,
	address      TEXT    NOT NULL,
	lang         TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT '',
	job          INTEGER NOT NULL DEFAULT 0,
	updated      INTEGER NOT NULL,
	read_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mnotify_deliveries_notification ON mnotify_deliveries (notification);
CREATE INDEX IF NOT EXISTS mnotify_deliveries_inbox ON mnotify_deliveries (channel, address);
CREATE TABLE IF NOT EXISTS mnotify_contacts (
	idnp     TEXT    PRIMARY KEY,
	content  BLOB    NOT NULL,
	updated  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mnotify_templates (
	id       TEXT    PRIMARY KEY,
	owner    TEXT    NOT NULL,
	content  BLOB    NOT NULL,
	updated  INTEGER NOT NULL
);`,
	Postgres: `
CREATE TABLE IF NOT EXISTS mnotify_notifications (
	id       TEXT   PRIMARY KEY,
	system   TEXT   NOT NULL,
	created  BIGINT NOT NULL,
	content  BYTEA  NOT NULL,
	idem     TEXT   NOT NULL DEFAULT '' -- the Idempotency-Key of its POST
);
CREATE INDEX IF NOT EXISTS mnotify_notifications_system ON mnotify_notifications (system, created);
CREATE UNIQUE INDEX IF NOT EXISTS mnotify_notifications_idem ON mnotify_notifications (system, idem) WHERE idem <> '';
CREATE TABLE IF NOT EXISTS mnotify_deliveries (
	id           BIGSERIAL PRIMARY KEY,
	notification TEXT   NOT NULL REFERENCES mnotify_notifications (id),
	rtype        TEXT   NOT NULL,
	rvalue       TEXT   NOT NULL,
	channel      TEXT   NOT NULL,
	address      TEXT   NOT NULL,
	lang         TEXT   NOT NULL,
	status       TEXT   NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT   NOT NULL DEFAULT '',
	job          BIGINT NOT NULL DEFAULT 0,
	updated      BIGINT NOT NULL,
	read_at      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mnotify_deliveries_notification ON mnotify_deliveries (notification);
CREATE INDEX IF NOT EXISTS mnotify_deliveries_inbox ON mnotify_deliveries (channel, address);
CREATE TABLE IF NOT EXISTS mnotify_contacts (
	idnp     TEXT   PRIMARY KEY,
	content  BYTEA  NOT NULL,
	updated  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS mnotify_templates (
	id       TEXT   PRIMARY KEY,
	owner    TEXT   NOT NULL,
	content  BYTEA  NOT NULL,
	updated  BIGINT NOT NULL
);`}

// Errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("mnotify: not found")
	ErrExists   = errors.New("mnotify: already exists")
	ErrNotYours = errors.New("mnotify: another system's")
)

// content is a notification's row content.
type content struct {
	UserID     string       `json:"userId,omitempty"`
	Priority   string       `json:"priority"`
	TemplateID string       `json:"templateId,omitempty"`
	Subject    client.Texts `json:"subject"`
	Body       client.Texts `json:"body"`
	BodyShort  client.Texts `json:"bodyShort"`
}

// delivery is a row of mnotify_deliveries.
type delivery struct {
	ID           int64
	Notification string
	RType        string
	RValue       string
	Channel      string
	Address      string
	Lang         string
	Status       string
	Attempts     int
	LastError    string
	Job          int64
	Updated      time.Time
	ReadAt       time.Time
}

const deliveryCols = `id, notification, rtype, rvalue, channel, address, lang, status, attempts, last_error, job, updated, read_at`

type scanner interface{ Scan(...any) error }

func scanDelivery(r scanner) (*delivery, error) {
	var d delivery
	var upd, read int64
	if err := r.Scan(&d.ID, &d.Notification, &d.RType, &d.RValue, &d.Channel, &d.Address, &d.Lang, &d.Status, &d.Attempts, &d.LastError, &d.Job, &upd, &read); err != nil {
		return nil, err
	}
	d.Updated = time.Unix(0, upd).UTC()
	if read != 0 {
		d.ReadAt = time.Unix(0, read).UTC()
	}
	return &d, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// contact returns a person's contact (ErrNotFound when there is none).
func getContact(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) *sql.Row
}, idnp string) (*client.Contact, error) {
	var b []byte
	var upd int64
	err := q.QueryRow(ctx, `SELECT content, updated FROM mnotify_contacts WHERE idnp = ?`, idnp).Scan(&b, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no contact for %s", ErrNotFound, idnp)
	}
	if err != nil {
		return nil, fmt.Errorf("mnotify: contact %s: %w", idnp, err)
	}
	var c client.Contact
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("mnotify: contact %s: %w", idnp, err)
	}
	c.Updated = time.Unix(0, upd).UTC()
	return &c, nil
}

// SetContact records (or replaces) a person's contact and the change in
// the audit log.
func SetContact(ctx context.Context, st *store.Store, actor string, c client.Contact) (*client.Contact, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	c.Updated = time.Time{}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	now := st.Now()
	err = st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO mnotify_contacts (idnp, content, updated) VALUES (?, ?, ?)
			ON CONFLICT (idnp) DO UPDATE SET content = excluded.content, updated = excluded.updated`, c.IDNP, b, now.UnixNano()); err != nil {
			return fmt.Errorf("mnotify: contact %s: %w", c.IDNP, err)
		}
		_, err := tx.Append(ctx, store.Event{Actor: actor, Action: "mnotify-contact-set", Subject: c.IDNP,
			Details: map[string]string{"email": c.Email, "language": c.Language}})
		return err
	})
	if err != nil {
		return nil, err
	}
	c.Updated = now.UTC()
	return &c, nil
}

// Contact returns a person's contact (ErrNotFound when there is none).
func Contact(ctx context.Context, st *store.Store, idnp string) (*client.Contact, error) {
	return getContact(ctx, st, idnp)
}

// DeleteContact forgets a person's contact (ErrNotFound when there is none).
func DeleteContact(ctx context.Context, st *store.Store, actor, idnp string) error {
	return st.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM mnotify_contacts WHERE idnp = ?`, idnp)
		if err != nil {
			return fmt.Errorf("mnotify: contact %s: %w", idnp, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: no contact for %s", ErrNotFound, idnp)
		}
		_, err = tx.Append(ctx, store.Event{Actor: actor, Action: "mnotify-contact-delete", Subject: idnp})
		return err
	})
}

// Contacts lists the contact registry by IDNP.
func Contacts(ctx context.Context, st *store.Store) ([]client.Contact, error) {
	rows, err := st.Query(ctx, `SELECT content, updated FROM mnotify_contacts ORDER BY idnp`)
	if err != nil {
		return nil, fmt.Errorf("mnotify: contacts: %w", err)
	}
	defer rows.Close()
	var out []client.Contact
	for rows.Next() {
		var b []byte
		var upd int64
		if err := rows.Scan(&b, &upd); err != nil {
			return nil, fmt.Errorf("mnotify: contacts: %w", err)
		}
		var c client.Contact
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("mnotify: contacts: %w", err)
		}
		c.Updated = time.Unix(0, upd).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// getTemplate returns a template (ErrNotFound).
func getTemplate(ctx context.Context, st *store.Store, id string) (*client.Template, error) {
	var b []byte
	var owner string
	var upd int64
	err := st.QueryRow(ctx, `SELECT owner, content, updated FROM mnotify_templates WHERE id = ?`, id).Scan(&owner, &b, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no template %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("mnotify: template %s: %w", id, err)
	}
	var t client.Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("mnotify: template %s: %w", id, err)
	}
	t.ID, t.Owner, t.Updated = id, owner, time.Unix(0, upd).UTC()
	return &t, nil
}

// PutTemplate creates a template, or replaces one of owner's (ErrNotYours
// for another system's; with create, ErrExists when the id is taken).
func PutTemplate(ctx context.Context, st *store.Store, owner string, t client.Template, create bool) (*client.Template, error) {
	if err := client.CheckTemplateID(t.ID); err != nil {
		return nil, err
	}
	if err := client.CheckTexts(t.Subject, t.Body, t.BodyShort); err != nil {
		return nil, err
	}
	for _, txt := range []client.Texts{t.Subject, t.Body, t.BodyShort} {
		var err error
		txt.Each(func(lang, s string) {
			if err == nil {
				err = checkPlaceholders(s)
			}
		})
		if err != nil {
			return nil, client.Invalid("template %s: %v", t.ID, err)
		}
	}
	t.Owner, t.Updated = "", time.Time{}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	now := st.Now()
	err = st.InTx(ctx, func(tx *store.Tx) error {
		var cur string
		err := tx.QueryRowForUpdate(ctx, `SELECT owner FROM mnotify_templates WHERE id = ?`, t.ID).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.Exec(ctx, `INSERT INTO mnotify_templates (id, owner, content, updated) VALUES (?, ?, ?, ?)`, t.ID, owner, b, now.UnixNano())
		case err != nil:
		case create:
			return fmt.Errorf("%w: template %s", ErrExists, t.ID)
		case cur != owner:
			return fmt.Errorf("%w: template %s is %s's", ErrNotYours, t.ID, cur)
		default:
			_, err = tx.Exec(ctx, `UPDATE mnotify_templates SET content = ?, updated = ? WHERE id = ?`, b, now.UnixNano(), t.ID)
		}
		if err != nil {
			if store.IsUniqueViolation(err) {
				return fmt.Errorf("%w: template %s", ErrExists, t.ID)
			}
			return fmt.Errorf("mnotify: template %s: %w", t.ID, err)
		}
		_, err = tx.Append(ctx, store.Event{Actor: owner, Action: "mnotify-template-put", Subject: t.ID})
		return err
	})
	if err != nil {
		return nil, err
	}
	t.Owner, t.Updated = owner, now.UTC()
	return &t, nil
}

// checkPlaceholders tells a malformed placeholder, whatever the variables.
func checkPlaceholders(s string) error {
	_, err := render(s, nil, false)
	return err
}

// DeleteTemplate removes one of owner's templates.
func DeleteTemplate(ctx context.Context, st *store.Store, owner, id string) error {
	return st.InTx(ctx, func(tx *store.Tx) error {
		var cur string
		err := tx.QueryRowForUpdate(ctx, `SELECT owner FROM mnotify_templates WHERE id = ?`, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no template %s", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if cur != owner {
			return fmt.Errorf("%w: template %s is %s's", ErrNotYours, id, cur)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mnotify_templates WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = tx.Append(ctx, store.Event{Actor: owner, Action: "mnotify-template-delete", Subject: id})
		return err
	})
}

// listTemplates lists the templates by id.
func listTemplates(ctx context.Context, st *store.Store) ([]client.Template, error) {
	rows, err := st.Query(ctx, `SELECT id, owner, content, updated FROM mnotify_templates ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("mnotify: templates: %w", err)
	}
	defer rows.Close()
	out := []client.Template{}
	for rows.Next() {
		var t client.Template
		var id, owner string
		var b []byte
		var upd int64
		if err := rows.Scan(&id, &owner, &b, &upd); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("mnotify: template %s: %w", id, err)
		}
		t.ID, t.Owner, t.Updated = id, owner, time.Unix(0, upd).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}
