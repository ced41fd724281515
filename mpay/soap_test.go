package mpay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/testcerts"
)

// phpSP starts the PHP SP (testdata/phpsp: PHP's SoapServer from our WSDL,
// WS-Security by xmlsec1) under php's built-in server: its base URL and
// its registered certificate.
func phpSP(t *testing.T, mpayCert *x509.Certificate) (string, *x509.Certificate) {
	t.Helper()
	for _, tool := range []string{"php", "xmlsec1"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian php-cli, php-soap, xmlsec1)", tool)
		}
	}
	if out, _ := exec.Command("php", "-m").Output(); !bytes.Contains(out, []byte("soap")) {
		t.Skip("PHP's soap extension not installed (Debian php-soap)")
	}
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "PHP01 (MPay service provider)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	files := map[string][]byte{
		"IServiceProvider.wsdl": mpayclient.WSDL, "IServiceProvider.xsd": mpayclient.XSD,
		"mpay.pem":    testcerts.PEM(mpayCert),
		"sp-cert.pem": testcerts.PEM(cert),
		"sp-key.pem":  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	router, _ := filepath.Abs("testdata/phpsp/router.php")
	cmd := exec.Command("php", "-S", addr, router)
	cmd.Env = append(os.Environ(), "SP_DIR="+dir, "PHP_CLI_SERVER_WORKERS=4")
	logs, err := os.Create(filepath.Join(dir, "php.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group: php -S forks workers, all killed at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("php -S:\n%s", b)
		}
	})
	base := "http://" + addr
	waitFor(t, "php -S", func() bool {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return base, cert
}

// TestSOAPPayFlowPHP: a payment completes end to end through an SP written
// in PHP from our WSDL: MPay pulls the order (GetOrderDetails), the payer
// pays, MPay pushes ConfirmOrderPayment until the PHP SP acknowledges it;
// every message both ways is WS-Security signed and kept as evidence.
func TestSOAPPayFlowPHP(t *testing.T) {
	// php and xmlsec1 take most of a second per message on a loaded machine.
	e := newEnv(t, func(c *mpay.Config) { c.CallTimeout = 20 * time.Second })
	base, cert := phpSP(t, e.cfg.Cert)
	if err := mpay.AddService(context.Background(), e.st, "test", mpay.SP{ServiceID: "PHP01", Name: "Serviciu PHP",
		Endpoint: base + "/soap", Face: mpay.FaceSOAP, Cert: cert}); err != nil {
		t.Fatal(err)
	}
	// An order the SP does not know: its signed UnknownOrder fault is a refusal.
	resp, body := do(t, "POST", e.url+mpay.PathPay, url.Values{"ServiceID": {"PHP01"}, "OrderKey": {"nope"}, "ReturnUrl": {base + "/"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown order: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", e.url+mpay.PathPay, url.Values{"ServiceID": {"PHP01"}, "OrderKey": {"PHP-1"}, "ReturnUrl": {base + "/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /service/pay: %d %s", resp.StatusCode, body)
	}
	inv := e.url + resp.Header.Get("Location")
	if _, page := pageState(t, inv, invoiceState); !strings.Contains(page, "150") || !strings.Contains(page, "Taxă de stat (PHP)") {
		t.Fatalf("invoice page:\n%s", page)
	}
	code, payURL, body := e.payCard(t, inv, cardsim.CardApprove, "150.00")
	if code != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", code, body)
	}
	pid := paymentIDOf(payURL)
	waitFor(t, "the PHP SP's acknowledgement", func() bool {
		p, err := e.svc.Ledger().Payment(context.Background(), pid)
		return err == nil && !p.ConfirmedAt.IsZero()
	})
	var counted map[string]struct {
		Amount int64 `json:"amount"`
		Calls  int   `json:"calls"`
	}
	getJSON(t, base+"/payments", &counted)
	if c, ok := counted[pid]; !ok || c.Amount != 15000 || len(counted) != 1 {
		t.Fatalf("the PHP SP counted %+v, want payment %s of 150.00", counted, pid)
	}
	// The evidence: each message signed by its sender's key, its Timestamp
	// as it was when the message was received.
	p, _ := e.svc.Ledger().Payment(context.Background(), pid)
	ev, err := e.svc.Ledger().Evidence(context.Background(), p.InvoiceID, "")
	if err != nil || len(ev) < 4 {
		t.Fatalf("evidence: %d %v", len(ev), err)
	}
	for _, m := range ev {
		signer := cert
		if strings.HasSuffix(m.Op, ".request") {
			signer = e.cfg.Cert
		}
		if _, err := mpayclient.VerifyEnvelope(m.Body, signer, m.At); err != nil {
			t.Fatalf("evidence %s: %v\n%s", m.Op, err, m.Body)
		}
	}
	// The payer's page shows the signed SOAP messages.
	if _, page := pageState(t, payURL, stateAttr); !strings.Contains(page, "wsse:Security") {
		t.Fatal("the payment page does not show the signed SOAP messages")
	}
	// The order is paid at the SP now: the next pull says so.
	resp, _ = do(t, "POST", e.url+mpay.PathPay, url.Values{"ServiceID": {"PHP01"}, "OrderKey": {"PHP-1"}, "ReturnUrl": {base + "/"}})
	if st, _ := pageState(t, e.url+resp.Header.Get("Location"), invoiceState); st != "paid" {
		t.Fatalf("after payment the invoice is %s", st)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v %s", u, err, b)
	}
}

// TestSOAPDeliveryRefusals: answers to ConfirmOrderPayment that are not a
// signed acknowledgement (unsigned, by another certificate, with an
// expired Timestamp, with a wrapped Body, a SOAP fault of the SP) are
// refused: each is a failed attempt, recorded, and MPay tries again until
// the SP acknowledges; the SP counts the payment once.
func TestSOAPDeliveryRefusals(t *testing.T) {
	e := newEnv(t, nil)
	signer, cert, err := demosp.NewRSAKey("SOAP01")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := demosp.NewRSAKey("SOAP01")
	sp := demosp.New("SOAP01", e.cfg.Cert, signer)
	sp.Put(demosp.Order{Key: "S-1", Reason: "Amendă", Amount: amount(5000)})
	inner := sp.SOAPHandler(e.cfg.Cert, signer)
	// The answers to the first confirmations are spoilt, one way each.
	spoil := []struct {
		name string
		f    func(answer []byte) []byte
	}{
		{"unsigned", func(a []byte) []byte {
			return regexp.MustCompile(`(?s)<soap:Header>.*</soap:Header>`).ReplaceAll(a, nil)
		}},
		{"other certificate", func(a []byte) []byte { return resign(t, a, other) }},
		{"expired", func(a []byte) []byte {
			return resign(t, a, signer.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
		}},
		{"wrapped", func(a []byte) []byte { return wrap(a) }},
		{"fault", func([]byte) []byte {
			f, _ := signer.SignEnvelope([]byte(`<soap:Fault xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>soap:Server</faultcode><faultstring>busy</faultstring><detail><ServiceFault xmlns="https://mpay.gov.md/"><Code>InternalError</Code></ServiceFault></detail></soap:Fault>`))
			return f
		}},
	}
	var confirms atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("SOAPAction"), "ConfirmOrderPayment") {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		a := rec.Body.Bytes()
		if n := int(confirms.Add(1)) - 1; n < len(spoil) {
			a = spoil[n].f(a)
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(a)
	}))
	defer srv.Close()
	if err := mpay.AddService(context.Background(), e.st, "test", mpay.SP{ServiceID: "SOAP01", Endpoint: srv.URL, Face: mpay.FaceSOAP, Cert: cert}); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", e.url+mpay.PathPay, url.Values{"ServiceID": {"SOAP01"}, "OrderKey": {"S-1"}, "ReturnUrl": {srv.URL + "/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /service/pay: %d %s", resp.StatusCode, body)
	}
	code, payURL, body := e.payCard(t, e.url+resp.Header.Get("Location"), cardsim.CardApprove, "50.00")
	if code != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", code, body)
	}
	pid := paymentIDOf(payURL)
	waitFor(t, "the acknowledgement", func() bool {
		p, err := e.svc.Ledger().Payment(context.Background(), pid)
		return err == nil && !p.ConfirmedAt.IsZero()
	})
	p, _ := e.svc.Ledger().Payment(context.Background(), pid)
	if p.Attempts < len(spoil)+1 {
		t.Fatalf("acknowledged after %d attempts; the %d spoilt answers were taken", p.Attempts, len(spoil))
	}
	calls, payments := sp.Confirmed()
	if len(payments) != 1 || calls[pid] != len(spoil)+1 {
		t.Fatalf("the SP counted %d payments, received %d confirmations", len(payments), calls[pid])
	}
}

// resign signs an answer's content again with s.
func resign(t *testing.T, answer []byte, s *mpayclient.Signer) []byte {
	t.Helper()
	body := regexp.MustCompile(`(?s)<soap:Body [^>]*>(.*)</soap:Body>`).FindSubmatch(answer)
	if body == nil {
		t.Fatalf("no body in %s", answer)
	}
	out, err := s.SignEnvelope(body[1])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wrap moves the signed Body into the header and puts a forged one in its
// place (signature wrapping).
func wrap(a []byte) []byte {
	body := regexp.MustCompile(`(?s)<soap:Body .*</soap:Body>`).Find(a)
	forged := regexp.MustCompile(`wsu:Id="[^"]*"`).ReplaceAll(body, []byte(`wsu:Id="forged"`))
	out := bytes.Replace(a, body, forged, 1)
	return bytes.Replace(out, []byte("</soap:Header>"), []byte(fmt.Sprintf("<W>%s</W></soap:Header>", body)), 1)
}
