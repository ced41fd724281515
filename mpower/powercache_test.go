package mpower

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/mpower/client"
)

// TestPowerCacheTwoInstances: two registries on one database (two
// instances on one PostgreSQL database; two stores on one SQLite file,
// as two processes would have): a revocation through one is seen at once
// by the check of the other, whose cache held the power as Valid; so is
// a power granted and signed after the other cached its absence.
func TestPowerCacheTwoInstances(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			f := newFixture(t, dsn)
			_, other := openRegistry(t, dsn, f.clk, f.pki)
			ctx := context.Background()
			p := f.validPowerOf(t)
			for _, r := range []*Registry{other, f.reg, other} { // both caches hold it Valid
				if q, err := r.PowerNow(ctx, p.Code); err != nil || !q.ValidAt(f.clk.now()) {
					t.Fatalf("before the revocation: %+v %v", q, err)
				}
			}
			if _, err := f.reg.Transition(ctx, "alice", p.Code, EvRevoke, f.act(t, f.alice, p.Code)); err != nil {
				t.Fatal(err)
			}
			for _, r := range []*Registry{other, f.reg} {
				q, err := r.PowerNow(ctx, p.Code)
				if err != nil || q.ValidAt(f.clk.now()) || q.State != Canceled || q.Reason != ReasonRevoked {
					t.Fatalf("after the revocation through the other instance: %+v %v", q, err)
				}
			}
			// Changed through the other, seen by the first.
			p2 := f.grant(t, "AT-0000002", f.alice.IDNP, "", f.bob.IDNP)
			if _, err := f.reg.PowerNow(ctx, p2.Code); err != nil { // cached as a Draft
				t.Fatal(err)
			}
			if _, err := other.Transition(ctx, "alice", p2.Code, EvSign, f.act(t, f.alice, p2.Code)); err != nil {
				t.Fatal(err)
			}
			if q, err := f.reg.PowerNow(ctx, p2.Code); err != nil || !q.ValidAt(f.clk.now()) {
				t.Fatalf("signed through the other instance: %+v %v", q, err)
			}
		})
	}
}

// TestPowerCacheHits: with no change in between, the second question
// about a power does not read it again (nor a code that does not exist);
// any write to a power, even another's, makes the next one read.
func TestPowerCacheHits(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			ctx := context.Background()
			p := f.grant(t, "AT-0000002", f.alice.IDNP, "", f.bob.IDNP)
			reads := 0
			read := func(ctx context.Context, code string) (*Power, error) { reads++; return f.reg.Power(ctx, code) }
			c := f.reg.cache
			for i := 0; i < 3; i++ {
				if q, err := c.power(ctx, p.Code, read); err != nil || q.Code != p.Code {
					t.Fatalf("%+v %v", q, err)
				}
				if _, err := c.power(ctx, "0000000000000000", read); !errors.Is(err, ErrNotFound) {
					t.Fatalf("an unknown code: %v", err)
				}
			}
			if reads != 2 {
				t.Fatalf("%d reads for three questions about two codes, want 2", reads)
			}
			// An audit entry is a commit but not a power's change.
			if _, err := f.reg.PowerNow(ctx, p.Code); err != nil {
				t.Fatal(err)
			}
			f.grant(t, "AT-0000002", f.alice.IDNP, "", f.carol.IDNP)
			if _, err := c.power(ctx, p.Code, read); err != nil || reads != 3 {
				t.Fatalf("after another power was granted: %d reads, %v", reads, err)
			}
		})
	}
}

// TestCheckExpiresWithoutWrite: a power whose validity ends between two
// checks is false at the second, with no write in between (the cache
// keeps the dates, the state is evaluated at the question).
func TestCheckExpiresWithoutWrite(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	p := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
	for i := 0; i < 2; i++ {
		if ok, err := e.asp.IsValid(ctx, p.Code); err != nil || !ok {
			t.Fatalf("before its end: %v %v", ok, err)
		}
	}
	e.clk.add(p.To.Sub(e.clk.now()) - time.Second)
	if ok, err := e.asp.IsValid(ctx, p.Code); err != nil || !ok {
		t.Fatalf("a second before its end: %v %v", ok, err)
	}
	e.clk.add(time.Second)
	if ok, err := e.asp.IsValid(ctx, p.Code); err != nil || ok {
		t.Fatalf("at its end: %v %v", ok, err)
	}
	if d, err := e.asp.Details(ctx, p.Code); err != nil || d.IsValid || d.StatusReason != ReasonExpired {
		t.Fatalf("details at its end: %+v %v", d, err)
	}
}

// TestPowerCacheConcurrentRevoke: checks run without pause through one
// instance (sharing readings of the change counter) while the power is
// revoked through the other; every check that began after the revocation
// returned says not valid.
func TestPowerCacheConcurrentRevoke(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			f := newFixture(t, dsn)
			_, other := openRegistry(t, dsn, f.clk, f.pki)
			ctx := context.Background()
			p := f.validPowerOf(t)
			revoke := f.act(t, f.alice, p.Code)
			var revoked atomic.Bool
			stop := make(chan struct{})
			errs := make(chan error, 16)
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						after := revoked.Load()
						q, err := other.PowerNow(ctx, p.Code)
						switch {
						case err != nil:
							errs <- err
							return
						case after && q.ValidAt(f.clk.now()):
							errs <- fmt.Errorf("a check begun after the revocation said valid (%s)", q.State)
							return
						}
					}
				}()
			}
			time.Sleep(50 * time.Millisecond)
			if _, err := f.reg.Transition(ctx, "alice", p.Code, EvRevoke, revoke); err != nil {
				t.Fatal(err)
			}
			revoked.Store(true)
			time.Sleep(50 * time.Millisecond)
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}

// validPowerOf is a Valid power alice grants bob.
func (f *fixture) validPowerOf(t testing.TB) *Power {
	t.Helper()
	p := f.grant(t, "AT-0000002", f.alice.IDNP, "", f.bob.IDNP)
	p, err := f.reg.Transition(context.Background(), "alice", p.Code, EvSign, f.act(t, f.alice, p.Code))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckGuardTwoInstances: the checks answer from the cache without
// reading the change counter first, under the audit guard that no power
// changed (store.AppendGuarded). Through HTTPS, on an instance whose cache
// holds a power Valid, Code-True-One and Code-Details-One say not valid
// at once after a revocation through another instance (a registry of its
// own on the same database); while checks run without pause, every check
// begun after the revocation returned says false; and the log holds one
// entry per check answered, none for an answer the guard refused.
func TestCheckGuardTwoInstances(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			e := newAPIEnvAt(t, dsn)
			_, other := openRegistry(t, dsn, e.clk, e.pki)
			ctx := context.Background()
			checks := 0
			check := func(code string) bool {
				t.Helper()
				ok, err := e.asp.IsValid(ctx, code)
				if err != nil {
					t.Fatal(err)
				}
				checks++
				return ok
			}
			p := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
			q := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
			for range 3 {
				if !check(p.Code) || !check(q.Code) {
					t.Fatal("a valid power said not valid")
				}
			}
			if _, err := other.Transition(ctx, "alice", p.Code, EvRevoke, e.act(t, e.alice, p.Code)); err != nil {
				t.Fatal(err)
			}
			if check(p.Code) {
				t.Fatal("Code-True-One said true after the revocation through the other instance")
			}
			if !check(q.Code) {
				t.Fatal("the other power said not valid")
			}
			if _, err := other.Transition(ctx, "alice", q.Code, EvRevoke, e.act(t, e.alice, q.Code)); err != nil {
				t.Fatal(err)
			}
			if d, err := e.asp.Details(ctx, q.Code); err != nil || d.IsValid || d.StatusReason != ReasonRevoked {
				t.Fatalf("Code-Details-One after the revocation through the other instance: %+v %v", d, err)
			}
			checks++

			// Concurrent: 16 clients check a third power while it is revoked.
			r := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
			revoke := e.act(t, e.alice, r.Code)
			var revoked atomic.Bool
			var answered atomic.Int64
			stop := make(chan struct{})
			errs := make(chan error, 16)
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						after := revoked.Load()
						ok, err := e.asp.IsValid(ctx, r.Code)
						if err != nil {
							errs <- err
							return
						}
						answered.Add(1)
						if after && ok {
							errs <- errors.New("a check begun after the revocation said true")
							return
						}
					}
				}()
			}
			time.Sleep(100 * time.Millisecond)
			if _, err := other.Transition(ctx, "alice", r.Code, EvRevoke, revoke); err != nil {
				t.Fatal(err)
			}
			revoked.Store(true)
			time.Sleep(100 * time.Millisecond)
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			ents, err := e.st.AuditEntries(ctx, 0, 1_000_000)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ent := range ents {
				if ent.Action == "mpower-check" {
					n++
				}
			}
			if want := checks + int(answered.Load()); n != want {
				t.Fatalf("%d check entries in the log, want one per answer: %d", n, want)
			}
			if _, err := e.st.VerifyAudit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTypeCodeValidCached: TypeCode-Valid-One answers from the cache's
// candidates between the parties, under the audit guard: the second
// question reads no power; a revocation through another instance makes
// it say not valid at once, and a new power granted and signed there is
// the answer at once; a power that has not begun yet is not the answer
// until its first day, with no write in between.
func TestTypeCodeValidCached(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			e := newAPIEnvAt(t, dsn)
			_, other := openRegistry(t, dsn, e.clk, e.pki)
			ctx := context.Background()
			ask := func() *client.TypeCodeValid {
				t.Helper()
				tv, err := e.asp.TypeCodeValid(ctx, "AT-0000002", e.alice.IDNP, e.bob.IDNP)
				if err != nil {
					t.Fatal(err)
				}
				return tv
			}
			if tv := ask(); tv.IsValid {
				t.Fatalf("before any power: %+v", tv)
			}
			p := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
			if tv := ask(); !tv.IsValid || tv.AuthorizationCode != p.Code {
				t.Fatalf("a valid power: %+v", tv)
			}
			e.reg.cache.mu.Lock()
			cached := len(e.reg.cache.sets)
			e.reg.cache.mu.Unlock()
			if cached != 1 {
				t.Fatalf("%d sets in the cache, want 1", cached)
			}
			if tv := ask(); !tv.IsValid || tv.AuthorizationCode != p.Code {
				t.Fatalf("asked again: %+v", tv)
			}
			if _, err := other.Transition(ctx, "alice", p.Code, EvRevoke, e.act(t, e.alice, p.Code)); err != nil {
				t.Fatal(err)
			}
			if tv := ask(); tv.IsValid {
				t.Fatalf("after the revocation through the other instance: %+v", tv)
			}
			// Granted and signed through the other instance, starting
			// tomorrow: not yet the answer; tomorrow it is.
			from := e.clk.now().AddDate(0, 0, 1)
			q, err := other.Grant(ctx, "alice", GrantRequest{TypeCode: "AT-0000002", AuthorizingID: e.alice.IDNP, SignedBy: e.alice.IDNP, RepresentedID: e.bob.IDNP, From: from, To: from.AddDate(0, 1, 0)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Transition(ctx, "alice", q.Code, EvSign, e.act(t, e.alice, q.Code)); err != nil {
				t.Fatal(err)
			}
			if tv := ask(); tv.IsValid {
				t.Fatalf("a power that begins tomorrow: %+v", tv)
			}
			e.clk.add(24 * time.Hour)
			if tv := ask(); !tv.IsValid || tv.AuthorizationCode != q.Code {
				t.Fatalf("on its first day: %+v", tv)
			}
		})
	}
}
