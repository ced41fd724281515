package mpay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/pades"
)

// TestMessageKey: MPay with an RSA seal and an EC P-256 message key signs
// its REST messages ES256 with the message key (the SP kit checks them
// against the message certificate, and refuses them against the seal's),
// while the SOAP face's WS-Security and the receipt's seal stay with the
// RSA key.
func TestMessageKey(t *testing.T) {
	msgKey, msgCert, err := mpay.NewMessageKey("MPay (test)")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *mpay.Config) { c.MessageKey, c.MessageCert = msgKey, msgCert })
	if !e.svc.MessageCert().Equal(msgCert) {
		t.Fatal("MessageCert is not the message key's certificate")
	}
	seal := e.cfg.Cert
	ctx := context.Background()
	// A SOAP SP next to the REST one, checking MPay's requests against
	// MPay's RSA certificate.
	signer, cert, err := demosp.NewRSAKey("SOAP01")
	if err != nil {
		t.Fatal(err)
	}
	soap := demosp.New("SOAP01", seal, signer)
	srv := httptest.NewServer(soap.SOAPHandler(seal, signer))
	t.Cleanup(srv.Close)
	if err := mpay.AddService(ctx, e.st, "test", mpay.SP{ServiceID: "SOAP01", Name: "Serviciu SOAP", Endpoint: srv.URL, Face: mpay.FaceSOAP, Cert: cert}); err != nil {
		t.Fatal(err)
	}
	e.sp.Put(demosp.Order{Key: "K-1", Reason: "Taxă", Amount: amount(10000)})
	soap.Put(demosp.Order{Key: "S-1", Reason: "Amendă", Amount: amount(5000)})
	card := cardsim.Card{Number: cardsim.CardApprove, ExpMonth: 12, ExpYear: 2035, CVC: "123"}
	pay := func(sp *demosp.SP, service, key string, sum int64) *mpay.Payment {
		in, err := e.svc.Pull(ctx, service, key, "", "ro")
		if err != nil {
			t.Fatalf("pull %s: %v", key, err)
		}
		p, err := e.svc.PayCard(ctx, in.Token, sum, card)
		if err != nil || p.State != mpay.PayApproved {
			t.Fatalf("pay %s: %+v %v", key, p, err)
		}
		waitFor(t, "the acknowledgement of "+key, func() bool {
			q, err := e.svc.Ledger().Payment(ctx, p.ID)
			return err == nil && !q.ConfirmedAt.IsZero() && sp.ConfirmedCount() == 1
		})
		return p
	}
	rest, soapPay := pay(e.sp, serviceID, "K-1", 10000), pay(soap, "SOAP01", "S-1", 5000)

	ev, err := e.svc.Ledger().Evidence(ctx, rest.InvoiceID, "")
	if err != nil {
		t.Fatal(err)
	}
	mine := 0
	for _, m := range ev {
		if !strings.HasSuffix(m.Op, ".request") {
			continue
		}
		mine++
		if alg := jwsAlg(t, m.Signature); alg != "ES256" {
			t.Errorf("%s signed %s, want ES256", m.Op, alg)
		}
		if _, err := mpayclient.Verify(m.Signature, m.Body, m.Op, msgCert, m.At); err != nil {
			t.Errorf("%s against the message certificate: %v", m.Op, err)
		}
		if _, err := mpayclient.Verify(m.Signature, m.Body, m.Op, seal, m.At); err == nil {
			t.Errorf("%s passes against the seal's certificate", m.Op)
		}
	}
	if mine != 2 {
		t.Fatalf("MPay's REST requests kept: %d, want the pull and the confirmation", mine)
	}
	ev, err = e.svc.Ledger().Evidence(ctx, soapPay.InvoiceID, "")
	if err != nil {
		t.Fatal(err)
	}
	mine = 0
	for _, m := range ev {
		if strings.HasSuffix(m.Op, ".request") {
			mine++
			if _, err := mpayclient.VerifyEnvelope(m.Body, seal, m.At); err != nil {
				t.Errorf("SOAP %s against MPay's RSA certificate: %v", m.Op, err)
			}
		}
	}
	if mine != 2 {
		t.Fatalf("MPay's SOAP requests kept: %d, want 2", mine)
	}

	// The receipt: sealed by the RSA seal.
	pdf, err := e.svc.Receipt(ctx, rest, "ro")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(ctx, bytes.NewReader(pdf), int64(len(pdf)), &pades.VerifyOptions{Roots: e.pki.RootPool()})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(seal.Raw)
	if len(rep.Signatures) != 1 || rep.Signatures[0].Indication != pades.TotalPassed || rep.Signatures[0].Signer == nil ||
		rep.Signatures[0].Signer.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("receipt: %+v, want TOTAL-PASSED by the seal", rep.Signatures)
	}

	// MPay's signed API answer (a refund): the message key too.
	c, err := mpayclient.New(e.url, serviceID, e.spSigner, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Refund(ctx, mpayclient.RefundRequest{PaymentID: rest.ID, RefundID: "R1", Amount: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mpayclient.Verify(r.Signature, r.Body, mpayclient.OpRefundAck, msgCert, time.Now()); err != nil {
		t.Fatalf("the refund's answer against the message certificate: %v", err)
	}
}

// jwsAlg is the "alg" of a detached compact JWS.
func jwsAlg(t *testing.T, sig string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(sig[:strings.IndexByte(sig, '.')])
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Alg string }
	if err := json.Unmarshal(h, &v); err != nil {
		t.Fatal(err)
	}
	return v.Alg
}
