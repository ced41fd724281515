package application

import (
	"context"
	"errors"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/store"
)

// TestIssued: a document being issued is found by its application and its
// code, replaced while not issued, issued once with the completion (the
// sealed file kept with it); a failed completion leaves it unissued; the
// queue lists a service's applications by state.
func TestIssued(t *testing.T) {
	testIssued(t, openStore)
}

func TestIssuedPostgres(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	testIssued(t, func(t *testing.T) (*Store, *store.Store) { return openStoreOn(t, dsn) })
}

func testIssued(t *testing.T, open func(*testing.T) (*Store, *store.Store)) {
	s, _ := open(t)
	ctx := context.Background()
	if err := s.OpenIssued(ctx); err != nil {
		t.Fatal(err)
	}
	a, other := draft(t, s, 0), draft(t, s, 0)
	for _, x := range []*Application{a, other} {
		for _, ev := range []Event{EvSubmit, EvStart} {
			if _, err := s.Transition(ctx, "x", x.ID, ev, "", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if q, err := s.Queue(ctx, []string{"000101", "999"}, []State{InProgress}, 10); err != nil || len(q) != 2 {
		t.Fatalf("queue: %d %v", len(q), err)
	}
	if q, err := s.Queue(ctx, []string{"999"}, []State{InProgress}, 10); err != nil || len(q) != 0 {
		t.Fatalf("another service's queue: %d %v", len(q), err)
	}
	d := &Issued{ID: a.ID, Code: "AAAA", Institution: "1006601000439", Clerk: "2004001000168", SignRequest: "r1"}
	if err := s.StartIssuing(ctx, d, []byte("%PDF-1")); err != nil {
		t.Fatal(err)
	}
	d.Code, d.SignRequest = "BBBB", "r2" // the clerk approves again
	if err := s.StartIssuing(ctx, d, []byte("%PDF-2")); err != nil {
		t.Fatal(err)
	}
	if err := s.StartIssuing(ctx, &Issued{ID: other.ID, Code: "BBBB", Institution: "x", Clerk: "y"}, nil); err == nil {
		t.Fatal("a code used twice")
	}
	if _, err := s.IssuedByCode(ctx, "AAAA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replaced code: %v", err)
	}
	got, err := s.IssuedByCode(ctx, "BBBB")
	if err != nil || got.ID != a.ID || got.SignRequest != "r2" || !got.IssuedAt.IsZero() {
		t.Fatalf("by code: %+v %v", got, err)
	}
	if _, draftPDF, err := s.File(ctx, a.ID, FileResultDraft); err != nil || string(draftPDF) != "%PDF-2" {
		t.Fatalf("the draft: %q %v", draftPDF, err)
	}
	// A completion that fails after the issue leaves nothing issued.
	boom := errors.New("boom")
	if _, err := s.Transition(ctx, "clerk", a.ID, EvComplete, "", func(tx *store.Tx, _ *Application) error {
		if err := s.IssueTx(ctx, tx, a.ID, []byte("%PDF-sealed")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got, _ := s.IssuedOf(ctx, a.ID); !got.IssuedAt.IsZero() {
		t.Fatal("issued by a failed completion")
	}
	if _, _, err := s.File(ctx, a.ID, FileResult); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the sealed file of a failed completion: %v", err)
	}
	if _, err := s.Transition(ctx, "clerk", a.ID, EvComplete, "", func(tx *store.Tx, _ *Application) error {
		return s.IssueTx(ctx, tx, a.ID, []byte("%PDF-sealed"))
	}); err != nil {
		t.Fatal(err)
	}
	got, err = s.IssuedOf(ctx, a.ID)
	if err != nil || got.IssuedAt.IsZero() || got.SHA256 != Digest([]byte("%PDF-sealed")) || got.SignRequest != "" {
		t.Fatalf("issued: %+v %v", got, err)
	}
	if err := s.StartIssuing(ctx, d, []byte("%PDF-3")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("issuing an issued document again: %v", err)
	}
	if _, err := s.Transition(ctx, "clerk", other.ID, EvComplete, "", func(tx *store.Tx, _ *Application) error {
		return s.IssueTx(ctx, tx, other.ID, []byte("x"))
	}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("completing without a document being issued: %v", err)
	}
}
