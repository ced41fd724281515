// Package certparse parses X.509 certificates like crypto/x509, but tells
// a certificate refused for its negative serial number apart, with an
// error that names the setting that accepts it. cms and keyfile share it
// (cms re-exports the sentinel as cms.ErrNegativeSerial).
package certparse

import (
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrNegativeSerial marks a certificate whose serial number is negative:
// RFC 5280 §4.1.2.2 requires a positive serial, but CAs issued such
// certificates before it was enforced, and crypto/x509 refuses to parse
// them unless the GODEBUG setting x509negativeserial=1 is on. semnat's own
// binaries and tests set it in go.mod; a program importing semnat's
// packages sets it in its own go.mod ("godebug x509negativeserial=1") or
// environment.
var ErrNegativeSerial = errors.New("certificate with a negative serial number (RFC 5280 §4.1.2.2 requires a positive one); to accept it, run with GODEBUG=x509negativeserial=1 or put \"godebug x509negativeserial=1\" in the main module's go.mod")

// Certificate parses one DER certificate like x509.ParseCertificate; a
// certificate refused for its negative serial number gives an error that
// wraps ErrNegativeSerial.
func Certificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil && NegativeSerial(der) {
		return nil, fmt.Errorf("%w (%v)", ErrNegativeSerial, err)
	}
	return c, err
}

// NegativeSerial reports whether der is a certificate whose serial number
// is a negative INTEGER (it does not otherwise check der).
func NegativeSerial(der []byte) bool {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return false
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return false
	}
	var serial cryptobyte.String
	if !tbs.ReadASN1(&serial, cbasn1.INTEGER) || len(serial) == 0 {
		return false
	}
	return serial[0]&0x80 != 0
}
