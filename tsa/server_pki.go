//go:build !(js && wasm)

// The test PKI's TSA: left out of the in-browser verifier (GOOS=js).

package tsa

import (
	"fmt"

	"github.com/semnat/semnat/testcerts"
)

// ServerFromPKI returns a TSA using the test PKI entity called name
// ("tsa" or "tsa-rsa").
func ServerFromPKI(p *testcerts.PKI, name string, opts ServerOptions) (*Server, error) {
	e := p.Get(name)
	if e == nil {
		return nil, fmt.Errorf("tsa: the PKI has no entity %q", name)
	}
	return NewServer(e.Cert, e.Chain, e.Key, opts)
}
