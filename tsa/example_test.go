package tsa_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"log"

	"github.com/semnat/semnat/tsa"
)

// Time-stamp a signature value (PAdES B-T: the token goes in the
// signature-time-stamp unsigned attribute).
func ExampleClient_Timestamp() {
	var signatureValue []byte
	var roots *x509.CertPool // trust anchors for TSAs
	c := tsa.Client{URL: "http://127.0.0.1:8480/tsa", Roots: roots}
	digest := sha256.Sum256(signatureValue)
	tok, err := c.Timestamp(context.Background(), crypto.SHA256, digest[:])
	if err != nil {
		log.Fatal(err) // errors.Is(err, tsa.ErrRejected), tsa.ErrUntrusted, ...
	}
	fmt.Println(tok.Info.GenTime, len(tok.DER))
}

// Verify a token found in a signature, validating the TSA chain at the
// token's own time.
func ExampleVerify() {
	var token, signatureValue []byte
	var roots *x509.CertPool
	digest := sha256.Sum256(signatureValue)
	info, err := tsa.Verify(token, crypto.SHA256, digest[:], tsa.VerifyOptions{Roots: roots})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.GenTime, info.Signer.Subject)
}
