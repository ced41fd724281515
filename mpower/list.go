package mpower

import (
	"context"
	"database/sql"
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
	lq, err := r.listQueries(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	if lq == nil {
		return []Power{}, 0, nil
	}
	if lq.counted {
		return r.countedPage(ctx, lq, f.Page)
	}
	total := -1 // not counted again on the pages after the first (keyset)
	if lq.countQ != "" {
		if err := r.st.QueryRow(ctx, lq.countQ, lq.countArgs...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("mpower: list: %w", err)
		}
	}
	// SQLite: each branch alone, merged here: one statement of their
	// union cost three times the three (modernc parses each statement
	// at every run, and the union sorts in temporary B-trees).
	seen := map[string]bool{}
	var all []Power
	for i, q := range lq.pages {
		if err := r.scanPowers(ctx, q, lq.pageArgs[i], func(p *Power) {
			if !seen[p.Code] {
				seen[p.Code] = true
				all = append(all, *p)
			}
		}); err != nil {
			return nil, 0, fmt.Errorf("mpower: list: %w", err)
		}
	}
	if lq.merge {
		slices.SortFunc(all, func(a, b Power) int {
			if c := b.Created.Compare(a.Created); c != 0 {
				return c
			}
			return strings.Compare(b.Code, a.Code)
		})
		all = all[min(len(all), (f.Page-1)*f.PageSize):]
		all = all[:min(len(all), f.PageSize)]
	}
	if all == nil {
		all = []Power{}
	}
	return all, total, nil
}

// listQuery is the statements of one List: the count (none after a
// cursor) and the page's, with their arguments; merge: the pages are
// branches to merge in Go (SQLite), else one statement.
type listQuery struct {
	countQ    string
	countArgs []any
	pages     []string
	pageArgs  [][]any
	merge     bool
	// counted: pages[0] has the count as its last column (countedPage);
	// countQ is for a page past the end.
	counted bool
}

// listQueries builds List's statements for f (nil: a system without
// types, whose list is empty). Page and PageSize must be set.
func (r *Registry) listQueries(ctx context.Context, f Filter) (*listQuery, error) {
	if f.PageSize < 0 || f.PageSize > MaxPageSize {
		return nil, fmt.Errorf("%w: page size %d: want 1 to %d", ErrInvalid, f.PageSize, MaxPageSize)
	}
	if f.After != nil && f.Page > 1 {
		return nil, fmt.Errorf("%w: a cursor or a page number, not both", ErrInvalid)
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
		// The system's types, read first: as a subquery in each branch
		// SQLite took five times longer over the count (modernc parses
		// every statement at each run), and PostgreSQL's planner, not
		// knowing how many powers they select, read the 5,000 of a
		// company's deep page through a bitmap and sorted them (32 ms
		// against 0.7 ms).
		types, err := r.typesOf(ctx, f.System)
		if err != nil {
			return nil, err
		}
		if len(types) == 0 {
			return nil, nil
		}
		add(`type_code IN (?`+strings.Repeat(`, ?`, len(types)-1)+`)`, types...)
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
		return nil, fmt.Errorf("%w: status %q", ErrInvalid, f.State)
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
	var countQ string
	var countArgs []any
	var pages []string // one query per index, each of the page's first rows
	var pageArgs [][]any
	if f.IDN == "" {
		countQ, countArgs = sel(`COUNT(*)`, "", false)
		q, a := sel(powerColumns, "", true)
		pages, pageArgs = []string{q}, [][]any{a}
	} else {
		// The party is the grantor, the representative or the signer:
		// one branch per index, their union (a power in two branches
		// counts once).
		var counts []string
		for _, col := range []string{"authorizing_idn", "authorized_idn", "signed_by"} {
			q, a := sel(`code`, col, false)
			counts, countArgs = append(counts, q), append(countArgs, a...)
			q, a = sel(powerColumns, col, true)
			pages, pageArgs = append(pages, q), append(pageArgs, a)
		}
		countQ = `SELECT COUNT(*) FROM (` + strings.Join(counts, ` UNION `) + `) AS u`
	}
	if f.After != nil {
		countQ, countArgs = "", nil // not counted again on the pages after the first (keyset)
	}
	merge := r.st.Backend() == "sqlite"
	if !merge {
		// PostgreSQL: the branches' union in one statement (prepared
		// once per connection), one round trip.
		var q strings.Builder
		var args []any
		for i := range pages {
			if i > 0 {
				q.WriteString(` UNION `)
			}
			fmt.Fprintf(&q, `SELECT * FROM (%s) AS b%d`, pages[i], i)
			args = append(args, pageArgs[i]...)
		}
		pages = []string{`SELECT ` + powerColumns + ` FROM (` + q.String() + `) AS p ORDER BY created DESC, code DESC LIMIT ? OFFSET ?`}
		pageArgs = [][]any{append(args, f.PageSize, (f.Page-1)*f.PageSize)}
	}
	lq := &listQuery{countQ: countQ, countArgs: countArgs, pages: pages, pageArgs: pageArgs, merge: merge}
	if !merge && countQ != "" {
		// PostgreSQL: the count rides on the page's rows (countedPage).
		lq.pages[0] = `SELECT p.*, (` + countQ + `) FROM (` + pages[0] + `) AS p ORDER BY created DESC, code DESC`
		lq.pageArgs[0] = append(slices.Clone(countArgs), pageArgs[0]...)
		lq.counted = true
	}
	return lq, nil
}

// countedPage is List's one page query (PostgreSQL) with the count as a
// column of its rows: one round trip instead of two, and the count and
// the page read in one snapshot. An empty page carries no count: page 1
// empty means nothing matches; a later page empty, past the end, is
// counted by the count query alone.
func (r *Registry) countedPage(ctx context.Context, lq *listQuery, page int) ([]Power, int, error) {
	total := 0
	all := []Power{}
	if err := r.scanPowers(ctx, lq.pages[0], lq.pageArgs[0], func(p *Power) { all = append(all, *p) }, &total); err != nil {
		return nil, 0, fmt.Errorf("mpower: list: %w", err)
	}
	if len(all) == 0 && page > 1 {
		if err := r.st.QueryRow(ctx, lq.countQ, lq.countArgs...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("mpower: list: %w", err)
		}
	}
	return all, total, nil
}

// scanPowers runs q and gives f each power of its rows, whose columns
// after the power's are scanned into extra.
func (r *Registry) scanPowers(ctx context.Context, q string, args []any, f func(*Power), extra ...any) error {
	rows, err := r.st.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPower(scanMore{rows, extra})
		if err != nil {
			return err
		}
		f(p)
	}
	return rows.Err()
}

// typesOf is the codes of the authorization types of system.
func (r *Registry) typesOf(ctx context.Context, system string) ([]any, error) {
	rows, err := r.st.Query(ctx, `SELECT code FROM mpower_types WHERE system = ?`, system)
	if err != nil {
		return nil, fmt.Errorf("mpower: list: the types of %s: %w", system, err)
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, fmt.Errorf("mpower: list: the types of %s: %w", system, err)
		}
		out = append(out, code)
	}
	return out, rows.Err()
}

// scanMore scans a row's first columns into Scan's destinations and the
// rest into extra.
type scanMore struct {
	rows  *sql.Rows
	extra []any
}

func (s scanMore) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }
