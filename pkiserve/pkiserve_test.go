package pkiserve

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/testcerts"
)

// TestRoutesAndReload: OCSP at /ocsp and (RootOCSP) at the root, CRLs and
// CA certificates not swallowed by the root, and a revocation appended to
// the directory's index.json answered by the next request.
func TestRoutesAndReload(t *testing.T) {
	p := testcerts.New(t)
	dir := t.TempDir()
	if _, err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	svc, err := New(p, Options{RootOCSP: true, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	e := p.MustGet("employee")
	id, _ := ocsp.NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
	der, _ := (&ocsp.Request{CertIDs: []ocsp.CertID{id}}).Marshal()
	status := func(resp *http.Response, err error) crl.State {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r, err := ocsp.ParseResponse(b)
		if err != nil || r.Status != ocsp.Successful {
			t.Fatalf("%s: %v %v", resp.Request.URL.Path, err, r)
		}
		return r.Responses[0].Status.State
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	for _, u := range []string{"/" + b64, "/ocsp/" + b64} {
		if st := status(http.Get(srv.URL + u)); st != crl.Good {
			t.Fatalf("GET %s: %v", u, st)
		}
	}
	for _, u := range []string{"/", "/ocsp"} {
		if st := status(http.Post(srv.URL+u, "application/ocsp-request", bytes.NewReader(der))); st != crl.Good {
			t.Fatalf("POST %s: %v", u, st)
		}
	}
	for path, ct := range map[string]string{"/crl/token-ca.crl": "application/pkix-crl", "/ca/root.crt": "application/pkix-cert"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Fatalf("GET %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	if err := testcerts.AppendRevocation(dir, testcerts.Revocation{Name: e.Name, Issuer: e.Issuer.Name, Serial: e.Cert.SerialNumber,
		Time: time.Now(), Reason: testcerts.ReasonAffiliationChanged}); err != nil {
		t.Fatal(err)
	}
	// The index is looked at at most once a millisecond: forget the last
	// look, so that the next request looks (no sleep against the clock).
	svc.lastCheck.Store(0)
	if st := status(http.Get(srv.URL + "/" + b64)); st != crl.Revoked {
		t.Fatalf("after AppendRevocation: %v", st)
	}
	list, err := crl.Fetch(t.Context(), nil, srv.URL+"/crl/token-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := crl.Check(list, e.Cert, e.Issuer.Cert, crl.CheckOptions{}); err != nil || st.State != crl.Revoked || st.Reason != testcerts.ReasonAffiliationChanged {
		t.Fatalf("CRL after AppendRevocation: %+v %v", st, err)
	}
	// The reloaded PKI agrees, and a second append is refused.
	q, err := testcerts.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := q.IsRevoked(q.MustGet("employee")); !ok {
		t.Fatal("index.json lost the revocation")
	}
	if err := testcerts.AppendRevocation(dir, testcerts.Revocation{Name: e.Name, Issuer: e.Issuer.Name, Serial: e.Cert.SerialNumber, Time: time.Now()}); err == nil {
		t.Fatal("second revocation accepted")
	}
}
