package mpay_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
)

// BenchmarkCompletePayments: complete payments on SQLite, 16 payers at
// once: the order pulled from a real SP over HTTP (signed both ways), the
// card approved, and the signed confirmation acknowledged by the SP (the
// clock stops when every one is). Reports payments/s, and approvals/s
// (pull and card approval only, the payers' side).
func BenchmarkCompletePayments(b *testing.B) {
	completePayments(b, newEnv(b, benchConfig))
}

// BenchmarkCompletePaymentsPostgres is the same on PostgreSQL
// ($SEMNAT_TEST_POSTGRES).
func BenchmarkCompletePaymentsPostgres(b *testing.B) {
	completePayments(b, newPostgresEnv(b, benchConfig))
}

func benchConfig(c *mpay.Config) { c.Poll = 50 * time.Millisecond; c.CallTimeout = 10 * time.Second }

func completePayments(b *testing.B, e *env) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		e.sp.Put(demosp.Order{Key: fmt.Sprintf("B-%d", i), Reason: "Taxă", Amount: amount(10000)})
	}
	card := cardsim.Card{Number: cardsim.CardApprove, ExpMonth: 12, ExpYear: 2035, CVC: "123"}
	var next atomic.Int64
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("B-%d", next.Add(1)-1)
			in, err := e.svc.Pull(ctx, serviceID, key, "", "ro")
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := e.svc.PayCard(ctx, in.Token, 10000, card); err != nil {
				b.Error(err)
				return
			}
		}
	})
	paid := time.Since(start)
	waitFor(b, "every acknowledgement", func() bool { _, p := e.sp.Confirmed(); return len(p) >= b.N })
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "payments/s")
	b.ReportMetric(float64(b.N)/paid.Seconds(), "approvals/s")
}
