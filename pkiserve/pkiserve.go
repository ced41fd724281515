// Package pkiserve serves the PKI services of a test PKI over HTTP with the
// URL layout the test certificates carry (testcerts): OCSP at /ocsp (POST,
// or GET /ocsp/<base64>), CRLs at /crl/NAME.crl, CA certificates at
// /ca/NAME.crt and an RFC 3161 timestamp authority at /tsa. `semnat ocsp
// serve`, `semnat serve --demo` and tests mount the same handler.
package pkiserve

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// Options tune the services.
type Options struct {
	// TSA names the PKI entity that signs timestamps ("tsa" when empty;
	// "-" for no TSA).
	TSA string
	// OCSPValidity and CRLValidity are nextUpdate - thisUpdate (1 hour and
	// 7 days when zero).
	OCSPValidity, CRLValidity time.Duration
	// OCSPByName identifies the OCSP responder by name instead of key hash.
	OCSPByName bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// RootOCSP also answers OCSP at the root: POST / and GET /<base64>
	// (standalone `semnat ocsp serve`, whose listening URL is the
	// endpoint). /ocsp, /crl/, /ca/ and /tsa keep their meaning.
	RootOCSP bool
	// Dir, if set, is the PKI directory p was loaded from: revocations
	// added to its index.json (`semnat ca revoke`) are applied before the
	// next request is answered (the file is checked at most once a
	// millisecond, one stat), which re-signs the OCSP answers and the CRL.
	Dir string
	// Log receives problems met while reloading Dir (nil: discarded).
	Log *slog.Logger
}

// Services are the PKI's HTTP services. Revoke through Registry: OCSP and
// CRL answers reflect it at once.
type Services struct {
	Registry *crl.Registry
	OCSP     *ocsp.Responder
	CRL      *crl.Publisher
	TSA      *tsa.Server // nil without a TSA

	pki       *testcerts.PKI
	rootOCSP  bool
	index     string // index.json to watch; "" for none
	log       *slog.Logger
	lastCheck atomic.Int64 // UnixNano of the last stat of index
	syncMu    sync.Mutex
	lastSig   fileSig
}

type fileSig struct {
	mod  time.Time
	size int64
}

// New builds the services of p. The PKI's revocations are revoked from the
// start.
func New(p *testcerts.PKI, opts Options) (*Services, error) {
	reg, err := crl.RegistryFromPKI(p)
	if err != nil {
		return nil, err
	}
	if opts.OCSPValidity == 0 {
		opts.OCSPValidity = time.Hour
	}
	if opts.CRLValidity == 0 {
		opts.CRLValidity = 7 * 24 * time.Hour
	}
	resp, err := ocsp.ResponderFromPKI(p, reg, ocsp.ResponderOptions{Validity: opts.OCSPValidity, ByName: opts.OCSPByName, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	pub, err := crl.PublisherFromPKI(p, reg, crl.PublisherOptions{Validity: opts.CRLValidity, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	s := &Services{Registry: reg, OCSP: resp, CRL: pub, pki: p, rootOCSP: opts.RootOCSP, log: opts.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Dir != "" {
		s.index = filepath.Join(opts.Dir, testcerts.IndexFile)
	}
	name := opts.TSA
	if name == "" {
		name = "tsa"
	}
	if name != "-" {
		if s.TSA, err = tsa.ServerFromPKI(p, name, tsa.ServerOptions{Now: opts.Now}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ServeHTTP routes to the services. It routes by prefix itself rather than
// with an http.ServeMux, which would clean (and redirect) GET OCSP paths
// whose base64 holds "//", and copy the request for http.StripPrefix.
func (s *Services) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.index != "" {
		s.sync()
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/crl/"), strings.HasPrefix(p, "/ca/"):
		s.CRL.ServeHTTP(w, r)
	case p == testcerts.OCSPPath || strings.HasPrefix(p, testcerts.OCSPPath+"/"):
		s.OCSP.ServeOCSP(w, r, p[len(testcerts.OCSPPath):])
	case p == testcerts.TSAPath || p == testcerts.TSAPath+"/":
		if s.TSA == nil {
			http.NotFound(w, r)
			return
		}
		s.TSA.ServeHTTP(w, r)
	case s.rootOCSP:
		s.OCSP.ServeOCSP(w, r, p)
	default:
		http.NotFound(w, r)
	}
}

// Run keeps the services fresh until ctx ends: the OCSP responder
// pre-signs and refreshes its answers (ocsp.Responder.Run), Dir is checked
// every 200 ms even without requests, and each CA's CRL is re-signed as
// soon as a revocation arrives (the publisher also re-signs it hourly).
func (s *Services) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.OCSP.Run(ctx)
	}()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	seen := s.Registry.Version()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case <-t.C:
		}
		if s.index != "" {
			s.sync()
		}
		if v := s.Registry.Version(); v != seen {
			seen = v
			for _, name := range s.CRL.Names() {
				if _, err := s.CRL.CRL(ctx, name); err != nil && ctx.Err() == nil {
					s.log.Warn("pkiserve: re-signing CRL", "ca", name, "err", err)
				}
			}
		}
	}
}

// sync applies the revocations of index.json when the file changed since
// the last look; it stats the file at most once a millisecond.
func (s *Services) sync() {
	now := time.Now().UnixNano()
	last := s.lastCheck.Load()
	if now-last < int64(time.Millisecond) || !s.lastCheck.CompareAndSwap(last, now) {
		return
	}
	if _, err := s.Reload(); err != nil {
		s.log.Warn("pkiserve: reloading revocations", "file", s.index, "err", err)
	}
}

// ErrNoDir: Reload was called on services built without Options.Dir.
var ErrNoDir = errors.New("pkiserve: no PKI directory to reload from")

// Reload applies now the revocations listed in Dir's index.json that the
// registry does not have yet, if the file changed since the last reload,
// and returns how many it applied.
func (s *Services) Reload() (int, error) {
	if s.index == "" {
		return 0, ErrNoDir
	}
	fi, err := os.Stat(s.index)
	if err != nil {
		return 0, err
	}
	sig := fileSig{mod: fi.ModTime(), size: fi.Size()}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if sig == s.lastSig {
		return 0, nil
	}
	data, err := os.ReadFile(s.index)
	if err != nil {
		return 0, err
	}
	var idx testcerts.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return 0, fmt.Errorf("pkiserve: %s: %w", s.index, err)
	}
	n := 0
	var errs []error
	for _, rv := range idx.Revocations {
		ca := s.pki.Get(rv.Issuer)
		serial, err := hex.DecodeString(rv.Serial)
		reason, rerr := testcerts.ParseReason(rv.Reason)
		if ca == nil || err != nil || rerr != nil {
			errs = append(errs, fmt.Errorf("pkiserve: revocation of %q (issuer %q, serial %q): unusable", rv.Name, rv.Issuer, rv.Serial))
			continue
		}
		err = s.Registry.Revoke(ca.Cert, new(big.Int).SetBytes(serial), rv.Time, reason)
		switch {
		case err == nil:
			n++
			s.log.Info("pkiserve: revoked", "name", rv.Name, "issuer", rv.Issuer, "serial", rv.Serial, "reason", rv.Reason)
		case !errors.Is(err, crl.ErrAlreadyRevoked):
			errs = append(errs, err)
		}
	}
	s.lastSig = sig
	return n, errors.Join(errs...)
}
