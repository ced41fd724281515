package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/secret"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpass/demorp"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

func newServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve (--demo | --trust PEM [--p12 FILE | --token ...] [--tsa URL] ...)",
		Short: "Run semnat's services in one server: MSign (sign, verify, seal); --demo: all services on a test PKI",
		Long: `Run semnat's HTTP services in one server. Without --demo that is MSign
(the same as 'semnat msign serve'):

` + msignRoutesHelp + `
Errors are RFC 9457 problem documents. State (sign requests and their files
for 15 minutes, the append-only audit log of every signature and seal) is kept in SQLite in --data, or in PostgreSQL
(--store postgres://...) so that several instances share it.

--demo runs every service on embedded defaults, nothing to configure: a test
PKI generated into DATA/pki on first start (its certificates point at
--addr), the test seal key, an API key written to DATA/api-key (mode 0600),
and beside MSign the PKI services (/tsa, /ocsp, /crl/, /ca/) and the
mobile-signature simulator (/mid-api/, /rest/service, virtual phone /sim/).
Without --addr it listens where its test PKI points (127.0.0.1:8480 for a
new one); when that port is taken it says which demo on the same data
directory holds it, or, with no PKI yet, takes a free port.

Without --demo the server takes its trust anchors (--trust), the seal key
(--p12, --key/--cert/--chain or --token, as for 'semnat sign'; PINs and
passwords from files or $SEMNAT_PIN / $SEMNAT_P12_PASSWORD, never flags), the
timestamp authority (--tsa), the mobile signature service the sign page
asks phones through (--mssp) and the registered systems (--api-keys, and
TLS client certificates under --client-ca) from its settings. Citizens'
USB tokens are reached through 'semnat agent' on their own machines.

Every setting is a flag, or $SEMNAT_NAME (e.g. SEMNAT_RATE_LIMIT=200), or a
NAME = VALUE line in the --config file (also $SEMNAT_CONFIG); a flag wins
over the environment, which wins over the file. --print-config shows the
result in the file format.`,
		Example: `  semnat serve --demo
  curl -s --data-binary @signed.pdf -H 'Content-Type: application/pdf' http://127.0.0.1:8480/api/v1/verifications
  curl -s --data-binary @in.pdf -H "X-API-Key: $(cat .data/api-key)" http://127.0.0.1:8480/api/v1/seal > sealed.pdf
  semnat serve --trust roots/ --p12 seal.p12 --p12-pass-file /run/secrets/p12 --tsa https://tsa.example/ --api-keys systems.txt
  semnat serve --config /etc/semnat/serve.conf --print-config`,
		Args: cobra.NoArgs,
	}
	f.bind(a, cmd, true, runServe)
	return cmd
}

// serveRunner runs a configured service (name: the command, for its first
// line).
type serveRunner func(ctx context.Context, a *app, f *serveFlags, name string) error

// bind gives cmd the serve settings (with --demo when demo) and runs it
// with them: configuration sources, --print-config, the log, then the demo
// or run.
func (f *serveFlags) bind(a *app, cmd *cobra.Command, demo bool, run serveRunner) {
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := configSources(cmd.Flags(), f.config); err != nil {
			return withCode(exitUsage, err)
		}
		if f.printConfig {
			printConfig(a.stdout, cmd.CommandPath(), cmd.Flags())
			return nil
		}
		log, err := f.logger(a.stderr, a.verbose)
		if err != nil {
			return withCode(exitUsage, err)
		}
		a.log = log
		if f.demo {
			f.addrGiven = cmd.Flags().Changed("addr")
			return runServeDemo(cmd.Context(), a, f)
		}
		return run(cmd.Context(), a, f, cmd.CommandPath())
	}
	f.register(cmd.Flags(), demo)
}

// msignConfig is the part of msign.Config common to both modes.
func (f *serveFlags) msignConfig(a *app, st *store.Store) msign.Config {
	return msign.Config{Store: st, VerifyOnline: f.online, Log: a.log,
		MaxUpload: int64(f.maxUpload), MaxConcurrent: f.maxConcurrent, RateLimit: f.rateLimit, RateBurst: f.rateBurst, SystemRateLimit: f.systemRateLimit,
		RequestTimeout: f.requestTimeout, PromptRate: f.promptRate,
		SpoolDir: filepath.Join(f.data, "spool")} // uploads in our own directory, swept at start
}

// listen binds --addr: the listener, its own URL (for the "listening on"
// line) and the public URL (--public-url, else the listener's).
func (f *serveFlags) listen() (ln net.Listener, local, public string, err error) {
	ln, local, err = httpserve.Listen(f.addr)
	if err != nil {
		return nil, "", "", withCode(exitUsage, err)
	}
	public = local
	if f.publicURL != "" {
		public = strings.TrimRight(f.publicURL, "/")
	} else if f.tlsCert != "" {
		public = "https://" + strings.TrimPrefix(local, "http://")
	}
	return ln, local, public, nil
}

// runServe runs MSign on the configured keys and trust anchors (name: the
// command, for its first line).
func runServe(ctx context.Context, a *app, f *serveFlags, name string) error {
	if len(f.trust) == 0 {
		return withCode(exitUsage, errors.New("no trust anchors: give --trust PEM (or run with --demo for the embedded test PKI)"))
	}
	certs, err := loadCertificates(f.trust)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--trust: %w", err))
	}
	roots := certPool(certs)
	var extra [][]byte // stored in the DSS of B-LT signatures
	for _, c := range certs {
		extra = append(extra, c.Raw)
	}
	anchors, inter, _ := splitAnchors(certs)
	mobile, err := f.mobileClient(anchors, inter)
	if err != nil {
		return withCode(exitUsage, err)
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	cfg := f.msignConfig(a, nil) // the store is opened below, once the settings are known good
	cfg.Roots, cfg.AgentURL, cfg.Mobile = roots, f.agentURL, mobile
	cfg.RootCerts = certs // the same anchors, served to the in-browser verifier
	cfg.Revocation, cfg.ExtraCerts = pades.OnlineRevocation{HTTP: &http.Client{Timeout: 15 * time.Second}}, extra
	if f.keys.given() {
		lvl, err := pades.ParseLevel(f.sealLevel)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--seal-level: %w", err))
		}
		if lvl >= pades.LevelBT && f.tsaURL == "" {
			return withCode(exitUsage, fmt.Errorf("--seal-level %s needs a timestamp authority: give --tsa URL (or --seal-level B-B)", lvl))
		}
		signer, closeSigner, err := f.keys.open(ctx, a)
		if err != nil {
			return err
		}
		defer closeSigner()
		cfg.Seal, cfg.SealLevel = signer, lvl
	}
	if f.tsaURL != "" {
		cfg.Timestamper = pades.TSA{Client: &tsa.Client{URL: f.tsaURL, HTTPClient: &http.Client{Timeout: 15 * time.Second}}}
	}
	if cfg.Powers, err = f.mpowerClient(); err != nil {
		return withCode(exitUsage, err)
	}
	if f.apiKeys != "" {
		if cfg.APIKeyDigests, err = readAPIKeys(f.apiKeys); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if cfg.Seal != nil && cfg.APIKeyDigests == nil && (tlsCfg == nil || tlsCfg.ClientCAs == nil) {
		a.log.Warn("a seal key is configured but no system can use it: give --api-keys or --client-ca")
	}
	return f.serveComposed(ctx, a, tlsCfg, func(st *store.Store, base string) (server.Config, string) {
		cfg.Store, cfg.PublicOrigin = st, originOf(base)
		return server.Config{MSign: &cfg},
			fmt.Sprintf("%s: %s (verify: POST %s/api/v1/verifications; seal: %s; pages: %s/sign %s/verify)", name, base, base, sealState(cfg.Seal), base, base)
	})
}

// serveComposed listens on --addr, opens the store, composes the server
// compose describes (its Store, Log and host settings are filled in here),
// says the banner compose returns and serves until ctx ends.
func (f *serveFlags) serveComposed(ctx context.Context, a *app, tlsCfg *tls.Config, compose func(st *store.Store, base string) (server.Config, string)) error {
	ln, local, base, err := f.listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	st, err := f.openStore(a.log)
	if err != nil {
		return err
	}
	defer st.Close()
	sc, banner := compose(st, base)
	sc.Store, sc.Log = st, a.log
	if err := f.hostConfig(&sc); err != nil {
		return err
	}
	srv, err := server.New(sc)
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer srv.Close()
	fmt.Fprintln(a.stderr, banner)
	return serveUntilDone(ctx, a, ln, local, srv, tlsCfg)
}

// originOf is the web origin (scheme://host[:port]) of a URL.
func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return base
	}
	return u.Scheme + "://" + u.Host
}

func sealState(s pades.Signer) string {
	if s == nil {
		return "no key"
	}
	return "key of " + s.Certificate().Subject.CommonName
}

// serveUntilDone serves until ctx ends (SIGINT/SIGTERM), then shuts down
// gracefully.
func serveUntilDone(ctx context.Context, a *app, ln net.Listener, local string, h http.Handler, tlsCfg *tls.Config) error {
	// The server logs each request itself (with its request id).
	if err := httpserve.ServeListener(ctx, ln, local, h, httpserve.Options{Ready: a.stdout, TLS: tlsCfg, MaxHeaderBytes: service.ServerMaxHeaderBytes}); err != nil {
		return withCode(exitFailed, err)
	}
	return nil
}

// demoPKI loads DATA/pki or generates it with its URLs at base.
func demoPKI(a *app, dir, base string) (*testcerts.PKI, error) {
	if _, err := os.Stat(filepath.Join(dir, testcerts.IndexFile)); err == nil {
		p, err := testcerts.Load(dir)
		if err != nil {
			return nil, err
		}
		if p.BaseURL != base {
			fmt.Fprintf(a.stderr, "warning: the test PKI in %s points at %s, not %s: its AIA/OCSP URLs will not reach this server (remove %s to regenerate)\n", dir, p.BaseURL, base, dir)
		}
		return p, nil
	}
	p, err := testcerts.Generate(testcerts.Options{BaseURL: base})
	if err != nil {
		return nil, err
	}
	if _, err := p.WriteDir(dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(a.stderr, "generated a test PKI in %s\n", dir)
	return p, nil
}

// demoAPIKey reads DATA/api-key or creates it (mode 0600).
func demoAPIKey(path string) (string, error) {
	if b, err := secret.FromFile(path); err == nil && len(b) > 0 {
		return string(b), nil
	}
	k := make([]byte, 24)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	key := hex.EncodeToString(k)
	return key, os.WriteFile(path, []byte(key+"\n"), 0o600)
}

// demoListen binds the demo's address: --addr, or without it the address
// the demo's test PKI names (its certificates point there), else the
// default. A busy port gets a clear answer, as for 'semnat demo': another
// demo on this data directory is named; with neither --addr nor a PKI yet,
// a free port is taken (the PKI is generated for it).
func (f *serveFlags) demoListen(ctx context.Context, a *app, pkiDir string) (net.Listener, string, string, error) {
	var p *testcerts.PKI
	if _, err := os.Stat(filepath.Join(pkiDir, testcerts.IndexFile)); err == nil {
		if p, err = testcerts.Load(pkiDir); err != nil {
			return nil, "", "", withCode(exitUsage, err)
		}
		if u, err := url.Parse(p.BaseURL); err == nil && u.Host != "" && !f.addrGiven {
			f.addr = u.Host
		}
	}
	ln, local, base, err := f.listen()
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return ln, local, base, err
	}
	switch {
	case p != nil && servesPKI(ctx, p):
		return nil, "", "", withCode(exitUsage, fmt.Errorf("%s is in use by another 'semnat serve --demo' on the data directory %s: its pages are at %s/sign (use it, or stop it first)", f.addr, f.data, p.BaseURL))
	case p != nil:
		return nil, "", "", withCode(exitUsage, fmt.Errorf("%w: the demo's test PKI in %s names this address; stop what uses it, give another --addr, or remove %s to start on a free port", err, pkiDir, pkiDir))
	case f.addrGiven:
		return nil, "", "", withCode(exitUsage, fmt.Errorf("%w: stop what uses it, or give another --addr", err))
	}
	host, _, _ := net.SplitHostPort(f.addr)
	fmt.Fprintf(a.stderr, "%s is taken: the demo takes a free port\n", f.addr)
	f.addr = net.JoinHostPort(host, "0")
	return f.listen()
}

// demoPhones is the number of virtual phones (manual users) of the demo.
const demoPhones = 20

func runServeDemo(ctx context.Context, a *app, f *serveFlags) error {
	data := f.data
	if err := os.MkdirAll(data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	pkiDir := filepath.Join(data, "pki")
	ln, local, base, err := f.demoListen(ctx, a, pkiDir)
	if err != nil {
		return err
	}
	defer ln.Close()
	p, err := demoPKI(a, pkiDir, base)
	if err != nil {
		return withCode(exitFailed, err)
	}
	st, err := f.openStore(a.log)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := pkiserve.New(p, pkiserve.Options{Dir: pkiDir, Log: a.log})
	if err != nil {
		return withCode(exitFailed, err)
	}
	sim, err := mobileid.New(mobileid.Options{PKI: p, Phone: true, GeneratedUsers: demoPhones, Log: a.log})
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer sim.Close()
	// The virtual phones' keys are made now, and their certificates made
	// known to the OCSP responder, so that what they sign verifies.
	for i := 0; i < demoPhones; i++ {
		sign, auth, _, err := sim.Certificates(mobileid.GeneratedUser(i).MSISDN)
		if err != nil {
			return withCode(exitFailed, err)
		}
		svc.Registry.AddCA(p.MobileCA.Cert, []*big.Int{sign.SerialNumber, auth.SerialNumber})
	}
	// So are the scripted phones' (those that have keys), so that logging
	// in with them passes the revocation check.
	for _, u := range sim.Users() {
		if sign, auth, _, err := sim.Certificates(u.MSISDN); err == nil {
			svc.Registry.AddCA(p.MobileCA.Cert, []*big.Int{sign.SerialNumber, auth.SerialNumber})
		}
	}
	keyPath := filepath.Join(data, "api-key")
	key, err := demoAPIKey(keyPath)
	if err != nil {
		return withCode(exitFailed, err)
	}
	seal := p.MustGet("seal")
	// Sign requests ask phones through the simulator this server mounts
	// (ETSI face: the IDNP is optional there).
	mobile, err := mobileid.NewClient(base+"/rest/service", mobileid.ClientOptions{Face: mobileid.FaceETSI, Roots: p.RootPool(),
		Intermediates: p.IntermediatePool(), PollInterval: time.Second, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		return withCode(exitFailed, err)
	}
	cfg := f.msignConfig(a, st)
	cfg.Roots, cfg.RootCerts = p.RootPool(), p.TrustAnchors()
	cfg.RevocationIssuers = p.TrustedCAs() // the in-browser verifier's revocation proxy asks about these
	cfg.Seal, cfg.SealLevel = pades.NewKeySigner(seal.Key, seal.Cert, seal.Chain), pades.LevelBT
	cfg.Timestamper = pades.TSA{Client: &tsa.Client{URL: base + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 15 * time.Second}}}
	cfg.APIKeys = map[string]string{key: "demo"}
	cfg.Mobile, cfg.PublicOrigin = mobile, base
	cfg.Revocation, cfg.ExtraCerts = pades.OnlineRevocation{HTTP: &http.Client{Timeout: 15 * time.Second}}, [][]byte{p.Root.Cert.Raw}
	mpassCfg, err := demoMPass(a, data, base, mobile)
	if err != nil {
		return withCode(exitFailed, err)
	}
	if err := demoMPassExtras(mpassCfg, p, base, key); err != nil {
		return withCode(exitFailed, err)
	}
	mp, err := demoMPower(ctx, st, data, base)
	if err != nil {
		return withCode(exitFailed, err)
	}
	if cfg.Powers, err = demoPowers(ctx, st, data, base); err != nil {
		return withCode(exitFailed, err)
	}
	mp.Verify = pades.VerifyOptions{Roots: p.RootPool(), Online: true, HTTPClient: &http.Client{Timeout: 15 * time.Second}}
	mp.Seal, mp.SealChain = seal.Key, append([]*x509.Certificate{seal.Cert}, seal.Chain...)
	// MPay's REST messages are signed ES256 by a message key made at each
	// start (its demo SPs and the portal are given its certificate); the
	// receipts keep the RSA seal.
	msgKey, msgCert, err := mpay.NewMessageKey("MPay (demo)")
	if err != nil {
		return withCode(exitFailed, err)
	}
	pc, err := demoPortal(ctx, st, data, base, f.catalog, msgCert)
	if err != nil {
		return withCode(exitUsage, err)
	}
	pc.Office = demoOffice(a, p, pc.Catalog, cfg.Timestamper)
	mpayCfg := &mpay.Config{Key: seal.Key, Cert: seal.Cert, Chain: seal.Chain, MessageKey: msgKey, MessageCert: msgCert, Timestamper: cfg.Timestamper,
		Revocation: pades.OnlineRevocation{HTTP: &http.Client{Timeout: 15 * time.Second}}, ExtraCerts: [][]byte{p.Root.Cert.Raw}}
	notifiers, err := newDemoNotifiers(data, base)
	if err != nil {
		return withCode(exitFailed, err)
	}
	pc.MNotify, mpayCfg.MNotify = notifiers.portal, notifiers.mpay
	if mpayCfg.Web, err = demoMPayWeb(base); err != nil {
		return withCode(exitFailed, err)
	}
	mp.Notify = &mpower.MNotify{Client: notifiers.mpower}
	sc := server.Config{Store: st, Log: a.log, MSign: &cfg, MPass: mpassCfg, PKIServices: svc, MobileSim: sim.Handler(), MPower: mp, MPay: mpayCfg, Portal: pc}
	mn, sink, err := demoMNotify()
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer sink.Close()
	sc.MNotify = mn
	if err := f.hostConfig(&sc); err != nil {
		return err
	}
	srv, err := server.New(sc)
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer srv.Close()
	mountMailSink(srv, sink)
	if err := seedMNotify(ctx, st, key); err != nil {
		return withCode(exitFailed, fmt.Errorf("seeding MNotify: %w", err))
	}
	if err := notifiers.register(ctx, st); err != nil {
		return withCode(exitFailed, err)
	}
	if err := demoRelyingService(ctx, srv, base); err != nil {
		return withCode(exitFailed, err)
	}
	if err := seedMPower(ctx, st, srv.MPower.Registry(), key); err != nil {
		return withCode(exitFailed, fmt.Errorf("seeding MPower: %w", err))
	}
	if err := registerPortal(ctx, srv, pc.Catalog); err != nil {
		return withCode(exitFailed, err)
	}
	if err := registerMPowerPages(ctx, srv); err != nil {
		return withCode(exitFailed, err)
	}
	if err := registerMPayPages(ctx, srv); err != nil {
		return withCode(exitFailed, err)
	}
	if err := mountDemoSP(ctx, srv, st, base, seal.Cert); err != nil {
		return withCode(exitFailed, fmt.Errorf("the demo MPay service provider: %w", err))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = svc.Run(ctx) }()
	fmt.Fprintf(a.stderr, "%s\n", strings.Join([]string{
		"semnat demo services:",
		"  portal:        " + base + "/   (public services: catalogue and applications; log in with a virtual phone)",
		"  web pages:     " + base + "/sign   " + base + "/verify   " + base + "/msign",
		"  sign API:      POST " + base + "/api/v1/sign-requests   (token signing needs `semnat agent` on " + wire.DefaultAddr + ")",
		"  verify:        POST " + base + "/api/v1/verifications",
		"  seal:          POST " + base + "/api/v1/seal   (X-API-Key from " + keyPath + ")",
		"  for systems:   POST " + base + "/api/v1/signature-requests, SOAP " + base + "/MSign.svc?wsdl   (register with `semnat msign systems add --data " + data + "`)",
		"  MPass (SAML):  " + base + mpass.PathMetadata + "   (relying services: `semnat mpass sp add --metadata FILE --data " + data + "`)",
		"  log in:        " + base + demorp.Path + "/   (a demo service: log in with a virtual phone, PIN " + mobileid.DefaultPIN1 + ")",
		"                 or a SoftHSM token of the demo PKI through `semnat agent --origin " + base + "`",
		"  log in (OIDC): " + base + demorp.OIDCPath + "/   (a demo OpenID Connect client of " + base + mpass.PathOIDC + ", same login and session)",
		"  MPass admin:   " + base + "/admin   (log in with " + mobileid.GeneratedUser(0).MSISDN + "; relying services' fault-injection switches)",
		"  MPower pages:  " + base + mpower.PathPages + "/   (powers of representation: grant, accept, revoke; log in with a virtual phone)",
		"  MPower:        GET " + base + mpowerclient.PathCodeTrueOne + "?AuthorizationCode=…, POST " + base + mpowerclient.PathGrants + "   (X-API-Key from " + keyPath + "; type " + demoMPowerCode + ")",
		"  MNotify:       POST " + base + mnotifyclient.PathNotifications + "   (X-API-Key from " + keyPath + "); e-mail received: " + base + mnotifyclient.PathReceiver,
		"  MPay:          " + base + mpay.PathStart + "   (a demo service with orders: " + base + demoSPPath + "/ , one speaking SOAP: " + base + demoSOAPSPPath + "/ ; test cards in the README)",
		"  MPay history:  " + base + mpay.PathMine + "   (after MPass login; staff of " + demoSPID + ": " + base + mpay.PathStaff + demoSPID + ")",
		"  TSA / OCSP:    " + base + testcerts.TSAPath + "   " + base + testcerts.OCSPPath,
		"  mobile (MSSP): " + base + "/mid-api   " + base + "/rest/service",
		"  virtual phone: " + base + "/sim/+37369000000 … " + mobileid.GeneratedUser(demoPhones-1).MSISDN + " (PIN " + mobileid.DefaultPIN2 + " to sign, " + mobileid.DefaultPIN1 + " to log in)",
		"  trust anchors: " + filepath.Join(pkiDir, testcerts.TrustAnchorsFile),
	}, "\n"))
	return serveUntilDone(ctx, a, ln, local, srv, nil)
}
