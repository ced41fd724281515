// Package examplepki runs the test PKI's services (OCSP, CRLs, TSA) on a
// loopback port for the packages' runnable examples, whose certificates'
// AIA and CRL distribution points lead there. Examples have no testing.T:
// a failure panics, which fails the example.
package examplepki

import (
	"net/http/httptest"
	"sync"

	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
)

var shared struct {
	once sync.Once
	pki  *testcerts.PKI
	srv  *httptest.Server
}

// Start returns the test PKI of this process and the base URL of its
// running services (OCSP at /ocsp, CRLs at /crl/NAME.crl, the TSA at
// /tsa), generated and started on first use, live until the process ends.
func Start() (*testcerts.PKI, string) {
	shared.once.Do(func() {
		srv := httptest.NewUnstartedServer(nil)
		p, err := testcerts.Generate(testcerts.Options{BaseURL: "http://" + srv.Listener.Addr().String()})
		if err != nil {
			panic(err)
		}
		svc, err := pkiserve.New(p, pkiserve.Options{})
		if err != nil {
			panic(err)
		}
		srv.Config.Handler = svc
		srv.Start()
		shared.pki, shared.srv = p, srv
	})
	return shared.pki, shared.srv.URL
}
