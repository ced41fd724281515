package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

func newServeCmd(a *app) *cobra.Command {
	var data, addr string
	var demo, online bool
	cmd := &cobra.Command{
		Use:   "serve --demo [--data DIR] [--addr HOST:PORT]",
		Short: "Run the semnat HTTP service: verification and seal API, PKI services, mobile-signature simulator",
		Long: `Run every HTTP service in one process:

  POST /api/v1/verifications   verify a PDF (the report of 'semnat verify --json')
  POST /api/v1/seal            seal a PDF with the organisation's key (X-API-Key)
  POST /api/v1/sign-requests   sign PDFs with a mobile signature or a USB token
  /sign, /verify               web pages: sign and verify in a browser
  /tsa, /ocsp, /crl/, /ca/     timestamp authority, OCSP, CRLs, CA certificates
  /mid-api/, /rest/service     mobile-signature simulator (Mobile-ID, ETSI faces)
  /sim/+373...                 the simulator's virtual phone
  /healthz, /readyz            liveness and readiness

Errors are RFC 9457 problem documents. State (the audit log of every seal,
pending items) is kept in SQLite in the data directory.

--demo runs on embedded defaults: a test PKI generated into DATA/pki on
first start (its certificates point at --addr), the test seal key, an API
key written to DATA/api-key (mode 0600). Production keys (PKCS#12,
PKCS#11) come with a later version.`,
		Example: `  semnat serve --demo
  curl -s --data-binary @signed.pdf -H 'Content-Type: application/pdf' http://127.0.0.1:8480/api/v1/verifications
  curl -s --data-binary @in.pdf -H "X-API-Key: $(cat .data/api-key)" http://127.0.0.1:8480/api/v1/seal > sealed.pdf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !demo {
				return withCode(exitUsage, errors.New("only --demo (embedded test PKI and keys) is available in this version"))
			}
			return runServeDemo(cmd.Context(), a, data, addr, online)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "run on embedded defaults (test PKI, SQLite in --data)")
	cmd.Flags().StringVar(&data, "data", ".data", "data directory (PKI, database, API key)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8480", "listen address HOST:PORT")
	cmd.Flags().BoolVar(&online, "online", true, "let verification fetch OCSP responses and CRLs documents do not embed")
	return cmd
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

func runServeDemo(ctx context.Context, a *app, data, addr string, online bool) error {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	ln, base, err := httpserve.Listen(addr)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer ln.Close()
	pkiDir := filepath.Join(data, "pki")
	p, err := demoPKI(a, pkiDir, base)
	if err != nil {
		return withCode(exitFailed, err)
	}
	st, err := store.OpenSQLite(filepath.Join(data, "semnat.db"), store.Options{})
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer st.Close()
	svc, err := pkiserve.New(p, pkiserve.Options{Dir: pkiDir, Log: a.log})
	if err != nil {
		return withCode(exitFailed, err)
	}
	sim, err := mobileid.New(mobileid.Options{PKI: p, Phone: true, Log: a.log})
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer sim.Close()
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
	hc := &http.Client{Timeout: 15 * time.Second}
	srv, err := server.New(server.Config{
		Store: st, Roots: p.RootPool(), VerifyOnline: online,
		Seal: pades.NewKeySigner(seal.Key, seal.Cert, seal.Chain), SealLevel: pades.LevelBT,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: base + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 15 * time.Second}}},
		APIKeys:     map[string]string{key: "demo"},
		PKIServices: svc, MobileSim: sim.Handler(), Log: a.log,
		Mobile: mobile, Revocation: pades.OnlineRevocation{HTTP: hc}, ExtraCerts: [][]byte{p.Root.Cert.Raw},
		PublicOrigin: base,
	})
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = svc.Run(ctx) }()
	fmt.Fprintf(a.stderr, "%s\n", strings.Join([]string{
		"semnat demo services:",
		"  web pages:     " + base + "/sign   " + base + "/verify",
		"  sign API:      POST " + base + "/api/v1/sign-requests   (token signing needs `semnat agent` on " + wire.DefaultAddr + ")",
		"  verify:        POST " + base + "/api/v1/verifications",
		"  seal:          POST " + base + "/api/v1/seal   (X-API-Key from " + keyPath + ")",
		"  TSA / OCSP:    " + base + testcerts.TSAPath + "   " + base + testcerts.OCSPPath,
		"  mobile (MSSP): " + base + "/mid-api   " + base + "/rest/service",
		"  virtual phone: " + base + "/sim/+37369000000",
		"  trust anchors: " + filepath.Join(pkiDir, testcerts.TrustAnchorsFile),
	}, "\n"))
	if err := httpserve.ServeListener(ctx, ln, base, srv, httpserve.Options{Ready: a.stdout, Log: a.log}); err != nil {
		return withCode(exitFailed, err)
	}
	return nil
}
