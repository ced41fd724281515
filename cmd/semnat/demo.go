package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// sampleContract is the contract the demo and the README tour sign: a
// Romanian text with its diacritics (ă, â, î, ș, ț), in DejaVu Serif
// subsets (free licence), printed from demodata/contract.html by
// chromium --headless --no-pdf-header-footer --print-to-pdf.
//
//go:embed demodata/contract.pdf
var sampleContract []byte

// newDemoCmd runs the one-command demo on embedded defaults: a test PKI in
// the data directory, its TSA, OCSP and CRL services on loopback, and a
// sample contract signed at B-LTA with a visible stamp.
func newDemoCmd(a *app) *cobra.Command {
	var data, addr string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Sign a sample PDF at B-LTA against local TSA/OCSP services (embedded defaults)",
		Long: `Run the demo with nothing to configure:

  1. a test PKI is generated into DATA/pki on first run (AIA, OCSP and CRL
     URLs point at http://ADDR, --addr, 127.0.0.1:8480 by default; a PKI
     already there keeps its address);
  2. the TSA, OCSP responder, CRLs and CA certificates are served there;
  3. a sample contract is written to DATA/contract.pdf and signed by the
     test person "Ion Popescu" at PAdES B-LTA with a visible stamp into
     DATA/contract-signed.pdf.

When the port is taken: by a demo serving this same PKI ('semnat demo
--keep', 'semnat serve --demo' on the same --data), its services are used;
for a new PKI without --addr, a free port is taken instead; otherwise the
error says what holds it and what to do.

With --keep the services stay up (Ctrl-C stops them), so that
'semnat sign --level B-LTA --tsa http://127.0.0.1:8480/tsa ...' works too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), a, data, addr, cmd.Flags().Changed("addr"), keep)
		},
	}
	cmd.Flags().StringVar(&data, "data", ".data", "data directory (test PKI, documents)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the services running after signing")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8480", "HOST:PORT of the services, written into a new test PKI's certificates")
	return cmd
}

func runDemo(ctx context.Context, a *app, data, addr string, addrGiven, keep bool) error {
	pkiDir := filepath.Join(data, "pki")
	pki, ln, base, err := demoServices(ctx, a, pkiDir, addr, addrGiven)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if ln == nil {
		served <- nil // another demo serves this PKI: sign against it
	} else {
		svc, err := pkiserve.New(pki, pkiserve.Options{})
		if err != nil {
			ln.Close()
			return withCode(exitFailed, err)
		}
		go func() {
			served <- httpserve.ServeListener(sctx, ln, base, svc, httpserve.Options{Ready: a.stderr, Log: a.log})
		}()
	}

	in := filepath.Join(data, "contract.pdf")
	if err := os.WriteFile(in, sampleContract, 0o644); err != nil {
		return withCode(exitUsage, err)
	}
	signer := pki.MustGet("person-rsa2048")
	hc := &http.Client{Timeout: 10 * time.Second}
	opts := &pades.Options{
		Level:       pades.LevelBLTA,
		Reason:      "Acord cu termenii contractului",
		Location:    "Chișinău",
		Visible:     &pades.Visible{Page: 1, Rect: [4]float64{320, 60, 560, 150}},
		Timestamper: pades.TSA{Client: &tsa.Client{URL: base + testcerts.TSAPath, HTTPClient: hc, Roots: pki.RootPool()}},
		Revocation:  pades.OnlineRevocation{HTTP: hc},
		ExtraCerts:  [][]byte{pki.Root.Cert.Raw},
	}
	out := filepath.Join(data, "contract-signed.pdf")
	res, err := pades.SignFile(ctx, in, out, pades.NewKeySigner(signer.Key, signer.Cert, signer.Chain), opts)
	if err != nil {
		return withCode(exitFailed, err)
	}
	if a.json {
		if err := a.printJSON(map[string]any{"pki": pkiDir, "services": base, "input": in, "signed": out, "result": res}); err != nil {
			return err
		}
	} else {
		a.say("signed %s at %s by %s (timestamp %s, document timestamp %s)\n", in, res.Level,
			signer.Cert.Subject.CommonName, res.TimestampTime.Format(time.RFC3339), res.DocTimestampTime.Format(time.RFC3339))
		a.say("signed document: %s\n", out)
		a.say("check it:        pdfsig %s   (trust %s)\n", out, filepath.Join(pkiDir, testcerts.TrustAnchorsFile))
	}
	if keep && ln != nil {
		a.say("services at %s (TSA %s%s, OCSP %s%s); Ctrl-C stops them\n", base, base, testcerts.TSAPath, base, testcerts.OCSPPath)
		<-ctx.Done()
	}
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		return withCode(exitFailed, err)
	}
	return nil
}

// demoServices loads the test PKI in dir, or generates it there with its URLs
// on addr, and returns a listener for its services. The port the PKI's
// certificates name may be taken: by a demo serving this same PKI (its CA
// certificate answers there), which is then used as it is (a nil
// listener); or, for a new PKI without --addr, by anything else, and a
// free port is picked instead. Otherwise the error says what to do.
func demoServices(ctx context.Context, a *app, dir, addr string, addrGiven bool) (*testcerts.PKI, net.Listener, string, error) {
	if _, err := os.Stat(filepath.Join(dir, testcerts.IndexFile)); err != nil {
		ln, base, err := httpserve.Listen(addr)
		if err != nil && !addrGiven {
			a.say("%s is taken: the demo's services take a free port\n", addr)
			ln, base, err = httpserve.Listen("127.0.0.1:0")
		}
		if err != nil {
			return nil, nil, "", withCode(exitUsage, fmt.Errorf("%w (stop what uses the port, or give another --addr)", err))
		}
		pki, err := testcerts.Generate(testcerts.Options{BaseURL: base})
		if err == nil {
			_, err = pki.WriteDir(dir)
		}
		if err != nil {
			ln.Close()
			return nil, nil, "", withCode(exitFailed, err)
		}
		a.say("generated a test PKI in %s (services at %s)\n", dir, base)
		return pki, ln, base, nil
	}
	pki, err := testcerts.Load(dir)
	if err != nil {
		return nil, nil, "", withCode(exitUsage, err)
	}
	a.say("using the test PKI in %s\n", dir)
	u, err := url.Parse(pki.BaseURL)
	if err != nil {
		return nil, nil, "", withCode(exitUsage, fmt.Errorf("PKI base URL %q: %w", pki.BaseURL, err))
	}
	ln, base, err := httpserve.Listen(u.Host)
	if err == nil {
		return pki, ln, base, nil
	}
	if servesPKI(ctx, pki) {
		a.say("its services already run at %s (another demo): using them\n", pki.BaseURL)
		return pki, nil, pki.BaseURL, nil
	}
	return nil, nil, "", withCode(exitUsage, fmt.Errorf("%w: something other than this PKI's services is there, and its certificates point there (stop it, or remove %s to generate a PKI on a free port)", err, dir))
}

// servesPKI tells whether pki's services answer at its base URL: its root
// CA certificate is served there.
func servesPKI(ctx context.Context, pki *testcerts.PKI) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pki.CAIssuerURL(pki.Root.Name), nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return err == nil && resp.StatusCode == http.StatusOK && bytes.Equal(got, pki.Root.Cert.Raw)
}
