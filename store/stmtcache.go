package store

// Each SQLite connection keeps the statements run on it prepared. The
// store prepares its own queries (see prepared), but river runs its
// queries through database/sql without preparing them, and SQLite (the
// modernc driver) parses such a query each time: its completer's one
// UPDATE per finished job, parsed again for each, was a sixth of MPay's
// CPU while it drained a backlog of confirmations. A prepared SQLite
// statement is compiled again by SQLite itself when the schema changes.

import (
	"context"
	"database/sql/driver"
	"reflect"

	"modernc.org/sqlite"
)

// maxConnStmts bounds the statements one connection keeps prepared
// (compiled statements take memory, and database/sql keeps up to 64
// connections): beyond it, one not in use is closed for the new one.
const maxConnStmts = 64

// sqliteConnector is the SQLite driver's connector for dsn, whose
// connections keep their statements prepared.
func sqliteConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return stmtCacheConnector{c}, nil
}

type stmtCacheConnector struct{ driver.Connector }

// cacheableConn is what the SQLite driver's connections offer and
// database/sql uses.
type cacheableConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc, ok := conn.(cacheableConn)
	if !ok {
		return conn, nil // another driver's: as it is
	}
	return &stmtCacheConn{cacheableConn: cc, stmts: map[string]*connStmt{}}, nil
}

// stmtCacheConn is a connection with its statements kept prepared by
// their text. database/sql uses a connection from one goroutine at a
// time (rows are closed under its lock too), so it needs no lock.
type stmtCacheConn struct {
	cacheableConn
	stmts map[string]*connStmt
}

type connStmt struct {
	s    driver.Stmt
	busy bool // its rows are open: the same text runs unprepared meanwhile
}

// stmt is the prepared statement of q, or nil: q runs unprepared (its
// statement's rows are open, or preparing failed, which running it
// reports).
func (c *stmtCacheConn) stmt(ctx context.Context, q string) *connStmt {
	if e, ok := c.stmts[q]; ok {
		if e.busy {
			return nil
		}
		return e
	}
	if len(c.stmts) >= maxConnStmts {
		for k, e := range c.stmts { // map order: any one not in use
			if !e.busy {
				e.s.Close()
				delete(c.stmts, k)
				break
			}
		}
		if len(c.stmts) >= maxConnStmts {
			return nil
		}
	}
	s, err := c.cacheableConn.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	if _, ok := s.(driver.StmtExecContext); !ok {
		s.Close()
		return nil
	}
	if _, ok := s.(driver.StmtQueryContext); !ok {
		s.Close()
		return nil
	}
	e := &connStmt{s: s}
	c.stmts[q] = e
	return e
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if e := c.stmt(ctx, q); e != nil {
		return e.s.(driver.StmtExecContext).ExecContext(ctx, args)
	}
	return c.cacheableConn.ExecContext(ctx, q, args)
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	e := c.stmt(ctx, q)
	if e == nil {
		return c.cacheableConn.QueryContext(ctx, q, args)
	}
	r, err := e.s.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	e.busy = true
	return &connRows{Rows: r, e: e}, nil
}

// Close closes the prepared statements, then the connection (SQLite
// would keep a connection with statements open).
func (c *stmtCacheConn) Close() error {
	for _, e := range c.stmts {
		e.s.Close()
	}
	c.stmts = nil
	return c.cacheableConn.Close()
}

// connRows are the rows of a kept statement, which is free again when
// they are closed. The column type methods are the driver's.
type connRows struct {
	driver.Rows
	e *connStmt
}

func (r *connRows) Close() error {
	err := r.Rows.Close()
	r.e.busy = false
	return err
}

func (r *connRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *connRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *connRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *connRows) ColumnTypeLength(i int) (length int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *connRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
