package store

// The job queue's writes on SQLite take the store's write slot.
//
// River (package jobs) runs its own statements through database/sql:
// each fetch of ready jobs is an UPDATE … RETURNING, each batch of
// finished jobs a transaction of UPDATEs, besides its maintenance. On
// SQLite they took the database's write lock outside the store's write
// slot (writer.go), so a store transaction that found river writing slept
// in SQLite's busy handler (1, 2, 5, 10 … ms, however soon river was done)
// while holding the slot, with every other writer of the store queued
// behind it; river's writes slept the same way behind the store's. While
// MPay drained a backlog of confirmations, a goroutine dump during the
// drain always showed one or two writers asleep in the busy handler, and
// the process kept only one of the two cores busy.
//
// JobsDB is therefore a pool of its own whose connections take the
// store's write slot for each transaction and each statement outside one
// that may write (anything but a SELECT), and give it back when the
// transaction ends or the statement's rows are closed. The writers of
// the store and of its job queue then wait in one queue, in turn, and
// none sleeps while the database is free. Transactions the store hands
// to the queue (EnqueueTx, RunNowTx) already hold the slot: they are the
// store's, not this pool's.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
)

// JobsDB is the database handle for the job queue's own statements: on
// SQLite one whose writes wait for the store's write slot (see above), on
// PostgreSQL the store's.
func (s *Store) JobsDB() *sql.DB {
	if s.jobsDB != nil {
		return s.jobsDB
	}
	return s.db
}

// openJobsDB opens the job queue's pool over connector, whose writes
// take slot.
func openJobsDB(connector driver.Connector, slot chan struct{}, written func()) *sql.DB {
	db := sql.OpenDB(slotConnector{Connector: connector, slot: slot, written: written})
	db.SetMaxIdleConns(16)
	return db
}

type slotConnector struct {
	driver.Connector
	slot    chan struct{}
	written func() // called when a write gives the slot back
}

func (c slotConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc, ok := conn.(cacheableConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: the SQLite driver's connection (%T) cannot take the write slot", conn)
	}
	return &slotConn{cacheableConn: cc, slot: c.slot, written: c.written}, nil
}

// slotConn is a connection whose writes take the slot. database/sql uses
// a connection from one goroutine at a time.
type slotConn struct {
	cacheableConn
	slot    chan struct{}
	written func()
	held    bool // by the open transaction or statement
}

func (c *slotConn) acquire(ctx context.Context) error {
	select {
	case c.slot <- struct{}{}:
		c.held = true
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: the job queue waiting to write: %w", ctx.Err())
	}
}

func (c *slotConn) release() {
	if c.held {
		c.held = false
		<-c.slot
		c.written()
	}
}

func (c *slotConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := c.cacheableConn.BeginTx(ctx, opts)
	if err != nil {
		c.release()
		return nil, err
	}
	return &slotTx{Tx: tx, c: c}, nil
}

// Begin is BeginTx without a context (database/sql does not call it).
func (c *slotConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

type slotTx struct {
	driver.Tx
	c *slotConn
}

func (t *slotTx) Commit() error {
	defer t.c.release()
	return t.Tx.Commit()
}

func (t *slotTx) Rollback() error {
	defer t.c.release()
	return t.Tx.Rollback()
}

// alone reports whether q runs outside a transaction and may write: it
// then needs the slot for itself.
func (c *slotConn) alone(q string) bool { return !c.held && mayWrite(q) }

// execInSlot runs exec, with the slot taken for it when need.
func (c *slotConn) execInSlot(ctx context.Context, need bool, exec func() (driver.Result, error)) (driver.Result, error) {
	if need {
		if err := c.acquire(ctx); err != nil {
			return nil, err
		}
		defer c.release()
	}
	return exec()
}

// queryInSlot runs query, with the slot taken for it when need and kept
// until its rows are closed (an UPDATE … RETURNING writes until then).
func (c *slotConn) queryInSlot(ctx context.Context, need bool, query func() (driver.Rows, error)) (driver.Rows, error) {
	if !need {
		return query()
	}
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	r, err := query()
	if err != nil {
		c.release()
		return nil, err
	}
	return &slotRows{connRows: connRows{Rows: r}, c: c}, nil
}

func (c *slotConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.execInSlot(ctx, c.alone(q), func() (driver.Result, error) { return c.cacheableConn.ExecContext(ctx, q, args) })
}

func (c *slotConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.queryInSlot(ctx, c.alone(q), func() (driver.Rows, error) { return c.cacheableConn.QueryContext(ctx, q, args) })
}

// PrepareContext prepares q on the connection; the statement takes the
// slot as the connection's own statements do.
func (c *slotConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.cacheableConn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &slotStmt{Stmt: st, c: c, write: mayWrite(q)}, nil
}

type slotStmt struct {
	driver.Stmt
	c     *slotConn
	write bool
}

func (s *slotStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.execInSlot(ctx, s.write && !s.c.held, func() (driver.Result, error) {
		return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	})
}

func (s *slotStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.queryInSlot(ctx, s.write && !s.c.held, func() (driver.Rows, error) {
		return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	})
}

// Exec and Query without a context: database/sql does not call them.
func (s *slotStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, driver.ErrSkip
}

func (s *slotStmt) Query(args []driver.Value) (driver.Rows, error) {
	return nil, driver.ErrSkip
}

// slotRows are the rows of a statement that holds the slot until they
// are closed.
type slotRows struct {
	connRows
	c *slotConn
}

func (r *slotRows) Close() error {
	defer r.c.release()
	return r.Rows.Close()
}

// mayWrite reports whether the statement q may write: whatever does not
// begin (after comments) with SELECT.
func mayWrite(q string) bool {
	for {
		q = strings.TrimLeft(q, " \t\r\n")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return false // all comment
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return false
			}
			q = q[i+2:]
		default:
			return len(q) < 6 || !strings.EqualFold(q[:6], "SELECT")
		}
	}
}
