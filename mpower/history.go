package mpower

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/semnat/semnat/store"
)

// The status history of each power, for its page: one row per change
// (the grant, then each transition), written in the change's own
// transaction. The audit log holds the same events, chained; this table
// is what a power's page reads, by code.
var historySchema = store.Schema{Name: "mpower-history", SQLite: `
CREATE TABLE IF NOT EXISTS mpower_history (
	code TEXT NOT NULL REFERENCES mpower_powers (code), seq INTEGER NOT NULL, at INTEGER NOT NULL,
	event TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
	PRIMARY KEY (code, seq));
`}

// On PostgreSQL the times are BIGINT (Unix nanoseconds do not fit an
// INTEGER); a table created before with INTEGER is widened.
func init() {
	historySchema.Postgres = strings.ReplaceAll(historySchema.SQLite, " INTEGER ", " BIGINT ") +
		`ALTER TABLE mpower_history ALTER COLUMN at TYPE BIGINT;`
}

// EvGrant is the creation of a power, in its history (not an event of the
// state machine).
const EvGrant Event = "grant"

// Change is one row of a power's history.
type Change struct {
	At     time.Time
	Event  Event // EvGrant, then the transitions' events
	State  State // the state it left the power in
	Reason string
	Actor  string // who did it: a person's IDNP, a system's name
}

func addHistory(ctx context.Context, tx *store.Tx, p *Power, ev Event, actor string) error {
	_, err := tx.Exec(ctx, `INSERT INTO mpower_history (code, seq, at, event, state, reason, actor)
		VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mpower_history WHERE code = ?), ?, ?, ?, ?, ?)`,
		p.Code, p.Code, p.Changed.UnixNano(), string(ev), string(p.State), p.Reason, actor)
	if err != nil {
		return fmt.Errorf("mpower: power %s: its history: %w", p.Code, err)
	}
	return nil
}

// History is the power of code's changes, oldest first.
func (r *Registry) History(ctx context.Context, code string) ([]Change, error) {
	rows, err := r.st.Query(ctx, `SELECT at, event, state, reason, actor FROM mpower_history WHERE code = ? ORDER BY seq`, code)
	if err != nil {
		return nil, fmt.Errorf("mpower: history of %s: %w", code, err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var at int64
		var ev, st string
		if err := rows.Scan(&at, &ev, &st, &c.Reason, &c.Actor); err != nil {
			return nil, err
		}
		c.At, c.Event, c.State = time.Unix(0, at).UTC(), Event(ev), State(st)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Acts are the power of code's signed acts, oldest first.
func (r *Registry) Acts(ctx context.Context, code string) ([]SignedAct, error) {
	rows, err := r.st.Query(ctx, `SELECT event, signer, signed_at, pdf FROM mpower_acts WHERE code = ? ORDER BY seq`, code)
	if err != nil {
		return nil, fmt.Errorf("mpower: acts of %s: %w", code, err)
	}
	defer rows.Close()
	var out []SignedAct
	for rows.Next() {
		var a SignedAct
		var ev string
		var at int64
		if err := rows.Scan(&ev, &a.Signer, &at, &a.PDF); err != nil {
			return nil, err
		}
		a.Event, a.SignedAt = Event(ev), time.Unix(0, at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
