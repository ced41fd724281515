package msign

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/semnat/semnat/pades"
)

// metrics are MSign's own: how long signing and verification take (the
// work itself, not the upload or the wait for a worker).
type metrics struct {
	signing      *prometheus.HistogramVec
	verification prometheus.Histogram
}

var workBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newMetrics() *metrics {
	return &metrics{
		signing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "semnat", Name: "signing_seconds",
			Help:    "Time to sign a document, by how: seal (the organisation's key), token (completing a USB token's signature) or mobile (completing a phone's).",
			Buckets: workBuckets,
		}, []string{"method"}),
		verification: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "semnat", Name: "verification_seconds",
			Help:    "Time to verify a PDF's signatures (API, page and VerifySignatures).",
			Buckets: workBuckets,
		}),
	}
}

// RegisterMetrics registers MSign's metrics on the host's registry
// (service.Host.Mount calls it).
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{s.metrics.signing, s.metrics.verification} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// observeSigning records the time since start as one signature made by
// method.
func (s *Service) observeSigning(method string, start time.Time) {
	s.metrics.signing.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// verifyDoc verifies a PDF with the service's settings and records the
// time it took.
func (s *Service) verifyDoc(ctx context.Context, in io.ReaderAt, n int64) (*pades.Report, error) {
	start := time.Now()
	defer func() { s.metrics.verification.Observe(time.Since(start).Seconds()) }()
	return pades.Verify(ctx, in, n, &pades.VerifyOptions{Roots: s.cfg.Roots, Cache: s.cache, Online: s.cfg.VerifyOnline})
}
