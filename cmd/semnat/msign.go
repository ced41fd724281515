package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/semnat/semnat/sysauth"

	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/msign"
	"github.com/semnat/semnat/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// msignRoutesHelp lists MSign's routes for the help of the commands that
// serve it.
const msignRoutesHelp = `  POST /api/v1/verifications   verify a PDF (the report of 'semnat verify --json')
  POST /api/v1/seal            seal a PDF with the organisation's key (X-API-Key
                               or a TLS client certificate)
  POST /api/v1/sign-requests   sign PDFs with a mobile signature or a USB token
  POST /api/v1/signature-requests, GET .../{id}
                               a registered system's sign requests (PostSignRequest,
                               GetSignResponse; see 'semnat msign systems')
  POST /api/v1/signature-verifications
                               VerifySignatures: signed PDFs, CAdES over hashes
  GET|POST /{id}               the browser sent by a system: sign, then back to
                               its ReturnUrl with RequestID and RelayState
  /MSign.svc                   the same for SOAP 1.1 clients (WSDL at ?wsdl)
  /sign, /verify               web pages: sign and verify in a browser
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
  /api/openapi.json            the API description
`

func newMSignCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "msign",
		Short: "MSign: signing for people and for registered systems, and verification",
		Long: `MSign signs PDFs for people (mobile signature or USB token, on its web
pages or through the citizen API) and for registered systems, and verifies
signed documents. 'semnat msign serve' runs it alone; 'semnat serve --demo'
runs it beside the other services.`,
	}
	cmd.AddCommand(newMSignServeCmd(a), newMSignSystemsCmd(a))
	return cmd
}

func newMSignServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --trust PEM [--p12 FILE | --token ...] [--tsa URL] [--mssp URL] ...",
		Short: "Run MSign alone: sign and verify pages and API, seal API",
		Long: `Run MSign as a service of its own:

` + msignRoutesHelp + `
It reaches the timestamp authority (--tsa) and the mobile signature service
(--mssp) over HTTP, wherever they run. The settings are those of 'semnat
serve' without --demo: each a flag, $SEMNAT_NAME or a NAME = VALUE line of
the --config file; --print-config shows them.`,
		Example: `  semnat msign serve --trust roots/ --p12 seal.p12 --p12-pass-file /run/secrets/p12 --tsa https://tsa.example/ --mssp https://mssp.example/rest/service
  semnat msign serve --config /etc/semnat/msign.conf --print-config`,
		Args: cobra.NoArgs,
	}
	f.bind(a, cmd, false, runServe)
	return cmd
}

// storeFlags name the store of a command that only reads or changes state:
// --data and --store as for `semnat serve` (also $SEMNAT_DATA, $SEMNAT_STORE).
type storeFlags struct{ data, dsn string }

func (f *storeFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.data, "data", ".data", "data directory of the SQLite store (as for `semnat serve`)")
	fl.StringVar(&f.dsn, "store", "", "the store: a postgres:// URL (?pool_max_conns=N: its connections, default 8); default SQLite DATA/semnat.db")
}

func (f *storeFlags) open(fl *pflag.FlagSet, log *slog.Logger) (*store.Store, error) {
	f.fromEnv(fl)
	if f.dsn == "" {
		if err := os.MkdirAll(f.data, 0o700); err != nil {
			return nil, withCode(exitFailed, err)
		}
	}
	sf := serveFlags{data: f.data, storeDSN: f.dsn}
	return sf.openStore(log)
}

// openExisting opens a store that must exist already (a SQLite file is
// never created): for commands that only read it.
func (f *storeFlags) openExisting(fl *pflag.FlagSet, log *slog.Logger) (*store.Store, error) {
	f.fromEnv(fl)
	if f.dsn == "" {
		path := filepath.Join(f.data, "semnat.db")
		if _, err := os.Stat(path); err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("no store at %s: give --data DIR or --store URL", path))
		}
	}
	sf := serveFlags{data: f.data, storeDSN: f.dsn}
	return sf.openStore(log)
}

// fromEnv takes $SEMNAT_DATA and $SEMNAT_STORE for flags not given.
func (f *storeFlags) fromEnv(fl *pflag.FlagSet) {
	for name, v := range map[string]*string{"data": &f.data, "store": &f.dsn} {
		if env, ok := os.LookupEnv(envName(name)); ok && !fl.Changed(name) {
			*v = env
		}
	}
}

func newMSignSystemsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "systems",
		Short: "Register the information systems that may post sign requests",
		Long: `The information systems (e-services) that may post sign requests to MSign
and read their results. A system is known by its TLS client certificate
(issuer and serial number, as msign.gov.md does) or by an API key, of which
only the SHA-256 is kept; it reads only its own requests. Its browser
redirects must come back to one of its return URL prefixes.`,
	}
	cmd.AddCommand(newMSignSystemsAddCmd(a), newMSignSystemsListCmd(a), newMSignSystemsRemoveCmd(a))
	return cmd
}

func newMSignSystemsAddCmd(a *app) *cobra.Command {
	var returnURLs []string
	var rateLimit float64
	var rateBurst int
	cmd := newSystemsAddCmd(a, "add NAME (--cert FILE | --api-key-file FILE) --return-url PREFIX... [--rate-limit N [--rate-burst N]]",
		`  semnat msign systems add portal --cert portal.crt --return-url https://portal.example.md/msign/ --rate-limit 1000
  semnat msign systems add mpower --api-key-file mpower.key --return-url https://mpower.example.md/back/`,
		func(ctx context.Context, st *store.Store, c systemCredential) error {
			return msign.AddSystem(ctx, st, cliActor(), msign.NewSystem{Name: c.Name, Cert: c.Cert, APIKey: c.APIKey, ReturnURLs: returnURLs,
				RateLimit: rateLimit, RateBurst: rateBurst})
		})
	cmd.Long = `Register a system. --cert is its TLS client certificate (PEM or DER).
--api-key-file is a file holding its API key (at least 16 characters); if
the file does not exist, a new random key is written to it (mode 0600) to
hand to the system. --return-url (repeatable) is a prefix its ReturnUrls
must start with: https://, or http:// on a loopback host.

The system's API requests are counted in a bucket of its own, whatever
address they come from (not in the per-address --rate-limit of
` + "`semnat msign serve`" + `, which browsers share): --rate-limit requests per
second, in bursts of --rate-burst, or else the server's
--system-rate-limit (500 per second by default).`
	cmd.Flags().StringArrayVar(&returnURLs, "return-url", nil, "prefix of the system's return URLs (repeatable)")
	cmd.Flags().Float64Var(&rateLimit, "rate-limit", 0, "the system's own API requests per second (default: the server's --system-rate-limit)")
	cmd.Flags().IntVar(&rateBurst, "rate-burst", 0, "the system's own API request burst (default 2×--rate-limit)")
	return cmd
}

// registerSystem opens the store of sf and registers a system there with
// add (MSign's or MPower's registration): a bad registration or a name,
// certificate or key in use is a usage error.
func registerSystem(cmd *cobra.Command, a *app, sf *storeFlags, name string, add func(ctx context.Context, st *store.Store) error) error {
	st, err := sf.open(cmd.Flags(), a.log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := add(cmd.Context(), st); err != nil {
		if errors.Is(err, sysauth.ErrBadSystem) || errors.Is(err, store.ErrExists) {
			return withCode(exitUsage, err)
		}
		return withCode(exitFailed, err)
	}
	a.say("registered %s\n", name)
	return nil
}

// credentialFlags are a registered system's credential: --cert or
// --api-key-file.
type credentialFlags struct{ certFile, keyFile string }

func (f *credentialFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.certFile, "cert", "", "the system's TLS client certificate (PEM or DER)")
	cmd.Flags().StringVar(&f.keyFile, "api-key-file", "", "file with the system's API key (created with a new key if missing)")
}

// load reads the certificate, or the API key (writing a new one to the
// file when there is none, and telling so).
func (f *credentialFlags) load(a *app, name string) (*x509.Certificate, []byte, error) {
	switch {
	case (f.certFile == "") == (f.keyFile == ""):
		return nil, nil, withCode(exitUsage, errors.New("give either --cert FILE or --api-key-file FILE"))
	case f.certFile != "":
		certs, err := loadCertificates([]string{f.certFile})
		if err != nil || len(certs) != 1 {
			return nil, nil, withCode(exitUsage, fmt.Errorf("--cert %s: want one certificate: %v", f.certFile, err))
		}
		return certs[0], nil, nil
	}
	key, created, err := apiKeyFile(f.keyFile)
	if err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("--api-key-file: %w", err))
	}
	if created {
		fmt.Fprintf(a.stderr, "wrote a new API key to %s (mode 0600): give it to %s\n", f.keyFile, name)
	}
	return nil, key, nil
}

// apiKeyFile reads an API key from path, or writes a new one there (mode
// 0600) when there is no such file.
func apiKeyFile(path string) (key []byte, created bool, err error) {
	b, err := secret.FromFile(path)
	if err == nil {
		return b, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k := make([]byte, 24)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	key = []byte(hex.EncodeToString(k))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if _, err := f.Write(append(key, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	return key, true, f.Close()
}

// cliActor names who ran a command in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

func newMSignSystemsListCmd(a *app) *cobra.Command {
	type row struct {
		Name string `json:"name"`
		systemAuth
		ReturnURLs []string  `json:"returnUrls"`
		RateLimit  float64   `json:"rateLimit,omitempty"` // 0: the server's
		RateBurst  int       `json:"rateBurst,omitempty"`
		Created    time.Time `json:"created"`
	}
	return newListCmd(a, "List the registered systems", msign.Systems, func(s msign.System) row {
		return row{Name: s.Name, systemAuth: authOf(s.Cert), ReturnURLs: s.ReturnURLs, RateLimit: s.RateLimit, RateBurst: s.RateBurst, Created: s.Created}
	}, "NAME\tAUTH\tRETURN URLS\tRATE/S\tREGISTERED", func(r row) string {
		rate := "default"
		if r.RateLimit > 0 {
			rate = strconv.FormatFloat(r.RateLimit, 'g', -1, 64)
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Name, r.column(), strings.Join(r.ReturnURLs, " "), rate, r.Created.Format(time.DateTime))
	})
}

func newMSignSystemsRemoveCmd(a *app) *cobra.Command {
	return newSystemsRemoveCmd(a, "msign", "Remove a registered system (it can no longer post or read requests)")
}

// newSystemsRemoveCmd is `semnat SERVICE systems remove NAME`: the
// service's systems are sysauth's, kept under the service's name.
func newSystemsRemoveCmd(a *app, service, short string) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: short,
		Long: short + `.
Running servers remember a system they recently authenticated for up to 3
seconds, so the removal takes effect on them within that time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := sf.open(cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := sysauth.Remove(cmd.Context(), st, cliActor(), service, args[0]); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return withCode(exitUsage, fmt.Errorf("no system %q is registered (see `semnat %s systems list`)", args[0], service))
				}
				return withCode(exitFailed, err)
			}
			a.say("removed %s\n", args[0])
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}
