package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/pades"
)

// keyFlags are the flags that name a signing key, shared by `semnat sign`
// and `semnat serve` (the seal key): a PKCS#12 file, PEM files or a
// PKCS#11 token.
type keyFlags struct {
	p12, p12PassFile             string
	keyPath, certPath, chainPath string
	token                        *tokenSource
}

func (k *keyFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&k.p12, "p12", "", "PKCS#12 file with the key and certificate chain")
	fl.StringVar(&k.p12PassFile, "p12-pass-file", "", "file holding the PKCS#12 password (else $SEMNAT_P12_PASSWORD, else a prompt)")
	fl.StringVar(&k.keyPath, "key", "", "PEM private key (with --cert)")
	fl.StringVar(&k.certPath, "cert", "", "PEM signer certificate (with --key)")
	fl.StringVar(&k.chainPath, "chain", "", "PEM intermediate certificates")
	k.token = newTokenSource(fl)
}

// given tells whether any key was named.
func (k *keyFlags) given() bool {
	return k.p12 != "" || k.keyPath != "" || k.certPath != "" || k.token.active()
}

// open loads the key the flags name; others lists the other ways the
// command accepts, for the error when none is given.
func (k *keyFlags) open(ctx context.Context, a *app, others ...string) (pades.Signer, func(), error) {
	switch n := btoi(k.p12 != "") + btoi(k.keyPath != "" || k.certPath != "") + btoi(k.token.active()); {
	case n > 1:
		return nil, nil, withCode(exitUsage, errors.New("give one key: --p12, --key/--cert or --token"))
	case k.token.active():
		return k.token.open(ctx, a)
	case k.p12 != "":
		pw, err := secret.Get(k.p12PassFile, "SEMNAT_P12_PASSWORD", a.stdin, a.stderr, "Password for "+filepath.Base(k.p12))
		if err != nil {
			return nil, nil, withCode(exitUsage, fmt.Errorf("reading the PKCS#12 password: %w", err))
		}
		b, err := keyfile.LoadP12(k.p12, pw)
		clear(pw)
		if err != nil {
			return nil, nil, withCode(exitUsage, err)
		}
		return pades.NewKeySigner(b.Key, b.Cert, b.Chain), func() {}, nil
	case k.keyPath != "" || k.certPath != "":
		if k.keyPath == "" || k.certPath == "" {
			return nil, nil, withCode(exitUsage, errors.New("--key and --cert go together"))
		}
		b, err := keyfile.LoadPEM(k.keyPath, k.certPath, k.chainPath)
		if err != nil {
			return nil, nil, withCode(exitUsage, err)
		}
		return pades.NewKeySigner(b.Key, b.Cert, b.Chain), func() {}, nil
	}
	ways := "--p12 FILE, --key/--cert, --token"
	for _, o := range others {
		ways += " or " + o
	}
	return nil, nil, withCode(exitUsage, errors.New("no signing key: give "+ways))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
