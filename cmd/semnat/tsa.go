package main

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

func newTSACmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tsa",
		Short: "Run an RFC 3161 time-stamp authority, get or verify time-stamp tokens",
	}
	cmd.AddCommand(newTSAServeCmd(a), newTSAStampCmd(a), newTSAVerifyCmd(a))
	return cmd
}

func tsaParseHash(name string) (crypto.Hash, error) {
	switch name {
	case "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("--hash %q: want sha256, sha384 or sha512", name)
}

func newTSAServeCmd(a *app) *cobra.Command {
	var pkiDir, addr, name, policy, certFile, keyFile, chainFile string
	var accuracy time.Duration
	var qualified bool
	cmd := &cobra.Command{
		Use:   "serve (--pki DIR | --cert FILE --key FILE [--ca FILE])",
		Short: "Serve an RFC 3161 time-stamp authority",
		Long: `Serve a time-stamp authority at POST /tsa (and POST /) that answers RFC 3161
requests (application/timestamp-query) with tokens signed by the test PKI
entity --entity ("tsa", ECDSA P-256, or "tsa-rsa") of --pki DIR, or by the
certificate and key given with --cert/--key (PEM; --ca adds the
intermediates). The tokens carry the ESSCertIDv2
signing-certificate attribute (RFC 5816), the request's nonce and, when the
request asks for it, the TSA certificate and its chain. SHA-256/384/512
imprints are accepted; others are rejected with badAlg.`,
		Example: `  semnat tsa serve --pki pki --addr 127.0.0.1:8481
  semnat tsa serve --cert tsa.pem --key tsa-key.pem --ca chain.pem --addr 127.0.0.1:0
  openssl ts -query -data doc.pdf -sha256 -cert | curl -s --data-binary @- \
      -H 'Content-Type: application/timestamp-query' http://127.0.0.1:8481/tsa > doc.tsr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := tsa.ServerOptions{Accuracy: accuracy, Qualified: qualified}
			var err error
			if policy != "" {
				if opts.Policy, err = tsaParseOID(policy); err != nil {
					return withCode(exitUsage, err)
				}
			}
			var s *tsa.Server
			switch {
			case pkiDir != "" && (certFile != "" || keyFile != ""):
				return withCode(exitUsage, errors.New("give --pki DIR or --cert/--key, not both"))
			case certFile != "" || keyFile != "":
				if certFile == "" || keyFile == "" {
					return withCode(exitUsage, errors.New("--cert and --key go together"))
				}
				b, err := keyfile.LoadPEM(keyFile, certFile, chainFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if s, err = tsa.NewServer(b.Cert, b.Chain, b.Key, opts); err != nil {
					return withCode(exitUsage, err)
				}
			case pkiDir != "":
				p, err := testcerts.Load(pkiDir)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if s, err = tsa.ServerFromPKI(p, name, opts); err != nil {
					return withCode(exitUsage, err)
				}
			default:
				return withCode(exitUsage, errors.New("give --pki DIR (a test PKI) or --cert/--key PEM files of a timestamping certificate"))
			}
			mux := http.NewServeMux()
			mux.Handle(testcerts.TSAPath, s)
			mux.Handle("/", s)
			a.log.Info("tsa: serving", "cert", s.Certificate().Subject.String())
			if err := httpserve.Serve(cmd.Context(), addr, mux, httpserve.Options{Ready: a.stdout, Log: a.log}); err != nil {
				return withCode(exitUsage, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pkiDir, "pki", "", "PKI directory written by 'semnat testcerts generate'")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8481", "listen address HOST:PORT (port 0 picks a free one)")
	cmd.Flags().StringVar(&name, "entity", "tsa", "with --pki: the entity that signs the tokens (tsa or tsa-rsa)")
	cmd.Flags().StringVar(&certFile, "cert", "", "PEM timestamping certificate (critical EKU timeStamping), instead of --pki")
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM private key of --cert")
	cmd.Flags().StringVar(&chainFile, "ca", "", "PEM intermediate CA certificates of --cert (put in tokens)")
	cmd.Flags().StringVar(&policy, "policy", "", "TSA policy OID (default "+tsa.DefaultPolicy.String()+")")
	cmd.Flags().DurationVar(&accuracy, "accuracy", time.Second, "clock accuracy written in the tokens")
	cmd.Flags().BoolVar(&qualified, "qualified", false, "mark tokens as qualified time-stamps (ETSI EN 319 422 qcStatement)")
	return cmd
}

func tsaParseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	var n int
	digits := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 {
				return nil, fmt.Errorf("policy %q is not a dotted OID", s)
			}
			oid = append(oid, n)
			n, digits = 0, 0
			continue
		}
		if s[i] < '0' || s[i] > '9' || n > 1<<27 {
			return nil, fmt.Errorf("policy %q is not a dotted OID", s)
		}
		n = n*10 + int(s[i]-'0')
		digits++
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("policy %q is not a dotted OID", s)
	}
	return oid, nil
}

type tsaInfoJSON struct {
	File      string    `json:"file,omitempty"`
	Token     string    `json:"token,omitempty"`
	GenTime   time.Time `json:"gen_time"`
	Accuracy  string    `json:"accuracy,omitempty"`
	Serial    string    `json:"serial"`
	Policy    string    `json:"policy"`
	Hash      string    `json:"hash"`
	Imprint   string    `json:"imprint"`
	TSA       string    `json:"tsa"`
	Qualified bool      `json:"qualified"`
	Verified  bool      `json:"verified"`
}

func tsaInfo(in *tsa.Info) tsaInfoJSON {
	j := tsaInfoJSON{GenTime: in.GenTime.UTC(), Serial: fmt.Sprintf("%x", in.SerialNumber), Policy: in.Policy.String(),
		Hash: in.HashAlgorithm.String(), Imprint: fmt.Sprintf("%x", in.HashedMessage), Qualified: in.Qualified}
	if in.Accuracy > 0 {
		j.Accuracy = in.Accuracy.String()
	}
	if in.Signer != nil {
		j.TSA = in.Signer.Subject.String()
	}
	return j
}

func tsaSayInfo(a *app, j tsaInfoJSON) {
	a.say("  time:     %s", j.GenTime.Format(time.RFC3339))
	if j.Accuracy != "" {
		a.say(" ± %s", j.Accuracy)
	}
	a.say("\n  TSA:      %s\n  serial:   %s\n  policy:   %s\n  imprint:  %s %s\n", j.TSA, j.Serial, j.Policy, j.Hash, j.Imprint)
}

func tsaTrust(path string) (*x509.CertPool, error) {
	certs, err := revReadCerts(path)
	if err != nil {
		return nil, err
	}
	return certPool(certs), nil
}

func newTSAStampCmd(a *app) *cobra.Command {
	var url, out, hashName, trust string
	var noCertReq, tokenOnly bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stamp FILE --url URL",
		Short: "Get a time-stamp for FILE from a TSA (writes FILE.tsr, prints the time)",
		Long: `Hash FILE, ask the TSA at --url for an RFC 3161 time-stamp, check the reply
(status, signature, signing-certificate binding, timeStamping usage,
imprint, nonce; with --trust also the TSA's chain), write the DER
TimeStampResp to --out (default FILE.tsr, the form 'openssl ts -reply
-in' reads) and print the token's genTime. --token-only writes the bare
TimeStampToken instead. TSA credentials, if needed, come from the
environment: SEMNAT_TSA_USER and SEMNAT_TSA_PASSWORD (never from flags).`,
		Example: `  semnat tsa stamp contract.pdf --url http://127.0.0.1:8481/tsa --trust pki/trust-anchors.pem`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				return withCode(exitUsage, errors.New("--url URL of the TSA is required"))
			}
			h, err := tsaParseHash(hashName)
			if err != nil {
				return withCode(exitUsage, err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			defer f.Close()
			c := tsa.Client{URL: url, HTTPClient: revHTTPClient(timeout), Hash: h, NoCertReq: noCertReq,
				Username: os.Getenv("SEMNAT_TSA_USER"), Password: os.Getenv("SEMNAT_TSA_PASSWORD")}
			if trust != "" {
				if c.Roots, err = tsaTrust(trust); err != nil {
					return withCode(exitUsage, err)
				}
			}
			ctx, cancel := revCtx(cmd.Context(), timeout)
			defer cancel()
			tok, err := c.TimestampData(ctx, f)
			if err != nil {
				return withCode(exitFailed, err)
			}
			data := tok.Response
			if tokenOnly {
				data = tok.DER
			}
			if out == "" {
				out = args[0] + ".tsr"
				if tokenOnly {
					out = args[0] + ".tst"
				}
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return withCode(exitUsage, err)
			}
			j := tsaInfo(tok.Info)
			j.File, j.Token, j.Verified = args[0], out, trust != ""
			if a.json {
				return a.printJSON(j)
			}
			a.say("time-stamped %s -> %s\n  gen time: %s\n", args[0], out, tok.Info.GenTime.UTC().Format(time.RFC3339Nano))
			tsaSayInfo(a, j)
			if trust == "" {
				a.say("  (TSA chain not checked: pass --trust to check it)\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "TSA URL (required)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "where to write the DER reply (default FILE.tsr)")
	cmd.Flags().BoolVar(&tokenOnly, "token-only", false, "write the bare TimeStampToken (default FILE.tst) instead of the reply")
	cmd.Flags().StringVar(&hashName, "hash", "sha256", "imprint hash: sha256, sha384, sha512")
	cmd.Flags().StringVar(&trust, "trust", "", "trust anchors (PEM) to validate the TSA certificate")
	cmd.Flags().BoolVar(&noCertReq, "no-cert-req", false, "ask the TSA not to include its certificate")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "network timeout")
	return cmd
}

func newTSAVerifyCmd(a *app) *cobra.Command {
	var data, trust, tsaCert string
	cmd := &cobra.Command{
		Use:   "verify TOKEN --data FILE --trust ROOTS",
		Short: "Verify a time-stamp token (or reply) against the data it stamps",
		Long: `Verify TOKEN (a DER TimeStampToken, .tst, or a TimeStampResp, .tsr): its
signature, signing-certificate binding, the TSA's timeStamping usage and
chain to --trust at the token's time, and that it stamps FILE.

Exit codes: 0 valid, 1 invalid, 3 usage or unreadable input.`,
		Example: `  semnat tsa verify contract.pdf.tst --data contract.pdf --trust pki/trust-anchors.pem`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" || trust == "" {
				return withCode(exitUsage, errors.New("--data FILE and --trust ROOTS are required"))
			}
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			token := raw
			if t, err := tsa.ParseResponse(raw); err == nil {
				token = t
			} else if errors.Is(err, tsa.ErrRejected) {
				return withCode(exitFailed, err)
			}
			roots, err := tsaTrust(trust)
			if err != nil {
				return withCode(exitUsage, err)
			}
			opts := tsa.VerifyOptions{Roots: roots}
			if tsaCert != "" {
				if opts.Certificates, err = revReadCerts(tsaCert); err != nil {
					return withCode(exitUsage, err)
				}
				opts.Intermediates = certPool(opts.Certificates)
			}
			parsed, err := tsa.Parse(token)
			if err != nil && len(opts.Certificates) == 0 {
				return withCode(exitFailed, err)
			}
			h := crypto.SHA256
			if parsed != nil {
				h = parsed.HashAlgorithm
			}
			content, err := os.Open(data)
			if err != nil {
				return withCode(exitUsage, err)
			}
			defer content.Close()
			hh := h.New()
			if _, err := io.Copy(hh, content); err != nil {
				return withCode(exitUsage, err)
			}
			info, err := tsa.Verify(token, h, hh.Sum(nil), opts)
			if err != nil {
				if a.json {
					_ = a.printJSON(map[string]any{"token": args[0], "verified": false, "error": err.Error()})
				}
				return withCode(exitFailed, err)
			}
			j := tsaInfo(info)
			j.File, j.Token, j.Verified = data, args[0], true
			if a.json {
				return a.printJSON(j)
			}
			a.say("valid time-stamp of %s\n", data)
			tsaSayInfo(a, j)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the file the token stamps (required)")
	cmd.Flags().StringVar(&trust, "trust", "", "trust anchors, PEM (required)")
	cmd.Flags().StringVar(&tsaCert, "tsa-cert", "", "TSA certificate and chain (PEM) for tokens that carry none")
	return cmd
}
