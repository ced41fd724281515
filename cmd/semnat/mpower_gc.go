package main

import (
	"os"
	"runtime/debug"
)

// mpowerGCPercent is the garbage collector's target of `semnat mpower
// serve` when $GOGC is not set. A check allocates about 3 KB (the request,
// its headers, the audit entry) and keeps none of it, while MPower's live
// heap is small (about 16 MB even with every service of the demo: the
// powers are in the store, the power cache holds those asked about), so
// with Go's default of 100 the collector ran several times a second under
// load and took about a tenth of the server's CPU per check (issue 15's
// profile of bench/side-mpower.sh); at 400 it runs a quarter as often, for
// a peak heap about 2.5 times as large. $GOGC and $GOMEMLIMIT still decide
// when set.
const mpowerGCPercent = 400

// defaultGC sets the collector's target to percent unless $GOGC is set.
func defaultGC(percent int) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(percent)
	}
}
