package jobs

import (
	"database/sql"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
)

// pollOnly is river's database/sql driver for PostgreSQL without its
// NOTIFYs. Every river client of this package polls (Options: database/sql
// has no LISTEN), so nobody listens: river still sent a NOTIFY after
// inserts (at most one per queue and FetchCooldown), a statement and a
// round trip for nothing. Its own producers are woken in the process
// (river does that apart from NOTIFY when its driver has no listener).
type pollOnly struct{ *riverdatabasesql.Driver }

func (pollOnly) SupportsListenNotify() bool { return false }

func newPollOnly(db *sql.DB) pollOnly { return pollOnly{riverdatabasesql.New(db)} }
