//go:build pprof

// Built only with `-tags pprof` (bench/side-mpower.sh's SIDE_MPOWER_PPROF):
// serves net/http/pprof on $SEMNAT_PPROF (e.g. 127.0.0.1:6060) so that a
// benchmark can profile the server it drives. Never in a release binary.

package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("SEMNAT_PPROF")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "semnat: pprof:", err)
		}
	}()
}
