package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMPassGC: `semnat mpass serve` sets GOGC=400 when $GOGC is not set,
// and leaves a set $GOGC alone.
func TestMPassGC(t *testing.T) {
	t.Setenv("GOGC", "150") // restored after the test
	prev := debug.SetGCPercent(150)
	defer debug.SetGCPercent(prev)
	defaultGC(mpassGCPercent)
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with $GOGC=150: GOGC %d", got)
	}
	os.Unsetenv("GOGC") // t.Setenv puts it back
	defaultGC(mpassGCPercent)
	if got := debug.SetGCPercent(150); got != mpassGCPercent {
		t.Errorf("without $GOGC: GOGC %d, want %d", got, mpassGCPercent)
	}
}
