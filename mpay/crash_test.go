package mpay_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/examplepki"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// The crash tests run the real `semnat mpay serve` and kill it with
// SIGKILL at random moments while payers pay 1,000 orders through its
// pages (order pull, card approval; confirmations pushed to a real SP on
// loopback), restarting it on the same data each time. Afterwards: no
// invoice is paid twice, every paid invoice's confirmation was delivered
// and counted once by the SP, and every receipt made verifies.

const (
	crashOrders  = 1000
	crashKills   = 20
	crashPayers  = 16
	crashAmount  = 10000 // 100.00 MDL
	receiptEvery = 10    // one payer in receiptEvery downloads its receipt
)

// crashKit is what the servers of a crash test share: the binary, MPay's
// key files, the SP.
type crashKit struct {
	bin     string
	keyArgs []string
	pki     *testcerts.PKI
	sp      *demosp.SP
	spURL   string
	spCert  *x509.Certificate
}

func newCrashKit(t *testing.T) *crashKit {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the crash tests build and run semnat")
	}
	dir := t.TempDir()
	k := &crashKit{bin: filepath.Join(dir, "semnat")}
	build := exec.Command("go", "build", "-o", k.bin, "github.com/semnat/semnat/cmd/semnat")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	k.pki, _ = examplepki.Start()
	seal := k.pki.MustGet("seal")
	der, err := x509.MarshalPKCS8PrivateKey(seal.Key)
	if err != nil {
		t.Fatal(err)
	}
	// MPay's message key (ES256), the same for every instance, as
	// instances sharing a store need.
	msgKey, msgCert, err := mpay.NewMessageKey("MPay (crash test)")
	if err != nil {
		t.Fatal(err)
	}
	msgDER, err := x509.MarshalPKCS8PrivateKey(msgKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile, chainFile := filepath.Join(dir, "mpay.key"), filepath.Join(dir, "mpay.pem"), filepath.Join(dir, "chain.pem")
	msgKeyFile, msgCertFile := filepath.Join(dir, "mpay-message.key"), filepath.Join(dir, "mpay-message.pem")
	for f, b := range map[string][]byte{keyFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		certFile: testcerts.PEM(seal.Cert), chainFile: testcerts.PEM(seal.Chain...),
		msgKeyFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: msgDER}), msgCertFile: testcerts.PEM(msgCert)} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k.keyArgs = []string{"--key", keyFile, "--cert", certFile, "--chain", chainFile, "--message-key", msgKeyFile, "--message-cert", msgCertFile}
	signer, cert, err := demosp.NewKey(serviceID)
	if err != nil {
		t.Fatal(err)
	}
	k.sp, k.spCert = demosp.New(serviceID, msgCert, signer), cert
	mux := http.NewServeMux()
	mux.Handle("/sp/", http.StripPrefix("/sp", k.sp.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	k.spURL = srv.URL
	for i := 0; i < crashOrders; i++ {
		k.sp.Put(demosp.Order{Key: crashKey(i), Reason: "Taxă de stat", Amount: amount(crashAmount)})
	}
	return k
}

func crashKey(i int) string { return fmt.Sprintf("C-%04d", i) }

// register adds the SP to the store at dsn.
func (k *crashKit) register(t *testing.T, dsn string) {
	t.Helper()
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := mpay.AddService(context.Background(), st, "test", mpay.SP{ServiceID: serviceID, Name: "Serviciu de test",
		Endpoint: k.spURL + "/sp", Face: mpay.FaceREST, Cert: k.spCert}); err != nil {
		t.Fatal(err)
	}
}

// instance is one `semnat mpay serve` on a fixed address, started again
// after each kill.
type instance struct {
	k    *crashKit
	name string
	args []string
	url  string
	log  *testtool.SyncBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd is gone
}

func (k *crashKit) instance(t *testing.T, name, data, dsn string) *instance {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := append([]string{"mpay", "serve", "--data", data, "--addr", addr, "--store", dsn,
		"--call-timeout", "2s", "--answer-grace", "1s", "--log-level", "warn"}, k.keyArgs...)
	in := &instance{k: k, name: name, args: args, url: "http://" + addr, log: &testtool.SyncBuffer{}}
	t.Cleanup(func() { in.kill(syscall.SIGKILL) })
	return in
}

// start runs the server and waits until it answers.
func (in *instance) start() error {
	cmd := exec.Command(in.k.bin, in.args...)
	cmd.Stdout, cmd.Stderr = io.Discard, in.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	in.mu.Lock()
	in.cmd, in.exited = cmd, exited
	in.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(in.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start: %v\n%s", in.name, cmd.ProcessState, tail(in.log.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become ready\n%s", in.name, tail(in.log.String()))
		}
	}
}

// kill sends sig and waits until the process is gone; a process that
// does not stop within 30 s is killed and said so (an error).
func (in *instance) kill(sig syscall.Signal) error {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not stop within 30 s of %v", in.name, sig)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// payer pays orders through MPay's pages as a browser would, coming back
// after every failure (a server killed under it) until the order is paid.
type payer struct {
	http     *http.Client
	spURL    string
	paid     atomic.Int64 // orders paid
	receipts atomic.Int64 // receipts downloaded
	retries  atomic.Int64 // requests that failed and were tried again
}

var paymentLink = regexp.MustCompile(`/mpay/invoice/[A-Za-z0-9_-]+/payment/[0-9]+`)

// pay pays order key at one of the servers (pick chooses the base URL
// for each attempt); receipt: download the receipt once paid.
func (p *payer) pay(ctx context.Context, pick func() string, key string, receipt bool) error {
	for ctx.Err() == nil {
		done, err := p.try(ctx, pick(), key, receipt)
		if done {
			return nil
		}
		if err != nil {
			p.retries.Add(1)
		}
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
	}
	return fmt.Errorf("order %s not paid: %w", key, ctx.Err())
}

// try is one visit: pull the order, pay by card if payable, and fetch the
// receipt. done: the order is paid (by this visit or an earlier one).
func (p *payer) try(ctx context.Context, base, key string, receipt bool) (done bool, err error) {
	resp, body, err := p.do(ctx, "POST", base+mpay.PathPay, url.Values{"ServiceID": {serviceID}, "OrderKey": {key}, "ReturnUrl": {p.spURL + "/"}})
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return false, fmt.Errorf("POST /service/pay: %d %.200s", resp.StatusCode, body)
	}
	inv := base + resp.Header.Get("Location")
	resp, body, err = p.do(ctx, "GET", inv, nil)
	if err != nil {
		return false, err
	}
	m := invoiceState.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		return false, fmt.Errorf("GET invoice: %d %.200s", resp.StatusCode, body)
	}
	var payURL string
	switch m[1] {
	case "paid":
		if !receipt {
			return true, nil
		}
		link := paymentLink.FindAllString(body, -1)
		if len(link) == 0 {
			return false, errors.New("a paid invoice without its payment's link")
		}
		payURL = base + link[len(link)-1]
	case "pending":
		return false, nil // a payment at the processor: wait
	default:
		resp, body, err = p.do(ctx, "POST", inv+"/card", url.Values{"amount": {mpay.FormatAmount(crashAmount)}, "number": {cardsim.CardApprove},
			"holder": {"Ion Popescu"}, "expiry": {"12/35"}, "cvc": {"123"}})
		if err != nil {
			return false, err
		}
		if resp.StatusCode != http.StatusSeeOther {
			return false, fmt.Errorf("POST card: %d %.200s", resp.StatusCode, body)
		}
		payURL = base + resp.Header.Get("Location")
		resp, body, err = p.do(ctx, "GET", payURL, nil)
		if err != nil {
			return false, err
		}
		if m := stateAttr.FindStringSubmatch(body); m == nil || m[1] != "approved" {
			return false, fmt.Errorf("payment page: %d %.200s", resp.StatusCode, body)
		}
		if !receipt {
			return true, nil
		}
	}
	resp, body, err = p.do(ctx, "GET", payURL+"/receipt.pdf", nil)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "%PDF") {
		return false, fmt.Errorf("receipt: %d %.200s", resp.StatusCode, body)
	}
	p.receipts.Add(1)
	return true, nil
}

func (p *payer) do(ctx context.Context, method, u string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func (k *crashKit) payer() *payer {
	return &payer{spURL: k.spURL, http: &http.Client{Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// load pays every order with crashPayers payers at once; it returns when
// all are paid.
func (p *payer) load(ctx context.Context, pick func() string) error {
	orders := make(chan int)
	errs := make(chan error, crashPayers)
	var wg sync.WaitGroup
	for w := 0; w < crashPayers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range orders {
				if err := p.pay(ctx, pick, crashKey(i), i%receiptEvery == 0); err != nil {
					errs <- err
					return
				}
				p.paid.Add(1)
			}
		}()
	}
	go func() {
		defer close(orders)
		for i := 0; i < crashOrders; i++ {
			select {
			case orders <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	return <-errs
}

// killer kills in at random moments and starts it again, until stop is
// closed; it sends how many times, or why it could not start again. So
// that the kills spread over the whole load whatever the machine's speed,
// the kill points lie on the count of paid orders, each a random
// every/2 to every orders after the one before, then a random 0-20 ms (so
// a load of N orders sees at least N/every - 1 kills, however long the
// restarts take while another instance serves on).
func killer(in *instance, paid func() int64, every int64, stop <-chan struct{}) <-chan any {
	out := make(chan any, 1)
	go func() {
		n := 0
		target := paid()
		for {
			target += every/2 + rand.Int64N(every-every/2) + 1
			for paid() < target {
				select {
				case <-stop:
					out <- n
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			in.kill(syscall.SIGKILL)
			n++
			if err := in.start(); err != nil {
				out <- err
				return
			}
		}
	}()
	return out
}

// check waits until every paid order's confirmation is acknowledged and
// its job finished, then checks the ledger against the SP's counts and
// verifies every receipt.
func (k *crashKit) check(t *testing.T, dsn string, p *payer, ins ...*instance) {
	t.Helper()
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	unfinished := func() (n int) {
		if err := st.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'mpay.confirm' AND state <> 'completed'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	began, deadline := time.Now(), time.Now().Add(90*time.Second)
	for {
		_, counted := k.sp.Confirmed()
		if len(counted) >= crashOrders && unfinished() == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, in := range ins {
				t.Logf("%s:\n%s", in.name, tail(in.log.String()))
			}
			t.Fatalf("after 90 s the SP counted %d of %d payments; %d confirmation jobs unfinished", len(counted), crashOrders, unfinished())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every confirmation acknowledged and its job finished %v after the last payment", time.Since(began).Round(time.Millisecond))
	for _, in := range ins {
		if err := in.kill(syscall.SIGTERM); err != nil { // a graceful stop
			t.Errorf("%v\n%s", err, tail(in.log.String()))
		}
	}

	// No invoice paid twice: each order has one approved payment, the one
	// the SP counted, acknowledged in MPay's ledger.
	calls, counted := k.sp.Confirmed()
	rows, err := st.Query(ctx, `SELECT i.order_key, p.id, p.confirmed_at, p.receipt FROM mpay_payments p JOIN mpay_invoices i ON i.id = p.invoice_id
		WHERE p.state = ?`, mpay.PayApproved)
	if err != nil {
		t.Fatal(err)
	}
	approved := map[string][]string{}
	receipts := map[string][]byte{}
	for rows.Next() {
		var key, id string
		var confirmed int64
		var receipt []byte
		if err := rows.Scan(&key, &id, &confirmed, &receipt); err != nil {
			t.Fatal(err)
		}
		approved[key] = append(approved[key], id)
		if confirmed == 0 {
			t.Errorf("payment %s of %s: the SP counted it but MPay has no acknowledgement", id, key)
		}
		if _, ok := counted[id]; !ok {
			t.Errorf("payment %s of %s approved but never counted by the SP", id, key)
		}
		if receipt != nil {
			receipts[id] = receipt
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(approved) != crashOrders {
		t.Errorf("%d orders have an approved payment, want %d", len(approved), crashOrders)
	}
	for key, ids := range approved {
		if len(ids) != 1 {
			t.Errorf("order %s paid %d times: %v", key, len(ids), ids)
		}
	}
	for _, o := range k.sp.Orders() {
		if o.Paid != crashAmount {
			t.Errorf("the SP counted %s paid for order %s, want %s", mpay.FormatAmount(o.Paid), o.Key, mpay.FormatAmount(crashAmount))
		}
	}
	var again int
	for _, n := range calls {
		again += n - 1
	}
	if n := unfinished(); n != 0 {
		t.Errorf("%d confirmation jobs unfinished after the stop", n)
	}

	// Every receipt made (those the payers downloaded, some while the
	// server was killed) is whole and verifies.
	if int64(len(receipts)) < p.receipts.Load() {
		t.Errorf("%d receipts downloaded, %d kept", p.receipts.Load(), len(receipts))
	}
	for id, pdf := range receipts {
		rep, err := pades.Verify(ctx, bytes.NewReader(pdf), int64(len(pdf)), &pades.VerifyOptions{Roots: k.pki.RootPool(), Online: true})
		if err != nil {
			t.Errorf("receipt of %s: %v", id, err)
			continue
		}
		if len(rep.Signatures) != 1 || rep.Signatures[0].Indication != pades.TotalPassed {
			for _, sig := range rep.Signatures {
				t.Errorf("receipt of %s: %s %s %v", id, sig.Indication, sig.SubIndication, sig.Reasons)
			}
			if len(rep.Signatures) != 1 {
				t.Errorf("receipt of %s: %d signatures", id, len(rep.Signatures))
			}
		}
	}
	t.Logf("%d orders paid once each; %d confirmations sent again (counted once); %d receipts verified; %d payer requests retried",
		len(approved), again, len(receipts), p.retries.Load())
}

// TestCrashSQLite: one `semnat mpay serve` on SQLite, SIGKILLed at least
// 20 times during 1,000 payments and restarted on the same data.
func TestCrashSQLite(t *testing.T) {
	k := newCrashKit(t)
	data := t.TempDir()
	dsn := filepath.Join(data, "semnat.db")
	k.register(t, dsn)
	in := k.instance(t, "mpay", data, dsn)
	if err := in.start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // a bound, not a timing: the machine may be loaded
	defer cancel()
	stop := make(chan struct{})
	began := time.Now()
	p := k.payer()
	kills := killer(in, p.paid.Load, crashOrders*2/(3*crashKills), stop) // the load stops while it is down
	err := p.load(ctx, func() string { return in.url })
	close(stop)
	n := <-kills
	if err != nil {
		t.Fatalf("%d orders paid, then: %v\n%s", p.paid.Load(), err, tail(in.log.String()))
	}
	if err, ok := n.(error); ok {
		t.Fatal(err)
	}
	if n.(int) < crashKills {
		t.Fatalf("killed only %d times during the load, want %d", n, crashKills)
	}
	t.Logf("killed %d times; %d payments in %v", n, crashOrders, time.Since(began).Round(time.Millisecond))
	k.check(t, dsn, p, in)
}

// TestCrashPostgresTwoInstances: two instances on one PostgreSQL
// database; one is SIGKILLed at least 20 times during 1,000 payments
// (and restarted) while the other serves on. Payers use either.
func TestCrashPostgresTwoInstances(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	k := newCrashKit(t)
	k.register(t, dsn)
	a := k.instance(t, "mpay-a", t.TempDir(), dsn)
	b := k.instance(t, "mpay-b", t.TempDir(), dsn)
	for _, in := range []*instance{a, b} {
		if err := in.start(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // a bound, not a timing: the machine may be loaded
	defer cancel()
	stop := make(chan struct{})
	began := time.Now()
	p := k.payer()
	kills := killer(a, p.paid.Load, crashOrders*2/(3*crashKills), stop) // the other serves on meanwhile
	err := p.load(ctx, func() string {
		if rand.IntN(2) == 0 {
			return a.url
		}
		return b.url
	})
	close(stop)
	n := <-kills
	if err != nil {
		t.Fatalf("%d orders paid, then: %v\n%s\n%s", p.paid.Load(), err, tail(a.log.String()), tail(b.log.String()))
	}
	if err, ok := n.(error); ok {
		t.Fatal(err)
	}
	if n.(int) < crashKills {
		t.Fatalf("killed only %d times during the load, want %d", n, crashKills)
	}
	t.Logf("killed one instance %d times; %d payments in %v", n, crashOrders, time.Since(began).Round(time.Millisecond))
	k.check(t, dsn, p, a, b)
}
