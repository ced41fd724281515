package crl_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/examplepki"
)

// Check a certificate against the CRL at its distribution point.
func ExampleCheckCert() {
	pki, _ := examplepki.Start() // the test PKI, its CRLs served on loopback
	e := pki.MustGet("person-p256")
	cert, issuer := e.Cert, e.Issuer.Cert // the signer's certificate and its CA
	st, list, err := crl.CheckCert(context.Background(), nil, cert, issuer, crl.CheckOptions{})
	if err != nil {
		log.Fatal(err) // errors.Is(err, crl.ErrStale), crl.ErrBadSignature, ...
	}
	fmt.Println(st.State, list.NextUpdate.After(time.Now()))
	_ = list.Raw // DER CRL to embed
	// Output: good true
}

// Publish CRLs for a CA and revoke at run time.
func ExampleNewPublisher() {
	pki, _ := examplepki.Start()
	e := pki.TokenCA
	ca := crl.Authority{Name: "token-ca", Cert: e.Cert, Key: e.Key}
	reg := crl.NewRegistry()
	reg.AddCA(ca.Cert, nil)
	pub, err := crl.NewPublisher(reg, []crl.Authority{ca}, crl.PublisherOptions{Validity: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(pub) // an http.Handler: /crl/NAME.crl, /ca/NAME.crt
	defer srv.Close()
	person := pki.MustGet("person-p256")
	if err := reg.Revoke(ca.Cert, person.Cert.SerialNumber, time.Now(), 1); err != nil {
		log.Fatal(err)
	}
	list, err := crl.Fetch(context.Background(), http.DefaultClient, srv.URL+"/crl/token-ca.crl")
	if err != nil {
		log.Fatal(err)
	}
	st, err := crl.Check(list, person.Cert, ca.Cert, crl.CheckOptions{})
	fmt.Println(st.State, err)
	// Output: revoked <nil>
}
