package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMPowerGC: `semnat mpower serve` sets GOGC=400 when $GOGC is not
// set, and leaves a set $GOGC alone.
func TestMPowerGC(t *testing.T) {
	t.Setenv("GOGC", "150") // restored after the test
	prev := debug.SetGCPercent(150)
	defer debug.SetGCPercent(prev)
	defaultGC(mpowerGCPercent)
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with $GOGC=150: GOGC %d", got)
	}
	os.Unsetenv("GOGC") // t.Setenv puts it back
	defaultGC(mpowerGCPercent)
	if got := debug.SetGCPercent(150); got != mpowerGCPercent {
		t.Errorf("without $GOGC: GOGC %d, want %d", got, mpowerGCPercent)
	}
}
