package crl

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxCRLBytes bounds what Fetch downloads (real national CRLs reach a few MB).
const MaxCRLBytes = 32 << 20

var (
	oidCRLNumber       = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAuthorityKeyID  = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidReasonCode      = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidityDate  = asn1.ObjectIdentifier{2, 5, 29, 24}
	handledCRLExts     = []asn1.ObjectIdentifier{oidCRLNumber, oidAuthorityKeyID}
	handledEntryExts   = []asn1.ObjectIdentifier{oidReasonCode, oidInvalidityDate}
	pemCRLPrefix       = []byte("-----BEGIN")
	errCriticalUnknown = "critical extension %s"
)

// Parse reads a CRL in DER or PEM ("X509 CRL") form. A CRL with a critical
// extension this package does not process is refused with ErrUnsupported.
func Parse(data []byte) (*x509.RevocationList, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), pemCRLPrefix) {
		b, _ := pem.Decode(bytes.TrimSpace(data))
		if b == nil || b.Type != "X509 CRL" {
			return nil, fmt.Errorf("%w: PEM without an X509 CRL block", ErrMalformed)
		}
		data = b.Bytes
	}
	list, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	for _, ext := range list.Extensions {
		if ext.Critical && !oidIn(ext.Id, handledCRLExts) {
			return nil, fmt.Errorf("%w: "+errCriticalUnknown, ErrUnsupported, ext.Id)
		}
	}
	for _, e := range list.RevokedCertificateEntries {
		for _, ext := range e.Extensions {
			if ext.Critical && !oidIn(ext.Id, handledEntryExts) {
				return nil, fmt.Errorf("%w: entry %x: "+errCriticalUnknown, ErrUnsupported, e.SerialNumber, ext.Id)
			}
		}
	}
	return list, nil
}

func oidIn(o asn1.ObjectIdentifier, set []asn1.ObjectIdentifier) bool {
	for _, s := range set {
		if o.Equal(s) {
			return true
		}
	}
	return false
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Now is the validation time (default time.Now()).
	Now time.Time
	// AllowStale accepts a CRL past its nextUpdate (for validation at a past
	// time with archived CRLs); the status is still returned.
	AllowStale bool
}

// Verify checks that list was issued by issuer (name and signature) and is
// current at opts.Now (thisUpdate passed, nextUpdate not, unless
// opts.AllowStale).
func Verify(list *x509.RevocationList, issuer *x509.Certificate, opts CheckOptions) error {
	if list == nil || issuer == nil {
		return fmt.Errorf("%w: CRL and issuer are both required", ErrMalformed)
	}
	if !bytes.Equal(list.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%w: CRL by %q, issuer given %q", ErrIssuerMismatch, list.Issuer, issuer.Subject)
	}
	if err := list.CheckSignatureFrom(issuer); err != nil {
		if len(list.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(list.AuthorityKeyId, issuer.SubjectKeyId) {
			// Same name, another key: typically two test PKIs generated
			// with the same base URL, the running responder serving the
			// other one.
			return fmt.Errorf("%w: this responder answers for another PKI (its CA is also named %q but has key id %X, not %X): serve this PKI there, or generate it with another base URL",
				ErrBadSignature, issuer.Subject.CommonName, list.AuthorityKeyId, issuer.SubjectKeyId)
		}
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return checkTime(list, opts)
}

// checkTime is Verify's freshness part: the list applies at opts.Now.
func checkTime(list *x509.RevocationList, opts CheckOptions) error {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if now.Before(list.ThisUpdate) {
		return fmt.Errorf("%w: thisUpdate %s, now %s", ErrNotYetValid, list.ThisUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !opts.AllowStale && !list.NextUpdate.IsZero() && now.After(list.NextUpdate) {
		return fmt.Errorf("%w: nextUpdate %s, now %s (fetch a fresh CRL)", ErrStale, list.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Check verifies list against issuer (issuer name, signature, freshness at
// opts.Now) and returns the status of cert in it: Revoked if listed, Good
// otherwise. A CRL cannot say Unknown.
func Check(list *x509.RevocationList, cert, issuer *x509.Certificate, opts CheckOptions) (Status, error) {
	if list == nil || cert == nil || issuer == nil {
		return Status{}, fmt.Errorf("%w: CRL, certificate and issuer are all required", ErrMalformed)
	}
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return Status{}, fmt.Errorf("%w: CRL by %q, certificate by %q, issuer given %q",
			ErrIssuerMismatch, list.Issuer, cert.Issuer, issuer.Subject)
	}
	if err := Verify(list, issuer, opts); err != nil {
		return Status{}, err
	}
	return lookup(list, cert), nil
}

func lookup(list *x509.RevocationList, cert *x509.Certificate) Status {
	for _, e := range list.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			if e.ReasonCode == 8 { // removeFromCRL: only meaningful in delta CRLs
				continue
			}
			return Status{State: Revoked, RevokedAt: e.RevocationTime, Reason: e.ReasonCode}
		}
	}
	return Status{State: Good}
}

// Fetch downloads the CRL at url (DER or PEM) with client (nil:
// http.DefaultClient) and parses it. It does not verify it: use Check.
func Fetch(ctx context.Context, client *http.Client, url string) (*x509.RevocationList, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: HTTP %s", ErrFetch, url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxCRLBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrFetch, url, err)
	}
	if len(data) > MaxCRLBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrFetch, url, MaxCRLBytes)
	}
	return Parse(data)
}

// CheckCert fetches the CRL from the first HTTP distribution point of cert
// and checks cert against it.
func CheckCert(ctx context.Context, client *http.Client, cert, issuer *x509.Certificate, opts CheckOptions) (Status, *x509.RevocationList, error) {
	var url string
	for _, u := range cert.CRLDistributionPoints {
		if len(u) > 7 && (u[:7] == "http://" || (len(u) > 8 && u[:8] == "https://")) {
			url = u
			break
		}
	}
	if url == "" {
		return Status{}, nil, fmt.Errorf("%w: certificate %q has no HTTP CRL distribution point", ErrFetch, cert.Subject)
	}
	list, err := Fetch(ctx, client, url)
	if err != nil {
		return Status{}, nil, err
	}
	st, err := Check(list, cert, issuer, opts)
	return st, list, err
}

// Fetcher downloads CRLs and keeps each verified CRL until its nextUpdate,
// keyed by (issuer, URL), so that checking many certificates of one CA costs
// one download and one signature check. The zero value is ready to use;
// it is safe for concurrent use.
type Fetcher struct {
	// HTTPClient downloads (default http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxEntries bounds the cache (default 256; emptied when full).
	MaxEntries int

	mu    sync.Mutex
	cache map[fetchKey]*x509.RevocationList
}

type fetchKey struct{ issuer, url string }

// CRL returns the CRL at url verified against issuer, from the cache while
// it is current, otherwise downloaded and verified (Fetch, Verify).
func (f *Fetcher) CRL(ctx context.Context, url string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	if issuer == nil {
		return nil, fmt.Errorf("%w: no issuer certificate given", ErrUnknownIssuer)
	}
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	k := fetchKey{string(issuer.Raw), url}
	f.mu.Lock()
	list := f.cache[k]
	f.mu.Unlock()
	// A cached list was verified against this very issuer (the key): only
	// its freshness can have changed.
	if list != nil && checkTime(list, CheckOptions{Now: now}) == nil {
		return list, nil
	}
	list, err := Fetch(ctx, f.HTTPClient, url)
	if err != nil {
		return nil, err
	}
	if err := Verify(list, issuer, CheckOptions{Now: now}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cache == nil {
		f.cache = map[fetchKey]*x509.RevocationList{}
	}
	limit := f.MaxEntries
	if limit <= 0 {
		limit = 256
	}
	if len(f.cache) >= limit {
		clear(f.cache)
	}
	f.cache[k] = list
	return list, nil
}

// Check returns the status of cert from the CRL at its first HTTP
// distribution point (cached until the CRL's nextUpdate).
func (f *Fetcher) Check(ctx context.Context, cert, issuer *x509.Certificate) (Status, *x509.RevocationList, error) {
	if cert == nil || issuer == nil {
		return Status{}, nil, fmt.Errorf("%w: certificate and issuer are both required", ErrMalformed)
	}
	var url string
	for _, u := range cert.CRLDistributionPoints {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			url = u
			break
		}
	}
	if url == "" {
		return Status{}, nil, fmt.Errorf("%w: certificate %q has no HTTP CRL distribution point", ErrFetch, cert.Subject)
	}
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return Status{}, nil, fmt.Errorf("%w: certificate by %q, issuer given %q", ErrIssuerMismatch, cert.Issuer, issuer.Subject)
	}
	list, err := f.CRL(ctx, url, issuer)
	if err != nil {
		return Status{}, nil, err
	}
	return lookup(list, cert), list, nil
}
