package mpower

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/semnat/semnat/idn"
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
	// After, when set, starts the page after that position (keyset
	// paging: Page must be 0 or 1).
	After *Cursor
}

// Cursor is a position in List's order (newest first, then by code,
// highest first).
type Cursor struct {
	Created time.Time
	Code    string
}

// String is the cursor as the API carries it: Unix nanoseconds, "-", code.
func (c Cursor) String() string { return fmt.Sprintf("%d-%s", c.Created.UnixNano(), c.Code) }

// ParseCursor reads a Cursor's String.
func ParseCursor(s string) (*Cursor, error) {
	at, code, ok := strings.Cut(s, "-")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || n < 0 || len(code) != idn.AuthCodeLen || strings.Trim(code, "0123456789") != "" {
		return nil, fmt.Errorf("%w: cursor %q: give the X-Next-Cursor of the page before", ErrInvalid, s)
	}
	return &Cursor{Created: time.Unix(0, n).UTC(), Code: code}, nil
}

// NextCursor is the cursor after the page list of f, or nil when list
// is not a full page (the last).
func (f Filter) NextCursor(list []Power) *Cursor {
	size := f.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	if len(list) == 0 || len(list) < size {
		return nil
	}
	last := list[len(list)-1]
	return &Cursor{Created: last.Created, Code: last.Code}
}

// Paging limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// partyIndex is the index of each party column.
var partyIndex = map[string]string{"authorizing_idn": "mpower_powers_by2", "authorized_idn": "mpower_powers_to2", "signed_by": "mpower_powers_signer"}

// List returns one page of the powers f selects, newest first (then by
// code, highest first), and how many there are in all (-1 on a page after
// a cursor: counting a party's ten thousand powers again on each of their
// pages is what keyset paging saves).
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
	if f.After != nil && f.Page > 1 {
		return nil, 0, fmt.Errorf("%w: a cursor or a page number, not both", ErrInvalid)
	}
	// The conditions besides the party (IDN), which each branch of the
	// party's query repeats.
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
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
	// sel is a SELECT of cols with the conditions (and the party in col,
	// when set); page adds the order, the cursor and the limit, so that
	// it reads one index range from its end (mpower_powers_by, _to,
	// _signer, or _created without a party).
	sel := func(cols, col string, page bool) (string, []any) {
		conds, a := slices.Clone(where), slices.Clone(args)
		if col != "" {
			conds, a = append(conds, col+` = ?`), append(a, f.IDN)
		}
		if page && f.After != nil {
			conds, a = append(conds, `(created, code) < (?, ?)`), append(a, f.After.Created.UnixNano(), f.After.Code)
		}
		q := `SELECT ` + cols + ` FROM mpower_powers`
		if idx := partyIndex[col]; idx != "" && r.st.Backend() == "sqlite" {
			// SQLite, not knowing the cursor's value, may rather walk the
			// (created, code) index for the order and filter the party:
			// thousands of rows for a party with many powers.
			q += ` INDEXED BY ` + idx
		}
		if len(conds) > 0 {
			q += ` WHERE ` + strings.Join(conds, ` AND `)
		}
		if page {
			q += ` ORDER BY created DESC, code DESC LIMIT ?`
			a = append(a, f.Page*f.PageSize)
		}
		return q, a
	}
	var countQ, pageQ string
	var countArgs, pageArgs []any
	if f.IDN == "" {
		countQ, countArgs = sel(`COUNT(*)`, "", false)
		pageQ, pageArgs = sel(powerColumns, "", true)
	} else {
		// The party is the grantor, the representative or the signer:
		// one branch per index, their union (a power in two branches
		// counts once).
		var counts, pages []string
		for i, col := range []string{"authorizing_idn", "authorized_idn", "signed_by"} {
			q, a := sel(`code`, col, false)
			counts, countArgs = append(counts, q), append(countArgs, a...)
			q, a = sel(powerColumns, col, true)
			pages, pageArgs = append(pages, fmt.Sprintf(`SELECT * FROM (%s) AS b%d`, q, i)), append(pageArgs, a...)
		}
		countQ = `SELECT COUNT(*) FROM (` + strings.Join(counts, ` UNION `) + `) AS u`
		pageQ = `SELECT ` + powerColumns + ` FROM (` + strings.Join(pages, ` UNION `) + `) AS u`
	}
	total := -1 // not counted again on the pages after the first (keyset)
	if f.After == nil {
		if err := r.st.QueryRow(ctx, countQ, countArgs...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("mpower: list: %w", err)
		}
	}
	rows, err := r.st.Query(ctx, `SELECT `+powerColumns+` FROM (`+pageQ+`) AS p ORDER BY created DESC, code DESC LIMIT ? OFFSET ?`,
		append(pageArgs, f.PageSize, (f.Page-1)*f.PageSize)...)
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
