package mpass

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
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

// windowProfiles writes profiles of the timed window only (not of the
// fixtures and requests made before it) when $MPASS_BENCH_PROFILE names a
// file prefix: PREFIX.cpu (CPU, the clients' samples labelled side=client,
// the rest is the server's and the runtime's) and PREFIX.allocs (the
// allocations made in the window: go tool pprof -sample_index=alloc_space
// -base PREFIX.allocs.base PREFIX.allocs). Not with -test.cpuprofile.
func windowProfiles(b *testing.B) (stop func()) {
	prefix := os.Getenv("MPASS_BENCH_PROFILE")
	if prefix == "" || b.N < 100 {
		return func() {}
	}
	prefix += "." + strings.ReplaceAll(strings.TrimPrefix(b.Name(), "Benchmark"), "/", "-")
	write := func(name string, f func(*os.File) error) {
		out, err := os.Create(name)
		if err == nil {
			err = f(out)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			b.Fatalf("profile %s: %v", name, err)
		}
	}
	heap := func(name string) {
		runtime.GC() // the allocation profile is up to date as of the last GC
		write(name, func(f *os.File) error { return pprof.Lookup("allocs").WriteTo(f, 0) })
	}
	heap(prefix + ".allocs.base")
	cpu, err := os.Create(prefix + ".cpu")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := cpu.Close(); err != nil {
			b.Fatal(err)
		}
		heap(prefix + ".allocs")
	}
}
