// Package certuse says what a certificate is for, where several layers
// need the same answer (the agent and its wire format, MPass, MSign, the
// PKCS#11 key selection) and none of them may depend on another.
package certuse

import (
	"crypto/x509"
	"slices"
)

// IsAuthentication tells whether c is an authentication certificate, as
// national eID cards carry beside the qualified signing certificate: key
// usage digitalSignature without nonRepudiation (contentCommitment), and
// the extended key usage clientAuth. The agent signs login challenges only
// with such a key, and never a document with it; MPass accepts token
// logins only by such a certificate. A document signature (made with the
// nonRepudiation key, over a digest the agent cannot interpret) can then
// never pass as a login, even when a page presents a login challenge as a
// document.
func IsAuthentication(c *x509.Certificate) bool {
	return c != nil && !c.IsCA &&
		c.KeyUsage&x509.KeyUsageDigitalSignature != 0 &&
		c.KeyUsage&x509.KeyUsageContentCommitment == 0 &&
		slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
}
