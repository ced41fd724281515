package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const getOrder = `<GetOrderDetails xmlns="https://mpay.gov.md/"><query><ServiceID>MDS02</ServiceID><OrderKey>K1</OrderKey></query></GetOrderDetails>`

func TestEnvelopeSignVerify(t *testing.T) {
	s, cert, _ := selfSigned(t, true)
	msg, err := s.SignEnvelope([]byte(getOrder))
	if err != nil {
		t.Fatal(err)
	}
	env, err := VerifyEnvelope(msg, cert, time.Now())
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	if env.Content.Tag != "GetOrderDetails" || env.Content.FindElement(".//OrderKey").Text() != "K1" {
		t.Fatalf("content %s", env.Content.Tag)
	}
	if d := env.Expires.Sub(env.Created); d != TimestampTTL {
		t.Fatalf("validity %v", d)
	}
	// ECDSA keys are refused with a clear error (XML-DSig ECDSA encodings differ).
	es, _, _ := selfSigned(t, false)
	if _, err := es.SignEnvelope([]byte(getOrder)); err == nil || !strings.Contains(err.Error(), "RSA") {
		t.Fatalf("ECDSA: %v", err)
	}
}

// TestEnvelopeXmlsec1 checks our WS-Security signature with an independent
// implementation: xmlsec1 (libxmlsec1), the wsu:Id attributes declared as IDs.
func TestEnvelopeXmlsec1(t *testing.T) {
	xmlsec := xmlsec1(t)
	s, cert, _ := selfSigned(t, true)
	msg, err := s.SignEnvelope([]byte(getOrder))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(name string, m []byte) error {
		f := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(f, m, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmlsec, xmlsecVerifyArgs(certFile, f)...).CombinedOutput()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	if err := verify("good", msg); err != nil {
		t.Fatalf("xmlsec1 refuses our signature: %s\n%s", err, msg)
	}
	// xmlsec1 must be able to fail: a changed Body.
	bad := bytes.Replace(msg, []byte("<OrderKey>K1<"), []byte("<OrderKey>K2<"), 1)
	if err := verify("bad", bad); err == nil {
		t.Fatal("xmlsec1 accepted a changed Body")
	}
}

func xmlsec1(t testing.TB) string {
	p, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Skip("xmlsec1 not installed (Debian xmlsec1)")
	}
	return p
}

// xmlsecVerifyArgs verifies a WS-Security message's signature with the
// certificate's key, the wsu:Id attributes of Body, Timestamp and
// BinarySecurityToken declared as IDs.
func xmlsecVerifyArgs(certFile, file string) []string {
	return []string{"--verify", "--pubkey-cert-pem", certFile,
		"--id-attr:Id", NSSoap + ":Body", "--id-attr:Id", NSWSU + ":Timestamp",
		"--id-attr:Id", NSWSSE + ":BinarySecurityToken", file}
}

// TestEnvelopeRefused: each way a message can be wrong, refused with the
// right sentinel error.
func TestEnvelopeRefused(t *testing.T) {
	s, cert, _ := selfSigned(t, true)
	_, other, _ := selfSigned(t, true)
	now := time.Now()
	msg, err := s.SignEnvelope([]byte(getOrder))
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.WithClock(func() time.Time { return now.Add(-10 * time.Minute) }).SignEnvelope([]byte(getOrder))
	if err != nil {
		t.Fatal(err)
	}
	future, err := s.WithClock(func() time.Time { return now.Add(10 * time.Minute) }).SignEnvelope([]byte(getOrder))
	if err != nil {
		t.Fatal(err)
	}
	unsigned := regexp.MustCompile(`(?s)<soap:Header>.*</soap:Header>`).ReplaceAll(msg, nil)
	noSig := regexp.MustCompile(`(?s)<ds:Signature .*</ds:Signature>`).ReplaceAll(msg, nil)
	cases := map[string]struct {
		msg  []byte
		cert *x509.Certificate
		want error
	}{
		"unsigned":          {unsigned, cert, ErrBadSignature},
		"no signature":      {noSig, cert, ErrBadSignature},
		"other certificate": {msg, other, ErrBadSignature},
		"expired":           {old, cert, ErrBadSignature},
		"from the future":   {future, cert, ErrBadSignature},
		"changed body":      {bytes.Replace(msg, []byte("K1"), []byte("K2"), 1), cert, ErrBadSignature},
		"changed timestamp": {regexp.MustCompile(`<wsu:Expires>[^<]*`).ReplaceAll(msg, []byte("<wsu:Expires>2999-01-01T00:00:00Z")), cert, ErrBadSignature},
		"wrapped body":      {wrapBody(t, msg), cert, ErrBadSignature},
		"moved body":        {moveBody(t, msg), cert, ErrBadSignature},
		"dtd":               {append([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>`), msg[bytes.Index(msg, []byte("<soap:Envelope")):]...), cert, ErrSOAPMessage},
		"entity":            {bytes.Replace(msg, []byte("K1"), []byte("&a;"), 1), cert, ErrSOAPMessage},
		"oversized":         {append(msg, bytes.Repeat([]byte(" "), 1<<20)...), cert, ErrSOAPMessage},
		"not soap":          {[]byte(`<a/>`), cert, ErrSOAPMessage},
		"not xml":           {[]byte(`{"a":1}`), cert, ErrSOAPMessage},
	}
	for name, c := range cases {
		if _, err := VerifyEnvelope(c.msg, c.cert, now); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	if _, err := VerifyEnvelope(msg, cert, now); err != nil {
		t.Fatal(err)
	}
	// The key info may name the certificate by issuer and serial instead
	// (the key info is not signed: only what it names counts).
	str := regexp.MustCompile(`<wsse:SecurityTokenReference>.*</wsse:SecurityTokenReference>`)
	issuerSerial := func(issuer, serial string) []byte {
		return str.ReplaceAll(msg, []byte(`<ds:X509Data><ds:X509IssuerSerial><ds:X509IssuerName>`+issuer+
			`</ds:X509IssuerName><ds:X509SerialNumber>`+serial+`</ds:X509SerialNumber></ds:X509IssuerSerial></ds:X509Data>`))
	}
	if _, err := VerifyEnvelope(issuerSerial(" cn = "+cert.Issuer.CommonName, cert.SerialNumber.String()), cert, now); err != nil {
		t.Fatalf("issuer-serial key info: %v", err)
	}
	for _, bad := range [][]byte{issuerSerial("CN="+cert.Issuer.CommonName, "999"), issuerSerial("CN=Other CA", cert.SerialNumber.String())} {
		if _, err := VerifyEnvelope(bad, cert, now); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("issuer-serial of another certificate: %v", err)
		}
	}
}

// wrapBody is the signature-wrapping attack: the signed Body moved into
// the header (keeping its wsu:Id, so that the references still resolve to
// it) and another Body, unsigned, put in its place.
func wrapBody(t testing.TB, msg []byte) []byte {
	t.Helper()
	body := regexp.MustCompile(`(?s)<soap:Body .*</soap:Body>`).Find(msg)
	forged := regexp.MustCompile(`wsu:Id="[^"]*"`).ReplaceAll(bytes.Replace(body, []byte("K1"), []byte("K9"), 1), []byte(`wsu:Id="forged"`))
	out := bytes.Replace(msg, body, forged, 1)
	return bytes.Replace(out, []byte("</soap:Header>"), append([]byte("<Wrapper>"), append(body, []byte("</Wrapper></soap:Header>")...)...), 1)
}

// moveBody keeps the Body's ID on the forged Body and gives the signed one
// to an element in the header: two elements with one ID.
func moveBody(t testing.TB, msg []byte) []byte {
	t.Helper()
	body := regexp.MustCompile(`(?s)<soap:Body .*</soap:Body>`).Find(msg)
	forged := bytes.Replace(body, []byte("K1"), []byte("K9"), 1)
	out := bytes.Replace(msg, body, forged, 1)
	return bytes.Replace(out, []byte("</soap:Header>"), append([]byte("<Wrapper>"), append(body, []byte("</Wrapper></soap:Header>")...)...), 1)
}

// testOrders is an SP's orders for the handler tests.
type testOrders struct {
	mu    sync.Mutex
	calls map[string]int
}

func (o *testOrders) OrderDetails(_ context.Context, q OrderDetailsQuery) (*OrderDetails, error) {
	switch q.OrderKey {
	case "K1":
		a := int64(12345)
		return &OrderDetails{ServiceID: q.ServiceID, OrderKey: q.OrderKey, Reason: "Taxă de stat", Status: StatusActive,
			IssuedAt: time.Now().UTC().Truncate(time.Second), TotalAmountDue: &a, Currency: "MDL",
			Lines: []OrderLine{{LineID: "1", Reason: "Taxă", AmountDue: a, DestinationAccount: DestinationAccount{BankCode: "TREZMD2X"}}}}, nil
	case "broken":
		return nil, errors.New("database down")
	}
	return nil, &Fault{Code: FaultUnknownOrder, Message: "no order " + q.OrderKey}
}

func (o *testOrders) ConfirmPayment(_ context.Context, c PaymentConfirmation) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls[c.PaymentID]++
	if c.TotalAmount != 12345 || c.Properties["Bank"] != "X (Card)" {
		return &Fault{Code: FaultInvalidParameter, Message: "bad confirmation"}
	}
	return nil
}

// TestSOAPCallerHandler: MPay's caller against the Go SP kit, both ways
// signed, each side keeping the signed messages.
func TestSOAPCallerHandler(t *testing.T) {
	mpay, mpayCert, _ := selfSigned(t, true)
	sp, spCert, _ := selfSigned(t, true)
	orders := &testOrders{calls: map[string]int{}}
	var mu sync.Mutex
	var kept []Message
	srv := httptest.NewServer(SOAPHandler(HandlerConfig{Orders: orders, MPay: mpayCert, Signer: sp, Evidence: func(m Message) {
		mu.Lock()
		kept = append(kept, m)
		mu.Unlock()
	}}))
	defer srv.Close()
	c := &SOAPCaller{Signer: mpay}
	ctx := context.Background()
	o, ex, err := c.GetOrderDetails(ctx, srv.URL, spCert, OrderDetailsQuery{ServiceID: "MDS02", OrderKey: "K1", Language: "ro"})
	if err != nil {
		t.Fatal(err)
	}
	if *o.TotalAmountDue != 12345 || o.Reason != "Taxă de stat" || o.Lines[0].DestinationAccount.BankCode != "TREZMD2X" {
		t.Fatalf("order %+v", o)
	}
	if _, err := VerifyEnvelope(ex.Request.Body, mpayCert, ex.Request.At); err != nil {
		t.Fatalf("evidence request: %v", err)
	}
	if _, err := VerifyEnvelope(ex.Response.Body, spCert, ex.Response.At); err != nil {
		t.Fatalf("evidence response: %v", err)
	}
	_, _, err = c.GetOrderDetails(ctx, srv.URL, spCert, OrderDetailsQuery{ServiceID: "MDS02", OrderKey: "nope"})
	if !errors.Is(err, &Fault{Code: FaultUnknownOrder}) || errors.Is(err, ErrUnreachable) {
		t.Fatalf("unknown order: %v", err)
	}
	if _, _, err = c.GetOrderDetails(ctx, srv.URL, spCert, OrderDetailsQuery{ServiceID: "MDS02", OrderKey: "broken"}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("SP's internal error must be retried: %v", err)
	}
	pc := PaymentConfirmation{ServiceID: "MDS02", OrderKey: "K1", InvoiceID: "1", PaymentID: "P1", PaidAt: time.Now(), TotalAmount: 12345, Currency: "MDL",
		Properties: map[string]string{"Bank": "X (Card)"}, Lines: []ConfirmedLine{{LineID: "1", Amount: 12345}}}
	for range 2 {
		if _, err := c.ConfirmOrderPayment(ctx, srv.URL, spCert, pc); err != nil {
			t.Fatal(err)
		}
	}
	pc.TotalAmount = 1
	if _, err := c.ConfirmOrderPayment(ctx, srv.URL, spCert, pc); !errors.Is(err, &Fault{Code: FaultInvalidParameter}) {
		t.Fatalf("refused confirmation: %v", err)
	}
	// The SP's answers are checked against the registered certificate.
	if _, _, err := c.GetOrderDetails(ctx, srv.URL, mpayCert, OrderDetailsQuery{ServiceID: "MDS02", OrderKey: "K1"}); !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrBadSignature) {
		t.Fatalf("answer by another key: %v", err)
	}
	// A caller with another key is refused by the SP (a signed fault).
	if _, _, err := (&SOAPCaller{Signer: sp}).GetOrderDetails(ctx, srv.URL, spCert, OrderDetailsQuery{ServiceID: "MDS02", OrderKey: "K1"}); !errors.Is(err, &Fault{Code: FaultAuthenticationFailed}) {
		t.Fatalf("request by another key: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kept) < 10 {
		t.Fatalf("the SP kept %d messages", len(kept))
	}
	// The WSDL is served.
	resp, err := http.Get(srv.URL + "?wsdl")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("wsdl: %v %v", resp, err)
	}
	resp.Body.Close()
}

// answering is an SP endpoint answering with what answer makes of the
// request's content.
func answering(answer func(w http.ResponseWriter)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w) }))
}

// TestSOAPCallerBadAnswers: each bad answer is no answer (ErrUnreachable:
// MPay tries again), never taken.
func TestSOAPCallerBadAnswers(t *testing.T) {
	mpay, _, _ := selfSigned(t, true)
	sp, spCert, _ := selfSigned(t, true)
	other, _, _ := selfSigned(t, true)
	resp := []byte(`<ConfirmOrderPaymentResponse xmlns="https://mpay.gov.md/"/>`)
	good, err := sp.SignEnvelope(resp)
	if err != nil {
		t.Fatal(err)
	}
	byOther, _ := other.SignEnvelope(resp)
	expired, _ := sp.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }).SignEnvelope(resp)
	unsigned := regexp.MustCompile(`(?s)<soap:Header>.*</soap:Header>`).ReplaceAll(good, nil)
	fault, _ := sp.SignEnvelope([]byte(`<soap:Fault xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>soap:Client</faultcode><faultstring>paid</faultstring><detail><ServiceFault xmlns="https://mpay.gov.md/"><Code>InvoiceAlreadyPaid</Code></ServiceFault></detail></soap:Fault>`))
	c := &SOAPCaller{Signer: mpay}
	pc := PaymentConfirmation{ServiceID: "S", OrderKey: "K", PaymentID: "P", Currency: "MDL"}
	for name, body := range map[string][]byte{"unsigned": unsigned, "other certificate": byOther, "expired": expired, "wrapped": wrapBody(t, good)} {
		srv := answering(func(w http.ResponseWriter) { _, _ = w.Write(body) })
		_, err := c.ConfirmOrderPayment(context.Background(), srv.URL, spCert, pc)
		srv.Close()
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrSOAPMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	srv := answering(func(w http.ResponseWriter) { w.WriteHeader(500); _, _ = w.Write(fault) })
	defer srv.Close()
	if _, err := c.ConfirmOrderPayment(context.Background(), srv.URL, spCert, pc); !errors.Is(err, &Fault{Code: FaultInvoiceAlreadyPaid}) {
		t.Fatalf("fault: %v", err)
	}
	ok := answering(func(w http.ResponseWriter) { _, _ = w.Write(good) })
	defer ok.Close()
	if _, err := c.ConfirmOrderPayment(context.Background(), ok.URL, spCert, pc); err != nil {
		t.Fatal(err)
	}
}

func TestDecimal(t *testing.T) {
	for s, want := range map[string]int64{"12.50": 1250, "12.5": 1250, "12": 1200, "0.01": 1, ".5": 50, "100.000": 10000, "-1.00": -100} {
		if got, err := ParseDecimal(s); err != nil || got != want {
			t.Errorf("%q: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "1.234", "1e3", "abc", "1.2.3", "99999999999999999999", "-"} {
		if _, err := ParseDecimal(s); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%q accepted", s)
		}
	}
	if FormatDecimal(1250) != "12.50" || FormatDecimal(-5) != "-0.05" {
		t.Fatal(FormatDecimal(1250))
	}
}

// FuzzVerifyEnvelope: the WS-Security parser never panics, and never
// accepts a message it was not given signed by the key.
//
// Its seeds are whole signed envelopes (about 3.5 KB). Each input that
// finds new code is minimised by the fuzz engine, whose byte-subset pass
// tries about n²/2 candidates: at 0.1–0.3 ms a call, far more than the
// default -fuzzminimizetime of 60 s, so a run without a shorter limit
// reports no progress for a minute after each such input (no input is
// slow: the slowest seen took 2.3 ms). Run it as `make fuzz` does:
//
//	go test -run '^$' -fuzz '^FuzzVerifyEnvelope$' -fuzztime 3m -fuzzminimizetime 5s ./mpay/client/
func FuzzVerifyEnvelope(f *testing.F) {
	s, cert, _ := selfSigned(f, true)
	msg, err := s.SignEnvelope([]byte(getOrder))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	f.Add(msg)
	f.Add(wrapBody(f, msg))
	f.Add(moveBody(f, msg))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := VerifyEnvelope(b, cert, now)
		if err == nil && !bytes.Contains(b, []byte("K1")) {
			t.Fatalf("accepted a message without the signed content:\n%s", b)
		}
		if err == nil && env.Content.FindElement(".//OrderKey").Text() != "K1" {
			t.Fatalf("accepted a changed body:\n%s", b)
		}
	})
}

// FuzzParseDecimal: amounts read from SOAP messages never panic, and
// what is read writes back to the same amount.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"12.50", "0", "-0.01", ".5", "1e3", "999999999999999.99", " 7 ", "+1.10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDecimal(s)
		if err != nil {
			return
		}
		if w, err := ParseDecimal(FormatDecimal(v)); err != nil || w != v {
			t.Fatalf("%q → %d → %q → %d %v", s, v, FormatDecimal(v), w, err)
		}
	})
}
