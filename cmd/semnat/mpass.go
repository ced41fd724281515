package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpass/demorp"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// mpassRoutesHelp lists MPass's routes for the help of the commands that
// serve it.
const mpassRoutesHelp = `  /meta/saml                   SAML 2.0 metadata of the identity provider (signed)
  /login/saml                  SSO: signed AuthnRequests over HTTP-POST or HTTP-Redirect
                               (?lang=ro|ru|en: the login page's language)
  /login                       the login page: mobile signature, USB token (semnat agent)
  /oidc/.well-known/openid-configuration
                               OpenID Connect discovery (issuer PUBLIC-URL/oidc): authorize,
                               token, userinfo, keys (JWKS), end_session below /oidc
  /session                     the person's session: the services logged into, log out of all
  /logout/saml                 SAML single logout (a service that does not answer within 3 s
                               is skipped: PartialLogout); OIDC clients get back-channel logout
  /admin                       administrators (--admin IDNP): relying services, fault switches
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
`

func newMPassCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mpass",
		Short: "MPass: the identity provider relying services log their users in through (SAML 2.0, OpenID Connect)",
		Long: `MPass logs people in to relying services with their mobile signature and
answers the services with signed SAML 2.0 Responses in the official MPass
profile (NameID = IDNP; FirstName, LastName, MobilePhone, Language, IDNO and
CompanyName from an organisation certificate). 'semnat mpass serve' runs it
alone; 'semnat serve --demo' runs it beside the other services. Relying
services are registered from their SAML metadata with 'semnat mpass sp add';
OpenID Connect clients (issuer PUBLIC-URL/oidc, code flow with PKCE) with
'semnat mpass client add'.`,
	}
	cmd.AddCommand(newMPassServeCmd(a), newMPassSPCmd(a))
	cmd.AddCommand(newMPassClientCmd(a))
	return cmd
}

// mpassFlags are the settings of `semnat mpass serve` beyond serveFlags.
type mpassFlags struct {
	sessionTTL, sessionIdle time.Duration
	oidcKey                 string // PEM private key signing ID tokens (mpass_client.go)
	admins                  []string
	mpowerURL, mpowerKey    string
	ecdsaKeyFile            string // PEM P-256 key for ecdsa-sha256 relying services (mpass_ecdsa.go)
	ecdsaCertFile           string
	maxSAML                 int // SAML SSO requests worked on at once (mpass/admit.go)
}

func newMPassServeCmd(a *app) *cobra.Command {
	mf := &mpassFlags{}
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve (--p12 FILE | --key FILE --cert FILE | --token ...) [--mssp URL --trust PEM] ...",
		Short: "Run MPass alone: SAML 2.0 identity provider, login by mobile signature",
		Long: `Run MPass as a service of its own:

` + mpassRoutesHelp + `
The key (--p12, --key/--cert or --token, as for 'semnat sign') signs every
Response and the metadata; relying services pin its certificate. People log
in with the mobile signature service --mssp (on its Mobile-ID face,
.../mid-api, the login form also asks for the IDNP), or with their USB token through
'semnat agent' on their computer (started with --origin set to this
service's public URL); their certificates must chain to --trust, and their
revocation is checked online (OCSP, else the CRL). The
relying services are those registered in the store (--data or --store) with
'semnat mpass sp add'.

The settings are those of 'semnat serve' (each a flag, $SEMNAT_NAME or a
NAME = VALUE line of the --config file; --print-config shows them); the
seal, TSA, API key and upload settings are MSign's and are not used here.
Unless $GOGC is set, the garbage collector runs at GOGC=400 (a Response
allocates much and keeps little: about 10% less CPU per Response for a
larger peak heap); $GOGC and $GOMEMLIMIT override it.`,
		Example: `  semnat mpass serve --p12 mpass.p12 --p12-pass-file /run/secrets/p12 --mssp https://mssp.example/rest/service --trust roots/ --public-url https://mpass.example.md
  semnat mpass sp add --metadata shop-metadata.xml`,
		Args: cobra.NoArgs,
	}
	f.bind(a, cmd, false, func(ctx context.Context, a *app, f *serveFlags, name string) error {
		defaultGC(mpassGCPercent) // mpass_gc.go, mpower_gc.go
		return runMPassServe(ctx, a, f, mf, name)
	})
	cmd.Flags().StringArrayVar(&mf.admins, "admin", nil, "IDNP of a person who may use the admin page /admin (repeatable)")
	cmd.Flags().StringVar(&mf.mpowerURL, "mpower-url", "", "MPower's URL: AdministeredLegalEntity from its register of legal entities")
	cmd.Flags().StringVar(&mf.mpowerKey, "mpower-api-key-file", "", "file holding MPass's API key at MPower (a system registered with 'semnat mpower systems add')")
	cmd.Flags().DurationVar(&mf.sessionTTL, "session-ttl", 8*time.Hour, "longest SSO session: after it the person logs in again")
	cmd.Flags().DurationVar(&mf.sessionIdle, "session-idle", time.Hour, "an SSO session no service logged in through for this long is over")
	cmd.Flags().StringVar(&mf.ecdsaKeyFile, "ecdsa-key", "", "PEM ECDSA P-256 private key signing the Responses of relying services added with --signature-algorithm ecdsa-sha256 (with --ecdsa-cert)")
	cmd.Flags().StringVar(&mf.ecdsaCertFile, "ecdsa-cert", "", "the --ecdsa-key's certificate, published in the metadata beside the main one")
	cmd.Flags().IntVar(&mf.maxSAML, "max-saml-requests", 0, "SAML SSO requests worked on at once, the others wait their turn in arrival order (0: 4 per core; -1: no limit)")
	cmd.Flags().StringVar(&mf.oidcKey, "oidc-key", "", "PEM private key signing OpenID Connect ID tokens (ECDSA P-256: ES256; default: the SAML key, RS256)")
	return cmd
}

// runMPassServe runs MPass on the configured key, MSSP and trust anchors.
func runMPassServe(ctx context.Context, a *app, f *serveFlags, mf *mpassFlags, name string) error {
	if !f.keys.given() {
		return withCode(exitUsage, errors.New("MPass signs its Responses: give its key with --p12 FILE, --key FILE --cert FILE or --token"))
	}
	var mobile *mobileid.Client
	var anchors, inter *x509.CertPool
	if len(f.trust) > 0 {
		certs, err := loadCertificates(f.trust)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--trust: %w", err))
		}
		anchors, inter, _ = splitAnchors(certs)
	}
	if f.mssp != "" {
		if anchors == nil {
			return withCode(exitUsage, errors.New("--mssp needs --trust: the CA certificates the phones' certificates must chain to"))
		}
		var err error
		if mobile, err = f.mobileClient(anchors, inter); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if anchors == nil {
		a.log.Warn("no --trust: nobody can log in (MPass needs the CAs that people's certificates chain to)")
	}
	for _, id := range mf.admins {
		if idn.KindOf(id) != idn.Person {
			return withCode(exitUsage, fmt.Errorf("--admin %q: not a valid IDNP", id))
		}
	}
	var mp *mpowerclient.Client
	if mf.mpowerURL != "" {
		var key []byte
		if mf.mpowerKey != "" {
			var err error
			if key, err = readLimited(mf.mpowerKey, 4096); err != nil {
				return withCode(exitUsage, fmt.Errorf("--mpower-api-key-file: %w", err))
			}
		}
		var err error
		if mp, err = mpowerclient.New(mf.mpowerURL, mpowerclient.Options{APIKey: strings.TrimSpace(string(key))}); err != nil {
			return withCode(exitUsage, fmt.Errorf("--mpower-url: %w", err))
		}
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	oidcOpts, err := mf.oidcOptions()
	if err != nil {
		return withCode(exitUsage, err)
	}
	ecKey, ecCert, err := mf.ecdsaKey()
	if err != nil {
		return withCode(exitUsage, err)
	}
	signer, closeSigner, err := f.keys.open(ctx, a)
	if err != nil {
		return err
	}
	defer closeSigner()
	return f.serveComposed(ctx, a, tlsCfg, func(_ *store.Store, base string) (server.Config, string) {
		return server.Config{MPass: &mpass.Config{PublicURL: base, Key: signer, Certificate: signer.Certificate(), Chain: signer.Chain(), Mobile: mobile,
				TokenRoots: anchors, TokenIntermediates: inter, AgentURL: f.agentURL,
				Admins: mf.admins, MPower: mp, SessionTTL: mf.sessionTTL, SessionIdle: mf.sessionIdle, OIDC: oidcOpts,
				ECDSAKey: ecKey, ECDSACertificate: ecCert, MaxSAMLRequests: mf.maxSAML}},
			fmt.Sprintf("%s: %s (metadata: %s%s; SSO: %s%s; signing key of %s)", name, base, base, mpass.PathMetadata, base, mpass.PathSSO,
				signer.Certificate().Subject.CommonName)
	})
}

// demoMPass is MPass's configuration in the demo: a self-signed signing
// key made on first start in DATA/mpass (as the MPass staging IdP's), the
// phones of the simulator the demo mounts.
func demoMPass(a *app, data, base string, mobile *mobileid.Client) (*mpass.Config, error) {
	dir := filepath.Join(data, "mpass")
	keyPath, certPath := filepath.Join(dir, "idp-key.pem"), filepath.Join(dir, "idp-cert.pem")
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		key, cert, err := mpass.SelfSigned("mpass.semnat.test", time.Now(), 10)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "generated the MPass signing key in %s\n", dir)
	}
	b, err := keyfile.LoadPEM(keyPath, certPath, "")
	if err != nil {
		return nil, fmt.Errorf("the demo's MPass key in %s: %w (remove the folder to make a new one)", dir, err)
	}
	oidcKey, err := demoOIDCKey(a, dir)
	if err != nil {
		return nil, err
	}
	return &mpass.Config{PublicURL: base, Key: b.Key, Certificate: b.Cert, Mobile: mobile, OIDC: mpass.OIDCOptions{Key: oidcKey}}, nil
}

// demoMPassExtras lets the demo's MPass accept SoftHSM tokens of the demo
// PKI, read the demo's MPower register of legal entities (with the demo API
// key) for AdministeredLegalEntity, and be administered by the first
// virtual phone's holder.
func demoMPassExtras(cfg *mpass.Config, p *testcerts.PKI, base, apiKey string) error {
	cfg.TokenRoots, cfg.TokenIntermediates = p.RootPool(), p.IntermediatePool()
	cfg.Admins = []string{mobileid.GeneratedUser(0).IDNP}
	var err error
	cfg.MPower, err = mpowerclient.New(base, mpowerclient.Options{APIKey: apiKey})
	return err
}

// demoRelyingService mounts the demo's relying service and registers it
// with the demo's MPass (anew at each start: its key is made at start).
func demoRelyingService(ctx context.Context, srv *server.Server, base string) error {
	meta, err := srv.MPass.Metadata()
	if err != nil {
		return err
	}
	rp, err := demorp.New(base, meta)
	if err != nil {
		return err
	}
	md, err := rp.Metadata()
	if err != nil {
		return err
	}
	if _, err := srv.MPass.Registry().Add(ctx, md, mpass.SPOptions{SignAssertion: true, Encrypt: true}, time.Now()); err != nil {
		return err
	}
	srv.Mount(rp.Service())
	return demoOIDCClient(ctx, srv, base)
}

// writeFileAtomic writes a file whole or not at all.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readLimited reads at most n bytes of a file.
func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// mpassStoreFlags are the store settings of the registration commands.
func mpassStoreFlags(cmd *cobra.Command) *serveFlags {
	f := &serveFlags{}
	cmd.Flags().StringVar(&f.data, "data", ".data", "data directory of the SQLite store (as for 'semnat mpass serve')")
	cmd.Flags().StringVar(&f.storeDSN, "store", "", "the store: a postgres:// URL (?pool_max_conns=N: its connections, default 8); default SQLite DATA/semnat.db")
	return f
}

func newMPassSPCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sp",
		Short: "Register, list and remove the relying services (SAML service providers)",
	}
	add := &cobra.Command{
		Use:   "add --metadata FILE [--sign-assertion] [--encrypt | --encryption-cert PEM] [--attributes A,B] [--eidas] [--fault NAME]",
		Short: "Register a relying service from its SAML metadata (or replace its registration)",
		Long: `Register a relying service from its SAML 2.0 metadata: one EntityDescriptor
with an SPSSODescriptor, an AssertionConsumerService over HTTP-POST (the only
return addresses MPass sends Responses to) and a signing certificate (MPass
accepts AuthnRequests signed with it only). Registering the same entityID
again replaces the registration.

The Response is always signed. --sign-assertion signs the Assertion too;
--encrypt sends an EncryptedAssertion for the metadata's encryption
certificate (--encryption-cert PEM: for this one instead); an encrypted
assertion is always signed first. --attributes lists the attributes released
(NameIdentifier, FirstName, LastName, BirthDate, Gender, IsResident,
EmailAddress, MobilePhone, Language, AdministeredLegalEntity, IDNO,
CompanyName, Role);
by default those the metadata's AttributeConsumingService requests, else all.
--eidas answers in the eIDAS profile: the eIDAS natural- and legal-person
attribute URIs and the eIDAS LoA (http://eidas.europa.eu/LoA/high) as
AuthnContextClassRef. --signature-algorithm ecdsa-sha256 signs its Responses
with MPass's ECDSA P-256 key ('semnat mpass serve --ecdsa-key', published in
the metadata beside the main key) instead of RSA: about half the CPU per
Response, for relying services that check ECDSA (a single logout is signed
with it when every SAML service it reaches is registered so). --fault turns on a fault-injection switch for the
relying service's conformance tests (see 'semnat mpass sp faults --help').`,
		Example: `  semnat mpass sp add --metadata shop-metadata.xml
  semnat mpass sp add --metadata portal.xml --sign-assertion --encrypt --attributes NameIdentifier,FirstName,LastName,Role
  curl -s https://shop.example/saml/metadata | semnat mpass sp add --metadata -`,
		Args: cobra.NoArgs,
	}
	var metaPath, encCert string
	var opts mpass.SPOptions
	addStore := mpassStoreFlags(add)
	add.Flags().StringVar(&metaPath, "metadata", "", "the relying service's SAML metadata file (- for standard input)")
	add.Flags().BoolVar(&opts.SignAssertion, "sign-assertion", false, "sign the Assertion too (the Response is always signed)")
	add.Flags().BoolVar(&opts.Encrypt, "encrypt", false, "encrypt the assertion for the metadata's encryption certificate")
	add.Flags().StringVar(&encCert, "encryption-cert", "", "encrypt the assertion for this certificate (PEM or DER file)")
	add.Flags().StringSliceVar(&opts.Attributes, "attributes", nil, "attributes to release (comma-separated; default: those the metadata requests, else all)")
	add.Flags().BoolVar(&opts.EIDAS, "eidas", false, "answer in the eIDAS profile (eIDAS attribute URIs, eIDAS LoA)")
	add.Flags().StringVar(&opts.SignatureAlgorithm, "signature-algorithm", "", "sign its Responses with rsa-sha256 (default) or ecdsa-sha256 (MPass's --ecdsa-key; about half the CPU per Response)")
	add.Flags().StringArrayVar(&opts.Faults, "fault", nil, "fault-injection switch (repeatable): "+strings.Join(mpass.Faults, ", "))
	add.RunE = func(cmd *cobra.Command, _ []string) error {
		if metaPath == "" {
			return withCode(exitUsage, errors.New("--metadata FILE is required"))
		}
		var b []byte
		var err error
		if metaPath == "-" {
			b, err = io.ReadAll(io.LimitReader(a.stdin, mpass.MaxMetadata+1))
		} else {
			b, err = readLimited(metaPath, mpass.MaxMetadata+1)
		}
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--metadata: %w", err))
		}
		if encCert != "" {
			certs, err := loadCertificates([]string{encCert})
			if err != nil || len(certs) != 1 {
				return withCode(exitUsage, fmt.Errorf("--encryption-cert %s: want one certificate (%v)", encCert, err))
			}
			opts.EncryptionCert = certs[0].Raw
		}
		return withRegistry(a, addStore, func(r *mpass.Registry) error {
			info, err := r.Add(cmd.Context(), b, opts, time.Now())
			if err != nil {
				return withCode(exitUsage, err)
			}
			if a.json {
				return a.printJSON(info)
			}
			a.say("registered %s (responses to %s)\n", info.EntityID, strings.Join(info.ACS, ", "))
			return nil
		})
	}
	list := &cobra.Command{Use: "list", Short: "List the registered relying services", Args: cobra.NoArgs}
	listStore := mpassStoreFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		return withRegistry(a, listStore, func(r *mpass.Registry) error {
			infos, err := r.List(cmd.Context())
			if err != nil {
				return withCode(exitFailed, err)
			}
			return printRows(a, infos, "ENTITY ID\tACS\tSIGN ASSERTION\tENCRYPT\tEIDAS\tFAULTS\tREGISTERED", func(i mpass.SPInfo) string {
				return fmt.Sprintf("%s\t%s\t%v\t%v\t%v\t%s\t%s", i.EntityID, strings.Join(i.ACS, " "), i.Options.SignAssertion, i.Options.Encrypt,
					i.Options.EIDAS, strings.Join(i.Options.Faults, ","), i.Added.Format(time.RFC3339))
			})
		})
	}
	remove := &cobra.Command{Use: "remove ENTITY-ID", Short: "Remove a relying service's registration", Args: cobra.ExactArgs(1)}
	removeStore := mpassStoreFlags(remove)
	remove.RunE = func(cmd *cobra.Command, args []string) error {
		return withRegistry(a, removeStore, func(r *mpass.Registry) error {
			if err := r.Remove(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, mpass.ErrUnknownSP) {
					return withCode(exitUsage, err)
				}
				return withCode(exitFailed, err)
			}
			a.say("removed %s\n", args[0])
			return nil
		})
	}
	cmd.AddCommand(add, list, remove, newMPassFaultsCmd(a), newMPassRolesCmd(a))
	return cmd
}

func newMPassFaultsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "faults ENTITY-ID [--fault NAME ...]",
		Short: "Set a relying service's fault-injection switches (none: turn them off)",
		Long: `Set the fault-injection switches of a relying service, as the MPass test
IdP's "SAML Advanced Options" offer for relying-party conformance tests: every
successful Response to it is then wrong in the way each switch names, and a
conformant relying service must refuse it:

  unsigned-response      neither the Response nor the Assertion is signed
  wrong-certificate      signed with a key other than the published one
  expired                issued an hour ago (IssueInstant, conditions long past)
  future                 issued an hour from now (not yet valid)
  no-destination         the Response has no Destination
  no-in-response-to      no InResponseTo (Response and SubjectConfirmationData)
  stale-in-response-to   InResponseTo names the service's previous AuthnRequest

Without --fault every switch is turned off. The switches are also shown, and
can be changed, on MPass's admin page (/admin).`,
		Example: `  semnat mpass sp faults https://shop.example/saml/metadata --fault expired --fault no-destination
  semnat mpass sp faults https://shop.example/saml/metadata     # all off`,
		Args: cobra.ExactArgs(1),
	}
	st := mpassStoreFlags(cmd)
	var faults []string
	cmd.Flags().StringArrayVar(&faults, "fault", nil, "switch to turn on (repeatable): "+strings.Join(mpass.Faults, ", "))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withRegistry(a, st, func(r *mpass.Registry) error {
			if err := r.SetFaults(cmd.Context(), args[0], faults); err != nil {
				return registryExit(err)
			}
			if err := auditAdmin(cmd.Context(), r, "mpass.faults-set", args[0], map[string]string{"faults": strings.Join(faults, " ")}); err != nil {
				return withCode(exitFailed, err)
			}
			if len(faults) == 0 {
				a.say("%s: no fault-injection switch on\n", args[0])
			} else {
				a.say("%s: fault-injection switches on: %s\n", args[0], strings.Join(faults, ", "))
			}
			return nil
		})
	}
	return cmd
}

func newMPassRolesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "roles ENTITY-ID --idnp IDNP [--role NAME ...]",
		Short:   "Give a person roles at a relying service (the Role attribute; none: remove them)",
		Example: `  semnat mpass sp roles https://portal.example/saml/metadata --idnp 2004001000010 --role admin --role editor`,
		Args:    cobra.ExactArgs(1),
	}
	st := mpassStoreFlags(cmd)
	var idnp string
	var roles []string
	cmd.Flags().StringVar(&idnp, "idnp", "", "the person's IDNP")
	cmd.Flags().StringArrayVar(&roles, "role", nil, "a role (repeatable); none removes the person's roles")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withRegistry(a, st, func(r *mpass.Registry) error {
			if err := r.SetRoles(cmd.Context(), args[0], idnp, roles); err != nil {
				return registryExit(err)
			}
			if err := auditAdmin(cmd.Context(), r, "mpass.roles-set", args[0], map[string]string{"idnp": idnp, "roles": strings.Join(roles, " ")}); err != nil {
				return withCode(exitFailed, err)
			}
			a.say("%s: %s has roles: %s\n", args[0], idnp, strings.Join(roles, ", "))
			return nil
		})
	}
	return cmd
}

// registryExit is the exit code of a registration error.
func registryExit(err error) error {
	if errors.Is(err, mpass.ErrUnknownSP) || errors.Is(err, mpass.ErrBadOptions) || errors.Is(err, mpass.ErrBadSP) {
		return withCode(exitUsage, err)
	}
	return withCode(exitFailed, err)
}

// auditAdmin records an administrator's change made from the command line.
func auditAdmin(ctx context.Context, r *mpass.Registry, action, sp string, details map[string]string) error {
	details["via"] = "cli"
	_, err := r.Store.Append(ctx, store.Event{Actor: "cli:" + currentUser(), Action: action, Subject: sp, Details: details})
	return err
}

// currentUser names who runs the command, for the audit log.
func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// withRegistry opens the store of f and runs fn on MPass's register.
func withRegistry(a *app, f *serveFlags, fn func(r *mpass.Registry) error) error {
	if f.storeDSN == "" {
		if err := os.MkdirAll(f.data, 0o700); err != nil {
			return withCode(exitUsage, err)
		}
	}
	st, err := f.openStore(a.log)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(&mpass.Registry{Store: st})
}
