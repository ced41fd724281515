package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/store"
)

// mpayPagesFlags turn on MPay's pages for people (a payer's history, a
// service's view for its staff) in `semnat mpay serve`: MPass's metadata
// and MPay's SAML key.
type mpayPagesFlags struct {
	mpassMetadata, samlKey, samlCert string
}

func (p *mpayPagesFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.mpassMetadata, "mpass-metadata", "", "MPass's SAML metadata, a file or an http(s) URL: turns on the pages for people logged in with MPass (/mpay/platile-mele, /mpay/furnizor/ID; needs --saml-key and --saml-cert)")
	fl.StringVar(&p.samlKey, "saml-key", "", "PEM key signing the pages' SAML requests and session cookies")
	fl.StringVar(&p.samlCert, "saml-cert", "", "PEM certificate of --saml-key (register PUBLIC-URL/mpay/saml/metadata with MPass)")
}

// web is the pages' configuration from the flags (nil without
// --mpass-metadata); the public URL is set once known.
func (p *mpayPagesFlags) web(ctx context.Context) (*mpay.WebConfig, error) {
	if p.mpassMetadata == "" {
		if p.samlKey != "" || p.samlCert != "" {
			return nil, errors.New("--saml-key and --saml-cert are for the pages for people: give MPass's metadata with --mpass-metadata too")
		}
		return nil, nil
	}
	if p.samlKey == "" || p.samlCert == "" {
		return nil, errors.New("the pages (--mpass-metadata) need --saml-key and --saml-cert (MPay's SAML key)")
	}
	meta, err := readMetadata(ctx, p.mpassMetadata)
	if err != nil {
		return nil, fmt.Errorf("--mpass-metadata: %w", err)
	}
	b, err := keyfile.LoadPEM(p.samlKey, p.samlCert, "")
	if err != nil {
		return nil, fmt.Errorf("--saml-key/--saml-cert: %w", err)
	}
	return &mpay.WebConfig{IdPMetadata: meta, Key: b.Key, Certificate: b.Cert}, nil
}

// newMPayServicesStaffCmd sets a service's staff: the people who see its
// payments and deliveries on MPay's pages.
func newMPayServicesStaffCmd(a *app) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "staff SERVICE-ID [IDNP...]",
		Short: "Set who sees a service provider's payments and deliveries on MPay's pages",
		Long: `Replace the staff of a registered service provider: the people (by IDNP)
who, logged in with MPass, see the service's payments, confirmation
deliveries and webhook attempts at /mpay/furnizor/SERVICE-ID. No IDNP: nobody.`,
		Example: `  semnat mpay services staff MDS02 2000000000015 2000000000026`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := sf.open(cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := mpay.SetStaff(cmd.Context(), st, cliActor(), args[0], args[1:]); err != nil {
				if errors.Is(err, mpay.ErrBadService) || errors.Is(err, store.ErrNotFound) {
					return withCode(exitUsage, err)
				}
				return withCode(exitFailed, err)
			}
			a.say("%s: %d staff\n", args[0], len(args)-1)
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}
