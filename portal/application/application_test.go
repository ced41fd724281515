package application

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/store"
)

func openStore(t *testing.T) (*Store, *store.Store) {
	t.Helper()
	return openStoreOn(t, filepath.Join(t.TempDir(), "semnat.db"))
}

func openStoreOn(t *testing.T, dsn string) (*Store, *store.Store) {
	t.Helper()
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func allReasons() []string {
	return []string{"", ReasonByApplicant, ReasonPaymentTimeout, ReasonIncomplete, ReasonRefused, "whim"}
}

// TestTable walks the whole table: every state, event and reason, for a
// free and a paid application; what the table allows moves to its target
// state, everything else is a TransitionError that leaves it as it was.
func TestTable(t *testing.T) {
	events := []Event{EvSubmit, EvPay, EvStart, EvComplete, EvReject, EvCancel}
	allowed := 0
	for _, cost := range []int64{0, 5000} {
		for _, from := range States() {
			for _, ev := range events {
				for _, reason := range allReasons() {
					a := &Application{ID: "P1", State: from, Cost: cost}
					r, err := next(a, ev, reason)
					var want *Rule
					for i := range transitions {
						x := &transitions[i]
						if x.From == from && x.Event == ev && (x.Guard == nil || x.Guard(a)) &&
							(len(x.Reasons) == 0 && reason == "" || slices.Contains(x.Reasons, reason)) {
							want = x
						}
					}
					if want == nil {
						var te *TransitionError
						if !errors.As(err, &te) || te.From != from || te.Event != ev {
							t.Errorf("%s %s %q (cost %d): %v, want a TransitionError", from, ev, reason, cost, err)
						}
						continue
					}
					allowed++
					if err != nil || r.To != want.To {
						t.Errorf("%s %s %q (cost %d): %v %v, want %s", from, ev, reason, cost, r, err, want.To)
					}
				}
			}
		}
	}
	if allowed < 20 {
		t.Fatalf("only %d allowed moves", allowed)
	}
	for _, s := range States() {
		final := true
		for _, r := range transitions {
			if r.From == s {
				final = false
			}
		}
		if final != s.Final() {
			t.Errorf("%s: Final() is %v, the table says %v", s, s.Final(), final)
		}
	}
}

func draft(t *testing.T, s *Store, cost int64) *Application {
	t.Helper()
	a := &Application{Service: "000101", Cost: cost, Lang: "ro", Applicant: "2006022048426", ApplicantName: "Ion Popescu",
		OnBehalf: Self, Beneficiary: "2006022048426", Basis: "self", Fields: map[string]string{"idnp": "2006022048426"}}
	if err := s.Create(context.Background(), a.Applicant, a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLifecycle: a paid application goes through every state to
// Completed, each change with a history row and an audit event; a free
// one skips Paid; a draft is edited only while a draft.
func TestLifecycle(t *testing.T) {
	s, st := openStore(t)
	ctx := context.Background()
	a := draft(t, s, 12000)
	if len(a.ID) != 11 || a.ID[0] != 'P' || a.State != Draft {
		t.Fatalf("draft: %+v", a)
	}
	if _, err := s.EditDraft(ctx, a.ID, func(a *Application) error { a.Delivery = "mcabinet"; return nil }); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		ev     Event
		reason string
		want   State
	}{{EvSubmit, "", Submitted}, {EvPay, "", Paid}, {EvStart, "", InProgress}, {EvComplete, "", Completed}}
	for _, step := range steps {
		got, err := s.Transition(ctx, "clerk", a.ID, step.ev, step.reason, nil)
		if err != nil || got.State != step.want {
			t.Fatalf("%s: %+v %v", step.ev, got, err)
		}
	}
	got, err := s.Get(ctx, a.ID)
	if err != nil || got.State != Completed || got.Delivery != "mcabinet" || got.Fields["idnp"] != "2006022048426" {
		t.Fatalf("stored: %+v %v", got, err)
	}
	if _, err := s.EditDraft(ctx, a.ID, func(*Application) error { return nil }); !errors.Is(err, ErrNotDraft) {
		t.Fatalf("editing a completed application: %v", err)
	}
	h, err := s.History(ctx, a.ID)
	if err != nil || len(h) != 4 || h[0].From != Draft || h[3].To != Completed || h[1].Event != EvPay {
		t.Fatalf("history: %+v %v", h, err)
	}
	var actions []string
	if err := st.WalkAudit(ctx, func(e *store.Entry) error {
		if e.Subject == a.ID {
			actions = append(actions, e.Action)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"portal.create", "portal.submit", "portal.pay", "portal.start", "portal.complete"}; !slices.Equal(actions, want) {
		t.Fatalf("audit: %v, want %v", actions, want)
	}

	free := draft(t, s, 0)
	if _, err := s.Transition(ctx, "x", free.ID, EvSubmit, "", nil); err != nil {
		t.Fatal(err)
	}
	var te *TransitionError
	if _, err := s.Transition(ctx, "x", free.ID, EvPay, "", nil); !errors.As(err, &te) {
		t.Fatalf("paying a free application: %v", err)
	}
	if got, err := s.Transition(ctx, "x", free.ID, EvStart, "", nil); err != nil || got.State != InProgress {
		t.Fatalf("a free application starts unpaid: %v", err)
	}
	list, err := s.ByApplicant(ctx, "2006022048426", 10)
	if err != nil || len(list) != 2 || list[0].ID != free.ID {
		t.Fatalf("by applicant: %v %v", list, err)
	}
	if _, err := s.Get(ctx, "PNOSUCH"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

// TestCancelReasons: a cancellation carries its reason; a wrong reason is
// refused.
func TestCancelReasons(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	a := draft(t, s, 5000)
	if _, err := s.Transition(ctx, "x", a.ID, EvSubmit, "", nil); err != nil {
		t.Fatal(err)
	}
	var te *TransitionError
	if _, err := s.Transition(ctx, "x", a.ID, EvCancel, "", nil); !errors.As(err, &te) {
		t.Fatalf("cancel without a reason: %v", err)
	}
	if _, err := s.Transition(ctx, "x", a.ID, EvCancel, ReasonRefused, nil); !errors.As(err, &te) {
		t.Fatalf("cancel with a rejection's reason: %v", err)
	}
	got, err := s.Transition(ctx, "mpay", a.ID, EvCancel, ReasonPaymentTimeout, nil)
	if err != nil || got.State != Cancelled || got.Reason != ReasonPaymentTimeout {
		t.Fatalf("payment time-out: %+v %v", got, err)
	}
	if h, _ := s.History(ctx, a.ID); len(h) != 2 || h[1].Reason != ReasonPaymentTimeout || h[1].Actor != "mpay" {
		t.Fatalf("history: %+v", h)
	}
}

// TestTransitionAtomic: when prepare fails nothing is written (no state,
// no history, no audit, no file); of two racing changes from one state
// only one happens.
func TestTransitionAtomic(t *testing.T) {
	testTransitionAtomic(t, openStore)
}

// TestTransitionAtomicPostgres: the same on PostgreSQL (the row lock of
// QueryRowForUpdate serialises the racing changes).
func TestTransitionAtomicPostgres(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	testTransitionAtomic(t, func(t *testing.T) (*Store, *store.Store) { return openStoreOn(t, dsn) })
}

func testTransitionAtomic(t *testing.T, open func(*testing.T) (*Store, *store.Store)) {
	s, st := open(t)
	ctx := context.Background()
	a := draft(t, s, 0)
	before, _ := st.AuditEntries(ctx, 0, 1000)
	boom := errors.New("boom")
	_, err := s.Transition(ctx, "x", a.ID, EvSubmit, "", func(tx *store.Tx, a *Application) error {
		if err := PutFileTx(ctx, tx, a.ID, FileSigned, "application/pdf", []byte("%PDF-")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("prepare's error: %v", err)
	}
	after, _ := st.AuditEntries(ctx, 0, 1000)
	got, _ := s.Get(ctx, a.ID)
	h, _ := s.History(ctx, a.ID)
	if _, _, ferr := s.File(ctx, a.ID, FileSigned); got.State != Draft || len(h) != 0 || len(after) != len(before) || !errors.Is(ferr, ErrNotFound) {
		t.Fatalf("a failed change left traces: %s, %d history, %d→%d audit, file %v", got.State, len(h), len(before), len(after), ferr)
	}

	if _, err := s.Transition(ctx, "x", a.ID, EvSubmit, "", nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev, reason := EvStart, ""
			if i%2 == 1 {
				ev, reason = EvCancel, ReasonByApplicant
			}
			_, err := s.Transition(ctx, "x", a.ID, ev, reason, nil)
			results <- err
		}(i)
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		var te *TransitionError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &te):
			t.Errorf("a racing change failed otherwise: %v", err)
		}
	}
	if h, _ := s.History(ctx, a.ID); ok != 1 || len(h) != 2 {
		t.Fatalf("%d racing changes happened, history %d: want one", ok, len(h))
	}
}
