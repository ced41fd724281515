package msign

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
)

// proxyShared is a test PKI whose certificates name a live loopback OCSP
// responder (the revocation proxy must reach it), and how many OCSP
// requests that responder got.
var proxyShared struct {
	once sync.Once
	pki  *testcerts.PKI
	hits atomic.Int64
	err  error
}

func proxyPKI(t testing.TB) (*testcerts.PKI, *atomic.Int64) {
	t.Helper()
	proxyShared.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			proxyShared.err = err
			return
		}
		if proxyShared.pki, proxyShared.err = testcerts.Generate(testcerts.Options{BaseURL: "http://" + ln.Addr().String()}); proxyShared.err != nil {
			return
		}
		svc, err := pkiserve.New(proxyShared.pki, pkiserve.Options{})
		if err != nil {
			proxyShared.err = err
			return
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == testcerts.OCSPPath {
				proxyShared.hits.Add(1)
			}
			svc.ServeHTTP(w, r)
		}))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start() // never closed: it lives as long as the test binary
	})
	if proxyShared.err != nil {
		t.Fatal(proxyShared.err)
	}
	return proxyShared.pki, &proxyShared.hits
}

// withProxy makes the service trust proxyPKI and run its revocation proxy.
func withProxy(t testing.TB) func(*Config) {
	return func(c *Config) {
		pki, _ := proxyPKI(t)
		c.Roots, c.RootCerts, c.VerifyOnline = pki.RootPool(), pki.TrustAnchors(), true
		c.RevocationIssuers = pki.TrustedCAs()
	}
}

// certIDRequest is an OCSP request about serial of issuer (SHA-1 CertID).
func certIDRequest(t testing.TB, issuer *x509.Certificate, serial *big.Int, exts ...pkix.Extension) []byte {
	t.Helper()
	id, err := ocsp.NewCertID(crypto.SHA1, issuer, serial)
	if err != nil {
		t.Fatal(err)
	}
	der, err := (&ocsp.Request{CertIDs: []ocsp.CertID{id}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(exts) > 0 { // re-encode with the extensions (Marshal writes a nonce only)
		var raw struct {
			TBS struct {
				List []asn1.RawValue
			}
		}
		if _, err := asn1.Unmarshal(der, &raw); err != nil {
			t.Fatal(err)
		}
		der, err = asn1.Marshal(struct {
			TBS struct {
				List []asn1.RawValue
				Exts []pkix.Extension `asn1:"explicit,tag:2"`
			}
		}{TBS: struct {
			List []asn1.RawValue
			Exts []pkix.Extension `asn1:"explicit,tag:2"`
		}{raw.TBS.List, exts}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return der
}

// TestRevocationProxy: POST /verify/revocation carries a CertID-only OCSP
// request to the issuer's responder and hands back its signed answer;
// everything else is a clear problem, and never reaches another host.
func TestRevocationProxy(t *testing.T) {
	pki, hits := proxyPKI(t)
	e := newSignEnv(t, "", withProxy(t))
	person := pki.MustGet("person-p256")
	issuer := person.Chain[0]
	const ocspReq = "application/ocsp-request"

	resp, body := post(t, e.url+revocationPath, ocspReq, certIDRequest(t, issuer, person.Cert.SerialNumber), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("good request: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	r, err := ocsp.ParseResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if single, _, err := r.CertStatus(person.Cert, issuer, ocsp.VerifyOptions{}); err != nil || single.Status.State != crl.Good {
		t.Fatalf("answer: %v %+v", err, single)
	}

	// A URL anywhere in the request goes nowhere: the query is ignored
	// (the answer still comes from the issuer's responder), a service
	// locator extension is refused.
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	before := hits.Load()
	resp, body = post(t, e.url+revocationPath+"?url="+other.URL+"&responder="+other.URL, ocspReq, certIDRequest(t, issuer, pki.MustGet("person-rsa2048").Cert.SerialNumber), nil)
	if resp.StatusCode != 200 || hits.Load() != before+1 {
		t.Fatalf("query URL: %d (responder hits %d → %d): %s", resp.StatusCode, before, hits.Load(), body)
	}
	locator, _ := asn1.Marshal(struct {
		Issuer pkix.RDNSequence
		URL    asn1.RawValue
	}{issuer.Subject.ToRDNSequence(), asn1.RawValue{Tag: 6, Class: asn1.ClassContextSpecific, Bytes: []byte(other.URL)}})
	resp, body = post(t, e.url+revocationPath, ocspReq, certIDRequest(t, issuer, person.Cert.SerialNumber,
		pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 7}, Value: locator}), nil)
	wantProblem(t, resp, body, http.StatusBadRequest, "bad-revocation-request")

	stranger := testcerts.New(t) // another PKI: its CAs are unknown here
	two := func() []byte {
		id1, _ := ocsp.NewCertID(crypto.SHA1, issuer, person.Cert.SerialNumber)
		id2, _ := ocsp.NewCertID(crypto.SHA1, issuer, big.NewInt(7))
		der, _ := (&ocsp.Request{CertIDs: []ocsp.CertID{id1, id2}}).Marshal()
		return der
	}()
	for _, c := range []struct {
		name, ctype string
		body        []byte
		status      int
		typ         string
	}{
		{"unknown issuer", ocspReq, certIDRequest(t, stranger.MustGet("person-p256").Chain[0], person.Cert.SerialNumber), 404, "unknown-issuer"},
		{"oversized body", ocspReq, bytes.Repeat([]byte{0x30}, 64<<10), 413, "revocation-request-too-large"},
		{"garbage", ocspReq, []byte("GET http://169.254.169.254/latest/meta-data/ HTTP/1.1"), 400, "bad-revocation-request"},
		{"two certificates", ocspReq, two, 400, "bad-revocation-request"},
		{"a document instead", ocspReq, []byte("%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF"), 400, "bad-revocation-request"},
		{"wrong content type", "application/pdf", certIDRequest(t, issuer, person.Cert.SerialNumber), 415, "bad-revocation-request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, e.url+revocationPath, c.ctype, c.body, nil)
			wantProblem(t, resp, body, c.status, c.typ)
		})
	}
	if elsewhere.Load() != 0 {
		t.Fatalf("the proxy reached another host %d times", elsewhere.Load())
	}

	// Too many questions from one client: 429.
	limited := false
	for i := 0; i < 3*revocationBurst && !limited; i++ {
		resp, _ := post(t, e.url+revocationPath, ocspReq, []byte("x"), nil)
		limited = resp.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("no rate limit on the revocation proxy")
	}

	// A server that does not go online has no proxy, and its page does
	// not offer it.
	off := newSignEnv(t, "", func(c *Config) { withProxy(t)(c); c.VerifyOnline = false })
	resp, body = post(t, off.url+revocationPath, ocspReq, certIDRequest(t, issuer, person.Cert.SerialNumber), nil)
	wantProblem(t, resp, body, http.StatusNotFound, "no-revocation-proxy")
}
