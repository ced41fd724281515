package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is what happened, as the audit log records it. Never put a PIN,
// password, key or document content in it: digests identify documents.
type Event struct {
	Actor   string            // who: an IDNP, a system's name, an API key id
	Action  string            // what: sign, seal, grant, revoke, pay ...
	Subject string            // on what: a request id, a certificate serial ...
	Digest  string            // the document or payload digest, hex, if any
	Details map[string]string // more facts (key id, level, amount ...)
}

// Entry is an event in the log with its place in the hash chain.
type Entry struct {
	Seq int64
	At  time.Time
	Event
	PrevHash []byte // hash of the previous entry (32 zero bytes for the first)
	Hash     []byte // SHA-256 over PrevHash and the entry's canonical encoding

	rawDetails string // Details as stored and hashed
}

// entryHash is SHA-256 over the previous hash and a length-prefixed
// encoding of every field, so that no two entries encode alike. The
// encoding is put together in one buffer (on the stack for the usual
// small entry) and hashed at once.
func entryHash(prev []byte, seq int64, at time.Time, actor, action, subject, digest, details string) []byte {
	fields := [5]string{actor, action, subject, digest, details}
	n := len(prev) + 16 + 8*len(fields)
	for _, f := range fields {
		n += len(f)
	}
	var stack [512]byte
	b := stack[:0]
	if n > len(stack) {
		b = make([]byte, 0, n)
	}
	b = append(b, prev...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// Append records e at the end of the log, chained to the entry before it,
// and returns once the entry is committed (group commit: see
// groupcommit.go for the contract). Appends are serialised by the store's
// audit writer and, between instances, by the database (SQLite: an
// immediate transaction; PostgreSQL: an exclusive lock on the table, which
// readers do not wait for).
func (s *Store) Append(ctx context.Context, e Event) (*Entry, error) {
	return s.appendGuarded(ctx, e, nil)
}

func (s *Store) appendGuarded(ctx context.Context, e Event, g *Guard) (*Entry, error) {
	details, err := encodeEvent(e)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil { // ended already: recorded never
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	r := newAppendReq(e, details, g)
	if err := s.enqueue(ctx, r); err != nil {
		return nil, err
	}
	select {
	case <-r.done:
		return r.res.ent, r.res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(0, 2) { // still waiting: never written
			return nil, fmt.Errorf("store: audit: %w", ctx.Err())
		}
		<-r.done // taken into a batch: its outcome is the answer
		return r.res.ent, r.res.err
	}
}

// AuditBreak is the error VerifyAudit returns for a chain that does not
// verify: Seq is the first entry that does not fit (errors.Is it
// ErrAuditTampered).
type AuditBreak struct {
	Seq    int64  // the first entry that does not fit
	Reason string // "missing", "does not chain", "changed"
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("%v: entry %d %s", ErrAuditTampered, b.Seq, b.Reason)
}

func (b *AuditBreak) Unwrap() error { return ErrAuditTampered }

// WalkAudit calls f with every entry of the log in order, as stored (no
// check: VerifyAudit checks). It stops at f's first error and returns it.
func (s *Store) WalkAudit(ctx context.Context, f func(*Entry) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, actor, action, subject, digest, details, prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		var at int64
		var details string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Digest, &details, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("store: audit: %w", err)
		}
		e.At = time.Unix(0, at).UTC()
		e.rawDetails = details
		if details != "" && details != "null" {
			if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
				e.Details = nil // a changed entry: VerifyAudit reports it by its hash
			}
		}
		if err := f(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// VerifyAudit recomputes the whole hash chain and returns the number of
// entries, or an *AuditBreak (errors.Is ErrAuditTampered) naming the first
// entry that does not fit.
func (s *Store) VerifyAudit(ctx context.Context) (int64, error) {
	prev := make([]byte, sha256.Size)
	var n, want int64 = 0, 1
	err := s.WalkAudit(ctx, func(e *Entry) error {
		switch {
		case e.Seq != want:
			return &AuditBreak{Seq: want, Reason: fmt.Sprintf("is missing (the next one found is %d)", e.Seq)}
		case !bytes.Equal(e.PrevHash, prev):
			return &AuditBreak{Seq: e.Seq, Reason: fmt.Sprintf("does not chain to entry %d", e.Seq-1)}
		case !bytes.Equal(e.Hash, entryHash(prev, e.Seq, e.At, e.Actor, e.Action, e.Subject, e.Digest, e.rawDetails)):
			return &AuditBreak{Seq: e.Seq, Reason: "was changed"}
		}
		prev, want = e.Hash, want+1
		n++
		return nil
	})
	return n, err
}

// AuditEntries returns up to limit entries of the log after entry number
// after (0: from the first), in order.
func (s *Store) AuditEntries(ctx context.Context, after int64, limit int) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT seq, at, actor, action, subject, digest, details, prev_hash, hash
		FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var at int64
		var details string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Digest, &details, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("store: audit: %w", err)
		}
		e.At = time.Unix(0, at).UTC()
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("store: audit entry %d: details: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// encodeEvent checks e and encodes its details as they are stored and
// hashed (every way into the log goes through it).
func encodeEvent(e Event) (string, error) {
	if e.Action == "" {
		return "", errors.New("store: an audit event needs an action")
	}
	return encodeDetails(e.Details)
}

// encodeDetails is json.Marshal(details), whose map keys are sorted (the
// canonical form that is stored and hashed), written directly when no key
// or value needs escaping (every audited check has such details: its
// reflection-driven encoding was a fiftieth of a check's CPU).
func encodeDetails(details map[string]string) (string, error) {
	if details == nil {
		return "null", nil
	}
	var stack [8]string
	keys := stack[:0]
	n := 2
	for k, v := range details {
		if !plainJSON(k) || !plainJSON(v) {
			b, err := json.Marshal(details)
			return string(b), err
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(k)
		b.WriteString(`":"`)
		b.WriteString(details[k])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

// plainJSON: s is printable ASCII that encoding/json writes as it is
// (no quote, backslash, or the HTML characters it escapes).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
