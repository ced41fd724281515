package ocsp

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/testcerts"
)

// oidServiceLocator is id-pkix-ocsp-service-locator (RFC 6960 §4.4.6): a
// request extension that names another responder by URL.
var oidServiceLocator = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 7}

// courierPKI is a test PKI whose AIA points at a loopback responder, the
// courier over its CAs, and the number of requests the responder got.
func courierPKI(t *testing.T) (*testcerts.PKI, *Courier, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pki, err := testcerts.Generate(testcerts.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := crl.RegistryFromPKI(pki)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ResponderFromPKI(pki, reg, ResponderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h = http.StripPrefix(testcerts.OCSPPath, resp)
	var cas []*x509.Certificate
	for _, ca := range pki.CAs() {
		cas = append(cas, ca.Cert)
	}
	return pki, &Courier{Issuers: cas}, &hits
}

func certIDRequest(t *testing.T, h crypto.Hash, issuer *x509.Certificate, serial *big.Int, exts ...pkix.Extension) []byte {
	t.Helper()
	id, err := NewCertID(h, issuer, serial)
	if err != nil {
		t.Fatal(err)
	}
	c, err := id.asn1()
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(ocspRequestASN1{TBSRequest: tbsRequestASN1{RequestList: []requestASN1{{Cert: c}}, Extensions: exts}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCourier: a CertID of a known CA goes to that CA's responder (found
// in the courier's own certificates) and the responder's signed answer
// comes back unchanged, once per certificate while it is current.
func TestCourier(t *testing.T) {
	pki, c, hits := courierPKI(t)
	person := pki.MustGet("person-p256")
	issuer := person.Chain[0]
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		der, err := c.Fetch(context.Background(), certIDRequest(t, h, issuer, person.Cert.SerialNumber))
		if err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		r, err := ParseResponse(der)
		if err != nil {
			t.Fatal(err)
		}
		single, _, err := r.CertStatus(person.Cert, issuer, VerifyOptions{})
		if err != nil || single.Status.State != crl.Good {
			t.Fatalf("%v: %v %+v", h, err, single)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("responder asked %d times, want 2", n)
	}
	if _, err := c.Fetch(context.Background(), certIDRequest(t, crypto.SHA1, issuer, person.Cert.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("a current answer was fetched again (%d requests)", n)
	}
	// A certificate issued by the root: its responder is named by the
	// intermediates the root issued.
	if urls := c.Responders(pki.Root.Cert); len(urls) != 1 || urls[0] != pki.OCSPURL() {
		t.Fatalf("root responders %v", urls)
	}
}

// TestCourierRefuses: unknown issuers, several CertIDs, extensions (a
// service locator carrying a URL), signed or oversized requests and garbage
// are refused without asking anyone; a responder that is down is
// ErrResponder.
func TestCourierRefuses(t *testing.T) {
	pki, c, hits := courierPKI(t)
	person := pki.MustGet("person-p256")
	issuer := person.Chain[0]
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	stranger, err := testcerts.Generate(testcerts.Options{BaseURL: other.URL})
	if err != nil {
		t.Fatal(err)
	}
	locator, _ := asn1.Marshal(struct {
		Issuer pkix.RDNSequence
		URL    asn1.RawValue
	}{issuer.Subject.ToRDNSequence(), asn1.RawValue{Tag: 6, Class: asn1.ClassContextSpecific, Bytes: []byte(other.URL)}})
	two, _ := (&Request{CertIDs: []CertID{mustCertID(t, issuer, person.Cert.SerialNumber), mustCertID(t, issuer, big.NewInt(7))}}).Marshal()
	cases := []struct {
		name string
		der  []byte
		want error
	}{
		{"unknown issuer", certIDRequest(t, crypto.SHA1, stranger.MustGet("person-p256").Chain[0], person.Cert.SerialNumber), ErrUnknownIssuer},
		{"service locator URL", certIDRequest(t, crypto.SHA1, issuer, person.Cert.SerialNumber, pkix.Extension{Id: oidServiceLocator, Value: locator}), ErrNotCertIDOnly},
		{"two CertIDs", two, ErrNotCertIDOnly},
		{"oversized", append(certIDRequest(t, crypto.SHA1, issuer, person.Cert.SerialNumber), make([]byte, MaxCourierRequest)...), ErrNotCertIDOnly},
		{"garbage", []byte("GET http://169.254.169.254/ HTTP/1.0\r\n\r\n"), ErrMalformed},
		{"empty", nil, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Fetch(context.Background(), tc.der); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if hits.Load() != 0 || elsewhere.Load() != 0 {
		t.Fatalf("refused requests reached a responder (%d) or another host (%d)", hits.Load(), elsewhere.Load())
	}
	// The responder is down: ErrResponder, with what went wrong.
	down := &Courier{Issuers: c.Issuers, HTTPClient: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused")
	})}}
	if _, err := down.Fetch(context.Background(), certIDRequest(t, crypto.SHA1, issuer, person.Cert.SerialNumber)); !errors.Is(err, ErrResponder) ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("responder down: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustCertID(t *testing.T, issuer *x509.Certificate, serial *big.Int) CertID {
	t.Helper()
	id, err := NewCertID(crypto.SHA1, issuer, serial)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// FuzzCourierRequest: the courier's parser never panics, and what it
// accepts is one CertID that encodes back to a request it accepts again.
func FuzzCourierRequest(f *testing.F) {
	ca, _, leaf := fastPKI(f)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		id, err := NewCertID(h, ca.cert, leaf.cert.SerialNumber)
		if err != nil {
			f.Fatal(err)
		}
		for _, nonce := range [][]byte{nil, []byte("0123456789abcdef")} {
			der, _ := (&Request{CertIDs: []CertID{id}, Nonce: nonce}).Marshal()
			f.Add(der)
		}
		two, _ := (&Request{CertIDs: []CertID{id, id}}).Marshal()
		f.Add(two)
	}
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		id, err := ParseCourierRequest(der)
		if err != nil {
			return
		}
		again, err := (&Request{CertIDs: []CertID{id}}).Marshal()
		if err != nil {
			t.Fatalf("accepted CertID does not encode: %v", err)
		}
		back, err := ParseCourierRequest(again)
		if err != nil || !back.Equal(id) {
			t.Fatalf("round trip: %v %+v %+v", err, back, id)
		}
	})
}
