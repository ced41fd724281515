package application

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/semnat/semnat/store"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("application: no such application")
	ErrNotDraft = errors.New("application: only a draft can be changed")
	ErrInvalid  = errors.New("application: invalid")
)

// OnBehalf is for whom an application is made.
type OnBehalf string

const (
	Self    OnBehalf = "self"
	Person  OnBehalf = "person"
	Company OnBehalf = "company"
)

// Application is one application.
type Application struct {
	ID      string // "P" and 10 characters of Crockford base 32: shown to people
	Service string // the catalogue code
	Cost    int64  // bani, the tariff when it was made
	Lang    string // ro, ru or en: of the documents made for it

	Applicant     string // IDNP of who applies (logged in with MPass)
	ApplicantName string
	OnBehalf      OnBehalf
	Beneficiary   string // IDNP or IDNO of whom it is for (the applicant's own for Self)
	// BeneficiaryName is the company's or person's name, as given.
	BeneficiaryName string
	// Basis is why the applicant may act for the beneficiary: "self",
	// "administrator" (MPass's AdministeredLegalEntity) or "power:CODE"
	// (an MPower authorization code, valid when checked).
	Basis string

	Fields      map[string]string
	Attachments []Attachment
	Delivery    string
	Address     string // for courier delivery

	// The signed application (set on Submit).
	SignRequest string // MSign's request id while signing
	SignedBy    string // the signer certificate's IDNP
	SignedSHA   string // SHA-256 of the signed PDF, hex
	PaymentID   string // MPay's, once paid

	State   State
	Reason  string
	Note    string // a clerk's words on a rejection
	Created time.Time
	Changed time.Time
}

// Attachment is a document attached to an application (its content is
// kept apart: Store.File).
type Attachment struct {
	ID       string `json:"id"`
	Document int    `json:"document"` // the index of the service's document it answers, -1 for another

	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Change is one row of an application's history.
type Change struct {
	Seq    int64
	At     time.Time
	From   State
	To     State
	Event  Event
	Reason string
	Actor  string
}

var schema = store.Schema{Name: "portal", SQLite: `
CREATE TABLE IF NOT EXISTS portal_applications (
	id TEXT PRIMARY KEY, service TEXT NOT NULL, applicant TEXT NOT NULL, beneficiary TEXT NOT NULL,
	state TEXT NOT NULL, created INTEGER NOT NULL, changed INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS portal_applications_by ON portal_applications (applicant, created);
CREATE INDEX IF NOT EXISTS portal_applications_state ON portal_applications (state, changed);
CREATE TABLE IF NOT EXISTS portal_history (
	id TEXT NOT NULL REFERENCES portal_applications (id), seq INTEGER NOT NULL, at INTEGER NOT NULL,
	from_state TEXT NOT NULL, to_state TEXT NOT NULL, event TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
	PRIMARY KEY (id, seq));
CREATE TABLE IF NOT EXISTS portal_files (
	id TEXT NOT NULL REFERENCES portal_applications (id), name TEXT NOT NULL, content_type TEXT NOT NULL,
	content BLOB NOT NULL, PRIMARY KEY (id, name));
`}

func init() {
	schema.Postgres = strings.NewReplacer(" BLOB ", " BYTEA ", " INTEGER ", " BIGINT ").Replace(schema.SQLite)
}

// Store keeps applications in the semnat store.
type Store struct {
	st  *store.Store
	now func() time.Time
	// changed runs in each change's transaction, after the new state is
	// written (OnChange).
	changed func(ctx context.Context, tx *store.Tx, a *Application, from State) error
}

// OnChange makes f run in the transaction of every change of state, once
// the new state and its history are written: what f does (e.g. enqueue a
// notification) commits or rolls back with the change. Set it before use.
func (s *Store) OnChange(f func(ctx context.Context, tx *store.Tx, a *Application, from State) error) {
	s.changed = f
}

// Open creates the tables when missing.
func Open(ctx context.Context, st *store.Store) (*Store, error) {
	if err := st.CreateSchema(ctx, schema); err != nil {
		return nil, err
	}
	return &Store{st: st, now: st.Now}, nil
}

// data is what the data column holds: the application less the columns.
type data struct {
	Cost            int64             `json:"cost"`
	Lang            string            `json:"lang"`
	ApplicantName   string            `json:"applicantName"`
	OnBehalf        OnBehalf          `json:"onBehalf"`
	BeneficiaryName string            `json:"beneficiaryName,omitempty"`
	Basis           string            `json:"basis"`
	Fields          map[string]string `json:"fields,omitempty"`
	Attachments     []Attachment      `json:"attachments,omitempty"`
	Delivery        string            `json:"delivery,omitempty"`
	Address         string            `json:"address,omitempty"`
	SignRequest     string            `json:"signRequest,omitempty"`
	SignedBy        string            `json:"signedBy,omitempty"`
	SignedSHA       string            `json:"signedSha,omitempty"`
	PaymentID       string            `json:"paymentId,omitempty"`
	Reason          string            `json:"reason,omitempty"`
	Note            string            `json:"note,omitempty"`
}

const columns = `id, service, applicant, beneficiary, state, created, changed, data`

func scan(row interface{ Scan(...any) error }) (*Application, error) {
	var a Application
	var created, changed int64
	var raw []byte
	var state string
	if err := row.Scan(&a.ID, &a.Service, &a.Applicant, &a.Beneficiary, &state, &created, &changed, &raw); err != nil {
		return nil, err
	}
	var d data
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("application %s: stored data: %w", a.ID, err)
	}
	a.State, a.Created, a.Changed = State(state), time.Unix(0, created).UTC(), time.Unix(0, changed).UTC()
	a.Cost, a.Lang, a.ApplicantName, a.OnBehalf, a.BeneficiaryName, a.Basis = d.Cost, d.Lang, d.ApplicantName, d.OnBehalf, d.BeneficiaryName, d.Basis
	a.Fields, a.Attachments, a.Delivery, a.Address = d.Fields, d.Attachments, d.Delivery, d.Address
	a.SignRequest, a.SignedBy, a.SignedSHA, a.Reason, a.Note = d.SignRequest, d.SignedBy, d.SignedSHA, d.Reason, d.Note
	a.PaymentID = d.PaymentID
	return &a, nil
}

func (a *Application) data() ([]byte, error) {
	return json.Marshal(data{Cost: a.Cost, Lang: a.Lang, ApplicantName: a.ApplicantName, OnBehalf: a.OnBehalf,
		BeneficiaryName: a.BeneficiaryName, Basis: a.Basis, Fields: a.Fields, Attachments: a.Attachments, Delivery: a.Delivery,
		Address: a.Address, SignRequest: a.SignRequest, SignedBy: a.SignedBy, SignedSHA: a.SignedSHA, PaymentID: a.PaymentID, Reason: a.Reason, Note: a.Note})
}

// NewID is a new application number: "P" and 10 characters of Crockford
// base 32 (50 random bits).
func NewID() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	out := []byte{'P'}
	for _, x := range b {
		out = append(out, alphabet[x&31])
	}
	return string(out)
}

// Create records a new draft (its ID, State, Created and Changed are set
// here), audited as portal.create by actor.
func (s *Store) Create(ctx context.Context, actor string, a *Application) error {
	if a.Service == "" || a.Applicant == "" || a.Beneficiary == "" || a.OnBehalf == "" {
		return fmt.Errorf("%w: a draft needs its service, applicant, beneficiary and on-behalf", ErrInvalid)
	}
	a.ID, a.State = NewID(), Draft
	a.Created = s.now().UTC()
	a.Changed = a.Created
	raw, err := a.data()
	if err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO portal_applications (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Service, a.Applicant, a.Beneficiary, string(a.State), a.Created.UnixNano(), a.Changed.UnixNano(), raw); err != nil {
			return fmt.Errorf("application: create: %w", err)
		}
		_, err := tx.Append(ctx, store.Event{Actor: actor, Action: "portal.create", Subject: a.ID,
			Details: map[string]string{"service": a.Service, "onBehalf": string(a.OnBehalf), "beneficiary": a.Beneficiary, "basis": a.Basis}})
		return err
	})
}

// Get is the application of id.
func (s *Store) Get(ctx context.Context, id string) (*Application, error) {
	a, err := scan(s.st.QueryRow(ctx, `SELECT `+columns+` FROM portal_applications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return a, err
}

// ByApplicant lists the applications an IDNP made, newest first.
func (s *Store) ByApplicant(ctx context.Context, idnp string, limit int) ([]*Application, error) {
	return s.list(ctx, `SELECT `+columns+` FROM portal_applications WHERE applicant = ? ORDER BY created DESC LIMIT ?`, idnp, limit)
}

// Drafts counts the drafts an IDNP has open.
func (s *Store) Drafts(ctx context.Context, idnp string) (int, error) {
	var n int
	err := s.st.QueryRow(ctx, `SELECT COUNT(*) FROM portal_applications WHERE applicant = ? AND state = ?`, idnp, string(Draft)).Scan(&n)
	return n, err
}

// locked reads the application of id for a change inside tx.
func locked(ctx context.Context, tx *store.Tx, id string) (*Application, error) {
	a, err := scan(tx.QueryRowForUpdate(ctx, `SELECT `+columns+` FROM portal_applications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return a, err
}

func write(ctx context.Context, tx *store.Tx, a *Application) error {
	raw, err := a.data()
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE portal_applications SET state = ?, changed = ?, beneficiary = ?, data = ? WHERE id = ?`,
		string(a.State), a.Changed.UnixNano(), a.Beneficiary, raw, a.ID)
	return err
}

// EditDraft changes a draft with f (which must not change its state); an
// application that is no longer a draft is ErrNotDraft.
func (s *Store) EditDraft(ctx context.Context, id string, f func(a *Application) error) (*Application, error) {
	var out *Application
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := locked(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.State != Draft {
			return fmt.Errorf("%w: %s is %s", ErrNotDraft, id, a.State)
		}
		if err := f(a); err != nil {
			return err
		}
		a.State, a.Changed = Draft, s.now().UTC()
		out = a
		return write(ctx, tx, a)
	})
	return out, err
}

// Transition applies ev (with reason, for the events that take one) to
// the application of id, as it is stored at that moment: the new state,
// a history row and the audit event (portal.EVENT by actor) commit
// together, or nothing does. prepare, when not nil, runs on the
// application before the change is written, in the same transaction (to
// record what came with the event: the signed document's digest, ...);
// its error undoes everything.
func (s *Store) Transition(ctx context.Context, actor, id string, ev Event, reason string, prepare func(tx *store.Tx, a *Application) error) (*Application, error) {
	var out *Application
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := locked(ctx, tx, id)
		if err != nil {
			return err
		}
		r, err := next(a, ev, reason)
		if err != nil {
			return err
		}
		if prepare != nil {
			if err := prepare(tx, a); err != nil {
				return err
			}
		}
		from := a.State
		a.State, a.Changed = r.To, s.now().UTC()
		if reason != "" {
			a.Reason = reason
		}
		if err := write(ctx, tx, a); err != nil {
			return fmt.Errorf("application %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_history (id, seq, at, from_state, to_state, event, reason, actor)
			VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM portal_history WHERE id = ?), ?, ?, ?, ?, ?, ?)`,
			id, id, a.Changed.UnixNano(), string(from), string(a.State), string(ev), reason, actor); err != nil {
			return fmt.Errorf("application %s: history: %w", id, err)
		}
		details := map[string]string{"from": string(from), "to": string(a.State), "service": a.Service}
		if reason != "" {
			details["reason"] = reason
		}
		if ev == EvPay && a.PaymentID != "" {
			details["payment"] = a.PaymentID
		}
		if _, err := tx.Append(ctx, store.Event{Actor: actor, Action: "portal." + string(ev), Subject: id, Digest: a.SignedSHA, Details: details}); err != nil {
			return err
		}
		if s.changed != nil {
			if err := s.changed(ctx, tx, a, from); err != nil {
				return fmt.Errorf("application %s: %w", id, err)
			}
		}
		out = a
		return nil
	})
	return out, err
}

// History is the changes of the application of id, oldest first.
func (s *Store) History(ctx context.Context, id string) ([]Change, error) {
	rows, err := s.st.Query(ctx, `SELECT seq, at, from_state, to_state, event, reason, actor FROM portal_history WHERE id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var at int64
		var from, to, ev string
		if err := rows.Scan(&c.Seq, &at, &from, &to, &ev, &c.Reason, &c.Actor); err != nil {
			return nil, err
		}
		c.At, c.From, c.To, c.Event = time.Unix(0, at).UTC(), State(from), State(to), Event(ev)
		out = append(out, c)
	}
	return out, rows.Err()
}

// File names of the documents the portal makes for an application.
const (
	FileApplication = "application.pdf"        // as rendered, to be signed
	FileSigned      = "application-signed.pdf" // as the applicant signed it
)

// PutFile keeps a file of a draft (an attachment, or the application PDF)
// under name, replacing one of that name.
func (s *Store) PutFile(ctx context.Context, id, name, contentType string, content []byte) error {
	return s.st.InTx(ctx, func(tx *store.Tx) error { return putFile(ctx, tx, id, name, contentType, content) })
}

// PutFileTx is PutFile inside a transaction (a Transition's prepare).
func PutFileTx(ctx context.Context, tx *store.Tx, id, name, contentType string, content []byte) error {
	return putFile(ctx, tx, id, name, contentType, content)
}

func putFile(ctx context.Context, tx *store.Tx, id, name, contentType string, content []byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM portal_files WHERE id = ? AND name = ?`, id, name); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO portal_files (id, name, content_type, content) VALUES (?, ?, ?, ?)`, id, name, contentType, content)
	return err
}

// DeleteFile removes a file of an application.
func (s *Store) DeleteFile(ctx context.Context, id, name string) error {
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM portal_files WHERE id = ? AND name = ?`, id, name)
		return err
	})
}

// File is a file of an application: its content type and content.
func (s *Store) File(ctx context.Context, id, name string) (string, []byte, error) {
	var ct string
	var b []byte
	err := s.st.QueryRow(ctx, `SELECT content_type, content FROM portal_files WHERE id = ? AND name = ?`, id, name).Scan(&ct, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("%w: %s has no file %s", ErrNotFound, id, name)
	}
	return ct, b, err
}

// Digest is the hex SHA-256 of b.
func Digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}
