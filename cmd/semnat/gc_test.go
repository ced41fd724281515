package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestDefaultGC: `semnat mpass serve` and `semnat mpower serve` set their
// GOGC (400) when $GOGC is not set, and leave a set $GOGC alone.
func TestDefaultGC(t *testing.T) {
	for name, percent := range map[string]int{"mpass": mpassGCPercent, "mpower": mpowerGCPercent} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("GOGC", "150") // restored after the test
			prev := debug.SetGCPercent(150)
			defer debug.SetGCPercent(prev)
			defaultGC(percent)
			if got := debug.SetGCPercent(150); got != 150 {
				t.Errorf("with $GOGC=150: GOGC %d", got)
			}
			os.Unsetenv("GOGC") // t.Setenv puts it back
			defaultGC(percent)
			if got := debug.SetGCPercent(150); got != percent {
				t.Errorf("without $GOGC: GOGC %d, want %d", got, percent)
			}
		})
	}
}
