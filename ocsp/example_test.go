package ocsp_test

import (
	"context"
	"crypto"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/examplepki"
	"github.com/semnat/semnat/ocsp"
)

// Ask the responder named in a certificate's AIA and keep the signed answer
// for long-term validation (a PAdES DSS, for example).
func ExampleClient_Check() {
	pki, _ := examplepki.Start() // the test PKI, its responder on loopback
	e := pki.MustGet("person-p256")
	cert, issuer := e.Cert, e.Issuer.Cert // the signer's certificate and its CA
	c := ocsp.Client{HTTPClient: &http.Client{Timeout: 10 * time.Second}}
	res, err := c.Check(context.Background(), cert, issuer)
	if err != nil {
		log.Fatal(err) // errors.Is(err, ocsp.ErrUnauthorizedResponder), ...
	}
	fmt.Println(res.Status.State, res.NextUpdate.After(time.Now()))
	_ = res.Raw // DER OCSPResponse to embed
	// Output: good true
}

// Run a responder for one CA with a delegated responder certificate.
func ExampleNewResponder() {
	pki, _ := examplepki.Start()
	ca := pki.TokenCA.Cert
	d := pki.MustGet("ocsp-token") // a delegated responder (EKU OCSPSigning)
	responderCert, responderKey := d.Cert, crypto.Signer(d.Key)
	reg := crl.NewRegistry()
	reg.AddCA(ca, nil) // every serial not revoked is good
	auth := ocsp.Authority{Issuer: ca, Cert: responderCert, Key: responderKey}
	r, err := ocsp.NewResponder(reg, []ocsp.Authority{auth}, ocsp.ResponderOptions{Validity: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ocsp/", http.StripPrefix("/ocsp", r))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := ocsp.Client{HTTPClient: srv.Client()}
	res, err := c.CheckURL(context.Background(), srv.URL+"/ocsp/", pki.MustGet("person-p256").Cert, ca)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status.State, res.Responder.Subject.CommonName)
	// Output: good semnat Test Token CA OCSP Responder
}
