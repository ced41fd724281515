// Package phonetest starts, for the services' tests, what a journey of
// people who log in by phone needs: a test PKI with its services (TSA,
// OCSP, CRLs) and the mobile-signature simulator with virtual phones, each
// on a loopback server, and MPass on a store and server of its own, where
// the services under test register as relying services.
package phonetest

import (
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// Phones is a test PKI, served, and the simulator's virtual phones: the
// OCSP responder knows the phones' certificates.
type Phones struct {
	PKI    *testcerts.PKI
	PKIURL string // the TSA at PKIURL+testcerts.TSAPath
	Sim    *mobileid.Simulator
	SimURL string
}

// Options change the phones.
type Options struct {
	Users int                  // virtual phones (mobileid.GeneratedUser(0…Users-1)); default 3
	PKI   func(*testcerts.PKI) // changes the PKI before its services start
}

// Start starts the PKI's services and the simulator (20 times faster
// than real time); all stop when the test ends.
func Start(t testing.TB, o Options) *Phones {
	t.Helper()
	if o.Users == 0 {
		o.Users = 3
	}
	pkiHS := httptest.NewUnstartedServer(nil)
	p := &Phones{PKIURL: "http://" + pkiHS.Listener.Addr().String()}
	var err error
	if p.PKI, err = testcerts.Generate(testcerts.Options{BaseURL: p.PKIURL}); err != nil {
		t.Fatal(err)
	}
	if o.PKI != nil {
		o.PKI(p.PKI)
	}
	if p.Sim, err = mobileid.New(mobileid.Options{PKI: p.PKI, TimeScale: 0.02, Phone: true, GeneratedUsers: o.Users}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Sim.Close() })
	psvc, err := pkiserve.New(p.PKI, pkiserve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var serials []*big.Int
	for i := 0; i < o.Users; i++ {
		sign, auth, _, err := p.Sim.Certificates(mobileid.GeneratedUser(i).MSISDN)
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, sign.SerialNumber, auth.SerialNumber)
	}
	psvc.Registry.AddCA(p.PKI.MobileCA.Cert, serials)
	pkiHS.Config.Handler = psvc
	pkiHS.Start()
	t.Cleanup(pkiHS.Close)
	simSrv := httptest.NewServer(p.Sim.Handler())
	t.Cleanup(simSrv.Close)
	p.SimURL = simSrv.URL
	return p
}

// Mobile is a client of the simulator's ETSI face, as MPass and MSign use.
func (p *Phones) Mobile(t testing.TB) *mobileid.Client {
	t.Helper()
	mc, err := mobileid.NewClient(p.SimURL+"/rest/service", mobileid.ClientOptions{Face: mobileid.FaceETSI, Roots: p.PKI.RootPool(),
		Intermediates: p.PKI.IntermediatePool(), PollInterval: 10 * time.Millisecond, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// IDNP is the personal number of virtual phone i's owner.
func (p *Phones) IDNP(t testing.TB, i int) string {
	t.Helper()
	c, _, _, err := p.Sim.Certificates(mobileid.GeneratedUser(i).MSISDN)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject.SerialNumber
}

// MPass is MPass on a SQLite store of its own, served on loopback.
type MPass struct {
	*mpass.Service
	URL string
}

// StartMPass starts MPass, where people log in with the phones; mod, when
// not nil, changes its configuration before it starts.
func (p *Phones) StartMPass(t testing.TB, mod func(*mpass.Config)) *MPass {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	u := "http://" + hs.Listener.Addr().String()
	key, cert, err := mpass.SelfSigned("mpass.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "mpass.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := mpass.Config{Store: st, PublicURL: u, Key: key, Certificate: cert, Mobile: p.Mobile(t), PhoneTimeout: 20 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	mp, err := mpass.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: st})
	host.Mount(mp)
	hs.Config.Handler = host
	hs.Start()
	t.Cleanup(func() { hs.Close(); host.Close() })
	return &MPass{Service: mp, URL: u}
}

// Register registers a relying service at MPass by its SAML metadata.
func (m *MPass) Register(t testing.TB, metadata func() ([]byte, error)) {
	t.Helper()
	md, err := metadata()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Registry().Add(t.Context(), md, mpass.SPOptions{}, time.Now()); err != nil {
		t.Fatal(err)
	}
}
