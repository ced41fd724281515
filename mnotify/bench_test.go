package mnotify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/semnat/semnat/mnotify/mailsink"
)

// BenchmarkEmailDelivery: notifications posted over HTTP to one e-mail
// address each, until the relay (the demo's SMTP receiver, in process)
// has them all, on SQLite: reports e-mails/s end to end (POST, the job,
// SMTP, the status) and the time to post one.
func BenchmarkEmailDelivery(b *testing.B) {
	sink, err := mailsink.Start(mailsink.Options{Keep: b.N + 10})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	e := newEnv(b, sqliteDSN(b), relayAt(sink.Addr()))
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := e.asp.Send(ctx, simple(fmt.Sprint("Mesaj ", i), "Text", email(fmt.Sprintf("p%d@example.md", i))), ""); err != nil {
			b.Fatal(err)
		}
	}
	posted := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	for len(sink.Messages()) < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d e-mails after 5 minutes", len(sink.Messages()), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "emails/s")
	b.ReportMetric(float64(posted.Microseconds())/float64(b.N)/1000, "post-ms")
}
