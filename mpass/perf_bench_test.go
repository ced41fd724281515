package mpass

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var calib struct {
	once sync.Once
	key  *rsa.PrivateKey
}

// rsaSignCPU is the CPU time of one RSA-2048 PKCS#1 v1.5 signature, on
// this thread, now (the median of 15): the unit the benchmarks also
// report their cost in, since a Response costs at least one.
func rsaSignCPU(b *testing.B) time.Duration {
	calib.once.Do(func() { calib.key, _ = rsa.GenerateKey(rand.Reader, 2048) })
	if calib.key == nil {
		return 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := sha256.Sum256([]byte("calibration"))
	var times []time.Duration
	for range 15 {
		t0 := threadCPU()
		if _, err := calib.key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
		times = append(times, threadCPU()-t0)
	}
	for i := range times { // a few values: insertion sort
		for j := i; j > 0 && times[j] < times[j-1]; j-- {
			times[j], times[j-1] = times[j-1], times[j]
		}
	}
	return times[len(times)/2]
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
