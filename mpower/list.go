package mpower

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Filter selects powers for the check API's list.
type Filter struct {
	IDN       string // either party: the authorizing party, the signer or the representative
	GrantedBy string // the authorizing party (IDNP or IDNO)
	GrantedTo string // the representative
	TypeCode  string
	// State is the status at the moment of the question (StateAt); "" any.
	State State
	// Start and End keep powers in force at some time between them (zero:
	// unbounded).
	Start, End time.Time
	// System, when set, keeps the powers of that system's types only.
	System string
	// Page (from 1) and PageSize (1 to MaxPageSize; 0: DefaultPageSize).
	Page, PageSize int
}

// Paging limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// List returns one page of the powers f selects, newest first, and how
// many there are in all.
func (r *Registry) List(ctx context.Context, f Filter) ([]Power, int, error) {
	if f.Page <= 0 {
		f.Page = 1
	}
	if f.PageSize == 0 {
		f.PageSize = DefaultPageSize
	}
	if f.PageSize < 0 || f.PageSize > MaxPageSize {
		return nil, 0, fmt.Errorf("%w: page size %d: want 1 to %d", ErrInvalid, f.PageSize, MaxPageSize)
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.IDN != "" {
		add(`(authorizing_idn = ? OR authorized_idn = ? OR signed_by = ?)`, f.IDN, f.IDN, f.IDN)
	}
	if f.GrantedBy != "" {
		add(`authorizing_idn = ?`, f.GrantedBy)
	}
	if f.GrantedTo != "" {
		add(`authorized_idn = ?`, f.GrantedTo)
	}
	if f.TypeCode != "" {
		add(`type_code = ?`, f.TypeCode)
	}
	if f.System != "" {
		add(`type_code IN (SELECT code FROM mpower_types WHERE system = ?)`, f.System)
	}
	if !f.Start.IsZero() {
		add(`to_at > ?`, f.Start.UnixNano())
	}
	if !f.End.IsZero() {
		add(`from_at <= ?`, f.End.UnixNano())
	}
	now := r.Now().UnixNano()
	const started = `state IN ('valid', 'pending-validity')`
	switch f.State {
	case "":
	case Valid:
		add(started+` AND from_at <= ? AND to_at > ?`, now, now)
	case PendingValidity:
		add(started+` AND from_at > ? AND to_at > ?`, now, now)
	case Canceled:
		add(`(state = 'canceled' OR `+started+` AND to_at <= ?)`, now)
	case Draft, PendingAcceptance, Suspended:
		add(`state = ?`, string(f.State))
	default:
		return nil, 0, fmt.Errorf("%w: status %q", ErrInvalid, f.State)
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := r.st.QueryRow(ctx, `SELECT COUNT(*) FROM mpower_powers`+w, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("mpower: list: %w", err)
	}
	rows, err := r.st.Query(ctx, `SELECT `+powerColumns+` FROM mpower_powers`+w+` ORDER BY created DESC, code LIMIT ? OFFSET ?`,
		append(args, f.PageSize, (f.Page-1)*f.PageSize)...)
	if err != nil {
		return nil, 0, fmt.Errorf("mpower: list: %w", err)
	}
	defer rows.Close()
	out := []Power{}
	for rows.Next() {
		p, err := scanPower(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("mpower: list: %w", err)
		}
		out = append(out, *p)
	}
	return out, total, rows.Err()
}
