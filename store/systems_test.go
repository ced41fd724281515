package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"
	"time"
)

func TestSystems(t *testing.T) { eachBackend(t, testSystems) }

func testSystems(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.fresh(t)
	s := openAt(t, dsn, newClock())
	issuer := []byte("0\x1a1\x180\x16\x06\x03U\x04\x03\x0c\x0fsystems test CA")
	key := sha256.Sum256([]byte("portal-api-key-0123456789"))
	portal := System{Service: "msign", Name: "portal", CertIssuer: issuer, CertSerial: big.NewInt(0x1234), Cert: []byte{0x30, 0},
		Settings: []byte(`{"returnUrls":["https://portal.example/back/"]}`)}
	if err := s.AddSystem(ctx, portal); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSystem(ctx, System{Service: "msign", Name: "mpower", KeyDigest: key[:]}); err != nil {
		t.Fatal(err)
	}
	// The same name, certificate or key again is refused; another service
	// may use them.
	for _, dup := range []System{
		{Service: "msign", Name: "portal", KeyDigest: []byte("other")},
		{Service: "msign", Name: "copy", CertIssuer: issuer, CertSerial: big.NewInt(0x1234)},
		{Service: "msign", Name: "copy", KeyDigest: key[:]},
	} {
		if err := s.AddSystem(ctx, dup); !errors.Is(err, ErrExists) {
			t.Errorf("%+v: %v, want ErrExists", dup, err)
		}
	}
	if err := s.AddSystem(ctx, System{Service: "mpay", Name: "portal", KeyDigest: key[:]}); err != nil {
		t.Errorf("another service: %v", err)
	}
	if err := s.AddSystem(ctx, System{Service: "msign", Name: "nothing"}); err == nil {
		t.Error("a system without credentials was added")
	}
	got, err := s.SystemByCert(ctx, "msign", issuer, big.NewInt(0x1234))
	if err != nil || got.Name != "portal" || string(got.Settings) != string(portal.Settings) || got.Created.IsZero() || !bytes.Equal(got.Cert, portal.Cert) {
		t.Fatalf("by certificate: %+v %v", got, err)
	}
	if _, err := s.SystemByCert(ctx, "msign", issuer, big.NewInt(0x1235)); !errors.Is(err, ErrNotFound) {
		t.Errorf("another serial: %v", err)
	}
	if got, err := s.SystemByKey(ctx, "msign", key[:]); err != nil || got.Name != "mpower" || got.CertSerial != nil {
		t.Fatalf("by key: %+v %v", got, err)
	}
	// Shared by instances: another handle on the same database sees them.
	s2 := openAt(t, dsn, newClock())
	list, err := s2.Systems(ctx, "msign")
	if err != nil || len(list) != 2 || list[0].Name != "mpower" || list[1].Name != "portal" || list[1].CertSerial.Int64() != 0x1234 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := s2.RemoveSystem(ctx, "msign", "portal"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSystem(ctx, "msign", "portal"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed twice: %v", err)
	}
	if _, err := s.System(ctx, "msign", "portal"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed system found: %v", err)
	}
}

func TestPutNew(t *testing.T) { eachBackend(t, testPutNew) }

func testPutNew(t *testing.T, b backend) {
	ctx := context.Background()
	c := newClock()
	s := b.open(t, c)
	if err := s.PutNew(ctx, "lock", "+37369000001", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutNew(ctx, "lock", "+37369000001", []byte("b"), time.Minute); !errors.Is(err, ErrExists) {
		t.Fatalf("second PutNew: %v", err)
	}
	if v, _ := s.Get(ctx, "lock", "+37369000001"); string(v) != "a" {
		t.Fatalf("value %q changed", v)
	}
	c.add(2 * time.Minute) // an expired one is replaced
	if err := s.PutNew(ctx, "lock", "+37369000001", []byte("c"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, "lock", "+37369000001"); string(v) != "c" {
		t.Fatalf("value %q", v)
	}
}
