package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
)

// fetchFunc is a RevocationFetcher of a function.
type fetchFunc func(ctx context.Context, cert, issuer *x509.Certificate) ([]byte, error)

func (f fetchFunc) FetchOCSP(ctx context.Context, cert, issuer *x509.Certificate) ([]byte, error) {
	return f(ctx, cert, issuer)
}

// askResponder asks the PKI's own OCSP responder about serial of issuer.
func askResponder(t *testing.T, svc *pkiserve.Services, issuer *x509.Certificate, cert *x509.Certificate) []byte {
	t.Helper()
	id, err := ocsp.NewCertID(crypto.SHA1, issuer, cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	der, err := (&ocsp.Request{CertIDs: []ocsp.CertID{id}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := svc.OCSP.Respond(context.Background(), der)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestVerifyFetcher: revocation data the file does not carry comes from
// VerifyOptions.Fetcher, is checked like embedded data, and the report says
// it came through the proxy. A courier that answers about another
// certificate, tampers with the answer or fails gives no status.
func TestVerifyFetcher(t *testing.T) {
	pki := testcerts.New(t)
	svc, err := pkiserve.New(pki, pkiserve.Options{TSA: "-"})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(name string) []byte {
		out, _, err := signBytes(t, corpus(t, "minimal-table-pdf17.pdf"), entitySigner(pki, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	good, revoked := sign("person-p256"), sign("revoked")
	other := pki.MustGet("person-p256").Cert
	asked := 0
	honest := fetchFunc(func(_ context.Context, cert, issuer *x509.Certificate) ([]byte, error) {
		asked++
		return askResponder(t, svc, issuer, cert), nil
	})
	cases := []struct {
		name    string
		doc     []byte
		fetcher RevocationFetcher
		ind     Indication
		sub     SubIndication
		status  string
		origin  string
	}{
		{"good", good, honest, TotalPassed, "", "good", OriginProxy},
		{"revoked", revoked, honest, Indeterminate, RevokedNoPOE, "revoked", OriginProxy},
		{"about another certificate", revoked, fetchFunc(func(_ context.Context, _, issuer *x509.Certificate) ([]byte, error) {
			return askResponder(t, svc, issuer, other), nil
		}), Indeterminate, TryLater, "unavailable", OriginNone},
		{"tampered", revoked, fetchFunc(func(_ context.Context, cert, issuer *x509.Certificate) ([]byte, error) {
			// The responder's answer with one digit of its producedAt
			// changed: its signature no longer matches.
			return tamperProducedAt(t, askResponder(t, svc, issuer, cert)), nil
		}), Indeterminate, TryLater, "unavailable", OriginNone},
		{"courier down", good, fetchFunc(func(context.Context, *x509.Certificate, *x509.Certificate) ([]byte, error) {
			return nil, errors.New("proxy unreachable")
		}), Indeterminate, TryLater, "unavailable", OriginNone},
		{"garbage", good, fetchFunc(func(context.Context, *x509.Certificate, *x509.Certificate) ([]byte, error) {
			return []byte("<html>not OCSP</html>"), nil
		}), Indeterminate, TryLater, "unavailable", OriginNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := verifyBytes(t, c.doc, &VerifyOptions{Roots: pki.RootPool(), Fetcher: c.fetcher})
			wantSig(t, rep, 0, c.ind, c.sub)
			ri := rep.Signatures[0].Revocation
			if ri == nil || ri.Status != c.status || ri.Origin != c.origin {
				t.Fatalf("revocation %+v, want %s from %s\n%s", ri, c.status, c.origin, dumpReport(rep))
			}
		})
	}
	// One question per certificate and Verify call (the signer's and its
	// CA's), not one per lookup.
	asked = 0
	verifyBytes(t, good, &VerifyOptions{Roots: pki.RootPool(), Fetcher: honest})
	if asked != 2 {
		t.Fatalf("the fetcher was asked %d times, want 2 (signer, issuing CA)", asked)
	}
	// Without a fetcher nothing changes: offline, no data.
	rep := verifyBytes(t, good, &VerifyOptions{Roots: pki.RootPool()})
	wantSig(t, rep, 0, Indeterminate, TryLater)
	if ri := rep.Signatures[0].Revocation; ri == nil || ri.Origin != OriginNone {
		t.Fatalf("offline revocation %+v", ri)
	}
}

// tamperProducedAt changes the last digit of the response's producedAt.
func tamperProducedAt(t *testing.T, der []byte) []byte {
	t.Helper()
	r, err := ocsp.ParseResponse(der)
	if err != nil {
		t.Fatal(err)
	}
	at := []byte(r.ProducedAt.UTC().Format("20060102150405Z"))
	i := bytes.Index(der, at)
	if i < 0 {
		t.Fatal("producedAt not found in the response")
	}
	out := bytes.Clone(der)
	d := i + len(at) - 2
	out[d] = '0' + (out[d]-'0'+1)%10
	return out
}
