package main

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/atomicfile"
	"github.com/semnat/semnat/testcerts"
)

func newCACmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Administer the certification authorities of a test PKI (revocation)",
	}
	cmd.AddCommand(newCARevokeCmd(a))
	return cmd
}

// caFindEntity picks the certificate to revoke by entity name, certificate
// file or hex serial number.
func caFindEntity(p *testcerts.PKI, name, certPath, serialHex string) (*testcerts.Entity, error) {
	given := 0
	for _, s := range []string{name, certPath, serialHex} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, errors.New("name the certificate with exactly one of --serial HEX, --cert FILE or --name ENTITY")
	}
	switch {
	case name != "":
		if e := p.Get(name); e != nil {
			return e, nil
		}
		return nil, fmt.Errorf("the PKI has no entity %q", name)
	case certPath != "":
		certs, err := revReadCerts(certPath)
		if err != nil {
			return nil, err
		}
		for _, e := range p.Entities() {
			if bytes.Equal(e.Cert.Raw, certs[0].Raw) {
				return e, nil
			}
		}
		return nil, fmt.Errorf("%s: the PKI did not issue this certificate (%q)", certPath, certs[0].Subject)
	}
	h := strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(serialHex, ":", "")), "0x")
	if len(h)%2 == 1 {
		h = "0" + h
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("--serial %q is not a hexadecimal serial number", serialHex)
	}
	serial := new(big.Int).SetBytes(b)
	for _, e := range p.Entities() {
		if e.Cert.SerialNumber.Cmp(serial) == 0 {
			return e, nil
		}
	}
	return nil, fmt.Errorf("the PKI issued no certificate with serial %x", serial)
}

func newCARevokeCmd(a *app) *cobra.Command {
	var pkiDir, serial, certPath, name, reasonName, when string
	cmd := &cobra.Command{
		Use:   "revoke --pki DIR (--serial HEX | --cert FILE | --name ENTITY) --reason REASON",
		Short: "Revoke a certificate of a test PKI (OCSP and CRL reflect it at once)",
		Long: `Record the revocation of a certificate in the PKI directory (index.json,
rewritten atomically) and re-sign the issuing CA's CRL file in DIR/crl.
A running 'semnat ocsp serve --pki DIR' answers "revoked" from its next
request on and serves a CRL listing it.

REASON is an RFC 5280 reason name or code: unspecified, keyCompromise,
cACompromise, affiliationChanged, superseded, cessationOfOperation,
certificateHold, privilegeWithdrawn, aACompromise. --time (RFC 3339,
default now) is the revocation time.`,
		Example: `  semnat ca revoke --pki pki --name person-p256 --reason keyCompromise
  semnat ca revoke --pki pki --cert pki/seal/cert.pem --reason superseded --time 2025-01-02T15:04:05Z
  semnat ca revoke --pki pki --serial 5f3a... --reason cessationOfOperation`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pkiDir == "" {
				return withCode(exitUsage, errors.New("--pki DIR is required"))
			}
			if reasonName == "" {
				return withCode(exitUsage, errors.New("--reason is required (e.g. keyCompromise)"))
			}
			reason, err := testcerts.ParseReason(reasonName)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if reason == testcerts.ReasonRemoveFromCRL {
				return withCode(exitUsage, errors.New("removeFromCRL only exists in delta CRLs; it is not a reason to revoke"))
			}
			at := time.Now()
			if when != "" {
				if at, err = time.Parse(time.RFC3339, when); err != nil {
					return withCode(exitUsage, fmt.Errorf("--time: %w", err))
				}
			}
			at = at.UTC().Truncate(time.Second)
			p, err := testcerts.Load(pkiDir)
			if err != nil {
				return withCode(exitUsage, err)
			}
			e, err := caFindEntity(p, name, certPath, serial)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if e.Issuer == nil {
				return withCode(exitUsage, fmt.Errorf("%s is a self-signed root: remove it from the trust anchors instead", e.Name))
			}
			rv := testcerts.Revocation{Name: e.Name, Issuer: e.Issuer.Name, Serial: e.Cert.SerialNumber, Time: at, Reason: reason}
			if err := testcerts.AppendRevocation(pkiDir, rv); err != nil {
				if errors.Is(err, testcerts.ErrAlreadyRevoked) {
					return withCode(exitFailed, err)
				}
				return withCode(exitUsage, err)
			}
			p.Revocations = append(p.Revocations, rv)
			crlPath, err := caRewriteCRL(p, pkiDir, e.Issuer, time.Now().UTC().Truncate(time.Second))
			if err != nil {
				return withCode(exitFailed, fmt.Errorf("revocation recorded, but the CRL file was not re-signed: %w", err))
			}
			a.log.Info("ca: revoked", "name", e.Name, "issuer", e.Issuer.Name, "serial", fmt.Sprintf("%x", e.Cert.SerialNumber), "reason", testcerts.ReasonName(reason))
			if a.json {
				return a.printJSON(map[string]any{"name": e.Name, "subject": e.Cert.Subject.String(), "issuer": e.Issuer.Name,
					"serial": fmt.Sprintf("%x", e.Cert.SerialNumber), "revoked_at": at, "reason": testcerts.ReasonName(reason), "crl": crlPath})
			}
			a.say("revoked %s (serial %x) of %s: %s at %s\n  crl: %s\n", e.Name, e.Cert.SerialNumber, e.Issuer.Name,
				testcerts.ReasonName(reason), at.Format(time.RFC3339), crlPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&pkiDir, "pki", "", "PKI directory written by 'semnat testcerts generate' (required)")
	cmd.Flags().StringVar(&serial, "serial", "", "serial number (hex) of the certificate to revoke")
	cmd.Flags().StringVar(&certPath, "cert", "", "certificate to revoke (PEM or DER)")
	cmd.Flags().StringVar(&name, "name", "", "PKI entity to revoke (e.g. person-p256)")
	cmd.Flags().StringVar(&reasonName, "reason", "", "RFC 5280 reason (required), e.g. keyCompromise")
	cmd.Flags().StringVar(&when, "time", "", "revocation time, RFC 3339 (default now)")
	return cmd
}

// caRewriteCRL re-signs DIR/crl/CA.crl (and .crl.pem) with the PKI's
// revocations, numbered one more than the file it replaces.
func caRewriteCRL(p *testcerts.PKI, dir string, ca *testcerts.Entity, now time.Time) (string, error) {
	path := filepath.Join(dir, "crl", ca.Name+".crl")
	number := int64(1)
	if old, err := os.ReadFile(path); err == nil {
		if list, err := crl.Parse(old); err == nil && list.Number != nil && list.Number.IsInt64() {
			number = list.Number.Int64() + 1
		}
	}
	der, err := p.CRL(ca, number, now, now.Add(7*24*time.Hour))
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteBytes(path, 0o644, der); err != nil {
		return "", err
	}
	return path, atomicfile.WriteBytes(path+".pem", 0o644, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}
