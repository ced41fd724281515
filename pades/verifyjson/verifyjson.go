// Package verifyjson verifies a PDF held in memory against PEM trust
// anchors and returns the report exactly as `semnat verify --json` prints
// it. It is what the in-browser verifier (cmd/semnat-verify-wasm) runs: no
// file system, no network, no store; revocation data the file does not
// carry comes only through Options.Fetcher (the server's revocation proxy).
package verifyjson

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/pades"
)

// ErrTrust: the trust anchors are not PEM or DER certificates.
var ErrTrust = errors.New("verifyjson: unreadable trust anchors")

// Options tune Verify.
type Options struct {
	At   time.Time // validate at that time (zero: now)
	File string    // the report's "file" (the name the user chose)
	// Fetcher, if set, brings revocation data the file does not carry
	// (pades.VerifyOptions.Fetcher); nil: offline.
	Fetcher pades.RevocationFetcher
}

// Verify verifies doc against the certificates of trustPEM (empty: no
// anchor, every chain is INDETERMINATE) with the revocation data the file
// carries (and what o.Fetcher brings), and returns the report as JSON (indented, one trailing newline,
// as the command prints it).
func Verify(ctx context.Context, doc, trustPEM []byte, o Options) ([]byte, error) {
	opts := &pades.VerifyOptions{At: o.At, Fetcher: o.Fetcher}
	if len(bytes.TrimSpace(trustPEM)) > 0 {
		certs, err := keyfile.ParseCerts(trustPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTrust, err)
		}
		opts.Roots = x509.NewCertPool()
		for _, c := range certs {
			opts.Roots.AddCert(c)
		}
	}
	rep, err := pades.Verify(ctx, bytes.NewReader(doc), int64(len(doc)), opts)
	if err != nil {
		return nil, err
	}
	rep.File = o.File
	return Marshal(rep)
}

// Marshal is the JSON of a report as `semnat verify --json` prints it.
func Marshal(rep *pades.Report) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return nil, fmt.Errorf("verifyjson: %w", err)
	}
	return b.Bytes(), nil
}
