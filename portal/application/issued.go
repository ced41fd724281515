package application

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/semnat/semnat/store"
)

// Issued is the result document of an application: its short code
// (printed on it, with the QR code of the public verification page), who
// signed it for which institution, and when it was issued. A row is made
// when the clerk starts signing (Issuing) and becomes Issued with the
// application's completion.
type Issued struct {
	ID          string // the application
	Code        string // shortcode, canonical
	Institution string // IDNO
	Clerk       string // IDNP of the clerk who signs it
	SignRequest string // MSign's, while the clerk signs
	Created     time.Time
	IssuedAt    time.Time // zero until issued
	SHA256      string    // of the sealed document, once issued
}

// FileResult is the issued document, signed by the clerk and sealed by the
// institution; FileResultDraft the one rendered for the clerk to sign.
const (
	FileResult      = "result.pdf"
	FileResultDraft = "result-draft.pdf"
)

var issuedSchema = store.Schema{Name: "portal-issued", SQLite: `
CREATE TABLE IF NOT EXISTS portal_issued (
	id TEXT PRIMARY KEY REFERENCES portal_applications (id), code TEXT NOT NULL UNIQUE, institution TEXT NOT NULL,
	clerk TEXT NOT NULL, sign_request TEXT NOT NULL, created INTEGER NOT NULL, issued INTEGER NOT NULL, sha256 TEXT NOT NULL);
`}

func init() {
	issuedSchema.Postgres = strings.NewReplacer(" INTEGER ", " BIGINT ").Replace(issuedSchema.SQLite)
}

// OpenIssued creates the table of issued documents when missing.
func (s *Store) OpenIssued(ctx context.Context) error { return s.st.CreateSchema(ctx, issuedSchema) }

const issuedColumns = `id, code, institution, clerk, sign_request, created, issued, sha256`

func scanIssued(row interface{ Scan(...any) error }) (*Issued, error) {
	var d Issued
	var created, issued int64
	if err := row.Scan(&d.ID, &d.Code, &d.Institution, &d.Clerk, &d.SignRequest, &created, &issued, &d.SHA256); err != nil {
		return nil, err
	}
	d.Created = time.Unix(0, created).UTC()
	if issued != 0 {
		d.IssuedAt = time.Unix(0, issued).UTC()
	}
	return &d, nil
}

// StartIssuing records (or replaces, while not issued) the document a
// clerk is about to sign for the application, with its rendered draft.
func (s *Store) StartIssuing(ctx context.Context, d *Issued, draft []byte) error {
	d.Created = s.now().UTC()
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		if old, err := scanIssued(tx.QueryRowForUpdate(ctx, `SELECT `+issuedColumns+` FROM portal_issued WHERE id = ?`, d.ID)); err == nil {
			if !old.IssuedAt.IsZero() {
				return fmt.Errorf("%w: the document of %s is issued already", ErrInvalid, d.ID)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM portal_issued WHERE id = ?`, d.ID); err != nil {
				return err
			}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_issued (`+issuedColumns+`) VALUES (?, ?, ?, ?, ?, ?, 0, '')`,
			d.ID, d.Code, d.Institution, d.Clerk, d.SignRequest, d.Created.UnixNano()); err != nil {
			return fmt.Errorf("application %s: issued document: %w", d.ID, err)
		}
		return putFile(ctx, tx, d.ID, FileResultDraft, "application/pdf", draft)
	})
}

// IssuedOf is the document of application id (ErrNotFound when none).
func (s *Store) IssuedOf(ctx context.Context, id string) (*Issued, error) {
	return s.issuedWhere(ctx, "id", id)
}

// IssuedByCode is the document of a short code (ErrNotFound when none).
func (s *Store) IssuedByCode(ctx context.Context, code string) (*Issued, error) {
	return s.issuedWhere(ctx, "code", code)
}

func (s *Store) issuedWhere(ctx context.Context, col, v string) (*Issued, error) {
	d, err := scanIssued(s.st.QueryRow(ctx, `SELECT `+issuedColumns+` FROM portal_issued WHERE `+col+` = ?`, v))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no issued document %s", ErrNotFound, v)
	}
	return d, err
}

// IssueTx marks the document of id issued with its sealed content, inside
// the completion's transaction (a Transition's prepare).
func (s *Store) IssueTx(ctx context.Context, tx *store.Tx, id string, sealed []byte) error {
	res, err := tx.Exec(ctx, `UPDATE portal_issued SET issued = ?, sha256 = ?, sign_request = '' WHERE id = ? AND issued = 0`,
		s.now().UTC().UnixNano(), Digest(sealed), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: application %s has no document being issued", ErrInvalid, id)
	}
	return putFile(ctx, tx, id, FileResult, "application/pdf", sealed)
}

// Queue lists the applications of the services codes in one of states,
// oldest change first (a back office's work list).
func (s *Store) Queue(ctx context.Context, codes []string, states []State, limit int) ([]*Application, error) {
	if len(codes) == 0 || len(states) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(codes)+len(states)+1)
	for _, c := range codes {
		args = append(args, c)
	}
	for _, st := range states {
		args = append(args, string(st))
	}
	args = append(args, limit)
	q := `SELECT ` + columns + ` FROM portal_applications WHERE service IN (?` + strings.Repeat(", ?", len(codes)-1) +
		`) AND state IN (?` + strings.Repeat(", ?", len(states)-1) + `) ORDER BY changed LIMIT ?`
	return s.list(ctx, q, args...)
}

// list is the applications a query of columns finds.
func (s *Store) list(ctx context.Context, q string, args ...any) ([]*Application, error) {
	rows, err := s.st.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Application
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
