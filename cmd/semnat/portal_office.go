package main

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/portal"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/tsa"
)

// portalOffice is the back office of `semnat portal serve`: the
// institutions of the catalogue's institutions.toml, each sealing with the
// PEM files its seal names (relative to the catalogue's directory) at
// B-LTA with the --tsa timestamp authority. nil when the catalogue names
// no institution.
func portalOffice(a *app, cat *catalog.Catalog, dir, tsaURL string) (*portal.Office, error) {
	ins := cat.Institutions()
	if len(ins) == 0 {
		return nil, nil
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	o := &portal.Office{Seals: map[string]pades.Signer{}, Revocation: pades.OnlineRevocation{HTTP: hc}}
	for _, in := range ins {
		if in.Seal.Key == "" {
			a.log.Warn("portal back office: no seal for this institution: its clerks can reject but not issue", "idno", in.IDNO)
			continue
		}
		if dir == "" {
			return nil, errors.New("the embedded catalogue names no seal files")
		}
		rel := func(p string) string {
			if p == "" || filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(dir, p)
		}
		b, err := keyfile.LoadPEM(rel(in.Seal.Key), rel(in.Seal.Cert), rel(in.Seal.Chain))
		if err != nil {
			return nil, fmt.Errorf("%s: the seal of %s: %w", catalog.InstitutionsFile, in.IDNO, err)
		}
		o.Seals[in.IDNO] = pades.NewKeySigner(b.Key, b.Cert, b.Chain)
	}
	if len(o.Seals) > 0 {
		if tsaURL == "" {
			return nil, errors.New("the institutions' seals are B-LTA: give the timestamp authority with --tsa URL")
		}
		o.Timestamper = pades.TSA{Client: &tsa.Client{URL: tsaURL, HTTPClient: hc}}
	}
	return o, nil
}
