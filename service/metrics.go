package service

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// metrics counts requests for GET /metrics in the Prometheus text format
// (version 0.0.4): requests by route and status, and their duration sum.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status
	seconds  map[string]float64   // route
	inflight int64
	started  time.Time
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, seconds: map[string]float64{}, started: time.Now()}
}

func (m *metrics) begin() { m.mu.Lock(); m.inflight++; m.mu.Unlock() }

func (m *metrics) end(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.mu.Lock()
	m.inflight--
	m.requests[[2]string{route, strconv.Itoa(status)}]++
	m.seconds[route] += d.Seconds()
	m.mu.Unlock()
}

// serve writes the exposition.
func (m *metrics) serve(c echo.Context) error {
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	routes := make([]string, 0, len(m.seconds))
	for r := range m.seconds {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintln(w, "# HELP semnat_http_requests_total HTTP requests by route and status.")
	fmt.Fprintln(w, "# TYPE semnat_http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "semnat_http_requests_total{route=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP semnat_http_request_seconds_total Time spent serving requests, by route.")
	fmt.Fprintln(w, "# TYPE semnat_http_request_seconds_total counter")
	for _, r := range routes {
		fmt.Fprintf(w, "semnat_http_request_seconds_total{route=%q} %g\n", r, m.seconds[r])
	}
	fmt.Fprintln(w, "# HELP semnat_http_requests_in_flight Requests being served.")
	fmt.Fprintln(w, "# TYPE semnat_http_requests_in_flight gauge")
	fmt.Fprintf(w, "semnat_http_requests_in_flight %d\n", m.inflight-1) // not counting this one
	fmt.Fprintln(w, "# HELP semnat_uptime_seconds Seconds since the server started.")
	fmt.Fprintln(w, "# TYPE semnat_uptime_seconds gauge")
	fmt.Fprintf(w, "semnat_uptime_seconds %g\n", time.Since(m.started).Seconds())
	m.mu.Unlock()
	return nil
}
