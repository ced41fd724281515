// Package jobs is a durable job queue in the store's database: work that
// must happen even if the process dies (an e-mail to deliver, a payment to
// confirm, a power of attorney that expires at a given time). A job is a
// row; it is enqueued alone or in the same transaction as the state change
// it follows (both commit or neither), worked by a registered worker,
// retried with backoff when the worker fails, and run again by another
// process when the one running it died.
//
// It is github.com/riverqueue/river over the store's own database: the
// riversqlite driver for SQLite, riverdatabasesql (PostgreSQL through the
// store's pgx database/sql pool) for PostgreSQL. River's tables are created
// (migrated) when a Queue is made. Several processes sharing one PostgreSQL
// store share its jobs: each job is run by one of them.
//
// Each service makes its own Queue with its own Options.Queue name and
// registers the workers of its job kinds: a Queue works only the jobs of
// its queue name, so services in one process do not take each other's jobs.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/semnat/semnat/store"
)

// Args are a job's arguments: a struct marshalled to JSON, whose Kind is
// the stable name stored with the row and matched to a worker (renaming the
// Go type does not orphan jobs). Fields tagged `river:"unique"` are the
// key of a unique job (EnqueueOpts.Unique).
type Args = river.JobArgs

// Job is a job handed to a worker: its Args, ID, Attempt (1 on the first
// run) and the errors of earlier attempts.
type Job[T Args] = river.Job[T]

// Worker works the jobs of one kind: Work returns nil when done, an error
// to have the job retried with backoff (until MaxAttempts), or Cancel(err)
// to give up at once. Embed WorkerDefaults for the optional methods
// (NextRetry, Timeout).
type Worker[T Args] = river.Worker[T]

// WorkerDefaults gives a Worker the default optional methods.
type WorkerDefaults[T Args] = river.WorkerDefaults[T]

// WorkFunc makes a Worker of a function.
func WorkFunc[T Args](f func(ctx context.Context, job *Job[T]) error) Worker[T] {
	return river.WorkFunc(f)
}

// Cancel, returned by a worker, ends the job now without further retries
// (state cancelled); err says why and is recorded with the job.
func Cancel(err error) error { return river.JobCancel(err) }

// Snooze, returned by a worker, runs the job again after d without
// counting an attempt (waiting for something outside, not a failure).
func Snooze(d time.Duration) error { return river.JobSnooze(d) }

// Errors callers test with errors.Is.
var (
	ErrNotFound   = errors.New("jobs: no such job")
	ErrStarted    = errors.New("jobs: workers must be registered before Start")
	ErrRegistered = errors.New("jobs: a worker of this kind is registered already")
)

// Options tune New. The zero value is usable.
type Options struct {
	// Queue is the name of the queue this Queue enqueues into and works
	// (letters, digits, '_' and '-'): one per service, "default" when empty.
	Queue string
	// Workers is how many jobs run at once (10 when 0).
	Workers int
	// PollInterval is how often the queue looks for jobs that became
	// ready (1s when 0). Both drivers poll: database/sql has no LISTEN.
	PollInterval time.Duration
	// FetchCooldown is the least time between two fetches of ready jobs
	// (100 ms, or PollInterval when shorter, when 0). A queue runs at
	// most about Workers jobs per FetchCooldown: a queue of many short
	// jobs needs a short one, or more Workers.
	FetchCooldown time.Duration
	// Backoff is the delay before the retry that follows failed attempt n
	// (n = 1, 2, ...); river's default (n⁴ seconds, ±10%) when nil.
	Backoff func(attempt int) time.Duration
	// MaxAttempts is how many times a job is tried before it is discarded
	// (25 when 0), unless EnqueueOpts says otherwise.
	MaxAttempts int
	// JobTimeout bounds one attempt (1 minute when 0; -1: none).
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken to
	// belong to a dead process and run again (1 hour when 0). It must be
	// longer than JobTimeout.
	RescueAfter time.Duration
	// Log receives river's warnings and errors (discarded when nil).
	Log *slog.Logger
	// Instance names this process among those sharing the store, the same
	// across its restarts (e.g. host name and data directory), or "" for a
	// random name per start. With it a restarted process takes back at
	// Start what its previous run held when it died (SIGKILL, power): the
	// jobs it was running are run again at once instead of after
	// RescueAfter, and its queue leadership (river's scheduler of retries
	// and timed jobs, and its rescuer) is free at once instead of after
	// the lease's 15 s. Two live processes must not share one.
	Instance string
}

// Queue enqueues and works jobs in one store. Safe for concurrent use.
type Queue struct {
	st      *store.Store
	client  *river.Client[*sql.Tx]
	workers *river.Workers
	queue   string
	id      string // river's client ID when Options.Instance is set

	mu      sync.Mutex
	started bool
}

// New makes the queue of st: it creates or migrates river's tables
// (PostgreSQL: under an advisory lock, so that instances starting together
// do not race) and makes the client. Register the workers, then Start.
func New(ctx context.Context, st *store.Store, opts Options) (*Queue, error) {
	driver, err := driverOf(st)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := migrate(ctx, st, driver, log); err != nil {
		return nil, err
	}
	if err := addIndexes(ctx, st); err != nil {
		return nil, err
	}
	q := &Queue{st: st, workers: river.NewWorkers(), queue: opts.Queue}
	if q.queue == "" {
		q.queue = river.QueueDefault
	}
	if opts.Instance != "" {
		q.id = opts.Instance + "/" + q.queue // one river client per queue
	}
	maxWorkers := opts.Workers
	if maxWorkers <= 0 {
		maxWorkers = 10
	}
	cfg := &river.Config{
		Queues:               map[string]river.QueueConfig{q.queue: {MaxWorkers: maxWorkers}},
		Workers:              q.workers,
		FetchPollInterval:    opts.PollInterval,
		MaxAttempts:          opts.MaxAttempts,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		Logger:               log,
		PollOnly:             true,
		ID:                   q.id,
		ReindexerIndexNames:  reindexedIndexes(st.Backend()),
	}
	if opts.PollInterval > 0 && opts.PollInterval < 100*time.Millisecond {
		cfg.FetchCooldown = opts.PollInterval // river's must not exceed the poll interval
	}
	if opts.FetchCooldown > 0 {
		poll := cmp.Or(opts.PollInterval, river.FetchPollIntervalDefault)
		cfg.FetchCooldown = min(opts.FetchCooldown, poll) // river's must not exceed the poll interval
	}
	if opts.Backoff != nil {
		cfg.RetryPolicy = backoff(opts.Backoff)
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client = client
	return q, nil
}

func driverOf(st *store.Store) (riverdriver.Driver[*sql.Tx], error) {
	switch st.Backend() {
	case "sqlite":
		return riversqlite.New(st.JobsDB()), nil // its writes in the store's write slot
	case "postgres":
		return newPollOnly(st.DB()), nil
	}
	return nil, fmt.Errorf("jobs: no river driver for the %q store", st.Backend())
}

// migrateLock is the PostgreSQL advisory lock key held while migrating.
const migrateLock = 0x73656d6e6a6f62 // "semnjob"

func migrate(ctx context.Context, st *store.Store, driver riverdriver.Driver[*sql.Tx], log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("jobs: migrating river's tables: %w", err)
	}
	var conn *sql.Conn // PostgreSQL: holds the migration lock
	if st.Backend() == "postgres" {
		// River applies each version in its own transaction (some add enum
		// values, which PostgreSQL does not allow to use in the same
		// transaction): a session lock held on a connection of its own
		// keeps instances starting together from migrating at once.
		if conn, err = st.DB().Conn(ctx); err != nil {
			return fmt.Errorf("jobs: migrating river's tables: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("jobs: migrating river's tables: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock))
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrating river's tables: %w", err)
	}
	if conn != nil {
		return dropIndexes(ctx, conn)
	}
	return nil
}

// backoff is a river retry policy of a delay function.
type backoff func(attempt int) time.Duration

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b(max(job.Attempt, 1)))
}

// Register adds the worker of T's kind to q. Call it before Start
// (ErrStarted after); one worker per kind (ErrRegistered).
func Register[T Args](q *Queue, w Worker[T]) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return ErrStarted
	}
	if err := river.AddWorkerSafely(q.workers, w); err != nil {
		var args T
		return fmt.Errorf("%w: %s: %v", ErrRegistered, args.Kind(), err)
	}
	return nil
}

// Start works jobs in the background until ctx ends or Stop is called.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	q.started = true
	q.mu.Unlock()
	if err := q.reclaim(ctx); err != nil {
		return err
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish; when
// ctx ends first their contexts are cancelled and Stop waits for them to
// return (a job cut short is run again: see Options.RescueAfter). Close the
// store only after Stop returns.
func (q *Queue) Stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	if ctx.Err() != nil {
		// Hard stop: cancel what still runs and wait for it.
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.client.StopAndCancel(hard); err != nil {
			return fmt.Errorf("jobs: stop: %w", err)
		}
	}
	return nil
}

// EnqueueOpts tune one job. The zero value runs it as soon as possible.
type EnqueueOpts struct {
	// RunAt runs the job at that time (an expiration), not before.
	RunAt time.Time
	// MaxAttempts overrides Options.MaxAttempts for this job.
	MaxAttempts int
	// Unique enqueues the job only if no job of its kind with the same
	// unique args (the fields tagged `river:"unique"`, all of them when
	// none is tagged) exists already, unless that one was cancelled or
	// discarded: a payment confirmed once.
	Unique bool
	// UniqueStates, when not nil, are the states in which a job counts
	// for Unique instead (setting it implies Unique). They must include
	// Available, Pending, Running and Scheduled (river's rule), e.g.
	// Unfinished(): one job of its kind at a time, not one ever (a job
	// that completed, failed for good or was cancelled does not keep a
	// new one out).
	UniqueStates []State
	// Priority: 1 (first) to 4 (last); 1 when 0.
	Priority int
}

// Enqueued is a job just enqueued.
type Enqueued struct {
	ID int64
	// Duplicate: a unique job was there already; ID is that job's.
	Duplicate bool
}

func (q *Queue) insertOpts(o *EnqueueOpts) *river.InsertOpts {
	io := &river.InsertOpts{Queue: q.queue}
	if o == nil {
		return io
	}
	io.ScheduledAt = o.RunAt
	io.MaxAttempts = o.MaxAttempts
	io.Priority = o.Priority
	if o.Unique || o.UniqueStates != nil {
		io.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: o.UniqueStates}
	}
	return io
}

func enqueued(res *rivertype.JobInsertResult, err error) (Enqueued, error) {
	if err != nil {
		return Enqueued{}, fmt.Errorf("jobs: enqueue: %w", err)
	}
	return Enqueued{ID: res.Job.ID, Duplicate: res.UniqueSkippedAsDuplicate}, nil
}

// Enqueue adds a job on its own (committed when Enqueue returns).
func (q *Queue) Enqueue(ctx context.Context, args Args, o *EnqueueOpts) (Enqueued, error) {
	return enqueued(q.client.Insert(ctx, args, q.insertOpts(o)))
}

// EnqueueTx adds a job in tx: it exists if and only if tx commits.
func (q *Queue) EnqueueTx(ctx context.Context, tx *store.Tx, args Args, o *EnqueueOpts) (Enqueued, error) {
	return enqueued(q.client.InsertTx(ctx, tx.SQLTx(), args, q.insertOpts(o)))
}

// State is where a job is (river's job states).
type State = rivertype.JobState

// The states of a job.
const (
	Available = rivertype.JobStateAvailable // ready, waiting for a worker
	Pending   = rivertype.JobStatePending   // not ready to be scheduled yet (river's workflows; jobs/ makes none)
	Scheduled = rivertype.JobStateScheduled // waiting for its RunAt
	Running   = rivertype.JobStateRunning
	Retryable = rivertype.JobStateRetryable // failed, waiting for its retry
	Completed = rivertype.JobStateCompleted
	Cancelled = rivertype.JobStateCancelled // by Cancel or a worker's Cancel(err)
	Discarded = rivertype.JobStateDiscarded // failed MaxAttempts times
)

// Unfinished are the states of a job that has yet to run or to finish:
// for EnqueueOpts.UniqueStates.
func Unfinished() []State { return []State{Available, Pending, Scheduled, Running, Retryable} }

// Info is what Get tells of a job.
type Info struct {
	ID        int64
	Kind      string
	State     State
	Attempt   int       // attempts made so far
	LastError string    // of the latest failed attempt, "" when none
	RunAt     time.Time // when it runs (next)
}

func info(row *rivertype.JobRow, err error) (*Info, error) {
	if errors.Is(err, river.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	in := &Info{ID: row.ID, Kind: row.Kind, State: row.State, Attempt: row.Attempt, RunAt: row.ScheduledAt}
	if n := len(row.Errors); n > 0 {
		in.LastError = row.Errors[n-1].Error
	}
	return in, nil
}

// Get returns a job's state (ErrNotFound when there is none).
func (q *Queue) Get(ctx context.Context, id int64) (*Info, error) {
	return info(q.client.JobGet(ctx, id))
}

// Cancel cancels a job that has not finished: one waiting will not run; a
// running one has its context cancelled and is not retried. A finished
// job is left as it is. ErrNotFound when there is no such job.
func (q *Queue) Cancel(ctx context.Context, id int64) (*Info, error) {
	return info(q.client.JobCancel(ctx, id))
}

// CancelTx is Cancel in tx: the job is cancelled if and only if tx commits.
func (q *Queue) CancelTx(ctx context.Context, tx *store.Tx, id int64) (*Info, error) {
	return info(q.client.JobCancelTx(ctx, tx.SQLTx(), id))
}
