// Package store keeps the state of semnat's services: items with a time to
// live (pending two-phase signatures, uploaded files), the information
// systems registered with each service, and the append-only,
// hash-chained audit log of every signing, seal, grant, revocation and
// payment. SQLite in a data directory is the embedded default; PostgreSQL
// (the same tables) lets several `semnat serve` instances share one store.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the embedded default: pure Go, no cgo
)

// Errors callers test with errors.Is.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrExpired       = errors.New("store: expired")
	ErrAuditTampered = errors.New("store: the audit log does not verify")
	ErrExists        = errors.New("store: already exists")
)

// Forever is the time to live of an item that never expires (a
// registration), until it is deleted.
const Forever time.Duration = math.MaxInt64

// expiry is the expiry time of an item put now for ttl, in Unix nanoseconds.
func (s *Store) expiry(ttl time.Duration) (int64, error) {
	switch {
	case ttl <= 0:
		return 0, fmt.Errorf("store: time to live %v must be positive", ttl)
	case ttl == Forever:
		return math.MaxInt64, nil
	}
	return s.now().Add(ttl).UnixNano(), nil
}

// Store is a handle on the database. Safe for concurrent use.
type Store struct {
	db    *sql.DB
	now   func() time.Time
	d     dialect
	audit auditWriter // Append's group commit
	group groupWriter // InGroupTx's group commit
	// stmts holds the prepared statements of Query and QueryRow by query.
	stmts  sync.Map
	nstmts atomic.Int64
	path   string // the SQLite file, if any
	// writer is the write slot of a SQLite store (writer.go); nil for
	// PostgreSQL.
	writer chan struct{}
	jobsDB *sql.DB      // the job queue's statements (jobsdb.go); nil: db
	ckpt   checkpointer // SQLite's WAL checkpoints (checkpoint.go)
}

// dialect is what differs between the databases.
type dialect struct {
	name string
	// rebind turns the ? placeholders of a query into the database's.
	rebind func(string) string
	// lockAudit, run first in an append's transaction, serialises appends.
	lockAudit string
	// forUpdate ends a SELECT that an Update's transaction changes.
	forUpdate string
	// insertAudit begins the audit log's INSERT (groupcommit.go).
	insertAudit string
}

const insertAudit = `INTO audit (seq, at, actor, action, subject, digest, details, prev_hash, hash) VALUES `

var sqliteDialect = dialect{name: "sqlite", rebind: func(q string) string { return q }, insertAudit: `INSERT OR FAIL ` + insertAudit}

// Options tune Open.
type Options struct {
	// Now is the clock (time.Now when nil); tests move it.
	Now func() time.Time
	// Warn, when set, is told of a risky setup found on opening (a SQLite
	// database or its directory readable by other users).
	Warn func(msg string)
	// GroupWriters is how many group transactions (InGroupTx) run at once
	// (grouptx.go): 0 is 2 on PostgreSQL, 1 on SQLite (whose writes take
	// turns anyway).
	GroupWriters int
	// MaxConns is how many connections a PostgreSQL store opens at most
	// (0: postgresConns); SQLite's are set by the store.
	MaxConns int
}

const schema = `
CREATE TABLE IF NOT EXISTS items (
	kind    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	value   BLOB    NOT NULL,
	expires INTEGER NOT NULL, -- Unix nanoseconds
	PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS items_expires ON items (expires);
CREATE TABLE IF NOT EXISTS audit (
	seq       INTEGER PRIMARY KEY,
	at        INTEGER NOT NULL, -- Unix nanoseconds
	actor     TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	subject   TEXT    NOT NULL,
	digest    TEXT    NOT NULL,
	details   TEXT    NOT NULL,
	prev_hash BLOB    NOT NULL,
	hash      BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS systems (
	service     TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	cert_issuer BLOB,             -- DER issuer name of its TLS client certificate
	cert_serial TEXT,             -- its serial number, hex
	cert        BLOB,             -- the certificate, DER
	key_digest  BLOB,             -- SHA-256 of its API key
	settings    BLOB    NOT NULL, -- the service's own settings (JSON)
	created     INTEGER NOT NULL, -- Unix nanoseconds
	PRIMARY KEY (service, name),
	UNIQUE (service, cert_issuer, cert_serial),
	UNIQUE (service, key_digest)
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL
// mode so that readers do not wait for writers.
//
// A new database file is created readable by its owner only (0600; SQLite
// gives its -wal and -shm files the same mode), and opts.Warn is told when
// the file or its directory is open to other users.
func OpenSQLite(path string, opts Options) (*Store, error) {
	if err := createPrivate(path, opts.Warn); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Commits checkpoint only as a backstop: the store's goroutine does it (checkpoint.go).
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstop))
	q.Set("_txlock", "immediate") // writers queue at BEGIN, never deadlock on upgrade
	connector, err := sqliteConnector("file:" + path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: creating the schema in %s: %w", path, err)
	}
	// Keep connections open for concurrent readers (WAL): database/sql keeps
	// 2 idle ones by default, and opening one (pragmas, parsing) cost a
	// busy server a fifth of its time.
	db.SetMaxIdleConns(64)
	st := newStore(db, sqliteDialect, opts)
	st.writer = make(chan struct{}, 1)
	st.jobsDB = openJobsDB(connector, st.writer)
	if path != "" && path != ":memory:" {
		st.startCheckpoints() // a file, by its path or a file: URI
	}
	if path != "" && path != ":memory:" && !strings.HasPrefix(path, "file:") {
		st.path = path
	}
	return st, nil
}

// Path is the SQLite database file ("" for PostgreSQL or an in-memory
// database): services keep large files beside it.
func (s *Store) Path() string { return s.path }

func newStore(db *sql.DB, d dialect, opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	st := &Store{db: db, now: now, d: d}
	st.group.loops = groupWriters(d.name, opts.GroupWriters)
	return st
}

// Open opens the store a settings value names: a postgres:// or
// postgresql:// URL, else the path of a SQLite database file.
func Open(dsn string, opts Options) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return OpenPostgres(dsn, opts)
	}
	return OpenSQLite(dsn, opts)
}

// Backend names the database: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.d.name }

// exec runs a write statement outside a transaction, in the write slot
// (writer.go: on SQLite it queues behind the store's transactions instead
// of sleeping in SQLite's busy handler, 1 to 100 ms a try), prepared (see
// prepared): the items' few statements run on every request of every
// service.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	release, err := s.writeSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if st := s.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.db.ExecContext(ctx, s.d.rebind(q), args...)
}

// Close closes the database, once the audit events already handed to
// Append are written (later Appends fail with ErrClosed).
func (s *Store) Close() error {
	s.closeGroups()
	s.closeAudit()
	s.stopCheckpoints()
	s.stmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	if s.jobsDB != nil {
		s.jobsDB.Close()
	}
	return s.db.Close()
}

const putSQL = `INSERT INTO items (kind, id, value, expires) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, expires = excluded.expires`

// Put stores value under (kind, id) for ttl, replacing an earlier value.
func (s *Store) Put(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error {
	exp, err := s.expiry(ttl)
	if err != nil {
		return err
	}
	if _, err = s.exec(ctx, putSQL, kind, id, value, exp); err != nil {
		return fmt.Errorf("store: put %s/%s: %w", kind, id, err)
	}
	return nil
}

// ItemPut is one item of PutMany.
type ItemPut struct {
	Kind, ID string
	Value    []byte
	TTL      time.Duration
}

// PutMany stores the items as Put does, in one transaction: all or none,
// and one wait for the database's writer instead of one per item.
func (s *Store) PutMany(ctx context.Context, items []ItemPut) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.PutMany(ctx, items) })
}

// PutMany stores the items as Store.Put does, in the transaction.
func (t *Tx) PutMany(ctx context.Context, items []ItemPut) error {
	for _, it := range items {
		exp, err := t.s.expiry(it.TTL)
		if err != nil {
			return err
		}
		if _, err := t.Exec(ctx, putSQL, it.Kind, it.ID, it.Value, exp); err != nil {
			return fmt.Errorf("store: put %s/%s: %w", it.Kind, it.ID, err)
		}
	}
	return nil
}

const putNewSQL = `INSERT INTO items (kind, id, value, expires) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, expires = excluded.expires
		WHERE items.expires <= ?`

// PutNew stores value under (kind, id) for ttl only if no live item is
// there yet, atomically (ErrExists otherwise; an expired one is replaced):
// a message id used once, of two concurrent users only one wins.
func (s *Store) PutNew(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error {
	return s.putNew(ctx, s.exec, kind, id, value, ttl)
}

// PutNew stores value as Store.PutNew does, in the transaction (a group
// transaction's: many single-use ids recorded with one commit).
func (t *Tx) PutNew(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error {
	return t.s.putNew(ctx, t.Exec, kind, id, value, ttl)
}

func (s *Store) putNew(ctx context.Context, exec func(context.Context, string, ...any) (sql.Result, error), kind, id string, value []byte, ttl time.Duration) error {
	exp, err := s.expiry(ttl)
	if err != nil {
		return err
	}
	res, err := exec(ctx, putNewSQL, kind, id, value, exp, s.now().UnixNano())
	if err != nil {
		return fmt.Errorf("store: put %s/%s: %w", kind, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: put %s/%s: %w", kind, id, err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s/%s", ErrExists, kind, id)
	}
	return nil
}

// Item is one live item of a kind, as List returns it.
type Item struct {
	ID      string
	Value   []byte
	Expires time.Time // the zero time for an item put Forever
}

// List returns the live items of kind, ordered by id (registrations: a
// handful; not for kinds with many items).
func (s *Store) List(ctx context.Context, kind string) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT id, value, expires FROM items WHERE kind = ? AND expires > ? ORDER BY id`), kind, s.now().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", kind, err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		var exp int64
		if err := rows.Scan(&it.ID, &it.Value, &exp); err != nil {
			return nil, fmt.Errorf("store: list %s: %w", kind, err)
		}
		if exp != math.MaxInt64 {
			it.Expires = time.Unix(0, exp)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", kind, err)
	}
	return out, nil
}

// Get returns the value under (kind, id): ErrNotFound when there is none,
// ErrExpired when its time to live has passed (it is then removed).
func (s *Store) Get(ctx context.Context, kind, id string) ([]byte, error) {
	var value []byte
	var expires int64
	err := s.QueryRow(ctx, `SELECT value, expires FROM items WHERE kind = ? AND id = ?`, kind, id).Scan(&value, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, kind, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %s/%s: %w", kind, id, err)
	}
	if s.now().UnixNano() >= expires {
		_ = s.Delete(ctx, kind, id)
		return nil, fmt.Errorf("%w: %s/%s", ErrExpired, kind, id)
	}
	return value, nil
}

// Take returns the value under (kind, id) and removes it, atomically: of
// two concurrent takers only one gets it (a one-time download, a two-phase
// signature completed once).
func (s *Store) Take(ctx context.Context, kind, id string) ([]byte, error) {
	var value []byte
	var expires int64
	// One statement: of concurrent DELETEs only one returns the row. A
	// write: in the write slot, as exec.
	release, err := s.writeSlot(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: take %s/%s: %w", kind, id, err)
	}
	defer release()
	err = s.QueryRow(ctx, `DELETE FROM items WHERE kind = ? AND id = ? RETURNING value, expires`, kind, id).Scan(&value, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, kind, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: take %s/%s: %w", kind, id, err)
	}
	if s.now().UnixNano() >= expires {
		return nil, fmt.Errorf("%w: %s/%s", ErrExpired, kind, id)
	}
	return value, nil
}

// Update changes the value under (kind, id) atomically, keeping its time to
// live: f gets the current value and returns the new one; concurrent
// updates of the same item, in this process or another sharing the
// database, run one after the other. An error from f changes nothing and is
// returned as is. ErrNotFound and ErrExpired as for Get.
func (s *Store) Update(ctx context.Context, kind, id string, f func(old []byte) ([]byte, error)) error {
	release, err := s.writeSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: update %s/%s: %w", kind, id, err)
	}
	defer tx.Rollback()
	var value []byte
	var expires int64
	t := &Tx{s: s, tx: tx} // its statements prepared
	err = t.QueryRowForUpdate(ctx, `SELECT value, expires FROM items WHERE kind = ? AND id = ?`, kind, id).Scan(&value, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s/%s", ErrNotFound, kind, id)
	}
	if err != nil {
		return fmt.Errorf("store: update %s/%s: %w", kind, id, err)
	}
	if s.now().UnixNano() >= expires {
		return fmt.Errorf("%w: %s/%s", ErrExpired, kind, id)
	}
	nv, err := f(value)
	if err != nil {
		return err
	}
	if _, err := t.Exec(ctx, `UPDATE items SET value = ? WHERE kind = ? AND id = ?`, nv, kind, id); err != nil {
		return fmt.Errorf("store: update %s/%s: %w", kind, id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: update %s/%s: %w", kind, id, err)
	}
	return nil
}

// Delete removes (kind, id); removing nothing is not an error.
func (s *Store) Delete(ctx context.Context, kind, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM items WHERE kind = ? AND id = ?`, kind, id); err != nil {
		return fmt.Errorf("store: delete %s/%s: %w", kind, id, err)
	}
	return nil
}

// Sweep removes every expired item and returns how many. With SQLite it
// then checkpoints the write-ahead log and truncates it: without that the
// -wal file keeps the size of the largest burst of writes (hundreds of MB
// after a few large uploads) until the process ends.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM items WHERE expires <= ?`, s.now().UnixNano())
	if err != nil {
		return 0, fmt.Errorf("store: sweep: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: sweep: %w", err)
	}
	if s.d.name == "sqlite" {
		// Busy readers make it a partial checkpoint, not an error: the
		// next sweep finishes it.
		s.ckpt.mu.Lock()
		_, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		s.ckpt.mu.Unlock()
		if err != nil {
			return n, fmt.Errorf("store: sweep: checkpointing the WAL: %w", err)
		}
	}
	return n, nil
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// createPrivate creates the database file at path with mode 0600 if it does
// not exist yet, and warns about a file or directory other users can read.
func createPrivate(path string, warn func(string)) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("store: creating %s: %w", path, err)
	}
	if warn == nil {
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		warn(fmt.Sprintf("the database %s can be read by other users (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), path))
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o007 != 0 {
		warn(fmt.Sprintf("the data directory %s is open to other users (mode %04o): chmod 700 %s", dir, fi.Mode().Perm(), dir))
	}
	return nil
}

// SweepEvery removes expired items every d until ctx ends: a service's
// background sweeper. A failed sweep is logged and tried again next time.
func (s *Store) SweepEvery(ctx context.Context, d time.Duration, log *slog.Logger) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("store: sweep failed", "err", err)
			} else if n > 0 {
				log.Debug("store: swept expired items", "n", n)
			}
		}
	}
}
