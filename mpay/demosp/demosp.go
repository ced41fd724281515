// Package demosp is a service provider for MPay's demo and tests: a
// service with orders (a state fee, a fine payable in parts, a deposit of
// any amount), its REST endpoint (mpay/client), and a page listing its orders
// with a "pay" button that sends the payer to MPay. It counts each
// PaymentID once however many times it is confirmed, keeps the signed
// messages, and can be told to misbehave (fail the first N confirmations,
// hang on some, answer twice) to test MPay's deliveries.
package demosp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Order is one of the SP's orders.
type Order struct {
	Key              string
	Reason           string
	Amount           *int64 // due in all; nil: the payer chooses (advance)
	Currency         string
	Partial, Advance bool
	DueDate          *time.Time
	Cancelled        bool
	CustomerName     string
	CustomerID       string // the payer's IDNP, told to MPay (who notifies them)
	CustomerEmail    string // else an e-mail address for the notification
	Paid             int64  // the sum of the distinct payments confirmed
}

// SP is the demo service provider. Safe for concurrent use.
type SP struct {
	ServiceID string
	handler   http.Handler

	mu       sync.Mutex
	orders   map[string]*Order
	payments map[string]mpayclient.PaymentConfirmation // by PaymentID
	calls    map[string]int                            // confirmations received per PaymentID
	evidence []mpayclient.Message

	// Misbehaviour, for tests.
	FailFirst atomic.Int64 // fail this many confirmations with InternalError
	HangEvery atomic.Int64 // hang (until the caller gives up) on every Nth confirmation; 0: never
	confirms  atomic.Int64
}

// New makes an SP that verifies MPay's requests with mpayCert and signs
// its answers with signer (its certificate is the one registered).
func New(serviceID string, mpayCert *x509.Certificate, signer *mpayclient.Signer) *SP {
	sp := &SP{ServiceID: serviceID, orders: map[string]*Order{}, payments: map[string]mpayclient.PaymentConfirmation{}, calls: map[string]int{}}
	sp.handler = mpayclient.Handler(mpayclient.HandlerConfig{Orders: sp, MPay: mpayCert, Signer: signer, Evidence: sp.keep})
	return sp
}

// Handler serves the SP's endpoint (POST /GetOrderDetails,
// /ConfirmOrderPayment) and its pages (GET /, /orders).
func (sp *SP) Handler() http.Handler { return sp.handler }

// Put adds or replaces an order (a test changes its amount or expiry).
func (sp *SP) Put(o Order) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if old, ok := sp.orders[o.Key]; ok {
		o.Paid = old.Paid
	}
	if o.Currency == "" {
		o.Currency = "MDL"
	}
	sp.orders[o.Key] = &o
}

// Get is a copy of an order.
func (sp *SP) Get(key string) (Order, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	o, ok := sp.orders[key]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Orders lists the orders by key.
func (sp *SP) Orders() []Order {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var out []Order
	for _, o := range sp.orders {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Confirmed is how many times each PaymentID was confirmed (received,
// whatever the answer) and the distinct payments counted.
func (sp *SP) Confirmed() (calls map[string]int, payments map[string]mpayclient.PaymentConfirmation) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	calls, payments = map[string]int{}, map[string]mpayclient.PaymentConfirmation{}
	for k, v := range sp.calls {
		calls[k] = v
	}
	for k, v := range sp.payments {
		payments[k] = v
	}
	return calls, payments
}

// ConfirmedCount is how many payments the SP counted (Confirmed without
// the copies: cheap enough to poll).
func (sp *SP) ConfirmedCount() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.payments)
}

// Evidence is a copy of the signed messages the SP received and sent.
func (sp *SP) Evidence() []mpayclient.Message {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return append([]mpayclient.Message(nil), sp.evidence...)
}

// OrderDetails implements mpayclient.Orders.
func (sp *SP) OrderDetails(_ context.Context, q mpayclient.OrderDetailsQuery) (*mpayclient.OrderDetails, error) {
	if q.ServiceID != sp.ServiceID {
		return nil, &mpayclient.Fault{Code: mpayclient.FaultUnknownService, Message: "this is " + sp.ServiceID}
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	o, ok := sp.orders[q.OrderKey]
	if !ok {
		return nil, &mpayclient.Fault{Code: mpayclient.FaultUnknownOrder, Message: "no order " + q.OrderKey}
	}
	d := &mpayclient.OrderDetails{ServiceID: sp.ServiceID, OrderKey: o.Key, Reason: o.Reason, Status: mpayclient.StatusActive,
		IssuedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), DueDate: o.DueDate, Currency: o.Currency,
		AllowPartialPayments: o.Partial, AllowAdvancePayments: o.Advance, CustomerType: "Person", CustomerName: o.CustomerName,
		CustomerID: o.CustomerID, CustomerEmail: o.CustomerEmail}
	acct := mpayclient.DestinationAccount{BankCode: "TREZMD2X", BankFiscalCode: "1006601000037", BankAccount: "MD00TRPCAA518410A00000AA", BeneficiaryName: "Trezoreria de Stat"}
	if o.Amount != nil {
		due := max(*o.Amount-o.Paid, 0)
		d.TotalAmountDue = &due
		d.Lines = []mpayclient.OrderLine{{LineID: "1", Reason: o.Reason, AmountDue: due, DestinationAccount: acct}}
		switch {
		case due == 0:
			d.Status = mpayclient.StatusPaid
		case o.Paid > 0:
			d.Status = mpayclient.StatusPartiallyPaid
		}
	} else {
		d.Lines = []mpayclient.OrderLine{{LineID: "1", Reason: o.Reason, DestinationAccount: acct}}
	}
	if o.Cancelled {
		d.Status = mpayclient.StatusCancelled
	}
	return d, nil
}

// ConfirmPayment implements mpayclient.Orders: a PaymentID is counted once.
func (sp *SP) ConfirmPayment(ctx context.Context, c mpayclient.PaymentConfirmation) error {
	n := sp.confirms.Add(1)
	sp.mu.Lock()
	sp.calls[c.PaymentID]++
	sp.mu.Unlock()
	if sp.FailFirst.Load() > 0 && sp.FailFirst.Add(-1) >= 0 {
		return &mpayclient.Fault{Code: mpayclient.FaultInternalError, Message: "simulated failure"}
	}
	if c.ServiceID != sp.ServiceID {
		return &mpayclient.Fault{Code: mpayclient.FaultUnknownService, Message: "this is " + sp.ServiceID}
	}
	if err := sp.count(c); err != nil {
		return err
	}
	if h := sp.HangEvery.Load(); h > 0 && n%h == 0 {
		// Counted, but the answer is lost: the caller gives up and
		// confirms again, which must not count twice.
		<-ctx.Done()
		return &mpayclient.Fault{Code: mpayclient.FaultInternalError, Message: "simulated hang"}
	}
	return nil
}

func (sp *SP) count(c mpayclient.PaymentConfirmation) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	o, ok := sp.orders[c.OrderKey]
	if !ok {
		return &mpayclient.Fault{Code: mpayclient.FaultUnknownOrder, Message: "no order " + c.OrderKey}
	}
	if _, seen := sp.payments[c.PaymentID]; seen {
		return nil // idempotent: counted already
	}
	sp.payments[c.PaymentID] = c
	o.Paid += c.TotalAmount
	return nil
}

// Page is the SP's own page: its orders, each with a form that sends the
// payer to MPay's payURL (POST /service/pay) and back to returnBase.
func (sp *SP) Page(payURL, returnBase string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type row struct {
			Order
			Due, Paid string
		}
		var rows []row
		for _, o := range sp.Orders() {
			due := "la alegere"
			if o.Amount != nil {
				due = money(max(*o.Amount-o.Paid, 0)) + " " + o.Currency
			}
			rows = append(rows, row{Order: o, Due: due, Paid: money(o.Paid) + " " + o.Currency})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = spPage.Execute(w, map[string]any{"ServiceID": sp.ServiceID, "Rows": rows, "PayURL": payURL, "Return": returnBase})
	})
}

func money(m int64) string { return fmt.Sprintf("%d.%02d", m/100, m%100) }

var spPage = template.Must(template.New("sp").Parse(strings.TrimSpace(`
<!doctype html><html lang="ro"><head><meta charset="utf-8"><title>Serviciu demonstrativ</title></head><body>
<h1>Serviciu demonstrativ ({{.ServiceID}})</h1>
<p>Comenzile acestui furnizor de servicii. „Plătește” vă trimite la MPay.</p>
<table><thead><tr><th>Comanda</th><th>Destinația</th><th>De plată</th><th>Achitat</th><th></th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Key}}</td><td>{{.Reason}}</td><td>{{.Due}}</td><td id="paid-{{.Key}}">{{.Paid}}</td><td>
<form method="post" action="{{$.PayURL}}"><input type="hidden" name="ServiceID" value="{{$.ServiceID}}"><input type="hidden" name="OrderKey" value="{{.Key}}">
<input type="hidden" name="ReturnUrl" value="{{$.Return}}"><button id="pay-{{.Key}}">Plătește</button></form></td></tr>{{end}}
</tbody></table></body></html>`)))

// NewKey makes an SP's signing key and a self-signed certificate for it
// (MPay pins the registered certificate; it need not chain anywhere).
func NewKey(serviceID string) (*mpayclient.Signer, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return selfSigned(serviceID, key)
}
