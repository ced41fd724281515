// Package pkiserve serves the PKI services of a test PKI over HTTP with the
// URL layout the test certificates carry (testcerts): OCSP at /ocsp (POST,
// or GET /ocsp/<base64>), CRLs at /crl/NAME.crl, CA certificates at
// /ca/NAME.crt and an RFC 3161 timestamp authority at /tsa. `semnat ocsp
// serve`, `semnat serve --demo` and tests mount the same handler.
package pkiserve

import (
	"net/http"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// Options tune the services.
type Options struct {
	// TSA names the PKI entity that signs timestamps ("tsa" when empty;
	// "-" for no TSA).
	TSA string
	// OCSPValidity and CRLValidity are nextUpdate - thisUpdate (1 hour and
	// 7 days when zero).
	OCSPValidity, CRLValidity time.Duration
	// OCSPByName identifies the OCSP responder by name instead of key hash.
	OCSPByName bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Services are the PKI's HTTP services. Revoke through Registry: OCSP and
// CRL answers reflect it at once.
type Services struct {
	Registry *crl.Registry
	OCSP     *ocsp.Responder
	CRL      *crl.Publisher
	TSA      *tsa.Server // nil without a TSA
	mux      *http.ServeMux
}

// New builds the services of p. The PKI's revocations are revoked from the
// start.
func New(p *testcerts.PKI, opts Options) (*Services, error) {
	reg, err := crl.RegistryFromPKI(p)
	if err != nil {
		return nil, err
	}
	if opts.OCSPValidity == 0 {
		opts.OCSPValidity = time.Hour
	}
	if opts.CRLValidity == 0 {
		opts.CRLValidity = 7 * 24 * time.Hour
	}
	resp, err := ocsp.ResponderFromPKI(p, reg, ocsp.ResponderOptions{Validity: opts.OCSPValidity, ByName: opts.OCSPByName, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	pub, err := crl.PublisherFromPKI(p, reg, crl.PublisherOptions{Validity: opts.CRLValidity, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	s := &Services{Registry: reg, OCSP: resp, CRL: pub, mux: http.NewServeMux()}
	s.mux.Handle(testcerts.OCSPPath, http.StripPrefix(testcerts.OCSPPath, resp))
	s.mux.Handle(testcerts.OCSPPath+"/", http.StripPrefix(testcerts.OCSPPath, resp))
	s.mux.Handle("/crl/", pub)
	s.mux.Handle("/ca/", pub)
	name := opts.TSA
	if name == "" {
		name = "tsa"
	}
	if name != "-" {
		if s.TSA, err = tsa.ServerFromPKI(p, name, tsa.ServerOptions{Now: opts.Now}); err != nil {
			return nil, err
		}
		s.mux.Handle(testcerts.TSAPath, s.TSA)
	}
	return s, nil
}

// ServeHTTP routes to the services.
func (s *Services) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }
