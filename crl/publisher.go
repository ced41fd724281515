package crl

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Authority is a CA whose CRLs a Publisher signs. Name is the file name in
// the URLs (/crl/NAME.crl, /ca/NAME.crt).
type Authority struct {
	Name string
	Cert *x509.Certificate
	Key  crypto.Signer
}

// PublisherOptions tune a Publisher.
type PublisherOptions struct {
	// Validity is nextUpdate - thisUpdate (default 7 days).
	Validity time.Duration
	// Refresh is how long a signed CRL is served before it is re-signed even
	// if nothing changed (default 1 hour). A change in the revocations
	// re-signs at once.
	Refresh time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Publisher signs CRLs on demand, caches them, and serves them with the CA
// certificates over HTTP. Safe for concurrent use.
type Publisher struct {
	src  Source
	opts PublisherOptions
	mu   sync.Mutex
	cas  map[string]*pubCA
	keys []string
}

type pubCA struct {
	Authority
	der        []byte
	thisUpdate time.Time
	number     *big.Int
	fp         [32]byte
}

// NewPublisher returns a Publisher for the given CAs, answering from src.
func NewPublisher(src Source, cas []Authority, opts PublisherOptions) (*Publisher, error) {
	if src == nil {
		return nil, errors.New("crl: NewPublisher needs a Source")
	}
	if opts.Validity <= 0 {
		opts.Validity = 7 * 24 * time.Hour
	}
	if opts.Refresh <= 0 {
		opts.Refresh = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Publisher{src: src, opts: opts, cas: map[string]*pubCA{}}
	for _, a := range cas {
		if a.Name == "" || strings.ContainsAny(a.Name, "/\\") {
			return nil, fmt.Errorf("crl: CA name %q is not a valid file name", a.Name)
		}
		if a.Cert == nil || !a.Cert.IsCA {
			return nil, fmt.Errorf("crl: %s: certificate is not a CA", a.Name)
		}
		if a.Key == nil || !publicKeyEqual(a.Key.Public(), a.Cert.PublicKey) {
			return nil, fmt.Errorf("crl: %s: key does not match the CA certificate", a.Name)
		}
		if a.Cert.KeyUsage != 0 && a.Cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
			return nil, fmt.Errorf("crl: %s: CA certificate lacks the cRLSign key usage", a.Name)
		}
		if _, dup := p.cas[a.Name]; dup {
			return nil, fmt.Errorf("crl: CA name %q used twice", a.Name)
		}
		p.cas[a.Name] = &pubCA{Authority: a}
		p.keys = append(p.keys, a.Name)
	}
	return p, nil
}

// Names lists the CA names served, in the order given.
func (p *Publisher) Names() []string { return append([]string(nil), p.keys...) }

func publicKeyEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func fingerprint(entries []x509.RevocationListEntry) [32]byte {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%x|%d|%d\n", e.SerialNumber, e.RevocationTime.Unix(), e.ReasonCode)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// CRL returns the current DER CRL of the CA called name, signing a fresh one
// when the revocations changed or the cached one is older than Refresh. CRL
// numbers grow strictly: the thisUpdate time in Unix seconds, or one more
// than the previous number, whichever is larger.
func (p *Publisher) CRL(ctx context.Context, name string) ([]byte, error) {
	p.mu.Lock()
	ca := p.cas[name]
	p.mu.Unlock()
	if ca == nil {
		return nil, fmt.Errorf("%w: no CA named %q", ErrUnknownIssuer, name)
	}
	entries, err := p.src.Revoked(ctx, ca.Cert)
	if err != nil {
		return nil, fmt.Errorf("crl: %s: listing revocations: %w", name, err)
	}
	fp := fingerprint(entries)
	now := p.opts.Now().UTC().Truncate(time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ca.der != nil && ca.fp == fp && now.Sub(ca.thisUpdate) < p.opts.Refresh && !now.Before(ca.thisUpdate) {
		return ca.der, nil
	}
	number := big.NewInt(now.Unix())
	if ca.number != nil && number.Cmp(ca.number) <= 0 {
		number = new(big.Int).Add(ca.number, big.NewInt(1))
	}
	tmpl := &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now,
		NextUpdate:                now.Add(p.opts.Validity),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("crl: %s: signing: %w", name, err)
	}
	ca.der, ca.thisUpdate, ca.number, ca.fp = der, now, number, fp
	return der, nil
}

// ServeHTTP serves GET/HEAD /crl/NAME.crl (DER, application/pkix-crl),
// /crl/NAME.crl.pem (PEM) and /ca/NAME.crt (DER, application/pkix-cert).
// Mount it at the root of the server.
func (p *Publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/crl/") && strings.HasSuffix(path, ".crl.pem"):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/crl/"), ".crl.pem")
		der, ok := p.serveCRL(w, r, name)
		if ok {
			w.Header().Set("Content-Type", "application/x-pem-file")
			writeBody(w, r, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
		}
	case strings.HasPrefix(path, "/crl/") && strings.HasSuffix(path, ".crl"):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/crl/"), ".crl")
		der, ok := p.serveCRL(w, r, name)
		if ok {
			w.Header().Set("Content-Type", "application/pkix-crl")
			writeBody(w, r, der)
		}
	case strings.HasPrefix(path, "/ca/") && strings.HasSuffix(path, ".crt"):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/ca/"), ".crt")
		p.mu.Lock()
		ca := p.cas[name]
		p.mu.Unlock()
		if ca == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		writeBody(w, r, ca.Cert.Raw)
	default:
		http.NotFound(w, r)
	}
}

func (p *Publisher) serveCRL(w http.ResponseWriter, r *http.Request, name string) ([]byte, bool) {
	der, err := p.CRL(r.Context(), name)
	if errors.Is(err, ErrUnknownIssuer) {
		http.NotFound(w, r)
		return nil, false
	}
	if err != nil {
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return nil, false
	}
	p.mu.Lock()
	ca := p.cas[name]
	age := p.opts.Now().Sub(ca.thisUpdate)
	p.mu.Unlock()
	maxAge := max(int((p.opts.Refresh-age)/time.Second), 0)
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", maxAge))
	w.Header().Set("Last-Modified", ca.thisUpdate.Format(http.TimeFormat))
	return der, true
}

func writeBody(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = bytes.NewReader(b).WriteTo(w)
}
