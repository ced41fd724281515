package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
)

func newOCSPCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ocsp",
		Short: "Run an OCSP responder (with CRLs) or check a certificate with OCSP",
	}
	cmd.AddCommand(newOCSPServeCmd(a), newOCSPCheckCmd(a))
	return cmd
}

func newOCSPServeCmd(a *app) *cobra.Command {
	var pkiDir, addr, tsaName, certFile, keyFile string
	var caFiles, crlFiles []string
	var validity, crlValidity time.Duration
	var byName bool
	cmd := &cobra.Command{
		Use:   "serve (--pki DIR | --cert FILE --key FILE --ca FILE...)",
		Short: "Serve OCSP, CRLs and CA certificates for a test PKI",
		Long: `Serve the revocation services of a PKI written by 'semnat testcerts generate':

  POST /, GET /<base64>            OCSP responder (RFC 6960, nonces per RFC 8954;
  POST /ocsp, GET /ocsp/<base64>   RFC 5019 caching headers on GET), signed by
                                   each CA's delegated responder
  GET  /crl/NAME.crl[.pem]         each CA's CRL
  GET  /ca/NAME.crt                each CA's certificate
  POST /tsa                        with --tsa NAME: an RFC 3161 TSA signing with
                                   the PKI entity NAME (tsa or tsa-rsa)

Statuses come from the PKI's index.json: certificates it lists are good,
its revocations are revoked, serials a CA never issued are unknown.
Revocations added while the server runs ('semnat ca revoke --pki DIR') are
answered from the next request on, and the CRLs are re-signed.

Answers without a nonce are pre-signed for every certificate and re-signed
after a quarter of --validity, so that such a request costs a lookup;
requests with a nonce are signed on demand.

Generate the PKI with --base-url pointing at this server so that the
certificates' AIA and CRL distribution points lead here.

Without a PKI directory, --cert/--key give the responder's certificate and
key (a delegated responder with EKU OCSPSigning, or the CA itself) and --ca
the CA certificate(s) it answers for; every serial is good unless a --crl
file (signed by that CA) lists it as revoked. Only OCSP is served then.`,
		Example: `  semnat testcerts generate --out pki --base-url http://127.0.0.1:8480
  semnat ocsp serve --pki pki --addr 127.0.0.1:8480 --tsa tsa
  openssl ocsp -issuer pki/token-ca/cert.pem -cert pki/revoked/cert.pem -url http://127.0.0.1:8480`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			explicit := certFile != "" || keyFile != "" || len(caFiles) > 0
			switch {
			case pkiDir != "" && explicit:
				return withCode(exitUsage, errors.New("give --pki DIR or --cert/--key/--ca, not both"))
			case explicit:
				return serveOCSPExplicit(cmd.Context(), a, addr, certFile, keyFile, caFiles, crlFiles,
					ocsp.ResponderOptions{Validity: validity, ByName: byName})
			case pkiDir == "":
				return withCode(exitUsage, errors.New("give --pki DIR (a test PKI from 'semnat testcerts generate') or --cert/--key/--ca PEM files"))
			}
			p, err := testcerts.Load(pkiDir)
			if err != nil {
				return withCode(exitUsage, err)
			}
			opts := pkiserve.Options{TSA: "-", OCSPValidity: validity, CRLValidity: crlValidity, OCSPByName: byName,
				RootOCSP: true, Dir: pkiDir, Log: a.log}
			if tsaName != "" {
				opts.TSA = tsaName
			}
			svc, err := pkiserve.New(p, opts)
			if err != nil {
				return withCode(exitUsage, err)
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = svc.Run(ctx)
			}()
			defer func() { cancel(); <-done }()
			a.log.Info("ocsp: serving", "pki", pkiDir, "cas", svc.CRL.Names(), "presigned", svc.OCSP.Presign(ctx))
			ln, base, err := a.listen(addr)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if err := httpserve.ServeListener(ctx, ln, base, svc, httpserve.Options{Ready: a.stdout, Log: a.log}); err != nil {
				return withCode(exitUsage, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pkiDir, "pki", "", "PKI directory written by 'semnat testcerts generate'")
	cmd.Flags().StringVar(&certFile, "cert", "", "instead of --pki: PEM responder certificate")
	cmd.Flags().StringVar(&keyFile, "key", "", "instead of --pki: PEM responder private key")
	cmd.Flags().StringSliceVar(&caFiles, "ca", nil, "instead of --pki: PEM certificate(s) of the CA(s) answered for")
	cmd.Flags().StringSliceVar(&crlFiles, "crl", nil, "with --ca: CRL file(s) of those CAs whose entries are answered as revoked")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8480", "listen address HOST:PORT (port 0 picks a free one)")
	cmd.Flags().DurationVar(&validity, "validity", time.Hour, "OCSP nextUpdate - thisUpdate")
	cmd.Flags().DurationVar(&crlValidity, "crl-validity", 7*24*time.Hour, "CRL nextUpdate - thisUpdate")
	cmd.Flags().BoolVar(&byName, "by-name", false, "identify the responder by name instead of key hash")
	cmd.Flags().StringVar(&tsaName, "tsa", "", "also serve a time-stamp authority at /tsa, signing with this PKI entity (tsa or tsa-rsa)")
	return cmd
}

func newOCSPCheckCmd(a *app) *cobra.Command {
	var issuerPath, url, hashName string
	var noNonce, requireNonce, get bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check CERT [--issuer ISSUER]",
		Short: "Ask the OCSP responder about a certificate and verify the answer",
		Long: `Ask the OCSP responder named in CERT's AIA extension (or --url) about CERT,
verify the signed answer (signature, responder authorization, nonce,
freshness) and print the status.

CERT is a PEM or DER file; its issuer comes from --issuer, from the
certificate after it in CERT, or from the caIssuers URL of its AIA.

Exit codes: 0 good, 1 revoked, 2 unknown or no verifiable answer, 3 usage.`,
		Example: `  semnat ocsp check pki/person-rsa2048/cert.pem --issuer pki/token-ca/cert.pem
  semnat ocsp check cert.pem --issuer ca.pem --url http://127.0.0.1:8480/ocsp --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h := crypto.SHA1
			switch hashName {
			case "sha1":
			case "sha256":
				h = crypto.SHA256
			case "sha384":
				h = crypto.SHA384
			case "sha512":
				h = crypto.SHA512
			default:
				return withCode(exitUsage, fmt.Errorf("--hash %q: want sha1, sha256, sha384 or sha512", hashName))
			}
			c := ocsp.Client{HTTPClient: revHTTPClient(timeout), Hash: h, NoNonce: noNonce, RequireNonce: requireNonce, UseGET: get}
			ctx, cancel := revCtx(cmd.Context(), timeout)
			defer cancel()
			cert, issuer, err := revResolve(ctx, args[0], issuerPath, timeout)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var res *ocsp.Result
			if url != "" {
				res, err = c.CheckURL(ctx, url, cert, issuer)
			} else {
				res, err = c.Check(ctx, cert, issuer)
			}
			if errors.Is(err, ocsp.ErrNoResponderURL) {
				return withCode(exitUsage, fmt.Errorf("%w (pass --url)", err))
			}
			if err != nil {
				return withCode(exitIndeterminate, err)
			}
			a.log.Debug("ocsp: answer", "url", res.URL, "bytes", len(res.Raw))
			return revReport(a, cert, res.Status, "ocsp "+res.URL, res.ThisUpdate, res.NextUpdate, res.Responder.Subject.String())
		},
	}
	cmd.Flags().StringVar(&issuerPath, "issuer", "", "issuer certificate (PEM or DER)")
	cmd.Flags().StringVar(&url, "url", "", "responder URL (default: from the certificate's AIA)")
	cmd.Flags().StringVar(&hashName, "hash", "sha1", "CertID hash: sha1 (RFC 5019), sha256, sha384, sha512")
	cmd.Flags().BoolVar(&noNonce, "no-nonce", false, "send no nonce")
	cmd.Flags().BoolVar(&requireNonce, "require-nonce", false, "refuse answers that do not echo the nonce")
	cmd.Flags().BoolVar(&get, "get", false, "use HTTP GET (RFC 5019) instead of POST")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "network timeout")
	return cmd
}

// serveOCSPExplicit runs a responder from PEM files: every serial of the
// given CAs is good unless a given CRL revokes it.
func serveOCSPExplicit(ctx context.Context, a *app, addr, certFile, keyFile string, caFiles, crlFiles []string, opts ocsp.ResponderOptions) error {
	if certFile == "" || keyFile == "" || len(caFiles) == 0 {
		return withCode(exitUsage, errors.New("--cert, --key and --ca go together"))
	}
	b, err := keyfile.LoadPEM(keyFile, certFile, "")
	if err != nil {
		return withCode(exitUsage, err)
	}
	reg := crl.NewRegistry()
	var cas []*x509.Certificate
	var auths []ocsp.Authority
	for _, f := range caFiles {
		certs, err := keyfile.LoadCerts(f)
		if err != nil {
			return withCode(exitUsage, err)
		}
		for _, ca := range certs {
			reg.AddCA(ca, nil)
			cas = append(cas, ca)
			auths = append(auths, ocsp.Authority{Issuer: ca, Cert: b.Cert, Key: b.Key})
		}
	}
	for _, f := range crlFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return withCode(exitUsage, err)
		}
		list, err := crl.Parse(data)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("%s: %w", f, err))
		}
		var issuer *x509.Certificate
		for _, ca := range cas {
			if list.CheckSignatureFrom(ca) == nil {
				issuer = ca
			}
		}
		if issuer == nil {
			return withCode(exitUsage, fmt.Errorf("%s is not signed by any --ca certificate", f))
		}
		for _, e := range list.RevokedCertificateEntries {
			if err := reg.Revoke(issuer, e.SerialNumber, e.RevocationTime, e.ReasonCode); err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", f, err))
			}
		}
	}
	resp, err := ocsp.NewResponder(reg, auths, opts)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = resp.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp.ServeOCSP(w, r, strings.TrimPrefix(r.URL.Path, testcerts.OCSPPath))
	})
	if err := httpserve.Serve(ctx, addr, h, httpserve.Options{Ready: a.stdout, Log: a.log}); err != nil {
		return withCode(exitUsage, err)
	}
	return nil
}
