package main

import (
	"net/http"
	"time"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/portal"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/testcerts"
)

// demoOffice is the portal's back office in the demo: each institution of
// the catalogue's institutions.toml seals with the test PKI's seal of its
// IDNO (seal-asp, seal-sfs; a PKI made before those were added has none,
// and its institutions can only reject), at B-LTA with the demo's TSA.
// The clerks are the PKI's clerk-asp and clerk-sfs: import their
// DATA/pki/<name>/bundle.p12 on a token (`semnat token import`) and run
// `semnat agent`.
func demoOffice(a *app, p *testcerts.PKI, cat *catalog.Catalog, ts pades.Timestamper) *portal.Office {
	o := &portal.Office{Seals: map[string]pades.Signer{}, Timestamper: ts,
		Revocation: pades.OnlineRevocation{HTTP: &http.Client{Timeout: 15 * time.Second}}, ExtraCerts: [][]byte{p.Root.Cert.Raw}}
	for _, in := range cat.Institutions() {
		for _, e := range p.ByRole(testcerts.RoleSeal) {
			if e.IDNO == in.IDNO {
				o.Seals[in.IDNO] = pades.NewKeySigner(e.Key, e.Cert, e.Chain)
			}
		}
		if o.Seals[in.IDNO] == nil {
			a.log.Warn("portal back office: the test PKI has no seal for this institution (a PKI made by an older semnat: remove DATA/pki to make a new one)", "idno", in.IDNO)
		}
	}
	return o
}
