package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mpower"
	msignclient "github.com/semnat/semnat/msign/client"
)

// mpowerPagesFlags turn on MPower's pages for people in `semnat mpower
// serve`: MPass's metadata, the SAML key, and the MSign where acts are
// signed.
type mpowerPagesFlags struct {
	mpassMetadata, samlKey, samlCert string
	msignURL, msignKeyFile           string
}

func (p *mpowerPagesFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.mpassMetadata, "mpass-metadata", "", "MPass's SAML metadata, a file or an http(s) URL: turns on the pages for people at /mpower/ (needs --saml-key, --saml-cert and --msign)")
	fl.StringVar(&p.samlKey, "saml-key", "", "PEM key signing the pages' SAML requests and session cookies")
	fl.StringVar(&p.samlCert, "saml-cert", "", "PEM certificate of --saml-key (register PUBLIC-URL/mpower/saml/metadata with MPass)")
	fl.StringVar(&p.msignURL, "msign", "", "MSign's URL: acts are signed there (MPower a registered system, return URL PUBLIC-URL/mpower/)")
	fl.StringVar(&p.msignKeyFile, "msign-key-file", "", "file with MPower's API key at MSign (else $SEMNAT_MSIGN_KEY)")
}

// configure sets mc's MSign and pages from the flags (nothing without
// --mpass-metadata and --msign); the public URL is set once known.
func (p *mpowerPagesFlags) configure(ctx context.Context, mc *mpower.Config) error {
	if p.msignURL != "" {
		key, err := apiKey(p.msignKeyFile, "SEMNAT_MSIGN_KEY")
		if err != nil {
			return fmt.Errorf("--msign-key-file: %w", err)
		}
		if mc.MSign, err = msignclient.New(p.msignURL, msignclient.Options{APIKey: key}); err != nil {
			return fmt.Errorf("--msign: %w", err)
		}
	}
	if p.mpassMetadata == "" {
		return nil
	}
	if p.samlKey == "" || p.samlCert == "" || mc.MSign == nil {
		return errors.New("the pages (--mpass-metadata) need --saml-key and --saml-cert (MPower's SAML key) and --msign (where acts are signed)")
	}
	meta, err := readMetadata(ctx, p.mpassMetadata)
	if err != nil {
		return fmt.Errorf("--mpass-metadata: %w", err)
	}
	b, err := keyfile.LoadPEM(p.samlKey, p.samlCert, "")
	if err != nil {
		return fmt.Errorf("--saml-key/--saml-cert: %w", err)
	}
	mc.Web = &mpower.WebConfig{IdPMetadata: meta, Key: b.Key, Certificate: b.Cert}
	return nil
}
