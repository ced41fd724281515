package ocsp_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
)

// Ask the responder named in a certificate's AIA and keep the signed answer
// for long-term validation (a PAdES DSS, for example).
func ExampleClient_Check() {
	var cert, issuer *x509.Certificate // the signer's certificate and its CA
	c := ocsp.Client{HTTPClient: &http.Client{Timeout: 10 * time.Second}}
	res, err := c.Check(context.Background(), cert, issuer)
	if err != nil {
		log.Fatal(err) // errors.Is(err, ocsp.ErrUnauthorizedResponder), ...
	}
	fmt.Println(res.Status.State, res.NextUpdate)
	_ = res.Raw // DER OCSPResponse to embed
}

// Run a responder for one CA with a delegated responder certificate.
func ExampleNewResponder() {
	var ca, responderCert *x509.Certificate
	var responderKey crypto.Signer // the delegated responder's key
	reg := crl.NewRegistry()
	reg.AddCA(ca, nil) // every serial not revoked is good
	auth := ocsp.Authority{Issuer: ca, Cert: responderCert, Key: responderKey}
	r, err := ocsp.NewResponder(reg, []ocsp.Authority{auth}, ocsp.ResponderOptions{Validity: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/ocsp/", http.StripPrefix("/ocsp", r))
}
