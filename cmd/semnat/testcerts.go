package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/testcerts"
)

func newTestcertsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testcerts",
		Short: "Generate a test PKI (never for production use)",
	}
	cmd.AddCommand(newTestcertsGenerateCmd(a))
	return cmd
}

func newTestcertsGenerateCmd(a *app) *cobra.Command {
	var out, baseURL string
	var force bool
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Generate a Moldova-shaped test PKI into DIR",
		Long: `Generate a test PKI: a root CA, a token CA, a mobile-signature CA, TSA and
OCSP responder certificates, person certificates with IDNP (RSA 2048/3072/4096,
ECDSA P-256/P-384, one RSA-PSS signer), an organisation seal with IDNO, and the
negative cases (revoked, expired, not yet valid, wrong key usage, untrusted root).

DIR receives one folder per certificate (cert.pem, key.pem, chain.pem,
bundle.p12), crl/ with each CA's CRL, trust-anchors.pem and index.json, which
lists every entry with its role, key type, paths and PKCS#12 password.
AIA and CRL URLs point below --base-url (OCSP at /ocsp, CA certificates at
/ca/NAME.crt, CRLs at /crl/NAME.crl).`,
		Example: `  semnat testcerts generate --out ./pki
  semnat testcerts generate --out ./pki --base-url http://127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return withCode(exitUsage, fmt.Errorf("--out DIR is required"))
			}
			if _, err := os.Stat(filepath.Join(out, testcerts.IndexFile)); err == nil && !force {
				return withCode(exitUsage, fmt.Errorf("%s already holds a PKI (use --force to replace it)", out))
			}
			pki, err := testcerts.Generate(testcerts.Options{BaseURL: baseURL})
			if err != nil {
				return withCode(exitFailed, err)
			}
			idx, err := pki.WriteDir(out)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if a.json {
				return a.printJSON(struct {
					Dir       string `json:"dir"`
					IndexPath string `json:"index_path"`
					*testcerts.Index
				}{out, filepath.Join(out, testcerts.IndexFile), idx})
			}
			a.say("wrote a test PKI of %d certificates to %s\n", len(idx.Entries), out)
			a.say("  trust anchors: %s\n  index:         %s\n  URLs below:    %s\n",
				filepath.Join(out, idx.TrustAnchors), filepath.Join(out, testcerts.IndexFile), idx.BaseURL)
			for _, e := range idx.Entries {
				a.say("  %-15s %-11s %-8s %s\n", e.Name, e.Role, e.KeyType, e.Subject)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "directory to write the PKI to (required)")
	cmd.Flags().StringVar(&baseURL, "base-url", testcerts.DefaultBaseURL, "prefix of the OCSP, CA-issuer and CRL URLs in the certificates")
	cmd.Flags().BoolVar(&force, "force", false, "replace a PKI already in DIR")
	return cmd
}
