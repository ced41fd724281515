package mpay_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mnotify/mnotifytest"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/demosp"
)

const mpayMNotifyKey = "mpay-mnotify-key-0123456789"

// withMNotify wires MPay to mn as the system "mpay".
func withMNotify(mn *mnotifytest.Server) func(*mpay.Config) {
	mn.AddSystem("mpay", mpayMNotifyKey, false)
	return func(cfg *mpay.Config) { cfg.MNotify = mn.Client(mpayMNotifyKey) }
}

// pay pays order key in full by card and returns the payment's id.
func (e *env) pay(t *testing.T, key, sum string) string {
	t.Helper()
	code, payURL, body := e.payCard(t, e.checkout(t, key), "4111 1111 1111 1111", sum)
	if code != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", code, body)
	}
	if st, _ := pageState(t, payURL, stateAttr); st != "approved" {
		t.Fatalf("payment state %s", st)
	}
	return paymentIDOf(payURL)
}

// TestNotifyPayer: a confirmed payment puts a notification in the payer's
// MCabinet inbox (the order's IDNP) at a real MNotify, once, even when
// MNotify was down at first; an order with only an e-mail address gets an
// e-mail (received by MNotify's relay).
func TestNotifyPayer(t *testing.T) {
	mn := mnotifytest.Start(t)
	e := newEnv(t, withMNotify(mn))
	const idnp = "2006022048426"
	e.sp.Put(demosp.Order{Key: "ORD-IDNP-1", Reason: "Taxa de stat pentru pașaport", Amount: amount(15000), CustomerName: "Ion Popescu", CustomerID: idnp})
	mn.Down()
	pid := e.pay(t, "ORD-IDNP-1", "150.00")
	time.Sleep(time.Second) // attempts fail meanwhile (RetryBase 20 ms)
	if n := attempts(t, e); n < 2 {
		t.Fatalf("the notification job ran %d times while MNotify was down", n)
	}
	mn.LoseAnswers(1) // MNotify takes it but MPay does not hear so: its retry must not double it
	mn.Up()
	in := mn.Inbox(idnp, 1)
	if m := in[0]; m.Subject != "Plata de 150.00 MDL a fost confirmată" || !strings.Contains(m.Body, "„Taxa de stat pentru pașaport”") ||
		!strings.Contains(m.Body, pid) || m.System != "mpay" {
		t.Fatalf("the notification: %+v", m)
	}
	time.Sleep(500 * time.Millisecond)
	mn.Inbox(idnp, 1)

	// No IDNP, an e-mail address: the e-mail.
	e.sp.Put(demosp.Order{Key: "ORD-MAIL-1", Reason: "Amendă", Amount: amount(5000), CustomerEmail: "platitor@example.md"})
	pid = e.pay(t, "ORD-MAIL-1", "50.00")
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []string
		for _, m := range mn.Sink.Messages() {
			if len(m.To) == 1 && m.To[0] == "platitor@example.md" && strings.Contains(m.Body, pid) {
				got = append(got, m.Subject)
			}
		}
		if len(got) == 1 && got[0] == "Plata de 50.00 MDL a fost confirmată" {
			break
		}
		if len(got) > 1 || time.Now().After(deadline) {
			t.Fatalf("e-mails to the payer: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attempts is how many times MPay's notification job has run.
func attempts(t *testing.T, e *env) int {
	t.Helper()
	var n int
	if err := e.st.QueryRow(t.Context(), `SELECT COALESCE(MAX(attempt), 0) FROM river_job WHERE kind = ?`, mpay.NotifyPayerArgs{}.Kind()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
