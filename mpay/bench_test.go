package mpay_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
)

// BenchmarkCompletePayments: complete payments on SQLite, 16 payers at
// once: the order pulled from a real SP over HTTP (signed both ways), the
// card approved, and the signed confirmation acknowledged by the SP (the
// clock stops when every one is). MPay's messages are signed by its
// RSA-2048 key (RS256, `semnat mpay serve --message-key seal`). Reports
// payments/s, approvals/s (pull and card approval only, the payers'
// side), the payers' p99, the CPU time per payment of the whole process
// (MPay, the SP and the payers) and the process's peak resident memory.
func BenchmarkCompletePayments(b *testing.B) {
	completePayments(b, newEnv(b, benchConfig))
}

// BenchmarkCompletePaymentsPostgres is the same on PostgreSQL
// ($SEMNAT_TEST_POSTGRES).
func BenchmarkCompletePaymentsPostgres(b *testing.B) {
	completePayments(b, newPostgresEnv(b, benchConfig))
}

// BenchmarkCompletePaymentsES256 is BenchmarkCompletePayments with MPay's
// default configuration in the demo and in `semnat mpay serve`: an EC
// P-256 message key signs its REST messages (ES256; RFC 7515/7518 let the
// signer choose), while the RSA-2048 key keeps sealing the receipts. The
// SP checks every message against the message certificate.
func BenchmarkCompletePaymentsES256(b *testing.B) {
	completePayments(b, newEnv(b, es256Config(b)))
}

// BenchmarkCompletePaymentsPostgresES256 is BenchmarkCompletePaymentsES256
// on PostgreSQL ($SEMNAT_TEST_POSTGRES).
func BenchmarkCompletePaymentsPostgresES256(b *testing.B) {
	completePayments(b, newPostgresEnv(b, es256Config(b)))
}

// es256Config is benchConfig with an EC P-256 message key.
func es256Config(b *testing.B) func(*mpay.Config) {
	key, cert, err := mpay.NewMessageKey("MPay (benchmark)")
	if err != nil {
		b.Fatal(err)
	}
	return func(c *mpay.Config) { benchConfig(c); c.MessageKey, c.MessageCert = key, cert }
}

func benchConfig(c *mpay.Config) { c.Poll = 50 * time.Millisecond; c.CallTimeout = 10 * time.Second }

// warmPayments is how many payments completePayments makes, and waits to
// be acknowledged, before its clock starts: the measure is of a running
// service, not of its first minute (the pool's connections opening, each
// PostgreSQL backend planning each statement its first times, caches
// filling).
const warmPayments = 256

func completePayments(b *testing.B, e *env) {
	ctx := context.Background()
	warm := min(warmPayments, b.N)
	for i := 0; i < b.N; i++ {
		e.sp.Put(demosp.Order{Key: fmt.Sprintf("B-%d", i), Reason: "Taxă", Amount: amount(10000)})
	}
	for i := 0; i < warm; i++ {
		e.sp.Put(demosp.Order{Key: fmt.Sprintf("W-%d", i), Reason: "Taxă", Amount: amount(10000)})
	}
	card := cardsim.Card{Number: cardsim.CardApprove, ExpMonth: 12, ExpYear: 2035, CVC: "123"}
	pay := func(key string) error {
		in, err := e.svc.Pull(ctx, serviceID, key, "", "ro")
		if err != nil {
			return err
		}
		_, err = e.svc.PayCard(ctx, in.Token, 10000, card)
		return err
	}
	var wg sync.WaitGroup
	var warmNext atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := warmNext.Add(1) - 1; i < int64(warm); i = warmNext.Add(1) - 1 {
				if err := pay(fmt.Sprintf("W-%d", i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitLong(b, "the warm-up's acknowledgements", func() bool { return e.sp.ConfirmedCount() >= warm })
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	st0, plan0 := postgresStatements(e)
	cpu0, db0 := cpuTime(), postgresCPU(e)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			t0 := time.Now()
			if err := pay(fmt.Sprintf("B-%d", i)); err != nil {
				b.Error(err)
				return
			}
			lat[i] = time.Since(t0)
		}
	})
	paid := time.Since(start)
	waitLong(b, "every acknowledgement", func() bool { return e.sp.ConfirmedCount() >= warm+b.N })
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "payments/s")
	b.ReportMetric(float64(b.N)/paid.Seconds(), "approvals/s")
	b.ReportMetric(float64(p99(lat).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/payment")
	reportPostgresCPU(b, e, db0, "db-cpu-µs/payment")
	if st1, plan1 := postgresStatements(e); st0 >= 0 && st1 >= 0 {
		b.ReportMetric(float64(st1-st0-1)/float64(b.N), "statements/payment")
		if plan1 > plan0 { // pg_stat_statements.track_planning is on
			b.ReportMetric(float64((plan1-plan0).Microseconds())/float64(b.N), "db-plan-µs/payment")
		}
	}
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}

// postgresStatements is how many statements PostgreSQL ran so far in the
// store's database, and how long it spent planning them (pg_stat_statements,
// which .ci/postgres.sh loads; -1 without it; the planning time is 0
// unless pg_stat_statements.track_planning is on): other clients of that
// database count too.
func postgresStatements(e *env) (int64, time.Duration) {
	if e.st.Backend() != "postgres" {
		return -1, 0
	}
	var n int64
	var planMS float64
	if err := e.st.QueryRow(context.Background(), `SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(total_plan_time), 0) FROM public.pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n, &planMS); err != nil {
		return -1, 0
	}
	return n, time.Duration(planMS * float64(time.Millisecond))
}

// BenchmarkConfirmationBacklog: b.N payments approved while the SP
// refuses every confirmation, until each has failed and waits for its
// retry (a minute or more ahead); then the SP comes back, and a new
// payment's confirmation is acknowledged, which starts the drain that
// brings the backlog forward. confirmations/s is how fast the backlog
// drains (until the SP counted every one), p99-ms the 99th percentile of
// the time from the SP's return to each acknowledgement,
// median-retry-due-s when the retries were due (what the backlog would
// have waited for without the drain), with the CPU time per confirmation
// and the peak resident memory. The backlog is 100,000:
// BENCH='ConfirmationBacklog$' BENCHTIME=100000x make bench.
func BenchmarkConfirmationBacklog(b *testing.B) { confirmationBacklog(b, nil) }

// BenchmarkConfirmationBacklogES256 is BenchmarkConfirmationBacklog with
// MPay's default message key, ES256 (see BenchmarkCompletePaymentsES256).
func BenchmarkConfirmationBacklogES256(b *testing.B) {
	confirmationBacklog(b, es256Config(b))
}

func confirmationBacklog(b *testing.B, mod func(*mpay.Config)) {
	// The back-off of a confirmation that failed a few times already (a
	// minute, doubling to MPay's default 5 minutes), so that the backlog
	// is built in seconds, not in the minutes of a real outage.
	e := backlogEnv(b, func(c *mpay.Config) {
		benchConfig(c)
		c.RetryBase, c.RetryMax = time.Minute, 5*time.Minute
		if mod != nil {
			mod(c)
		}
	})
	ctx := context.Background()
	due := backlogColumn(b, e, "next_attempt", time.Now())
	slices.Sort(due)
	if e.st.Backend() == "sqlite" { // the retries already due: the drain is what should bring them
		var dueNow int
		if err := e.st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('retryable', 'available') AND scheduled_at <= datetime('now', 'subsec')`).Scan(&dueNow); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d jobs due at the drain's start", dueNow)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	e.sp.FailFirst.Store(0) // back
	// A new payment, whose confirmation the SP acknowledges: MPay learns
	// that the SP is back and brings the backlog forward.
	if err := payBacklog(ctx, e, "Q-back"); err != nil {
		b.Fatal(err)
	}
	stop := drainProgress(e, start)
	waitLong(b, "the backlog drained", func() bool { return e.sp.ConfirmedCount() >= b.N+1 })
	stop()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "confirmations/s")
	b.ReportMetric(float64(p99(backlogColumn(b, e, "confirmed_at", start)).Microseconds())/1000, "p99-ms")
	b.ReportMetric(due[len(due)/2].Seconds(), "median-retry-due-s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/confirmation")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}

// backlogColumn reads column (Unix nanoseconds) of every payment as the
// time from start.
func backlogColumn(b *testing.B, e *env, column string, start time.Time) []time.Duration {
	rows, err := e.st.Query(context.Background(), `SELECT COALESCE(`+column+`, 0) FROM mpay_payments`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Unix(0, at).Sub(start))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// waitLong waits for cond without a deadline shorter than a benchmark's
// (a large backlog on a loaded machine takes minutes).
func waitLong(b *testing.B, what string, cond func() bool) {
	waitLongEvery(b, what, 20*time.Millisecond, cond)
}

// waitLongEvery is waitLong looking every so often (a costly cond).
func waitLongEvery(b *testing.B, what string, every time.Duration, cond func() bool) {
	deadline := time.Now().Add(2 * time.Hour) // 100,000 confirmations on a loaded 2-core machine
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(every)
	}
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time so far of the processes of the PostgreSQL
// server e's store is connected to, when it runs on this machine (-1 when
// the store is not PostgreSQL, or they cannot be read): the process's own
// getrusage does not count the database's work. Only that server's
// processes (its postmaster's children) count, not another cluster's.
func postgresCPU(e *env) time.Duration {
	if e.st.Backend() != "postgres" {
		return -1
	}
	var backend int
	if err := e.st.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return -1
	}
	stat := func(pid string) []string { // the fields after the command's name
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || !strings.Contains(string(b), "(postgres)") {
			return nil
		}
		return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	}
	own := stat(strconv.Itoa(backend))
	if len(own) < 2 {
		return -1
	}
	postmaster := own[1] // ppid
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	var ticks int64
	for _, d := range dirs {
		f := stat(d.Name())
		if len(f) > 12 && (d.Name() == postmaster || f[1] == postmaster) {
			u, _ := strconv.ParseInt(f[11], 10, 64) // utime, clock ticks
			s, _ := strconv.ParseInt(f[12], 10, 64) // stime
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// reportPostgresCPU reports the PostgreSQL server's CPU time per
// operation since db0 (nothing when there is no local server).
func reportPostgresCPU(b *testing.B, e *env, db0 time.Duration, unit string) {
	if db1 := postgresCPU(e); db0 >= 0 && db1 >= 0 {
		b.ReportMetric(float64((db1-db0).Microseconds())/float64(b.N), unit)
	}
}

// peakRSS is the process's peak resident memory in MB (VmHWM; 0 where
// /proc is not there).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
