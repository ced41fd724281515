package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// The PostgreSQL schema: the SQLite tables with PostgreSQL types, and the
// append-only guard as one trigger function. Created under an advisory lock
// so that instances starting together do not race.
const pgSchema = `
CREATE TABLE IF NOT EXISTS items (
	kind    TEXT   NOT NULL,
	id      TEXT   NOT NULL,
	value   BYTEA  NOT NULL,
	expires BIGINT NOT NULL, -- Unix nanoseconds
	PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS items_expires ON items (expires);
CREATE TABLE IF NOT EXISTS audit (
	seq       BIGINT PRIMARY KEY,
	at        BIGINT NOT NULL, -- Unix nanoseconds
	actor     TEXT   NOT NULL,
	action    TEXT   NOT NULL,
	subject   TEXT   NOT NULL,
	digest    TEXT   NOT NULL,
	details   TEXT   NOT NULL,
	prev_hash BYTEA  NOT NULL,
	hash      BYTEA  NOT NULL
);
CREATE TABLE IF NOT EXISTS systems (
	service     TEXT   NOT NULL,
	name        TEXT   NOT NULL,
	cert_issuer BYTEA,            -- DER issuer name of its TLS client certificate
	cert_serial TEXT,             -- its serial number, hex
	cert        BYTEA,            -- the certificate, DER
	key_digest  BYTEA,            -- SHA-256 of its API key
	settings    BYTEA  NOT NULL,  -- the service's own settings (JSON)
	created     BIGINT NOT NULL,  -- Unix nanoseconds
	PRIMARY KEY (service, name),
	UNIQUE (service, cert_issuer, cert_serial),
	UNIQUE (service, key_digest)
);
CREATE OR REPLACE FUNCTION semnat_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION semnat_audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION semnat_audit_append_only();
`

// pgSchemaLock is the advisory lock key held while creating the schema.
const pgSchemaLock = 0x73656d6e6174 // "semnat"

var postgresDialect = dialect{name: "postgres", rebind: pgRebind, lockAudit: `LOCK TABLE audit IN EXCLUSIVE MODE`, forUpdate: ` FOR UPDATE`,
	insertAudit: `INSERT ` + insertAudit}

// pgRebind numbers the ? placeholders: $1, $2, ... (our queries have no ?
// in literals). The queries are a fixed set, run again and again: each
// is numbered once and kept (up to maxRebound; beyond, numbered at each
// use).
func pgRebind(q string) string {
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	r := pgNumber(q)
	if reboundN.Load() < maxRebound {
		if _, loaded := rebound.LoadOrStore(q, r); !loaded {
			reboundN.Add(1)
		}
	}
	return r
}

var (
	rebound  sync.Map // query → pgNumber(query)
	reboundN atomic.Int64
)

// maxRebound bounds rebound: the services' queries, with room for those
// whose text varies with a count (rows of a multi-row INSERT).
const maxRebound = 4096

func pgNumber(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// postgresConns is how many connections a PostgreSQL store opens at most
// by default (Options.MaxConns). Each is a PostgreSQL backend process
// with its own caches: of the catalog, and of each statement's plans (the
// first five runs of a statement on a backend are planned each, the very
// first costing milliseconds while the catalog cache fills). With 32, a
// busy MPay kept opening connections as its waits grew and planned its
// statements again on each: 144 to 432 µs of planning per payment in
// PostgreSQL after the warm-up, against 32 to 46 µs with 8, and about
// 15% less of PostgreSQL's CPU per payment in all (s11-mpay-pg notes). A
// machine with more cores than this one's two may want more.
const postgresConns = 8

// OpenPostgres opens the store in the PostgreSQL database dsn (a
// postgres:// URL or key=value string), creating the tables if needed.
// The pool's size is opts.MaxConns, or the DSN's pool_max_conns (the
// name pgxpool gives it; taken out of the DSN, which PostgreSQL would
// refuse with it), or postgresConns.
func OpenPostgres(dsn string, opts Options) (*Store, error) {
	dsn, fromDSN, err := poolMaxConns(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	conns := cmp.Or(opts.MaxConns, fromDSN, postgresConns)
	db.SetMaxOpenConns(conns)
	// As many idle as may be open: with 8 idle of 32, a busy server closed
	// the connections it gave back beyond 8 and opened them again
	// (start-up, SCRAM, every statement prepared again): 640 µs of CPU per
	// MPower check instead of 280.
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgCreateSchema(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: postgres: creating the schema: %w", err)
	}
	return newStore(db, postgresDialect, opts), nil
}

// ErrPoolMaxConns: a DSN's pool_max_conns is not a whole number from 1
// to 1,000.
var ErrPoolMaxConns = errors.New("pool_max_conns must be a whole number from 1 to 1000")

// poolMaxConns takes pool_max_conns out of dsn (a postgres:// URL's query
// or a key=value string), returning the rest and its value (0: not given).
func poolMaxConns(dsn string) (string, int, error) {
	var v string
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", 0, fmt.Errorf("the store's URL: %w", err)
		}
		q := u.Query()
		if !q.Has("pool_max_conns") {
			return dsn, 0, nil
		}
		v = q.Get("pool_max_conns")
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		m := poolMaxConnsKV.FindStringSubmatchIndex(dsn)
		if m == nil {
			return dsn, 0, nil
		}
		v = dsn[m[2]:m[3]]
		dsn = strings.TrimSpace(strings.TrimSpace(dsn[:m[0]]) + " " + strings.TrimSpace(dsn[m[1]:]))
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return "", 0, fmt.Errorf("%w (the DSN has %q)", ErrPoolMaxConns, v)
	}
	return dsn, n, nil
}

// poolMaxConnsKV finds pool_max_conns in a key=value DSN.
var poolMaxConnsKV = regexp.MustCompile(`(?:^|\s)pool_max_conns\s*=\s*(\S*)`)

func pgCreateSchema(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgSchemaLock)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, pgSchema); err != nil {
		return err
	}
	return tx.Commit()
}
