package mobileid

import (
	"bytes"
	"crypto/x509"
	"errors"
	"syscall"
	"testing"
	"time"
)

// genuineCert is the signing certificate of a simulated phone, from the
// MSSP, as a login sees it.
func genuineCert(t testing.TB) *x509.Certificate {
	t.Helper()
	_, base := sharedSim(t)
	cert, _, err := newTestClient(t, base, FaceMID, nil).GetCertificate(t.Context(), "+37300000001", idnpOf("+37300000001"))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tampered is cert with one byte of its DER changed at i (from the end
// when i < 0), parsed again.
func tampered(t *testing.T, cert *x509.Certificate, i int) *x509.Certificate {
	t.Helper()
	der := append([]byte(nil), cert.Raw...)
	if i < 0 {
		i += len(der)
	}
	der[i] ^= 0x01
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("tampered certificate (byte %d): %v", i, err)
	}
	return c
}

// A chain verified once is taken from the cache, but only for the very
// same certificate: one altered in its signature or its contents is
// still refused after the genuine one was seen; and the validity times
// are checked at every use.
func TestChainCache(t *testing.T) {
	cert := genuineCert(t)
	now := time.Now()
	_, base := sharedSim(t)
	c := newTestClient(t, base, FaceMID, func(o *ClientOptions) { o.Now = func() time.Time { return now } })
	chain, err := c.checkCertificate(cert, nil, true)
	if err != nil || len(chain) != 1 || !chain[0].Equal(privatePKI(t).MobileCA.Cert) {
		t.Fatalf("genuine: %v, chain of %d", err, len(chain))
	}
	if _, ok := c.chains.get(cert, now); !ok {
		t.Fatal("the verified chain is not remembered")
	}
	again, err := c.checkCertificate(cert, nil, true)
	if err != nil || len(again) != 1 || !again[0].Equal(chain[0]) {
		t.Fatalf("genuine, from the cache: %v", err)
	}
	// The signature's last byte, and the IDNP's last digit in the subject
	// (the same issuer, serial number and length).
	idnp := []byte(cert.Subject.SerialNumber)
	at := bytes.Index(cert.Raw, idnp)
	if len(idnp) == 0 || at < 0 {
		t.Fatalf("no subject serial number %q in the certificate", idnp)
	}
	for name, bad := range map[string]*x509.Certificate{
		"signature": tampered(t, cert, -1),
		"subject":   tampered(t, cert, at+len(idnp)-1),
	} {
		if _, err := c.checkCertificate(bad, nil, true); !errors.Is(err, ErrUntrusted) {
			t.Errorf("%s tampered, after the genuine one was cached: %v; want ErrUntrusted", name, err)
		}
	}
	// Past the certificate's end: expired, although its chain is cached.
	now = cert.NotAfter.Add(time.Second)
	if _, err := c.checkCertificate(cert, nil, true); !errors.Is(err, ErrCertificateExpired) {
		t.Fatalf("expired, with a cached chain: %v", err)
	}
}

// BenchmarkCheckCertificate: the certificate check of a login (the chain
// to the roots, with the validity times), with the chain cache and with
// the chain verified every time (as before the cache). cpu-µs/op is the
// process's CPU (getrusage) per check, so a loaded machine does not
// inflate it as it does ns/op.
func BenchmarkCheckCertificate(b *testing.B) {
	cert := genuineCert(b)
	_, base := sharedSim(b)
	for _, cached := range []bool{true, false} {
		name := "cached"
		if !cached {
			name = "verify-every-time"
		}
		b.Run(name, func(b *testing.B) {
			c := newTestClient(b, base, FaceMID, nil)
			if _, err := c.checkCertificate(cert, nil, true); err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				if !cached {
					c.chains = chainCache{}
				}
				if _, err := c.checkCertificate(cert, nil, true); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
