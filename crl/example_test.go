package crl_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/semnat/semnat/crl"
)

// Check a certificate against the CRL at its distribution point.
func ExampleCheckCert() {
	var cert, issuer *x509.Certificate
	st, list, err := crl.CheckCert(context.Background(), nil, cert, issuer, crl.CheckOptions{})
	if err != nil {
		log.Fatal(err) // errors.Is(err, crl.ErrStale), crl.ErrBadSignature, ...
	}
	fmt.Println(st.State, list.NextUpdate)
	_ = list.Raw // DER CRL to embed
}

// Publish CRLs for a CA and revoke at run time.
func ExampleNewPublisher() {
	var ca crl.Authority // Name, Cert and Key of the CA
	reg := crl.NewRegistry()
	reg.AddCA(ca.Cert, nil)
	pub, err := crl.NewPublisher(reg, []crl.Authority{ca}, crl.PublisherOptions{Validity: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	_ = pub // an http.Handler: /crl/NAME.crl, /ca/NAME.crt
}
