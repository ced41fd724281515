package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/secret"
	mpayclient "github.com/semnat/semnat/mpay/client"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/portal"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
)

const portalRoutesHelp = `  /                            the catalogue of services (browse by domain or provider, search)
  /portal/servicii/CODE        a service's card; .../aplica starts an application (MPass login)
  /portal/cereri               the citizen's applications; /portal/cereri/ID their status and receipt
  /portal/documente, /plati, /notificari  the citizen's issued documents, payments and receipts, MNotify inbox
  /portal/verificare/CODE      public: verify an issued document by its short code (its QR code's link)
  /portal/birou                the back office: clerks of the institutions in the catalogue's institutions.toml
                               (employee certificate with the institution's IDNO, via MPass); seals B-LTA with --tsa
  /portal/birou/semnat         where MSign sends a clerk back after signing an issued document
  /portal/saml/metadata        the portal's SAML metadata (register it with MPass)
  /portal/saml/acs             the assertion consumer service
  /portal/semnat               where MSign sends the browser back (register it as a return URL)
  /portal/mpay                 the portal's endpoint as MPay service provider (order pull, confirmations)
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
`

func newPortalCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "portal",
		Short: "The public-services portal: catalogue and application wizard (MPass, MPower, MSign, MPay, MNotify)",
		Long: `The portal offers public services: a catalogue (one TOML file per service,
see portal/catalog/FORMAT.md; ten demo services are embedded) and the
application wizard: log in with MPass, apply for oneself, another person or a
company (checked with MPower), fill the service's form, attach documents,
choose the delivery, and sign the application through MSign.

'semnat portal serve' runs it alone; 'semnat serve --demo' runs it as the home
page beside the other services. 'semnat portal check DIR' checks a catalogue.`,
	}
	cmd.AddCommand(newPortalServeCmd(a), newPortalCheckCmd(a))
	return cmd
}

// portalFlags are the settings of `semnat portal serve` beyond serveFlags.
type portalFlags struct {
	catalog, mpassMetadata string
	msignURL, msignKeyFile string
	mpayURL, mpayService   string
	mpayCert               string
	maxAttachment          byteSize
	mnotify                mnotifyFlags
}

func newPortalServeCmd(a *app) *cobra.Command {
	pf := &portalFlags{maxAttachment: 5 << 20}
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --mpass-metadata FILE|URL (--p12 FILE | --key FILE --cert FILE | --token ...) --msign URL [--mpower URL] ...",
		Short: "Run the portal alone",
		Long: `Run the public-services portal as a service of its own:

` + portalRoutesHelp + `
People log in with the MPass of --mpass-metadata (its SAML metadata, a file or
an http(s) URL); the key (--p12, --key/--cert or --token, as for 'semnat sign')
signs the portal's AuthnRequests and its session cookies: register
/portal/saml/metadata with that MPass ('semnat mpass sp add'). Applications
are signed through the MSign at --msign, where the portal is a registered
system (API key in --msign-key-file; return URL PUBLIC-URL/portal/).
Powers of representation are checked with the MPower at --mpower (API key in
--mpower-key-file); without it only the administrators MPass names act for a
company. --catalog is a directory of service files (default: the demo's).
Tariffs are paid through the MPay at --mpay, where the portal is the service
provider --mpay-service (endpoint PUBLIC-URL/portal/mpay, its certificate the
one of the key above); without it only free services can be applied for.
Applicants are notified of each change of their applications through the
MNotify at --mnotify, where the portal is a cabinet system (API key in
--mnotify-key-file); without it nobody is notified.

The other settings are those of 'semnat serve' (store, address, TLS, logs):
each a flag, $SEMNAT_NAME or a NAME = VALUE line of the --config file.`,
		Example: `  semnat portal serve --mpass-metadata https://mpass.example.md/meta/saml --key sp.key --cert sp.pem \
    --msign https://msign.example.md --msign-key-file /run/secrets/msign --mpower https://mpower.example.md:8443 \
    --mpower-key-file /run/secrets/mpower --catalog /etc/semnat/services --public-url https://servicii.example.md`,
		Args: cobra.NoArgs,
	}
	f.bind(a, cmd, false, func(ctx context.Context, a *app, f *serveFlags, name string) error {
		return runPortalServe(ctx, a, f, pf, name)
	})
	fl := cmd.Flags()
	fl.StringVar(&pf.catalog, "catalog", "", "directory of service files, one NNN.toml each (default: the embedded demo services)")
	fl.StringVar(&pf.mpassMetadata, "mpass-metadata", "", "MPass's SAML metadata: a file or an http(s) URL")
	fl.StringVar(&pf.msignURL, "msign", "", "MSign's URL (applications are signed there)")
	fl.StringVar(&pf.msignKeyFile, "msign-key-file", "", "file with the portal's API key at MSign (else $SEMNAT_MSIGN_KEY)")
	fl.StringVar(&pf.mpayURL, "mpay", "", "MPay's URL (tariffs are paid there; the portal is its service provider, with the key above)")
	fl.StringVar(&pf.mpayService, "mpay-service", "", "the portal's service id at MPay")
	fl.StringVar(&pf.mpayCert, "mpay-cert", "", "PEM certificate of MPay's message key (its calls to the portal must be signed by it; 'semnat mpay serve' writes it to its DATA/mpay-message.crt)")
	fl.Var(&pf.maxAttachment, "max-attachment", "largest attached document, e.g. 5MiB")
	pf.mnotify.register(fl, "applicants are notified there of each change of their applications (the portal a cabinet system there)")
	return cmd
}

// loadCatalog is the catalogue of dir, or the demo's.
func loadCatalog(dir string) (*catalog.Catalog, error) {
	if dir == "" {
		return catalog.Demo()
	}
	return catalog.LoadDir(dir)
}

// apiKey reads a key file, else the environment variable.
func apiKey(file, env string) (string, error) {
	if file != "" {
		b, err := secret.FromFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv(env), nil
}

// readMetadata reads SAML metadata from a file or an http(s) URL.
func readMetadata(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return os.ReadFile(src)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", src, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func runPortalServe(ctx context.Context, a *app, f *serveFlags, pf *portalFlags, name string) error {
	if pf.mpassMetadata == "" {
		return withCode(exitUsage, errors.New("people log in with MPass: give its metadata with --mpass-metadata FILE|URL"))
	}
	if !f.keys.given() {
		return withCode(exitUsage, errors.New("the portal signs its SAML requests: give its key with --p12 FILE, --key FILE --cert FILE or --token"))
	}
	cat, err := loadCatalog(pf.catalog)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--catalog: %w", err))
	}
	meta, err := readMetadata(ctx, pf.mpassMetadata)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--mpass-metadata: %w", err))
	}
	pc := &portal.Config{Catalog: cat, IdPMetadata: meta, MaxAttachment: int64(pf.maxAttachment), Log: a.log}
	if pf.msignURL != "" {
		key, err := apiKey(pf.msignKeyFile, "SEMNAT_MSIGN_KEY")
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--msign-key-file: %w", err))
		}
		if pc.MSign, err = msignclient.New(pf.msignURL, msignclient.Options{APIKey: key}); err != nil {
			return withCode(exitUsage, fmt.Errorf("--msign: %w", err))
		}
	} else {
		a.log.Warn("no --msign: applications cannot be signed, so none can be submitted")
	}
	if f.mpower != "" {
		key, err := apiKey(f.mpowerKeyFile, "SEMNAT_MPOWER_KEY")
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--mpower-key-file: %w", err))
		}
		if pc.MPower, err = mpowerclient.New(f.mpower, mpowerclient.Options{APIKey: key}); err != nil {
			return withCode(exitUsage, fmt.Errorf("--mpower: %w", err))
		}
	}
	if pc.MNotify, err = pf.mnotify.client(a.log); err != nil {
		return withCode(exitUsage, err)
	}
	if pc.Office, err = portalOffice(a, cat, pf.catalog, f.tsaURL); err != nil {
		return withCode(exitUsage, fmt.Errorf("--catalog: %w", err))
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	signer, closeSigner, err := f.keys.open(ctx, a)
	if err != nil {
		return err
	}
	defer closeSigner()
	pc.Key, pc.Certificate = signer, signer.Certificate()
	if pf.mpayURL != "" {
		if pf.mpayService == "" || pf.mpayCert == "" {
			return withCode(exitUsage, errors.New("--mpay needs --mpay-service (the portal's id there) and --mpay-cert (MPay's certificate)"))
		}
		certs, err := loadCertificates([]string{pf.mpayCert})
		if err != nil || len(certs) == 0 {
			return withCode(exitUsage, fmt.Errorf("--mpay-cert: %v", err))
		}
		sps, err := mpayclient.NewSigner(signer, signer.Certificate())
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("the portal's key as MPay service provider: %w", err))
		}
		pay, err := mpayclient.New(pf.mpayURL, pf.mpayService, sps, nil)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--mpay: %w", err))
		}
		pc.Payments, pc.MPaySP = pay, &portal.MPaySP{ServiceID: pf.mpayService, MPay: certs[0], Signer: sps}
	}
	return f.serveComposed(ctx, a, tlsCfg, func(_ *store.Store, base string) (server.Config, string) {
		pc.PublicURL = base
		return server.Config{Portal: pc},
			fmt.Sprintf("%s: %s (%d services; SAML metadata: %s%s; MSign return URL: %s%s/)", name, base, len(cat.Services()), base, portal.PathMetadata, base, portal.PathPrefix)
	})
}

func newPortalCheckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check DIR",
		Short: "Check a directory of service files as the portal loads them",
		Long: `Check a catalogue directory: every NNN.toml file is read as 'semnat portal
serve --catalog DIR' reads it; each problem is named with its file. The
format is in portal/catalog/FORMAT.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.LoadDir(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			if a.json {
				var codes []string
				for _, s := range cat.Services() {
					codes = append(codes, s.Code)
				}
				return a.printJSON(map[string]any{"services": codes})
			}
			for _, s := range cat.Services() {
				fmt.Fprintf(a.stdout, "%s  %s  (%s; %d bani)\n", s.Code, s.Title.In("ro"), s.Provider.Name.In("ro"), s.Cost)
			}
			fmt.Fprintf(a.stdout, "%d services\n", len(cat.Services()))
			return nil
		},
	}
}
