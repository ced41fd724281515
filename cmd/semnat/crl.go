package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/crl"
)

func newCRLCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "crl",
		Short: "Check a certificate against a CRL, fetch or show a CRL",
	}
	cmd.AddCommand(newCRLCheckCmd(a), newCRLFetchCmd(a), newCRLShowCmd(a))
	return cmd
}

// crlLoad reads a CRL from a file or an http(s) URL.
func crlLoad(ctx context.Context, src string, timeout time.Duration) (*x509.RevocationList, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return crl.Fetch(ctx, revHTTPClient(timeout), src)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	return crl.Parse(data)
}

func newCRLCheckCmd(a *app) *cobra.Command {
	var issuerPath, src string
	var timeout time.Duration
	var allowStale bool
	cmd := &cobra.Command{
		Use:   "check CERT [--issuer ISSUER] [--crl FILE|URL]",
		Short: "Check a certificate against its issuer's CRL",
		Long: `Fetch the CRL from CERT's distribution point (or read --crl, a file or URL),
verify it against the issuer (name, signature, thisUpdate/nextUpdate) and
print CERT's status.

Exit codes: 0 good, 1 revoked, 2 no usable CRL, 3 usage.`,
		Example: `  semnat crl check pki/revoked/cert.pem --issuer pki/token-ca/cert.pem
  semnat crl check cert.pem --issuer ca.pem --crl pki/crl/token-ca.crl --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := revCtx(cmd.Context(), timeout)
			defer cancel()
			cert, issuer, err := revResolve(ctx, args[0], issuerPath, timeout)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var list *x509.RevocationList
			where := src
			if src != "" {
				list, err = crlLoad(ctx, src, timeout)
			} else {
				if len(cert.CRLDistributionPoints) == 0 {
					return withCode(exitUsage, fmt.Errorf("%q names no CRL distribution point (pass --crl)", cert.Subject))
				}
				where = cert.CRLDistributionPoints[0]
				list, err = crl.Fetch(ctx, revHTTPClient(timeout), where)
			}
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					return withCode(exitUsage, err)
				}
				return withCode(exitIndeterminate, err)
			}
			st, err := crl.Check(list, cert, issuer, crl.CheckOptions{AllowStale: allowStale})
			if err != nil {
				return withCode(exitIndeterminate, err)
			}
			return revReport(a, cert, st, "crl "+where, list.ThisUpdate, list.NextUpdate, "")
		},
	}
	cmd.Flags().StringVar(&issuerPath, "issuer", "", "issuer certificate (PEM or DER)")
	cmd.Flags().StringVar(&src, "crl", "", "CRL file or URL (default: the certificate's distribution point)")
	cmd.Flags().BoolVar(&allowStale, "allow-stale", false, "accept a CRL past its nextUpdate")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "network timeout")
	return cmd
}

func newCRLShowCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "show FILE|URL",
		Short: "Print a CRL (issuer, number, validity, revoked serials); does not verify it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := revCtx(cmd.Context(), timeout)
			defer cancel()
			list, err := crlLoad(ctx, args[0], timeout)
			if err != nil {
				return withCode(exitUsage, err)
			}
			return crlPrint(a, list, "", false)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "network timeout")
	return cmd
}

func newCRLFetchCmd(a *app) *cobra.Command {
	var timeout time.Duration
	var out, issuerPath string
	cmd := &cobra.Command{
		Use:   "fetch URL [--out FILE] [--issuer CA]",
		Short: "Download a CRL, print it, optionally verify it and save the DER",
		Long: `Download the CRL at URL (DER or PEM), print its issuer, number, validity
and revoked serials, and with --out save it as DER. With --issuer the CRL
is verified first (issuer name, signature, thisUpdate/nextUpdate) and
nothing is saved if it does not verify.

Exit codes: 0 fetched (and verified), 1 verification failed, 3 usage or
network error.`,
		Example: `  semnat crl fetch http://127.0.0.1:8480/crl/token-ca.crl --out token-ca.crl
  semnat crl fetch http://127.0.0.1:8480/crl/token-ca.crl --issuer pki/token-ca/cert.pem --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasPrefix(args[0], "http://") && !strings.HasPrefix(args[0], "https://") {
				return withCode(exitUsage, fmt.Errorf("%q is not an http(s) URL (use 'crl show FILE' for files)", args[0]))
			}
			ctx, cancel := revCtx(cmd.Context(), timeout)
			defer cancel()
			list, err := crl.Fetch(ctx, revHTTPClient(timeout), args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			verified := false
			if issuerPath != "" {
				is, err := revReadCerts(issuerPath)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if err := crl.Verify(list, is[0], crl.CheckOptions{}); err != nil {
					return withCode(exitFailed, err)
				}
				verified = true
			}
			if out != "" {
				if err := os.WriteFile(out, list.Raw, 0o644); err != nil {
					return withCode(exitUsage, err)
				}
			}
			return crlPrint(a, list, out, verified)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "save the CRL (DER) to this file")
	cmd.Flags().StringVar(&issuerPath, "issuer", "", "verify the CRL against this CA certificate (PEM or DER)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "network timeout")
	return cmd
}

// crlPrint prints a CRL (JSON with --json).
func crlPrint(a *app, list *x509.RevocationList, saved string, verified bool) error {
	type entry struct {
		Serial    string    `json:"serial"`
		RevokedAt time.Time `json:"revoked_at"`
		Reason    string    `json:"reason"`
	}
	out := struct {
		Issuer     string    `json:"issuer"`
		Number     string    `json:"number,omitempty"`
		ThisUpdate time.Time `json:"this_update"`
		NextUpdate time.Time `json:"next_update"`
		Revoked    []entry   `json:"revoked"`
		Verified   bool      `json:"verified"`
		File       string    `json:"file,omitempty"`
	}{Issuer: list.Issuer.String(), ThisUpdate: list.ThisUpdate.UTC(), NextUpdate: list.NextUpdate.UTC(), Revoked: []entry{},
		Verified: verified, File: saved}
	if list.Number != nil {
		out.Number = list.Number.String()
	}
	for _, e := range list.RevokedCertificateEntries {
		out.Revoked = append(out.Revoked, entry{fmt.Sprintf("%x", e.SerialNumber), e.RevocationTime.UTC(), revReasonName(e.ReasonCode)})
	}
	if a.json {
		return a.printJSON(out)
	}
	a.say("issuer:      %s\nnumber:      %s\nthis update: %s\nnext update: %s\nrevoked:     %d\n",
		out.Issuer, out.Number, out.ThisUpdate.Format(time.RFC3339), out.NextUpdate.Format(time.RFC3339), len(out.Revoked))
	for _, e := range out.Revoked {
		a.say("  %s  %s  %s\n", e.Serial, e.RevokedAt.Format(time.RFC3339), e.Reason)
	}
	if verified {
		a.say("verified:    signature and validity OK\n")
	}
	if saved != "" {
		a.say("saved:       %s\n", saved)
	}
	return nil
}
