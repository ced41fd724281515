package mpower

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// backends names a fresh database of each kind.
func backends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "semnat.db") },
		"postgres": func(t *testing.T) string { return testtool.PostgresSchema(t) },
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a registry on a store with a type, a company and the test
// PKI's people.
type fixture struct {
	st    *store.Store
	reg   *Registry
	clk   *clock
	pki   *testcerts.PKI
	alice *testcerts.Entity // grants
	bob   *testcerts.Entity // represents
	carol *testcerts.Entity // administers the company
}

const companyIDNO = "1010600034203"

func openRegistry(t testing.TB, dsn string, clk *clock, pki *testcerts.PKI) (*store.Store, *Registry) {
	t.Helper()
	st, err := store.Open(dsn, store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := NewRegistry(context.Background(), st, &PadesVerifier{Options: pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip, At: clk.now()}})
	if err != nil {
		t.Fatal(err)
	}
	return st, reg
}

func newFixture(t testing.TB, dsn string) *fixture {
	t.Helper()
	f := openFixture(t, dsn)
	ctx := context.Background()
	if err := f.reg.AddType(ctx, "test", testType("AT-0000001", true)); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.AddType(ctx, "test", testType("AT-0000002", false)); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.PutEntity(ctx, "test", Entity{IDNO: companyIDNO, Name: "Exemplu SRL", Form: "SRL",
		Administrators: []Administrator{{IDNP: f.carol.IDNP, From: f.clk.now().AddDate(-1, 0, 0)}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// openFixture is a fixture on the store dsn as it is (newFixture adds
// the types and the company to a new one).
func openFixture(t testing.TB, dsn string) *fixture {
	t.Helper()
	pki := testcerts.New(t)
	people := pki.ByRole(testcerts.RolePerson)
	f := &fixture{clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, pki: pki, alice: people[0], bob: people[1], carol: people[2]}
	f.st, f.reg = openRegistry(t, dsn, f.clk, pki)
	return f
}

func testType(code string, accept bool) AuthType {
	return AuthType{Code: code, Names: map[string]string{"ro": "Ridicarea certificatului de înmatriculare", "en": "Collecting the registration certificate"},
		LegalText:       map[string]string{"ro": "Subsemnatul {{.AuthorizingIdn}} {{.AuthorizingName}} împuternicesc pe {{.RepresentedIdn}} să ridice certificatul de înmatriculare, de la {{.From}} până la {{.To}}."},
		NeedsAcceptance: accept, MaxDays: 365, ProviderIDNO: "1003600011118", ProviderName: "ASP", System: "asp"}
}

// signed is in signed by e.
func signed(t testing.TB, e *testcerts.Entity, in []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.NewKeySigner(e.Key, e.Cert, e.Chain), nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// act is the power's document signed by e.
func (f *fixture) act(t testing.TB, e *testcerts.Entity, code string) []byte {
	t.Helper()
	doc, err := f.reg.Document(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	return signed(t, e, doc)
}

func (f *fixture) grant(t testing.TB, typ, by, signer, to string) *Power {
	t.Helper()
	now := f.clk.now()
	p, err := f.reg.Grant(context.Background(), "test", GrantRequest{TypeCode: typ, AuthorizingID: by, SignedBy: signer, RepresentedID: to,
		From: now, To: now.AddDate(0, 6, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTransitionTable(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	events := []Event{EvSign, EvAccept, EvDecline, EvRevoke, EvRenounce, EvSuspend, EvResume}
	for _, from := range States() {
		for _, ev := range events {
			p := &Power{Code: "x", State: from, From: at.Add(-time.Hour), To: at.Add(time.Hour), NeedsAcceptance: true}
			err := p.Apply(ev, at)
			want, ok := transitions[from][ev]
			var te *TransitionError
			if !ok {
				if !errors.As(err, &te) || p.State != from {
					t.Errorf("%s + %s: want a TransitionError and no change, got %v, %s", from, ev, err, p.State)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s + %s: %v", from, ev, err)
				continue
			}
			switch {
			case want == started && ev == EvSign:
				want = PendingAcceptance
			case want == started:
				want = Valid
			}
			if p.State != want {
				t.Errorf("%s + %s = %s, want %s", from, ev, p.State, want)
			}
			if p.State == Canceled && p.Reason == "" {
				t.Errorf("%s + %s: canceled without a reason", from, ev)
			}
		}
	}
	// Dates: in force only between From and To, asked at that moment.
	p := &Power{State: Valid, From: at, To: at.Add(24 * time.Hour)}
	for _, c := range []struct {
		t    time.Time
		want State
	}{{at.Add(-time.Second), PendingValidity}, {at, Valid}, {at.Add(24*time.Hour - 1), Valid}, {at.Add(24 * time.Hour), Canceled}} {
		if s, _ := p.StateAt(c.t); s != c.want {
			t.Errorf("StateAt(%v) = %s, want %s", c.t, s, c.want)
		}
	}
	if err := p.Apply(EvSuspend, at.Add(25*time.Hour)); err == nil {
		t.Error("an expired power was suspended")
	}
	for i, s := range States() {
		if s.Code() != i+1 {
			t.Errorf("%s code %d", s, s.Code())
		}
	}
}

func TestRegistryLifecycle(t *testing.T) {
	for name, fresh := range backends(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fresh(t))
			ctx := context.Background()
			p := f.grant(t, "AT-0000001", f.alice.IDNP, "", f.bob.IDNP)
			if p.State != Draft || p.ValidAt(f.clk.now()) {
				t.Fatalf("new power: %s", p.State)
			}
			// Signed by someone else: refused, nothing changes.
			if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, f.act(t, f.bob, p.Code)); !errors.Is(err, ErrWrongSigner) {
				t.Fatalf("signed by the representative: %v", err)
			}
			// Without an act: refused.
			if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, nil); !errors.Is(err, ErrInvalid) {
				t.Fatalf("no act: %v", err)
			}
			// Signed by the right person, but another document: refused.
			if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, signed(t, f.alice, samplepdf.Document("Procură", []string{"alt text"}, 0))); !errors.Is(err, ErrWrongDocument) {
				t.Fatalf("another document: %v", err)
			}
			got, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, f.act(t, f.alice, p.Code))
			if err != nil || got.State != PendingAcceptance {
				t.Fatalf("signed: %v %v", got, err)
			}
			if _, err := f.reg.Transition(ctx, "bob", p.Code, EvAccept, f.act(t, f.alice, p.Code)); !errors.Is(err, ErrWrongSigner) {
				t.Fatalf("accepted by the grantor: %v", err)
			}
			if got, err = f.reg.Transition(ctx, "bob", p.Code, EvAccept, f.act(t, f.bob, p.Code)); err != nil || got.State != Valid {
				t.Fatalf("accepted: %v %v", got, err)
			}
			stored, err := f.reg.Power(ctx, p.Code)
			if err != nil || !stored.ValidAt(f.clk.now()) {
				t.Fatalf("stored: %v %v", stored, err)
			}
			act, err := f.reg.LastAct(ctx, p.Code)
			if err != nil || act.Signer != f.bob.IDNP || act.Event != EvAccept {
				t.Fatalf("last act: %+v %v", act, err)
			}
			// Expiry is evaluated at the question.
			f.clk.add(7 * 30 * 24 * time.Hour)
			if stored.ValidAt(f.clk.now()) {
				t.Fatal("valid after its end date")
			}
			if _, err := f.reg.Transition(ctx, "alice", p.Code, EvRevoke, f.act(t, f.alice, p.Code)); err == nil {
				t.Fatal("revoked an expired power")
			}
			// Every change is in the audit log, which verifies.
			var actions []string
			if err := f.st.WalkAudit(ctx, func(e *store.Entry) error { actions = append(actions, e.Action); return nil }); err != nil {
				t.Fatal(err)
			}
			want := []string{"mpower-type-add", "mpower-type-add", "mpower-entity-put", "mpower-grant", "mpower-sign", "mpower-accept"}
			if len(actions) != len(want) {
				t.Fatalf("audit %v, want %v", actions, want)
			}
			for i := range want {
				if actions[i] != want[i] {
					t.Fatalf("audit %v, want %v", actions, want)
				}
			}
			if _, err := f.st.VerifyAudit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCompanyGrantsThroughAdministrator(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := context.Background()
	if _, err := f.reg.Grant(ctx, "alice", GrantRequest{TypeCode: "AT-0000002", AuthorizingID: companyIDNO, SignedBy: f.alice.IDNP,
		RepresentedID: f.bob.IDNP, From: f.clk.now(), To: f.clk.now().AddDate(0, 1, 0)}); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("a non-administrator granted for the company: %v", err)
	}
	p := f.grant(t, "AT-0000002", companyIDNO, f.carol.IDNP, f.bob.IDNP)
	if p.AuthorizingBy != Legal {
		t.Fatalf("party type %d", p.AuthorizingBy)
	}
	if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, f.act(t, f.alice, p.Code)); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("signed by a non-administrator: %v", err)
	}
	got, err := f.reg.Transition(ctx, "carol", p.Code, EvSign, f.act(t, f.carol, p.Code))
	if err != nil || got.State != Valid { // AT-0000002 needs no acceptance
		t.Fatalf("signed by the administrator: %v %v", got, err)
	}
}

func TestGrantRefusesBadInput(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "s.db"))
	now := f.clk.now()
	for name, g := range map[string]GrantRequest{
		"unknown type":     {TypeCode: "AT-0000009", AuthorizingID: f.alice.IDNP, RepresentedID: f.bob.IDNP, From: now, To: now.Add(time.Hour)},
		"bad IDNP":         {TypeCode: "AT-0000001", AuthorizingID: f.alice.IDNP, RepresentedID: "2004001000011", From: now, To: now.Add(time.Hour)},
		"self":             {TypeCode: "AT-0000001", AuthorizingID: f.alice.IDNP, RepresentedID: f.alice.IDNP, From: now, To: now.Add(time.Hour)},
		"too long":         {TypeCode: "AT-0000001", AuthorizingID: f.alice.IDNP, RepresentedID: f.bob.IDNP, From: now, To: now.AddDate(2, 0, 0)},
		"ends before":      {TypeCode: "AT-0000001", AuthorizingID: f.alice.IDNP, RepresentedID: f.bob.IDNP, From: now, To: now.Add(-time.Hour)},
		"unknown company":  {TypeCode: "AT-0000001", AuthorizingID: "1003600011118", SignedBy: f.alice.IDNP, RepresentedID: f.bob.IDNP, From: now, To: now.Add(time.Hour)},
		"other signer":     {TypeCode: "AT-0000001", AuthorizingID: f.alice.IDNP, SignedBy: f.carol.IDNP, RepresentedID: f.bob.IDNP, From: now, To: now.Add(time.Hour)},
		"unknown language": {TypeCode: "AT-0000001", AuthorizingID: f.alice.IDNP, RepresentedID: f.bob.IDNP, From: now, To: now.Add(time.Hour), Lang: "fr"},
	} {
		if p, err := f.reg.Grant(context.Background(), "t", g); err == nil {
			t.Errorf("%s: granted %s", name, p.Code)
		}
	}
	if err := f.reg.AddType(context.Background(), "t", testType("AT-0000001", false)); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate type: %v", err)
	}
	bad := testType("AT-12", false)
	if err := f.reg.AddType(context.Background(), "t", bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad code: %v", err)
	}
}

// TestAcceptRevokeRace: two instances on one PostgreSQL database, one
// accepting and one revoking the same power at once, end in exactly one
// final state, and the audit log holds exactly the winner.
func TestAcceptRevokeRace(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	f := newFixture(t, dsn)
	_, other := openRegistry(t, dsn, f.clk, f.pki)
	ctx := context.Background()
	for round := 0; round < 8; round++ {
		p := f.grant(t, "AT-0000001", f.alice.IDNP, "", f.bob.IDNP)
		if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, f.act(t, f.alice, p.Code)); err != nil {
			t.Fatal(err)
		}
		accept, revoke := f.act(t, f.bob, p.Code), f.act(t, f.alice, p.Code)
		var wg sync.WaitGroup
		var accErr, revErr error
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; _, accErr = f.reg.Transition(ctx, "bob", p.Code, EvAccept, accept) }()
		go func() { defer wg.Done(); <-start; _, revErr = other.Transition(ctx, "alice", p.Code, EvRevoke, revoke) }()
		close(start)
		wg.Wait()
		final, err := f.reg.Power(ctx, p.Code)
		if err != nil {
			t.Fatal(err)
		}
		// Exactly one wins; the loser hears that the power moved on (its
		// state, or the act it signed is no longer the latest).
		lost := func(err error) bool {
			var te *TransitionError
			return errors.As(err, &te) || errors.Is(err, ErrWrongDocument)
		}
		switch {
		case accErr == nil && lost(revErr):
			if final.State != Valid {
				t.Fatalf("round %d: accepted, final %s", round, final.State)
			}
		case revErr == nil && lost(accErr):
			if final.State != Canceled || final.Reason != ReasonRevoked {
				t.Fatalf("round %d: revoked, final %s %s", round, final.State, final.Reason)
			}
		default:
			t.Fatalf("round %d: accept %v, revoke %v", round, accErr, revErr)
		}
		n := 0
		f.st.WalkAudit(ctx, func(en *store.Entry) error {
			if en.Subject == p.Code && (en.Action == "mpower-accept" || en.Action == "mpower-revoke") {
				n++
			}
			return nil
		})
		if n != 1 {
			t.Fatalf("round %d: %d accept/revoke events in the audit log", round, n)
		}
	}
	if _, err := f.st.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

// unsignedUpdate appends to doc an incremental update that replaces the
// first page's content with text of the attacker's: no signature covers
// it until someone signs the whole file.
func unsignedUpdate(t *testing.T, doc []byte, text string) []byte {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	content := u.Add(pdf.NewStream(nil, []byte("BT /F1 12 Tf 72 720 Td ("+text+") Tj ET")))
	d := pg.Dict.Clone()
	d.Set("Contents", content)
	if err := u.Set(pg.Ref, d); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(doc)
	if _, err := u.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestActExtensionRule: a signed act must be the power's document plus
// the signature's own update. An unsigned update slipped in before the
// signature (the byte-prefix rule alone accepted it: the signature covers
// it and the prefix is intact), or stray bytes between the document and
// the signature's update, are refused, for the grant and for the
// acceptance on top of a signed act.
func TestActExtensionRule(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "semnat.db"))
	ctx := context.Background()
	p := f.grant(t, "AT-0000001", f.alice.IDNP, "", f.bob.IDNP)
	doc, err := f.reg.Document(ctx, p.Code)
	if err != nil {
		t.Fatal(err)
	}
	attacks := map[string]func(doc []byte) []byte{
		"unsigned update before the signature": func(doc []byte) []byte {
			return unsignedUpdate(t, doc, "Imputernicesc pe MALLORY pe termen nelimitat")
		},
		"stray object between the act and the signature": func(doc []byte) []byte {
			return append(bytes.Clone(doc), "\n9999 0 obj\n(Imputernicesc pe MALLORY)\nendobj\n"...)
		},
	}
	for name, attack := range attacks {
		if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, signed(t, f.alice, attack(doc))); !errors.Is(err, ErrWrongDocument) {
			t.Errorf("grant, %s: %v, want ErrWrongDocument", name, err)
		}
	}
	if got, _ := f.reg.Power(ctx, p.Code); got.State != Draft {
		t.Fatalf("after the attacks the power is %s", got.State)
	}
	if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, f.act(t, f.alice, p.Code)); err != nil {
		t.Fatalf("the honest act: %v", err)
	}
	// Acceptance: on top of the signed act.
	doc, err = f.reg.Document(ctx, p.Code)
	if err != nil {
		t.Fatal(err)
	}
	for name, attack := range attacks {
		if _, err := f.reg.Transition(ctx, "bob", p.Code, EvAccept, signed(t, f.bob, attack(doc))); !errors.Is(err, ErrWrongDocument) {
			t.Errorf("acceptance, %s: %v, want ErrWrongDocument", name, err)
		}
	}
	if got, err := f.reg.Transition(ctx, "bob", p.Code, EvAccept, f.act(t, f.bob, p.Code)); err != nil || got.State != Valid {
		t.Fatalf("the honest acceptance: %v %v", got, err)
	}
}
