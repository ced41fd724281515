package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkcs11"
)

// envP12Password gives the PKCS#12 password to `token import` when no
// --p12-pass-file is given.
const envP12Password = "SEMNAT_P12_PASSWORD"

func newTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "USB tokens and HSMs through PKCS#11: list, show certificates, provision",
		Long: `Work with PKCS#11 tokens (USB tokens, smart cards, HSMs, SoftHSM2).

--module PATH names the PKCS#11 library; without it $` + pkcs11.EnvModule + ` is used,
then the usual SoftHSM2 and OpenSC paths. PINs come from --pin-file, else from
$` + pkcs11.EnvPIN + `, else from a prompt (no echo on a terminal); a wrong PIN is never
retried by itself, since tokens lock after a few failures.`,
	}
	cmd.AddCommand(newTokenListCmd(a), newTokenCertsCmd(a), newTokenImportCmd(a), newTokenInitCmd(a))
	return cmd
}

// tokenExit maps pkcs11 errors to exit codes: setup problems (no module,
// no token, bad input) are usage errors, refusals by the token are failures.
func tokenExit(err error) error {
	switch {
	case errors.Is(err, pkcs11.ErrModuleNotFound), errors.Is(err, pkcs11.ErrModuleLoad),
		errors.Is(err, pkcs11.ErrTokenNotFound), errors.Is(err, pkcs11.ErrTokenNotPresent),
		errors.Is(err, pkcs11.ErrAmbiguous), errors.Is(err, pkcs11.ErrNoPIN), errors.Is(err, os.ErrNotExist):
		return withCode(exitUsage, err)
	}
	return withCode(exitFailed, err)
}

func newTokenListCmd(a *app) *cobra.Command {
	var module string
	cmd := &cobra.Command{
		Use:   "list [--module PATH]",
		Short: "List the slots and tokens of a PKCS#11 module",
		Example: `  semnat token list
  semnat token list --module /usr/lib/softhsm/libsofthsm2.so --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := pkcs11.Open(module)
			if err != nil {
				return tokenExit(err)
			}
			defer m.Close()
			info, err := m.Info()
			if err != nil {
				return tokenExit(err)
			}
			slots, err := m.Slots()
			if err != nil {
				return tokenExit(err)
			}
			a.log.Debug("token list", "module", info.Path, "slots", len(slots))
			if a.json {
				return a.printJSON(struct {
					Module pkcs11.ModuleInfo `json:"module"`
					Slots  []pkcs11.Slot     `json:"slots"`
				}{info, slots})
			}
			a.say("module %s: %s %s (Cryptoki %s)\n", info.Path, info.ManufacturerID, info.LibraryDescription, info.CryptokiVersion)
			for _, s := range slots {
				if s.Token == nil {
					a.say("slot %d: %s: no token\n", s.ID, s.Description)
					continue
				}
				t := s.Token
				if !t.Initialized {
					a.say("slot %d: %s: uninitialised token\n", s.ID, s.Description)
					continue
				}
				a.say("slot %d: token %q\n", s.ID, t.Label)
				a.say("  serial:       %s\n  manufacturer: %s\n  model:        %s\n", t.Serial, t.Manufacturer, t.Model)
				a.say("  flags:        %s\n", strings.Join(t.FlagNames(), ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "PKCS#11 module (default $"+pkcs11.EnvModule+", then the usual SoftHSM2/OpenSC paths)")
	return cmd
}

// certView is one CKA_ID entry as `token certs` shows it.
type certView struct {
	ID          pkcs11.KeyID `json:"id"`
	Label       string       `json:"label"`
	Subject     string       `json:"subject,omitempty"`
	Issuer      string       `json:"issuer,omitempty"`
	Serial      string       `json:"serial,omitempty"`
	NotBefore   *time.Time   `json:"not_before,omitempty"`
	NotAfter    *time.Time   `json:"not_after,omitempty"`
	CA          bool         `json:"ca"`
	KeyType     string       `json:"key_type,omitempty"`
	Bits        int          `json:"bits,omitempty"`
	Curve       string       `json:"curve,omitempty"`
	Certificate bool         `json:"has_certificate"`
	PublicKey   bool         `json:"has_public_key"`
	PrivateKey  bool         `json:"has_private_key"`
	CanSign     bool         `json:"can_sign"`
}

func viewEntry(e pkcs11.Entry) certView {
	v := certView{ID: e.ID, Label: e.Label, Certificate: e.Certificate != nil, PublicKey: e.PublicKey != nil, PrivateKey: e.PrivateKey != nil}
	for _, o := range []*pkcs11.Object{e.Certificate, e.PublicKey, e.PrivateKey} {
		if o != nil && v.KeyType == "" && o.KeyType != "" {
			v.KeyType, v.Bits, v.Curve = o.KeyType, o.Bits, o.Curve
		}
	}
	if e.PrivateKey != nil {
		v.CanSign = e.PrivateKey.CanSign
	}
	if e.Certificate != nil && e.Certificate.Certificate != nil {
		c := e.Certificate.Certificate
		v.Subject, v.Issuer, v.Serial, v.CA = c.Subject.String(), c.Issuer.String(), fmt.Sprintf("%X", c.SerialNumber), c.IsCA
		nb, na := c.NotBefore, c.NotAfter
		v.NotBefore, v.NotAfter = &nb, &na
	}
	return v
}

func newTokenCertsCmd(a *app) *cobra.Command {
	var module, label, serial, pinFile string
	var login bool
	cmd := &cobra.Command{
		Use:   "certs [--module PATH] [--token-label L] [--login | --pin-file F]",
		Short: "List the certificates and keys of a token, paired by CKA_ID",
		Long: `List the certificates and keys on a token, one line per CKA_ID: the
certificate (subject, issuer, validity) with its public and private key.
Private keys are only visible after login: pass --login (PIN from $` + pkcs11.EnvPIN + `
or a prompt) or --pin-file.`,
		Example: `  semnat token certs --token-label "Ion Popescu"
  semnat token certs --token-label seal-hsm --pin-file /run/secrets/pin --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := pkcs11.Open(module)
			if err != nil {
				return tokenExit(err)
			}
			defer m.Close()
			var pin pkcs11.PINSource
			if login || pinFile != "" {
				pin = pkcs11.PINFromFlags(pinFile, a.stdin, a.stderr)
			}
			tc, err := m.Contents(cmd.Context(), pkcs11.TokenSelector{Label: label, Serial: serial}, pin)
			if err != nil {
				return tokenExit(err)
			}
			entries := pkcs11.Pair(tc.Objects)
			views := make([]certView, 0, len(entries))
			for _, e := range entries {
				views = append(views, viewEntry(e))
			}
			if a.json {
				return a.printJSON(struct {
					Slot    uint             `json:"slot"`
					Token   pkcs11.TokenInfo `json:"token"`
					Login   string           `json:"login"`
					Entries []certView       `json:"entries"`
					Objects []pkcs11.Object  `json:"objects"`
				}{tc.Slot, tc.Token, tc.LoginAs, views, tc.Objects})
			}
			a.say("token %q (serial %s), slot %d, %s objects:\n", tc.Token.Label, tc.Token.Serial, tc.Slot, tc.LoginAs)
			if len(views) == 0 {
				a.say("  (none)\n")
			}
			for _, v := range views {
				kind := "key"
				if v.CA {
					kind = "CA certificate"
				} else if v.Certificate {
					kind = "certificate"
				}
				key := v.KeyType
				if v.Curve != "" {
					key += " " + v.Curve
				} else if v.Bits > 0 {
					key += fmt.Sprintf("-%d", v.Bits)
				}
				var has []string
				for _, h := range []struct {
					on   bool
					name string
				}{{v.Certificate, "certificate"}, {v.PublicKey, "public key"}, {v.PrivateKey, "private key"}} {
					if h.on {
						has = append(has, h.name)
					}
				}
				a.say("  id %s  %q  %s  %s  [%s]\n", v.ID, v.Label, kind, key, strings.Join(has, ", "))
				if v.Subject != "" {
					a.say("      subject:  %s\n      issuer:   %s\n      valid:    %s to %s\n", v.Subject, v.Issuer,
						v.NotBefore.Format(time.DateOnly), v.NotAfter.Format(time.DateOnly))
				}
			}
			if tc.LoginAs != "user" {
				a.say("(private keys are listed after login: --login or --pin-file)\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "PKCS#11 module (default $"+pkcs11.EnvModule+", then the usual SoftHSM2/OpenSC paths)")
	cmd.Flags().StringVar(&label, "token-label", "", "token label (default: the only token present)")
	cmd.Flags().StringVar(&serial, "token-serial", "", "token serial number")
	cmd.Flags().BoolVar(&login, "login", false, "log in to list private keys too (PIN from $"+pkcs11.EnvPIN+" or a prompt)")
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "log in with the PIN in this file (first line)")
	return cmd
}

func newTokenImportCmd(a *app) *cobra.Command {
	var module, label, serial, pinFile, p12File, passFile, keyLabel, keyID string
	cmd := &cobra.Command{
		Use:   "import --p12 FILE --token-label L [--p12-pass-file F] [--pin-file F]",
		Short: "Write a key, its certificate and chain from a PKCS#12 file on a token (tests, demos)",
		Long: `Import the private key (RSA or EC), the certificate and the CA certificates of
a PKCS#12 file into a token, all sharing one CKA_ID (default: the certificate's
subject key identifier). The key is stored sensitive and not extractable.
This is for tests and demos: a real token generates its keys inside.

The PKCS#12 password comes from --p12-pass-file, else $` + envP12Password + `, else a prompt.`,
		Example: `  semnat testcerts generate --out pki
  semnat token init --token-label demo --pin-file pin --so-pin-file sopin
  semnat token import --p12 pki/person-rsa2048/bundle.p12 --p12-pass-file pw --token-label demo --pin-file pin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p12File == "" {
				return withCode(exitUsage, errors.New("--p12 FILE is required"))
			}
			if label == "" && serial == "" {
				return withCode(exitUsage, errors.New("--token-label L (or --token-serial) is required"))
			}
			var id pkcs11.KeyID
			if keyID != "" {
				var err error
				if id, err = pkcs11.ParseKeyID(keyID); err != nil {
					return withCode(exitUsage, err)
				}
			}
			data, err := os.ReadFile(p12File)
			if err != nil {
				return withCode(exitUsage, err)
			}
			pw, err := secret.Get(passFile, envP12Password, a.stdin, a.stderr, "Password for "+filepath.Base(p12File))
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("reading the PKCS#12 password: %w", err))
			}
			key, cert, cas, err := keyfile.DecodeP12(data, pw)
			clear(pw)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w (wrong password or not a PKCS#12 file)", p12File, err))
			}
			m, err := pkcs11.Open(module)
			if err != nil {
				return tokenExit(err)
			}
			defer m.Close()
			res, err := m.Import(cmd.Context(), pkcs11.ImportOptions{
				Token: pkcs11.TokenSelector{Label: label, Serial: serial},
				PIN:   pkcs11.PINFromFlags(pinFile, a.stdin, a.stderr),
				Key:   key, Certificate: cert, Chain: cas, Label: keyLabel, ID: id,
			})
			if err != nil {
				return tokenExit(err)
			}
			a.log.Debug("token import", "token", res.Token.Label, "id", res.ID.String(), "label", res.Label)
			if a.json {
				return a.printJSON(res)
			}
			a.say("imported %s key %q (id %s) with its certificate and %d CA certificate(s) into token %q (serial %s)\n",
				res.KeyType, res.Label, res.ID, res.CACerts, res.Token.Label, res.Token.Serial)
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "PKCS#11 module (default $"+pkcs11.EnvModule+", then the usual SoftHSM2/OpenSC paths)")
	cmd.Flags().StringVar(&label, "token-label", "", "label of the token to write to (required)")
	cmd.Flags().StringVar(&serial, "token-serial", "", "serial of the token to write to")
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "user PIN file (default $"+pkcs11.EnvPIN+", then a prompt)")
	cmd.Flags().StringVar(&p12File, "p12", "", "PKCS#12 file with the key, certificate and chain (required)")
	cmd.Flags().StringVar(&passFile, "p12-pass-file", "", "file holding the PKCS#12 password")
	cmd.Flags().StringVar(&keyLabel, "key-label", "", "CKA_LABEL of the key and certificate (default: the certificate's common name)")
	cmd.Flags().StringVar(&keyID, "key-id", "", "CKA_ID in hex (default: the certificate's subject key identifier)")
	return cmd
}

func newTokenInitCmd(a *app) *cobra.Command {
	var module, label, pinFile, soPINFile string
	cmd := &cobra.Command{
		Use:   "init --token-label L --pin-file F --so-pin-file F [--module PATH]",
		Short: "Initialise a new token in a free slot (SoftHSM2; tests and demos)",
		Long: `Initialise the first free slot's token with a label, a security officer PIN and
a user PIN (what 'softhsm2-util --init-token --free' does). Only for SoftHSM2
and other software tokens: on a real token this erases it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if label == "" || pinFile == "" || soPINFile == "" {
				return withCode(exitUsage, errors.New("--token-label, --pin-file and --so-pin-file are required"))
			}
			pin, err := pkcs11.PINFile(pinFile).PIN(cmd.Context(), pkcs11.TokenInfo{})
			if err != nil {
				return withCode(exitUsage, err)
			}
			defer clear(pin)
			so, err := pkcs11.PINFile(soPINFile).PIN(cmd.Context(), pkcs11.TokenInfo{})
			if err != nil {
				return withCode(exitUsage, err)
			}
			defer clear(so)
			m, err := pkcs11.Open(module)
			if err != nil {
				return tokenExit(err)
			}
			defer m.Close()
			ti, err := m.InitToken(label, so, pin)
			if err != nil {
				return tokenExit(err)
			}
			if a.json {
				return a.printJSON(ti)
			}
			a.say("initialised token %q (serial %s)\n", ti.Label, ti.Serial)
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "PKCS#11 module (default $"+pkcs11.EnvModule+", then the usual SoftHSM2/OpenSC paths)")
	cmd.Flags().StringVar(&label, "token-label", "", "label of the new token")
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "file holding the user PIN to set")
	cmd.Flags().StringVar(&soPINFile, "so-pin-file", "", "file holding the security officer PIN to set")
	return cmd
}

// tokenSource is the --token way of `semnat sign` to get a signer: it
// registers the token flags and opens a pkcs11.Signer (one login, a pool of
// sessions, so a batch signs in parallel with one PIN entry). To wire it:
// keyFlags registers it (sign, serve).
type tokenSource struct {
	on                                     bool
	module, label, serial, keyLabel, keyID string
	pinFile                                string
}

func newTokenSource(fs *pflag.FlagSet) *tokenSource {
	t := &tokenSource{}
	fs.BoolVar(&t.on, "token", false, "sign with a key on a PKCS#11 token (USB token, HSM, SoftHSM2)")
	fs.StringVar(&t.module, "module", "", "PKCS#11 module for --token (default $"+pkcs11.EnvModule+", then the usual SoftHSM2/OpenSC paths)")
	fs.StringVar(&t.label, "token-label", "", "token label for --token (default: the only token present)")
	fs.StringVar(&t.serial, "token-serial", "", "token serial number for --token")
	fs.StringVar(&t.keyLabel, "key-label", "", "label of the key on the token (default: the only signing certificate)")
	fs.StringVar(&t.keyID, "key-id", "", "CKA_ID of the key on the token, in hex")
	fs.StringVar(&t.pinFile, "pin-file", "", "token PIN file (default $"+pkcs11.EnvPIN+", then a prompt)")
	return t
}

func (t *tokenSource) active() bool { return t.on }

func (t *tokenSource) open(ctx context.Context, a *app) (pades.Signer, func(), error) {
	opts, err := t.options(a)
	if err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	s, err := pkcs11.OpenSigner(ctx, opts)
	if err != nil {
		return nil, nil, tokenExit(err)
	}
	a.log.Debug("token signer", "token", s.Token().Label, "key", s.KeyLabel(), "id", s.KeyID().String())
	return s, func() { s.Close() }, nil
}

// options turns the flags into pkcs11.Options.
func (t *tokenSource) options(a *app) (pkcs11.Options, error) {
	o := pkcs11.Options{Module: t.module, SignerOptions: pkcs11.SignerOptions{
		Token:    pkcs11.TokenSelector{Label: t.label, Serial: t.serial},
		KeyLabel: t.keyLabel,
		PIN:      pkcs11.PINFromFlags(t.pinFile, a.stdin, a.stderr),
	}}
	if t.keyID != "" {
		id, err := pkcs11.ParseKeyID(t.keyID)
		if err != nil {
			return o, err
		}
		o.KeyID = id
	}
	return o, nil
}
