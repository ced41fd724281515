package crl

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/testcerts"
)

// requireTool returns the path of an external oracle. Outside CI a missing
// tool skips the test; in CI (CI=true) it fails it.
func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*testcerts.PKI, *Registry, *Publisher, *clock, string) {
	t.Helper()
	p := testcerts.New(t)
	reg, err := RegistryFromPKI(p)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	pub, err := PublisherFromPKI(p, reg, PublisherOptions{Now: clk.now, Validity: 24 * time.Hour, Refresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pub)
	t.Cleanup(srv.Close)
	return p, reg, pub, clk, srv.URL
}

func TestPublishFetchCheck(t *testing.T) {
	p, reg, _, clk, base := setup(t)
	ctx := context.Background()
	revoked, good := p.MustGet("revoked"), p.MustGet("person-rsa2048")
	list, err := Fetch(ctx, nil, base+"/crl/token-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Check(list, revoked.Cert, p.TokenCA.Cert, CheckOptions{Now: clk.t})
	if err != nil || st.State != Revoked || st.Reason != testcerts.ReasonKeyCompromise {
		t.Fatalf("revoked: %+v %v", st, err)
	}
	st, err = Check(list, good.Cert, p.TokenCA.Cert, CheckOptions{Now: clk.t})
	if err != nil || st.State != Good {
		t.Fatalf("good: %+v %v", st, err)
	}
	n1 := list.Number
	// A revocation at runtime shows in the next CRL, with a higher number.
	if err := reg.Revoke(p.TokenCA.Cert, good.Cert.SerialNumber, clk.t, testcerts.ReasonCessationOfOperation); err != nil {
		t.Fatal(err)
	}
	if err := reg.Revoke(p.TokenCA.Cert, good.Cert.SerialNumber, clk.t, 0); !errors.Is(err, ErrAlreadyRevoked) {
		t.Fatalf("double revoke: %v", err)
	}
	list2, err := Fetch(ctx, nil, base+"/crl/token-ca.crl.pem")
	if err != nil {
		t.Fatal(err)
	}
	if list2.Number.Cmp(n1) <= 0 {
		t.Fatalf("CRL number %v after %v", list2.Number, n1)
	}
	if st, err := Check(list2, good.Cert, p.TokenCA.Cert, CheckOptions{Now: clk.t}); err != nil || st.State != Revoked {
		t.Fatalf("after revoke: %+v %v", st, err)
	}
	// Errors a relying party must see.
	if _, err := Check(list2, good.Cert, p.TokenCA.Cert, CheckOptions{Now: clk.t.Add(48 * time.Hour)}); !errors.Is(err, ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	if _, err := Check(list2, good.Cert, p.TokenCA.Cert, CheckOptions{Now: clk.t.Add(-time.Hour)}); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("future: %v", err)
	}
	if _, err := Check(list2, p.MustGet("mobile-p256").Cert, p.MobileCA.Cert, CheckOptions{Now: clk.t}); !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("other CA: %v", err)
	}
	// Same name, other key: the untrusted root forged as the token CA is caught
	// by the signature check (simulate with a CRL signed by the wrong key).
	forged := *p.TokenCA.Cert
	forged.PublicKey = p.MobileCA.Key.Public()
	if _, err := Check(list2, good.Cert, &forged, CheckOptions{Now: clk.t}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged issuer: %v", err)
	}
	// CA certificates and unknown names.
	resp, err := http.Get(base + "/ca/token-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, p.TokenCA.Cert.Raw) {
		t.Fatal("CA certificate differs")
	}
	for _, path := range []string{"/crl/nobody.crl", "/ca/nobody.crt", "/crl/../index.json", "/"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
	}
	if _, err := Fetch(ctx, nil, base+"/crl/nobody.crl"); !errors.Is(err, ErrFetch) {
		t.Fatalf("fetch 404: %v", err)
	}
}

func TestCRLCaching(t *testing.T) {
	_, _, pub, clk, _ := setup(t)
	ctx := context.Background()
	a, err := pub.CRL(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pub.CRL(ctx, "root")
	if !bytes.Equal(a, b) {
		t.Fatal("unchanged CRL re-signed within Refresh")
	}
	clk.t = clk.t.Add(2 * time.Hour)
	c, _ := pub.CRL(ctx, "root")
	if bytes.Equal(a, c) {
		t.Fatal("CRL not refreshed after Refresh")
	}
	l1, _ := Parse(a)
	l3, _ := Parse(c)
	if l3.Number.Cmp(l1.Number) <= 0 || !l3.ThisUpdate.After(l1.ThisUpdate) {
		t.Fatalf("numbers %v -> %v", l1.Number, l3.Number)
	}
}

func TestRegistryUnknown(t *testing.T) {
	p := testcerts.New(t)
	reg, err := RegistryFromPKI(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if st, err := reg.Status(ctx, p.TokenCA.Cert, big.NewInt(1)); err != nil || st.State != Unknown {
		t.Fatalf("never issued: %+v %v", st, err)
	}
	if _, err := reg.Status(ctx, p.MustGet("seal").Cert, big.NewInt(1)); !errors.Is(err, ErrUnknownIssuer) {
		t.Fatalf("not a CA: %v", err)
	}
	open := NewRegistry()
	open.AddCA(p.Root.Cert, nil)
	if st, _ := open.Status(ctx, p.Root.Cert, big.NewInt(99)); st.State != Good {
		t.Fatalf("open registry: %v", st.State)
	}
	if err := open.Revoke(p.Root.Cert, big.NewInt(99), time.Now(), 7); err == nil {
		t.Fatal("reason 7 accepted")
	}
}

// TestOpenSSLVerifiesCRL: openssl crl -verify accepts each published CRL and
// openssl verify -crl_check sees the revocation.
func TestOpenSSLVerifiesCRL(t *testing.T) {
	openssl := requireTool(t, "openssl")
	p, _, pub, _, _ := setup(t)
	dir := t.TempDir()
	ctx := context.Background()
	var crls []byte
	for _, name := range []string{"root", "token-ca"} {
		der, err := pub.CRL(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".crl")
		os.WriteFile(path, der, 0o644)
		ca := filepath.Join(dir, name+".pem")
		os.WriteFile(ca, testcerts.PEM(p.Get(name).Cert), 0o644)
		out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", path, "-noout", "-CAfile", ca, "-verify").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("verify OK")) {
			t.Fatalf("openssl crl %s: %v\n%s", name, err, out)
		}
		pemOut, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		crls = append(crls, pemOut...)
	}
	bundle := filepath.Join(dir, "crls.pem")
	os.WriteFile(bundle, crls, 0o644)
	root := filepath.Join(dir, "root.pem")
	chain := filepath.Join(dir, "token-ca.pem")
	// openssl verify exits 0 only when the chain and every CRL check pass:
	// the exit status is the verdict, the text says why.
	for _, c := range []struct {
		name, want string
		ok         bool
	}{{"revoked", "certificate revoked", false}, {"person-rsa2048", ": OK", true}} {
		leaf := filepath.Join(dir, c.name+"-leaf.pem")
		os.WriteFile(leaf, testcerts.PEM(p.MustGet(c.name).Cert), 0o644)
		out, err := exec.Command(openssl, "verify", "-crl_check_all", "-CRLfile", bundle, "-CAfile", root, "-untrusted", chain, leaf).CombinedOutput()
		var ee *exec.ExitError
		if (err == nil) != c.ok || (err != nil && !errors.As(err, &ee)) || !bytes.Contains(out, []byte(c.want)) {
			t.Errorf("%s: openssl verify (want success %v): %v\n%s", c.name, c.ok, err, out)
		}
	}
}

func FuzzParse(f *testing.F) {
	// A fast ECDSA CA: fuzz workers must not spend their budget generating
	// the RSA test PKI.
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(leafDER)
	list, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7), RevocationTime: now, ReasonCode: 1}}}, ca, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(list)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: list}))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error not wrapped: %v", err)
			}
			return
		}
		_, _ = Check(list, leaf, ca, CheckOptions{})
	})
}

// TestFetcherCaches: a verified CRL is reused until its nextUpdate, then
// downloaded again; a CRL of another CA is refused.
func TestFetcherCaches(t *testing.T) {
	p, reg, pub, clk, _ := setup(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		pub.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	f := &Fetcher{Now: clk.now}
	good := p.MustGet("person-rsa3072")
	// The cert's distribution point names another host: point it here.
	c := *good.Cert
	c.CRLDistributionPoints = []string{srv.URL + "/crl/token-ca.crl"}
	for i := range 3 {
		st, _, err := f.Check(ctx, &c, p.TokenCA.Cert)
		if err != nil || st.State != Good {
			t.Fatalf("check %d: %+v %v", i, st, err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d downloads for 3 checks, want 1", hits.Load())
	}
	// A revocation is seen once the cached CRL has expired.
	if err := reg.Revoke(p.TokenCA.Cert, good.Cert.SerialNumber, clk.t, testcerts.ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(25 * time.Hour)
	st, _, err := f.Check(ctx, &c, p.TokenCA.Cert)
	if err != nil || st.State != Revoked || hits.Load() != 2 {
		t.Fatalf("after nextUpdate: %+v %v, %d downloads", st, err, hits.Load())
	}
	if _, err := f.CRL(ctx, srv.URL+"/crl/mobile-ca.crl", p.TokenCA.Cert); !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("CRL of another CA: %v", err)
	}
}
