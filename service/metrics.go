package service

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the host's Prometheus metrics, on a registry of the host's own
// (never the global default, so that two hosts in one process, as in tests,
// do not collide): the Go runtime and process collectors, and requests by
// route, method and status with a histogram of their duration. Services add
// theirs through Host.Metrics (signing and verification times, ...).
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "semnat", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route (the pattern, not the path), method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method", "status"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "semnat", Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.duration, m.inflight,
	)
	return m
}

func (m *metrics) begin() { m.inflight.Inc() }

func (m *metrics) end(route, method string, status int, d time.Duration) {
	m.inflight.Dec()
	if route == "" {
		route = "unmatched" // never the raw path: unbounded label values
	}
	m.duration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
}
