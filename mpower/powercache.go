package mpower

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/semnat/semnat/store"
)

// The power cache: the check API (Code-True-One, Code-Details-One) reads
// one power by its code on every question. Reading it is most of a
// check's database cost (on SQLite modernc parses the SELECT again each
// time), so each instance keeps the powers it has read, and trusts them
// only while the registry's change counter has not moved:
//
//   - every write to mpower_powers (Grant, Transition) adds one to the
//     single row of mpower_version in the same transaction, so that a
//     check that sees the counter unchanged knows no power has changed
//     since, whichever instance or process wrote;
//   - each check reads the counter first: on PostgreSQL the row itself
//     (one indexed read); on SQLite `PRAGMA data_version` on a connection
//     of the cache's own, which moves whenever any other connection (of
//     this process or another) commits, and only then the row (the audit
//     log's group commits move data_version too, the row tells whether a
//     power changed);
//   - when the counter moved the whole cache is dropped.
//
// The cache keeps the power's stored fields, never an answer: its state
// is evaluated from the dates at the moment of the question (StateAt), so
// a power whose validity ends between two checks turns false without any
// write.

// versionSchema: the change counter of the powers (one row, id 1).
var versionSchema = store.Schema{Name: "mpower-version", SQLite: `
CREATE TABLE IF NOT EXISTS mpower_version (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO mpower_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
`, Postgres: `
CREATE TABLE IF NOT EXISTS mpower_version (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO mpower_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
`}

// bumpVersion moves the change counter, in the transaction that changes
// a power.
func bumpVersion(ctx context.Context, tx *store.Tx) error {
	if _, err := tx.Exec(ctx, `UPDATE mpower_version SET n = n + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("mpower: moving the change counter: %w", err)
	}
	return nil
}

var errCacheClosed = errors.New("mpower: the power cache is closed")

const selectVersion = `SELECT n FROM mpower_version WHERE id = 1`

// maxCached bounds the cache; a full cache starts again empty.
const maxCached = 100_000

// powerCache is an instance's cache of powers by code (nil: not found),
// valid for the change counter gen.
type powerCache struct {
	st *store.Store

	mu     sync.Mutex
	gen    int64
	powers map[string]*Power
	// sets are the powers read by a query other than by code (the
	// candidates of TypeCode-Valid-One), by the query's key, for gen too.
	sets map[string][]Power

	// The reading of the change counter under way or next (version).
	rmu  sync.Mutex
	next *versionRound

	// vmu is held while the counter is read. SQLite: the cache's own
	// connection, on which data_version is read, the last value seen and
	// the counter read then.
	sqlite bool
	vmu    sync.Mutex
	closed bool
	conn   *sql.Conn
	dv     int64
	dvGen  int64
	dvRead bool
}

// newPowerCache is the power cache of st, or nil for an in-memory SQLite
// database (each of its connections is a database of its own: there is
// no other connection to watch).
func newPowerCache(st *store.Store) *powerCache {
	sqlite := st.Backend() == "sqlite"
	if sqlite && st.Path() == "" {
		return nil
	}
	return &powerCache{st: st, gen: -1, sqlite: sqlite, powers: map[string]*Power{}, sets: map[string][]Power{}}
}

// close gives back the cache's own connection (SQLite); a check after
// reads the database.
func (c *powerCache) close() error {
	if c == nil {
		return nil
	}
	c.vmu.Lock()
	defer c.vmu.Unlock()
	c.closed = true
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// version is the change counter now: read after the call began. The
// checks that ask while a reading is under way wait for the next one
// together, and that one reading answers them all (a reading that began
// before a check came could miss a change committed just before it).
func (c *powerCache) version(ctx context.Context) (int64, error) {
	c.rmu.Lock()
	r := c.next
	if r == nil {
		r = &versionRound{done: make(chan struct{})}
		c.next = r
	}
	lead := !r.led
	r.led = true
	c.rmu.Unlock()
	if !lead {
		select {
		case <-r.done:
			return r.n, r.err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	c.vmu.Lock() // the round before finishes its reading
	c.rmu.Lock()
	c.next = nil // those who come from now on wait for the next round
	c.rmu.Unlock()
	// Not cancelled with the leader's request: the others wait for it.
	r.n, r.err = c.readVersion(context.WithoutCancel(ctx))
	c.vmu.Unlock()
	close(r.done)
	return r.n, r.err
}

// versionRound is one reading of the change counter and those waiting
// for it.
type versionRound struct {
	done chan struct{}
	led  bool // a check reads it (the first who came)
	n    int64
	err  error
}

// readVersion reads the change counter (c.vmu held). On SQLite the row
// is read only when data_version says that something was committed since
// the last reading.
func (c *powerCache) readVersion(ctx context.Context) (int64, error) {
	if !c.sqlite {
		var n int64
		if err := c.st.QueryRow(ctx, selectVersion).Scan(&n); err != nil {
			return 0, fmt.Errorf("mpower: reading the change counter: %w", err)
		}
		return n, nil
	}
	if c.closed {
		return 0, errCacheClosed
	}
	if c.conn == nil {
		conn, err := c.st.DB().Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("mpower: a connection for the power cache: %w", err)
		}
		c.conn = conn
	}
	var dv int64
	if err := c.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&dv); err != nil {
		return 0, fmt.Errorf("mpower: reading data_version: %w", err)
	}
	if c.dvRead && dv == c.dv {
		return c.dvGen, nil
	}
	var n int64
	if err := c.conn.QueryRowContext(ctx, selectVersion).Scan(&n); err != nil {
		return 0, fmt.Errorf("mpower: reading the change counter: %w", err)
	}
	c.dv, c.dvGen, c.dvRead = dv, n, true
	return n, nil
}

// power is the power of code as stored now (ErrNotFound), from the cache
// when no power changed since it was read. The caller must not change it.
func (c *powerCache) power(ctx context.Context, code string, read func(context.Context, string) (*Power, error)) (*Power, error) {
	if c == nil {
		return read(ctx, code)
	}
	gen, err := c.version(ctx)
	if errors.Is(err, errCacheClosed) {
		return read(ctx, code)
	}
	if err != nil {
		return nil, err
	}
	return c.lookup(ctx, gen, code, read)
}

// powerUnder is the power of code from the cache as of the counter value
// last read, without reading it now (the first time it is read), and that
// value: an answer from it holds only under the guard that the counter
// still has that value (guard, checked in the answer's audit transaction).
func (c *powerCache) powerUnder(ctx context.Context, code string, read func(context.Context, string) (*Power, error)) (*Power, int64, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	if gen < 0 {
		var err error
		gen, err = c.version(ctx)
		if errors.Is(err, errCacheClosed) {
			p, err := read(ctx, code)
			return p, -1, err
		}
		if err != nil {
			return nil, 0, err
		}
	}
	p, err := c.lookup(ctx, gen, code, read)
	return p, gen, err
}

// guard is the audit guard of an answer given under the counter value gen.
func guard(gen int64) store.Guard { return store.Guard{Query: selectVersion, Want: gen} }

// moved tells the cache that the counter was found at gen (a guard that
// did not hold): what it holds is older, and is dropped.
func (c *powerCache) moved(gen int64) {
	c.mu.Lock()
	if gen > c.gen {
		c.reset(gen)
	}
	c.mu.Unlock()
}

// reset empties the cache for the counter value gen (c.mu held).
func (c *powerCache) reset(gen int64) {
	c.gen, c.powers, c.sets = gen, make(map[string]*Power), make(map[string][]Power)
}

// lookup is the power of code as of the counter value gen: from the cache
// when it holds it for gen, else read (and kept for gen, if gen is still
// the cache's).
func (c *powerCache) lookup(ctx context.Context, gen int64, code string, read func(context.Context, string) (*Power, error)) (*Power, error) {
	c.mu.Lock()
	if gen > c.gen { // a power changed: forget them all
		c.reset(gen)
	}
	p, hit := c.powers[code]
	hit = hit && gen == c.gen
	c.mu.Unlock()
	if hit {
		if p == nil {
			return nil, noPower(code)
		}
		return p, nil
	}
	// Read after the counter: what is read is at least as new as gen, so
	// it may be kept for gen (a change since moves the counter past it).
	p, err := read(ctx, code)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	c.mu.Lock()
	if gen == c.gen {
		if len(c.powers)+len(c.sets) >= maxCached {
			c.reset(gen)
		}
		c.powers[code] = p
	}
	c.mu.Unlock()
	return p, err
}

// genUnder is the counter value to answer under: the one last read
// (checked later by the answer's audit guard), or, when fresh or never
// read, read now. errCacheClosed when the cache is closed.
func (c *powerCache) genUnder(ctx context.Context, fresh bool) (int64, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	if gen < 0 || fresh {
		return c.version(ctx)
	}
	return gen, nil
}

// set is the set of powers under key as of the counter value gen: from
// the cache when it holds it for gen, else read (and kept, as lookup
// does). read returns keep false for a set not to be kept (too large).
func (c *powerCache) set(ctx context.Context, gen int64, key string, read func(context.Context) (list []Power, keep bool, err error)) ([]Power, error) {
	c.mu.Lock()
	if gen > c.gen {
		c.reset(gen)
	}
	list, hit := c.sets[key]
	hit = hit && gen == c.gen
	c.mu.Unlock()
	if hit {
		return list, nil
	}
	list, keep, err := read(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if keep && gen == c.gen {
		if len(c.powers)+len(c.sets) >= maxCached {
			c.reset(gen)
		}
		c.sets[key] = list
	}
	c.mu.Unlock()
	return list, nil
}
