package main

import (
	"runtime"
	"testing"
	"time"
)

// The quick reply checks read the protocol status: an error reply that is
// a well-formed SEQUENCE must not count as an answer.
func TestQuickChecks(t *testing.T) {
	for _, c := range []struct {
		name  string
		check func([]byte, bool) error
		der   []byte
		ok    bool
	}{
		{"ocsp successful", checkOCSP, []byte{0x30, 0x07, 0x0a, 0x01, 0x00, 0xa0, 0x02, 0x30, 0x00}, true},
		{"ocsp malformedRequest", checkOCSP, []byte{0x30, 0x03, 0x0a, 0x01, 0x01}, false},
		{"ocsp tryLater", checkOCSP, []byte{0x30, 0x03, 0x0a, 0x01, 0x03}, false},
		{"ocsp successful without bytes", checkOCSP, []byte{0x30, 0x03, 0x0a, 0x01, 0x00}, false},
		{"ocsp trailing data", checkOCSP, []byte{0x30, 0x07, 0x0a, 0x01, 0x00, 0xa0, 0x02, 0x30, 0x00, 0x00}, false},
		{"not der", checkOCSP, []byte("<html>"), false},
		{"tsa granted", checkTSA, []byte{0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00}, true},
		{"tsa grantedWithMods", checkTSA, []byte{0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x01, 0x30, 0x00}, true},
		{"tsa rejection", checkTSA, []byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02}, false},
		{"tsa granted without token", checkTSA, []byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00}, false},
	} {
		if err := c.check(c.der, false); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// runQueueWait sums the run-queue wait of the process's threads: on Linux
// it is found, and it never goes back.
func TestRunQueueWait(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("schedstat is Linux's")
	}
	w0, ok := runQueueWait()
	if !ok || w0 < 0 {
		t.Fatalf("runQueueWait: %d %v", w0, ok)
	}
	done := make(chan struct{})
	for range 4 { // more runnable threads than this machine may have CPUs
		go func() {
			for {
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(done)
	if w1, ok := runQueueWait(); !ok || w1 < w0 {
		t.Fatalf("runQueueWait went from %d to %d (%v)", w0, w1, ok)
	}
}
