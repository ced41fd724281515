// Package crl issues, serves, fetches and checks X.509 certificate revocation
// lists (RFC 5280 §5), and holds the revocation registry that both the CRL
// publisher and the OCSP responder (package ocsp) answer from.
//
// A Registry records, per certification authority, which certificates it
// issued and which it revoked. A Publisher signs CRLs from a Source (a
// Registry, or anything that can list revocations) and serves them over HTTP
// at /crl/NAME.crl together with the CA certificates at /ca/NAME.crt. Check
// and Fetch are the relying-party side: they verify a CRL against its issuer
// and tell the status of one certificate.
package crl

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// State is the revocation state of one certificate.
type State int

const (
	// Good: the issuer knows the certificate and has not revoked it.
	Good State = iota
	// Revoked: the certificate is revoked (Status.RevokedAt, Status.Reason).
	Revoked
	// Unknown: the issuer does not know the certificate.
	Unknown
)

func (s State) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes a State read as "good", "revoked" or "unknown" in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is the revocation status of one certificate.
type Status struct {
	State State
	// RevokedAt and Reason are set when State is Revoked. Reason is an RFC 5280
	// CRLReason code; 0 (unspecified) also stands for "no reason given".
	RevokedAt time.Time
	Reason    int
}

// Errors callers can test with errors.Is.
var (
	// ErrUnknownIssuer: the registry or publisher does not serve this CA.
	ErrUnknownIssuer = errors.New("crl: unknown issuing CA")
	// ErrMalformed: the bytes are not a CRL.
	ErrMalformed = errors.New("crl: malformed CRL")
	// ErrUnsupported: the CRL carries a critical extension this package does
	// not process (delta CRLs, partitioned CRLs), so it must not be relied on.
	ErrUnsupported = errors.New("crl: unsupported critical CRL extension")
	// ErrIssuerMismatch: the CRL was not issued by the certificate's issuer.
	ErrIssuerMismatch = errors.New("crl: CRL issuer is not the certificate's issuer")
	// ErrBadSignature: the CRL signature does not verify with the issuer key.
	ErrBadSignature = errors.New("crl: CRL signature invalid")
	// ErrStale: the CRL's nextUpdate has passed.
	ErrStale = errors.New("crl: CRL is past its nextUpdate")
	// ErrNotYetValid: the CRL's thisUpdate is in the future.
	ErrNotYetValid = errors.New("crl: CRL thisUpdate is in the future")
	// ErrFetch: the CRL could not be downloaded.
	ErrFetch = errors.New("crl: fetch failed")
	// ErrAlreadyRevoked: Revoke was called twice for one certificate.
	ErrAlreadyRevoked = errors.New("crl: certificate already revoked")
)

// Source lists the revoked certificates of a CA (for CRLs).
type Source interface {
	Revoked(ctx context.Context, issuer *x509.Certificate) ([]x509.RevocationListEntry, error)
}

// StatusSource answers the status of one certificate (for OCSP).
type StatusSource interface {
	Status(ctx context.Context, issuer *x509.Certificate, serial *big.Int) (Status, error)
}

// Registry is an in-memory, concurrency-safe revocation registry: for each CA,
// the serials it issued (optional) and the revocations. It implements Source
// and StatusSource. The zero value is not usable: call NewRegistry.
type Registry struct {
	mu      sync.RWMutex
	cas     map[string]*registryCA // key: issuer certificate DER
	version atomic.Uint64          // bumped under mu; read without it
}

type registryCA struct {
	issuer  *x509.Certificate
	issued  map[string]bool // nil: every serial counts as issued
	revoked map[string]x509.RevocationListEntry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{cas: map[string]*registryCA{}} }

// AddCA registers a CA. If issued is non-nil, serials outside it have status
// Unknown; if it is nil, every serial not revoked is Good. Calling AddCA again
// for the same CA adds the serials to its issued set.
func (r *Registry) AddCA(issuer *x509.Certificate, issued []*big.Int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.version.Add(1)
	ca := r.cas[string(issuer.Raw)]
	if ca == nil {
		ca = &registryCA{issuer: issuer, revoked: map[string]x509.RevocationListEntry{}}
		r.cas[string(issuer.Raw)] = ca
	}
	if issued != nil {
		if ca.issued == nil {
			ca.issued = map[string]bool{}
		}
		for _, s := range issued {
			ca.issued[string(s.Bytes())] = true
		}
	}
}

// Issuers lists the registered CAs.
func (r *Registry) Issuers() []*x509.Certificate {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*x509.Certificate, 0, len(r.cas))
	for _, ca := range r.cas {
		out = append(out, ca.issuer)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject.String() < out[j].Subject.String() })
	return out
}

func (r *Registry) ca(issuer *x509.Certificate) (*registryCA, error) {
	if issuer == nil {
		return nil, fmt.Errorf("%w: no issuer certificate given", ErrUnknownIssuer)
	}
	ca := r.cas[string(issuer.Raw)]
	if ca == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownIssuer, issuer.Subject)
	}
	return ca, nil
}

// Revoke records the revocation of serial by issuer at time at with an RFC
// 5280 reason code. Revoking a serial twice returns ErrAlreadyRevoked.
func (r *Registry) Revoke(issuer *x509.Certificate, serial *big.Int, at time.Time, reason int) error {
	if serial == nil || serial.Sign() < 0 {
		return fmt.Errorf("crl: revoke: invalid serial number")
	}
	if reason < 0 || reason == 7 || reason > 10 {
		return fmt.Errorf("crl: revoke: reason code %d is not an RFC 5280 CRLReason", reason)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ca, err := r.ca(issuer)
	if err != nil {
		return err
	}
	key := string(serial.Bytes())
	if _, dup := ca.revoked[key]; dup {
		return fmt.Errorf("%w: serial %x", ErrAlreadyRevoked, serial)
	}
	r.version.Add(1)
	ca.revoked[key] = x509.RevocationListEntry{SerialNumber: new(big.Int).Set(serial), RevocationTime: at.UTC().Truncate(time.Second), ReasonCode: reason}
	if ca.issued != nil {
		ca.issued[key] = true
	}
	return nil
}

// Version changes whenever the registry does (a CA added, a certificate
// revoked): caches of answers derived from it compare versions. It takes
// no lock (one atomic load), so a responder may call it on every request.
func (r *Registry) Version() uint64 { return r.version.Load() }

// Issued lists the serials registered as issued by issuer, in ascending
// order; ok is false when the registry does not know issuer or does not
// track its issued serials (every serial counts as issued). The OCSP
// responder pre-signs answers for them.
func (r *Registry) Issued(issuer *x509.Certificate) (serials []*big.Int, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ca, err := r.ca(issuer)
	if err != nil || ca.issued == nil {
		return nil, false
	}
	for k := range ca.issued {
		serials = append(serials, new(big.Int).SetBytes([]byte(k)))
	}
	sort.Slice(serials, func(i, j int) bool { return serials[i].Cmp(serials[j]) < 0 })
	return serials, true
}

// IssuedLister is implemented by sources that can list the serials a CA
// issued (Registry does); the OCSP responder pre-signs answers for them.
type IssuedLister interface {
	Issued(issuer *x509.Certificate) ([]*big.Int, bool)
}

// Versioned is implemented by sources that can tell when they change
// (Registry does); the OCSP responder caches signed answers only for them.
type Versioned interface {
	Version() uint64
}

// Status implements StatusSource.
func (r *Registry) Status(_ context.Context, issuer *x509.Certificate, serial *big.Int) (Status, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ca, err := r.ca(issuer)
	if err != nil {
		return Status{}, err
	}
	if serial == nil {
		return Status{State: Unknown}, nil
	}
	key := string(serial.Bytes())
	if e, ok := ca.revoked[key]; ok {
		return Status{State: Revoked, RevokedAt: e.RevocationTime, Reason: e.ReasonCode}, nil
	}
	if ca.issued != nil && !ca.issued[key] {
		return Status{State: Unknown}, nil
	}
	return Status{State: Good}, nil
}

// Revoked implements Source: the revocations of issuer, oldest first.
func (r *Registry) Revoked(_ context.Context, issuer *x509.Certificate) ([]x509.RevocationListEntry, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ca, err := r.ca(issuer)
	if err != nil {
		return nil, err
	}
	out := make([]x509.RevocationListEntry, 0, len(ca.revoked))
	for _, e := range ca.revoked {
		e.SerialNumber = new(big.Int).Set(e.SerialNumber)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RevocationTime.Equal(out[j].RevocationTime) {
			return out[i].RevocationTime.Before(out[j].RevocationTime)
		}
		return out[i].SerialNumber.Cmp(out[j].SerialNumber) < 0
	})
	return out, nil
}
