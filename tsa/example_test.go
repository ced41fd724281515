package tsa_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"log"
	"time"

	"github.com/semnat/semnat/internal/examplepki"
	"github.com/semnat/semnat/tsa"
)

// Time-stamp a signature value (PAdES B-T: the token goes in the
// signature-time-stamp unsigned attribute).
func ExampleClient_Timestamp() {
	pki, base := examplepki.Start() // the test PKI, its TSA on loopback
	signatureValue := []byte("the signature value of a CMS SignerInfo")
	roots := pki.RootPool() // trust anchors for TSAs
	c := tsa.Client{URL: base + "/tsa", Roots: roots}
	digest := sha256.Sum256(signatureValue)
	tok, err := c.Timestamp(context.Background(), crypto.SHA256, digest[:])
	if err != nil {
		log.Fatal(err) // errors.Is(err, tsa.ErrRejected), tsa.ErrUntrusted, ...
	}
	fmt.Println(time.Since(tok.Info.GenTime) < time.Minute, len(tok.DER) > 0)
	// Output: true true
}

// Verify a token found in a signature, validating the TSA chain at the
// token's own time.
func ExampleVerify() {
	pki, base := examplepki.Start()
	signatureValue := []byte("the signature value of a CMS SignerInfo")
	digest := sha256.Sum256(signatureValue)
	tok, err := (&tsa.Client{URL: base + "/tsa", Roots: pki.RootPool()}).Timestamp(context.Background(), crypto.SHA256, digest[:])
	if err != nil {
		log.Fatal(err)
	}
	token, roots := tok.DER, pki.RootPool() // as found in the signature
	info, err := tsa.Verify(token, crypto.SHA256, digest[:], tsa.VerifyOptions{Roots: roots})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Signer.Subject.CommonName)
	// Output: semnat Test TSA (ECDSA)
}
