package msign

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// errRateLimited is the refusal of a request over its caller's rate: it
// was not carried out, and may be made again after Retry-After.
var errRateLimited = problem.New(http.StatusTooManyRequests, "rate-limited", "Too many requests", "slow down and try again")

// rateLimits bounds the requests of the API and of the pages' form posts.
// A registered system (known by the TLS client certificate or API key
// that authenticates it) has a bucket of its own, at the rate registered
// with it or SystemRateLimit; anyone else (browsers) shares the bucket of
// their IP address at RateLimit. So a portal calling from the address its
// visitors' browsers also post from neither spends their requests nor is
// refused for them.
type rateLimits struct {
	perIP *middleware.RateLimiterMemoryStore
	rate  rate.Limit // a system's, unless registered with its own
	burst int

	mu      sync.Mutex
	systems map[string]*systemBucket // by "sys:NAME" (registered) or "key:NAME"/"cert:CN" (configured)
}

type systemBucket struct {
	lim  *rate.Limiter
	rec  *store.System // the registration its rate was read from (nil: configured system)
	seen time.Time
}

func newRateLimits(cfg Config) *rateLimits {
	return &rateLimits{
		perIP: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(cfg.RateLimit), Burst: cfg.RateBurst, ExpiresIn: 3 * time.Minute}),
		rate: rate.Limit(cfg.SystemRateLimit), burst: cfg.SystemRateBurst,
		systems: map[string]*systemBucket{},
	}
}

// limiter is the middleware: a request over its caller's rate gets the
// 429 rate-limited problem with Retry-After.
func (s *Service) limiter(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.allow(c) {
			c.Response().Header().Set("Retry-After", "1")
			return errRateLimited
		}
		return next(c)
	}
}

// allow takes a token from the bucket of the request's caller.
func (s *Service) allow(c echo.Context) bool {
	key, rec := s.rateCaller(c)
	if key == "" {
		ok, _ := s.limits.perIP.Allow(c.RealIP())
		return ok
	}
	return s.limits.system(key, rec).Allow()
}

// rateCaller names the system making the request ("" when it is none of
// them, or its credential is unknown: then its IP address counts) and its
// registration (nil for a system of the configuration: APIKeys, or a
// client certificate the listener verified).
func (s *Service) rateCaller(c echo.Context) (string, *store.System) {
	r := c.Request()
	key, _ := sysauth.RequestKey(c)
	hasCert := r.TLS != nil && len(r.TLS.PeerCertificates) > 0
	if key == "" && !hasCert {
		return "", nil // a browser: no store lookup
	}
	if name, ok := s.keys[sha256.Sum256([]byte(key))]; ok && key != "" {
		return "key:" + name, nil
	}
	if rec, err := sysauth.Authenticate(c, s.cfg.Store, storeService, &s.systems); err == nil {
		c.Set(ctxSystem, rec) // the handler's authenticate takes it from here
		return "sys:" + rec.Name, rec
	}
	if hasCert && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName, nil
	}
	return "", nil
}

// system is the bucket of a system, at the rate of its registration rec
// (read again when the registration changed) or the default.
func (l *rateLimits) system(key string, rec *store.System) *rate.Limiter {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.systems[key]
	if b == nil {
		if len(l.systems) >= 10000 {
			l.prune(now)
		}
		b = &systemBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		b.setRate(rec, l.rate, l.burst)
		l.systems[key] = b
	} else if rec != b.rec {
		b.setRate(rec, l.rate, l.burst)
	}
	b.seen = now
	return b.lim
}

// prune forgets the buckets of systems not seen for three minutes (full
// again by then at any rate over 1/s).
func (l *rateLimits) prune(now time.Time) {
	for k, b := range l.systems {
		if now.Sub(b.seen) > 3*time.Minute {
			delete(l.systems, k)
		}
	}
}

// setRate sets b's rate from registration rec: its own, else r and burst.
func (b *systemBucket) setRate(rec *store.System, r rate.Limit, burst int) {
	b.rec = rec
	if rec != nil {
		var set systemSettings
		if json.Unmarshal(rec.Settings, &set) == nil && set.RateLimit > 0 {
			r = rate.Limit(set.RateLimit)
			burst = set.RateBurst
			if burst <= 0 {
				burst = max(1, int(2*set.RateLimit))
			}
		}
	}
	if b.lim.Limit() != r {
		b.lim.SetLimit(r)
	}
	if b.lim.Burst() != burst {
		b.lim.SetBurst(burst)
	}
}
