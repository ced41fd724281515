package mpay_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/semnat/semnat/mpay"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/store"
)

// TestPulledAtOnce: the same new orders pulled at once, several times
// each, by two instances sharing one database. Each order gets one
// invoice, created (and recorded in the audit log) once; every pull
// answers with that invoice and keeps its exchange as evidence, each
// message under a number of its own; a later pull still refreshes it.
// On PostgreSQL a new order's invoice and evidence are one INSERT ... ON
// CONFLICT DO NOTHING (insertPulled); the pulls that lose fall back to
// the existing invoice.
func TestPulledAtOnce(t *testing.T) { onBothBackends(t, pulledAtOnce) }

func pulledAtOnce(t *testing.T, open func() (*store.Store, error)) {
	ctx := context.Background()
	ledgers, stores := twoInstances(t, open)
	const orders, pulls = 4, 6
	order := func(key string, due int64) *mpayclient.OrderDetails {
		return &mpayclient.OrderDetails{ServiceID: serviceID, OrderKey: key, Reason: "Taxă", Status: mpayclient.StatusActive,
			Currency: "MDL", TotalAmountDue: &due, Lines: []mpayclient.OrderLine{{LineID: "1", Reason: "Taxă", AmountDue: due}}}
	}
	var got [orders][pulls]*mpay.Invoice
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, orders*pulls)
	for o := range orders {
		for i := range pulls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ex := &mpayclient.Exchange{
					Request:  mpayclient.Message{Op: mpayclient.OpOrderQuery, Body: []byte(fmt.Sprint("query ", i)), Signature: "q"},
					Response: mpayclient.Message{Op: mpayclient.OpOrderAnswer, Body: []byte(fmt.Sprint("answer ", i)), Signature: "a"}}
				in, err := ledgers[i%2].Pulled(ctx, order(fmt.Sprint("P-", o), 900), "", ex)
				if err != nil {
					errs <- fmt.Errorf("order %d, pull %d: %w", o, i, err)
					return
				}
				got[o][i] = in
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ids := map[string]string{} // invoice ID → order key
	for o := range orders {
		first := got[o][0]
		for i, in := range got[o] {
			if in.ID != first.ID || in.Token != first.Token || in.State != mpay.Created || *in.AmountDue != 900 {
				t.Fatalf("order %d, pull %d: invoice %s %s %s, pull 0: %s %s", o, i, in.ID, in.Token, in.State, first.ID, first.Token)
			}
		}
		stored, err := ledgers[o%2].InvoiceByOrder(ctx, serviceID, fmt.Sprint("P-", o))
		if err != nil || stored.ID != first.ID || stored.Token != first.Token {
			t.Fatalf("order %d: stored %+v (%v), answered %s", o, stored, err, first.ID)
		}
		ids[first.ID] = stored.OrderKey
		ev, err := ledgers[0].Evidence(ctx, first.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range ev {
			bodies = append(bodies, string(m.Body))
		}
		sort.Strings(bodies)
		var want []string
		for i := range pulls {
			want = append(want, fmt.Sprint("answer ", i), fmt.Sprint("query ", i))
		}
		sort.Strings(want)
		if fmt.Sprint(bodies) != fmt.Sprint(want) {
			t.Fatalf("order %d: evidence %q, want %q", o, bodies, want)
		}
	}
	if len(ids) != orders {
		t.Fatalf("%d invoices for %d orders", len(ids), orders)
	}
	entries, err := stores[0].AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int{}
	for _, e := range entries {
		if e.Action == "mpay-invoice-create" {
			created[e.Subject]++
		}
	}
	for id := range ids {
		if created[id] != 1 {
			t.Fatalf("invoice %s: created %d times in the audit log (%v)", id, created[id], created)
		}
	}
	if len(created) != orders {
		t.Fatalf("audit log: %d invoices created, want %d", len(created), orders)
	}
	// A later pull refreshes the invoice: the latest answer wins.
	in, err := ledgers[1].Pulled(ctx, order("P-0", 1200), "", nil)
	if err != nil || in.ID != got[0][0].ID || *in.AmountDue != 1200 {
		t.Fatalf("refreshed: %+v %v", in, err)
	}
	if in, err = ledgers[0].InvoiceByOrder(ctx, serviceID, "P-0"); err != nil || *in.AmountDue != 1200 {
		t.Fatalf("refreshed, stored: %+v %v", in, err)
	}
}
