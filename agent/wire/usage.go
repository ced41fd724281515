package wire

import "github.com/semnat/semnat/internal/certuse"

// IsAuthentication tells whether c is an authentication certificate (see
// certuse.IsAuthentication): the agent signs login challenges only with
// such a key, and never a document with it; MPass accepts token logins
// only by such a certificate.
var IsAuthentication = certuse.IsAuthentication
