package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
)

// demoMPower makes the demo's MPower a registered system of its MSign (an
// API key in DATA/mpower-msign-key) and returns its configuration, with
// its pages for people at /mpower/ (a SAML key made at each start,
// registered with the demo's MPass once the server is up:
// registerMPowerPages).
func demoMPower(ctx context.Context, st *store.Store, data, base string) (*mpower.Config, error) {
	key, err := demoAPIKey(filepath.Join(data, "mpower-msign-key"))
	if err != nil {
		return nil, err
	}
	err = msign.AddSystem(ctx, st, "demo", msign.NewSystem{Name: "mpower", APIKey: []byte(key), ReturnURLs: []string{base + "/"}})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("registering MPower with MSign: %w", err)
	}
	mc, err := msignclient.New(base, msignclient.Options{APIKey: key})
	if err != nil {
		return nil, err
	}
	samlKey, samlCert, err := mpass.SelfSigned("mpower (demo)", time.Now(), 1)
	if err != nil {
		return nil, err
	}
	return &mpower.Config{MSign: mc, Web: &mpower.WebConfig{PublicURL: base, Key: samlKey, Certificate: samlCert}}, nil
}

// registerMPowerPages registers MPower's pages with the demo's MPass (anew
// at each start: their key is made at start).
func registerMPowerPages(ctx context.Context, srv *server.Server) error {
	md, err := srv.MPower.Metadata()
	if err != nil {
		return err
	}
	if _, err := srv.MPass.Registry().Add(ctx, md, mpass.SPOptions{}, time.Now()); err != nil {
		return fmt.Errorf("registering MPower's pages with MPass: %w", err)
	}
	return nil
}

// demoMPowerCode is the demo's authorization type.
const demoMPowerCode = "AT-0000001"

// seedMPower gives the demo an authorization type, a company administered
// by the first virtual phone's holder, and the demo API key (DATA/api-key)
// as a system that sees every power. What is there already is kept.
func seedMPower(ctx context.Context, st *store.Store, reg *mpower.Registry, apiKey string) error {
	err := reg.AddType(ctx, "demo", mpower.AuthType{Code: demoMPowerCode,
		Names: map[string]string{"ro": "Ridicarea certificatului de înmatriculare", "ru": "Получение свидетельства о регистрации", "en": "Collecting the vehicle registration certificate"},
		LegalText: map[string]string{
			"ro": "Subsemnatul (IDNP/IDNO {{.AuthorizingIdn}}) {{.AuthorizingName}} împuternicesc pe titularul IDNP {{.RepresentedIdn}} să ridice în numele meu certificatul de înmatriculare, de la {{.From}} până la {{.To}}.",
			"ru": "Я (IDNP/IDNO {{.AuthorizingIdn}}) {{.AuthorizingName}} уполномочиваю владельца IDNP {{.RepresentedIdn}} получить от моего имени свидетельство о регистрации, с {{.From}} по {{.To}}.",
			"en": "I (IDNP/IDNO {{.AuthorizingIdn}}) {{.AuthorizingName}} authorise the holder of IDNP {{.RepresentedIdn}} to collect the vehicle registration certificate on my behalf, from {{.From}} to {{.To}}."},
		NeedsAcceptance: true, MaxDays: 365, ProviderIDNO: "1003600011118", ProviderName: "ASP (demo)", System: "demo"})
	if err != nil && !errors.Is(err, mpower.ErrExists) {
		return err
	}
	if _, err := reg.Entity(ctx, "1010600034203"); errors.Is(err, mpower.ErrNotFound) {
		admin := mobileid.GeneratedUser(0).IDNP
		if err := reg.PutEntity(ctx, "demo", mpower.Entity{IDNO: "1010600034203", Name: "Exemplu", Form: "SRL",
			Administrators: []mpower.Administrator{{IDNP: admin, From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}}}); err != nil {
			return err
		}
	}
	err = mpower.AddSystem(ctx, st, "demo", mpower.NewSystem{Name: "demo", APIKey: []byte(apiKey), ViewAll: true})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return nil
}

// mpowerClient is the client of --mpower (nil without it), with the API
// key of --mpower-key-file.
func (f *serveFlags) mpowerClient() (*mpowerclient.Client, error) {
	if f.mpower == "" {
		return nil, nil
	}
	var key []byte
	if f.mpowerKeyFile != "" {
		b, err := secret.FromFile(f.mpowerKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--mpower-key-file: %w", err)
		}
		key = b
	}
	return mpowerclient.New(f.mpower, mpowerclient.Options{APIKey: string(key), HTTPClient: &http.Client{Timeout: 15 * time.Second}})
}

// demoPowers registers the demo's MSign as a system of its MPower that
// sees every power (an API key in DATA/msign-mpower-key) and returns its
// client: a system's request may then be signed on behalf of another party.
func demoPowers(ctx context.Context, st *store.Store, data, base string) (*mpowerclient.Client, error) {
	key, err := demoAPIKey(filepath.Join(data, "msign-mpower-key"))
	if err != nil {
		return nil, err
	}
	err = mpower.AddSystem(ctx, st, "demo", mpower.NewSystem{Name: "msign", APIKey: []byte(key), ViewAll: true})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("registering MSign with MPower: %w", err)
	}
	return mpowerclient.New(base, mpowerclient.Options{APIKey: key, HTTPClient: &http.Client{Timeout: 15 * time.Second}})
}
