package mpay

// The parts of MPay that are there for its throughput: the pool of
// connections to SPs, and how often its job queue fetches (and the settle
// sweep: settle.go).

import (
	"net/http"
	"time"
)

// fetchCooldown is the least time between two fetches of MPay's ready
// jobs: with Config.Workers it bounds how fast a backlog of confirmations
// drains (river's default, 100 ms, held 16 workers to 160 a second).
const fetchCooldown = 10 * time.Millisecond

// defaultHTTP is the client for SPs when Config.HTTP is nil: up to 10 s a
// call, and enough idle connections kept per SP for the deliveries and
// pulls that run at once (the default transport keeps 2, so most calls to
// a busy SP opened a new connection).
func defaultHTTP() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 10 * time.Second, Transport: t}
}
