package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpay"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/portal"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
)

// demoPortal is the portal's configuration in the demo: the catalogue
// (--catalog, else the embedded one), registered with the demo's MSign
// (return URLs under /portal/) and MPower (every type) by API keys kept in
// DATA, with MPay as a service provider (a key made at each start), and a
// SAML key made at each start (registered with MPass once the server is
// up: registerPortal).
func demoPortal(ctx context.Context, st *store.Store, data, base, catalogDir string, mpayCert *x509.Certificate) (*portal.Config, error) {
	cat, err := loadCatalog(catalogDir)
	if err != nil {
		return nil, fmt.Errorf("--catalog: %w", err)
	}
	msignKey, err := demoAPIKey(filepath.Join(data, "portal-msign-key"))
	if err != nil {
		return nil, err
	}
	err = msign.AddSystem(ctx, st, "demo", msign.NewSystem{Name: "portal", APIKey: []byte(msignKey), ReturnURLs: []string{base + portal.PathPrefix + "/"}})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("registering the portal with MSign: %w", err)
	}
	mpowerKey, err := demoAPIKey(filepath.Join(data, "portal-mpower-key"))
	if err != nil {
		return nil, err
	}
	err = mpower.AddSystem(ctx, st, "demo", mpower.NewSystem{Name: "portal", APIKey: []byte(mpowerKey), ViewAll: true})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("registering the portal with MPower: %w", err)
	}
	ms, err := msignclient.New(base, msignclient.Options{APIKey: msignKey})
	if err != nil {
		return nil, err
	}
	mp, err := mpowerclient.New(base, mpowerclient.Options{APIKey: mpowerKey})
	if err != nil {
		return nil, err
	}
	key, cert, err := mpass.SelfSigned("portal (demo)", time.Now(), 1)
	if err != nil {
		return nil, err
	}
	// MPay: the portal is a service provider, its key made at each start
	// (as the demo SP's).
	spSigner, spCert, err := demosp.NewKey(demoPortalSP)
	if err != nil {
		return nil, err
	}
	if err := mpay.RemoveService(ctx, st, "demo", demoPortalSP); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := mpay.AddService(ctx, st, "demo", mpay.SP{ServiceID: demoPortalSP, Name: "Portalul serviciilor publice",
		Endpoint: base + portal.PathMPay, Face: mpay.FaceREST, Cert: spCert}); err != nil {
		return nil, fmt.Errorf("registering the portal with MPay: %w", err)
	}
	pay, err := mpayclient.New(base, demoPortalSP, spSigner, nil)
	if err != nil {
		return nil, err
	}
	return &portal.Config{PublicURL: base, Catalog: cat, Key: key, Certificate: cert, MSign: ms, MPower: mp,
		Payments: pay, MPaySP: &portal.MPaySP{ServiceID: demoPortalSP, MPay: mpayCert, Signer: spSigner}}, nil
}

// demoPortalSP is the portal's service id at the demo's MPay.
const demoPortalSP = "PORTAL"

// registerPortal registers the portal with the demo's MPass (anew at each
// start: its key is made at start) and defines in MPower the authorization
// types its services name that MPower does not know yet.
func registerPortal(ctx context.Context, srv *server.Server, cat *catalog.Catalog) error {
	md, err := srv.Portal.Metadata()
	if err != nil {
		return err
	}
	if _, err := srv.MPass.Registry().Add(ctx, md, mpass.SPOptions{}, time.Now()); err != nil {
		return fmt.Errorf("registering the portal with MPass: %w", err)
	}
	reg := srv.MPower.Registry()
	for _, s := range cat.Services() {
		if s.Authorization == "" {
			continue
		}
		if _, err := reg.Type(ctx, s.Authorization); err == nil {
			continue
		}
		err := reg.AddType(ctx, "demo", mpower.AuthType{Code: s.Authorization, Names: s.Title,
			LegalText: map[string]string{
				"ro": "Subsemnatul (IDNP/IDNO {{.AuthorizingIdn}}) {{.AuthorizingName}} împuternicesc pe titularul IDNP {{.RepresentedIdn}} să solicite în numele meu serviciul „{{.TypeName}}”, de la {{.From}} până la {{.To}}.",
				"en": "I (IDNP/IDNO {{.AuthorizingIdn}}) {{.AuthorizingName}} authorise the holder of IDNP {{.RepresentedIdn}} to apply on my behalf for “{{.TypeName}}”, from {{.From}} to {{.To}}."},
			NeedsAcceptance: true, MaxDays: 365, ProviderIDNO: s.Provider.IDNO, ProviderName: s.Provider.Name.In("ro"), System: "demo"})
		if err != nil && !errors.Is(err, mpower.ErrExists) {
			return fmt.Errorf("defining %s in MPower: %w", s.Authorization, err)
		}
	}
	return nil
}
