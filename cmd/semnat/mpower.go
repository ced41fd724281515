package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
)

const mpowerRoutesHelp = `  GET /api/Authorization/check/Code-True-One?AuthorizationCode=
  GET /api/Authorization/check/Code-Details-One?AuthorizationCode=
  GET /api/Authorization/check/TypeCode-Valid-One?AuthorizationTypeCode=&AuthorizingIdn=&AuthorizedIdn=
  GET /api/Authorization/check/Idn-Details-List?IDNx=&Status=&AuthorizationTypeCode=&StartDate=&EndDate=&GrantedByIdn=&GrantedToIdn=&Page=&PageSize=
  GET /api/Authorization/file?AuthorizationCode=
  GET /api/Authorization/check/statement?AuthorizationCode=   a sealed statement (JWS)
  POST /api/Authorization/grants, /acts, /acts/complete       the grant flow (MSign)
                               the check API for registered systems (TLS client
                               certificate or X-API-Key; see 'semnat mpower systems')
  /api/Authorization/openapi.json  the API description
  /mpower/                     the pages for people (with --mpass-metadata)
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
`

func newMPowerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mpower",
		Short: "MPower: the registry of powers of representation and its check API",
		Long: `MPower keeps powers of representation: a person (IDNP) or a company (IDNO,
through an administrator in office) authorises a representative for an
authorization type of a service provider. The acts are signed PDFs, verified
before a power changes; only a Valid power is valid, at the moment of the
question. Services check powers through the check API.

'semnat mpower serve' runs it alone; 'semnat serve --demo' beside the other
services. 'types', 'entities' and 'systems' manage the registry in the store
(--data or --store, as for the server).`,
	}
	cmd.AddCommand(newMPowerServeCmd(a), newMPowerTypesCmd(a), newMPowerEntitiesCmd(a), newMPowerSystemsCmd(a), newMPowerVerifyStatementCmd(a))
	return cmd
}

func newMPowerServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --trust PEM [--tls-cert FILE --tls-key FILE --client-ca PEM] ...",
		Short: "Run MPower alone: the check API",
		Long: `Run MPower as a service of its own:

` + mpowerRoutesHelp + `
--trust names the trust anchors the signed acts must chain to. The seal key
(--p12, --key/--cert/--chain or --token, as for 'semnat sign') signs the
status statements of GET /api/Authorization/check/statement. The parties
of each power are told of its grant, acceptance, refusal and revocation
through the MNotify at --mnotify (API key in --mnotify-key-file).
With --mpass-metadata, people use MPower's pages at /mpower/ after logging
in with that MPass (MPower a relying service signing with --saml-key and
--saml-cert: register PUBLIC-URL/mpower/saml/metadata with 'semnat mpass sp
add'): granted by me and to me, the grant wizard, accept, decline, revoke
and renounce, each act signed through the MSign at --msign (API key in
--msign-key-file; MPower a registered system there). The other
settings are those of 'semnat serve' (store, address, TLS, logs): each a
flag, $SEMNAT_NAME or a NAME = VALUE line of the --config file.
Unless $GOGC is set, the garbage collector runs at GOGC=400 (a check
allocates a little and keeps nothing: less CPU per check for a larger
peak heap); $GOGC and $GOMEMLIMIT override it.`,
		Example: `  semnat mpower serve --trust roots/ --store postgres://mpower@db/semnat --tls-cert srv.pem --tls-key srv.key --client-ca systems-ca.pem
  semnat mpower serve --config /etc/semnat/mpower.conf --print-config`,
		Args: cobra.NoArgs,
	}
	var mn mnotifyFlags
	var pages mpowerPagesFlags
	f.bind(a, cmd, false, func(ctx context.Context, a *app, f *serveFlags, name string) error {
		defaultGC(mpowerGCPercent) // mpower_gc.go
		return runMPowerServe(ctx, a, f, &mn, &pages, name)
	})
	mn.register(cmd.Flags(), "the parties of each power are told of its changes there")
	pages.register(cmd.Flags())
	return cmd
}

func runMPowerServe(ctx context.Context, a *app, f *serveFlags, mn *mnotifyFlags, pages *mpowerPagesFlags, name string) error {
	if len(f.trust) == 0 {
		return withCode(exitUsage, errors.New("no trust anchors: give --trust PEM (the signed acts must chain to them)"))
	}
	certs, err := loadCertificates(f.trust)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--trust: %w", err))
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	mc := &mpower.Config{Verify: pades.VerifyOptions{Roots: certPool(certs), Online: f.online, HTTPClient: &http.Client{Timeout: 15 * time.Second}}}
	if f.keys.given() { // the seal key signs status statements
		signer, closeSigner, err := f.keys.open(ctx, a)
		if err != nil {
			return err
		}
		defer closeSigner()
		mc.Seal, mc.SealChain = signer, append([]*x509.Certificate{signer.Certificate()}, signer.Chain()...)
	}
	if err := pages.configure(ctx, mc); err != nil {
		return withCode(exitUsage, err)
	}
	notices, err := mn.client(a.log)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if notices != nil {
		mc.Notify = &mpower.MNotify{Client: notices}
	} else {
		a.log.Info("no --mnotify: the parties of powers are not notified")
	}
	return f.serveComposed(ctx, a, tlsCfg, func(st *store.Store, base string) (server.Config, string) {
		if mc.Web != nil {
			mc.Web.PublicURL = base
		}
		return server.Config{MPower: mc},
			fmt.Sprintf("%s: %s (check: GET %s%s?AuthorizationCode=...)", name, base, base, mpowerclient.PathCodeTrueOne)
	})
}

// registryList is newListCmd's reader of a list kept by MPower's registry.
func registryList[T any](read func(*mpower.Registry, context.Context) ([]T, error)) func(context.Context, *store.Store) ([]T, error) {
	return func(ctx context.Context, st *store.Store) ([]T, error) {
		reg, err := mpower.NewRegistry(ctx, st, nil)
		if err != nil {
			return nil, err
		}
		return read(reg, ctx)
	}
}

// openRegistry opens the store of sf and the registry in it (for the
// commands that manage it; no act is verified there).
func openRegistry(cmd *cobra.Command, a *app, sf *storeFlags) (*mpower.Registry, func(), error) {
	st, err := sf.open(cmd.Flags(), a.log)
	if err != nil {
		return nil, nil, err
	}
	reg, err := mpower.NewRegistry(cmd.Context(), st, nil)
	if err != nil {
		st.Close()
		return nil, nil, withCode(exitFailed, err)
	}
	return reg, func() { st.Close() }, nil
}

// registryError maps the registry's refusals to a usage error.
func registryError(err error) error {
	if errors.Is(err, mpower.ErrInvalid) || errors.Is(err, mpower.ErrExists) || errors.Is(err, mpower.ErrNotFound) {
		return withCode(exitUsage, err)
	}
	return withCode(exitFailed, err)
}

func newMPowerTypesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "types", Short: "Define and list authorization types"}
	cmd.AddCommand(newMPowerTypesAddCmd(a), newMPowerTypesListCmd(a))
	return cmd
}

func newMPowerTypesAddCmd(a *app) *cobra.Command {
	var sf storeFlags
	var t mpower.AuthType
	names, texts := map[string]*string{}, map[string]*string{}
	cmd := &cobra.Command{
		Use:   "add AT-NNNNNNN --name-ro NAME --text-ro FILE --provider-idno IDNO --system NAME [--accept] [--max-days N] ...",
		Short: "Define an authorization type",
		Long: `Define an authorization type of a service provider. --text-LANG is a file
with the legal text of the act in that language (UTF-8, Go text/template:
{{.AuthorizingName}}, {{.AuthorizingIdn}}, {{.RepresentedIdn}}, {{.From}},
{{.To}}, {{.TypeName}}); ro is required. --system is the provider's
registered system (semnat mpower systems add) that sees its powers.`,
		Example: `  semnat mpower types add AT-0000001 --name-ro "Ridicarea certificatului de înmatriculare" --text-ro act-ro.txt \
    --provider-idno 1003600011118 --provider-name ASP --system asp --accept --max-days 365`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t.Code, t.Names, t.LegalText = args[0], map[string]string{}, map[string]string{}
			for _, l := range mpower.Langs {
				if *names[l] != "" {
					t.Names[l] = *names[l]
				}
				if *texts[l] != "" {
					b, err := os.ReadFile(*texts[l])
					if err != nil {
						return withCode(exitUsage, fmt.Errorf("--text-%s: %w", l, err))
					}
					t.LegalText[l] = string(b)
				}
			}
			reg, done, err := openRegistry(cmd, a, &sf)
			if err != nil {
				return err
			}
			defer done()
			if err := reg.AddType(cmd.Context(), cliActor(), t); err != nil {
				return registryError(err)
			}
			a.say("defined %s\n", t.Code)
			return nil
		},
	}
	sf.register(cmd.Flags())
	for _, l := range mpower.Langs {
		names[l], texts[l] = new(string), new(string)
		cmd.Flags().StringVar(names[l], "name-"+l, "", "the type's name in "+l)
		cmd.Flags().StringVar(texts[l], "text-"+l, "", "file with the legal text template in "+l)
	}
	cmd.Flags().BoolVar(&t.NeedsAcceptance, "accept", false, "the representative must accept (sign the act too)")
	cmd.Flags().BoolVar(&t.NeedsCoSigner, "co-signer", false, "a co-signer is needed")
	cmd.Flags().IntVar(&t.MaxDays, "max-days", 365, "longest validity in days")
	cmd.Flags().StringVar(&t.ProviderIDNO, "provider-idno", "", "IDNO of the service provider")
	cmd.Flags().StringVar(&t.ProviderName, "provider-name", "", "name of the service provider")
	cmd.Flags().StringVar(&t.System, "system", "", "the provider's registered system that sees these powers")
	return cmd
}

func newMPowerTypesListCmd(a *app) *cobra.Command {
	return newListCmd(a, "List the authorization types", registryList((*mpower.Registry).Types), same[mpower.AuthType],
		"CODE\tNAME\tPROVIDER\tSYSTEM\tACCEPT\tMAX DAYS", func(t mpower.AuthType) string {
			return fmt.Sprintf("%s\t%s\t%s %s\t%s\t%v\t%d", t.Code, t.Names["ro"], t.ProviderIDNO, t.ProviderName, t.System, t.NeedsAcceptance, t.MaxDays)
		})
}

func newMPowerEntitiesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "entities", Short: "The register of legal entities and their administrators"}
	cmd.AddCommand(newMPowerEntitiesImportCmd(a), newMPowerEntitiesListCmd(a))
	return cmd
}

func newMPowerEntitiesImportCmd(a *app) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Add or replace legal entities from a CSV file (all or none)",
		Long: `Add or replace legal entities from a CSV file whose first line is
	` + mpower.EntitiesCSVHeader + `
and then one line per administrator (dates YYYY-MM-DD, admin_to empty while
in office; a company without one: the admin columns empty). A bad line
stops the import before anything is written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fh, err := os.Open(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			defer fh.Close()
			list, err := mpower.ParseEntitiesCSV(fh)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", args[0], err))
			}
			reg, done, err := openRegistry(cmd, a, &sf)
			if err != nil {
				return err
			}
			defer done()
			if err := reg.PutEntities(cmd.Context(), cliActor(), list); err != nil {
				return registryError(err)
			}
			a.say("imported %d legal entities\n", len(list))
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func newMPowerEntitiesListCmd(a *app) *cobra.Command {
	return newListCmd(a, "List the legal entities and their administrators", registryList((*mpower.Registry).Entities), same[mpower.Entity],
		"IDNO\tNAME\tFORM\tADMINISTRATORS", func(e mpower.Entity) string {
			var admins []string
			for _, ad := range e.Administrators {
				to := "…"
				if !ad.To.IsZero() {
					to = ad.To.Format(time.DateOnly)
				}
				admins = append(admins, fmt.Sprintf("%s (%s–%s)", ad.IDNP, ad.From.Format(time.DateOnly), to))
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s", e.IDNO, e.Name, e.Form, strings.Join(admins, ", "))
		})
}

func newMPowerSystemsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "systems",
		Short: "Register the services that may use the check API",
		Long: `The services (information systems) that may check powers. A system is known
by its TLS client certificate (issuer and serial number) or by an API key,
of which only the SHA-256 is kept. It sees only the powers of the types
whose --system it is, unless registered with --view-all.`,
	}
	cmd.AddCommand(newMPowerSystemsAddCmd(a), newMPowerSystemsListCmd(a), newMPowerSystemsRemoveCmd(a))
	return cmd
}

func newMPowerSystemsAddCmd(a *app) *cobra.Command {
	var n mpower.NewSystem
	cmd := newSystemsAddCmd(a, "add NAME (--cert FILE | --api-key-file FILE) [--view-all] [--endpoint PATH]...",
		`  semnat mpower systems add asp --api-key-file asp.key`,
		func(ctx context.Context, st *store.Store, c systemCredential) error {
			n.Name, n.Cert, n.APIKey = c.Name, c.Cert, c.APIKey
			return mpower.AddSystem(ctx, st, cliActor(), n)
		})
	cmd.Flags().BoolVar(&n.ViewAll, "view-all", false, "the system sees powers of every type")
	cmd.Flags().StringArrayVar(&n.AllowedEndpoints, "endpoint", nil, "a path it may call (repeatable; default: all)")
	return cmd
}

func newMPowerSystemsListCmd(a *app) *cobra.Command {
	type row struct {
		Name string `json:"name"`
		systemAuth
		ViewAll   bool      `json:"viewAll"`
		Endpoints []string  `json:"endpoints,omitempty"` // none: all
		Created   time.Time `json:"created"`
	}
	return newListCmd(a, "List the registered systems", mpower.Systems, func(s mpower.System) row {
		return row{Name: s.Name, systemAuth: authOf(s.Cert), ViewAll: s.ViewAll, Endpoints: s.AllowedEndpoints, Created: s.Created}
	}, "NAME\tAUTH\tVIEW ALL\tENDPOINTS\tREGISTERED", func(r row) string {
		eps := strings.Join(r.Endpoints, " ")
		if eps == "" {
			eps = "all"
		}
		return fmt.Sprintf("%s\t%s\t%v\t%s\t%s", r.Name, r.column(), r.ViewAll, eps, r.Created.Format(time.DateTime))
	})
}

func newMPowerSystemsRemoveCmd(a *app) *cobra.Command {
	return newSystemsRemoveCmd(a, "mpower", "Remove a registered system (it can no longer check powers)")
}

func newMPowerVerifyStatementCmd(a *app) *cobra.Command {
	var trust []string
	cmd := &cobra.Command{
		Use:   "verify-statement FILE --trust PEM",
		Short: "Check a sealed status statement offline",
		Long: `Check a sealed status statement (the JWS of GET
/api/Authorization/check/statement, as a file) offline: signed by a
certificate that chains to --trust, not expired, good for at most 24 hours.
It prints what the statement says; --json prints it as JSON. Exit 0: the
statement verifies (whether the power it describes is valid is in it);
1: it does not verify; 3: bad usage.`,
		Example: `  semnat mpower verify-statement statement.jws --trust mpower-seal-root.pem`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(trust) == 0 {
				return withCode(exitUsage, errors.New("give --trust PEM: the anchors the registry's seal chains to"))
			}
			certs, err := loadCertificates(trust)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("--trust: %w", err))
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			if len(b) > 1<<20 {
				return withCode(exitUsage, fmt.Errorf("%s: %d bytes is not a statement", args[0], len(b)))
			}
			st, seal, err := mpowerclient.VerifyStatement(b, certPool(certs), time.Now())
			if err != nil {
				return withCode(exitFailed, fmt.Errorf("%s: %w", args[0], err))
			}
			if a.json {
				return a.printJSON(st)
			}
			valid := "NOT VALID"
			if st.IsValid {
				valid = "VALID"
			}
			fmt.Fprintf(a.stdout, "statement verifies (sealed by %s)\npower %s (%s): %s, status %d %s\n  by %s to %s, %s to %s\n  issued %s, good until %s\n",
				seal.Subject.CommonName, st.AuthorizationCode, st.AuthorizationTypeCode, valid, st.Status, st.StatusReason,
				st.AuthorizingIdn, st.AuthorizedIdn, st.FromDate.Format(time.DateOnly), st.ToDate.Format(time.DateOnly),
				st.IssuedAt.Format(time.RFC3339), st.ExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&trust, "trust", nil, "trust anchors: PEM/DER file or directory (repeatable)")
	return cmd
}
