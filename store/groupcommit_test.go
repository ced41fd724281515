package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAuditGroupCommit: many appends at once from two handles on one
// database (two instances), some on their own (group commit), some inside
// a transaction of their own, make one chain with every entry; fewer
// transactions than entries were written; an append whose batch fails
// (an insert refused by the database) is not in the log and says so, and
// every append that said nil is; a caller whose context has ended, or a
// closed store, records nothing.
func TestAuditGroupCommit(t *testing.T) { eachBackend(t, testAuditGroupCommit) }
func testAuditGroupCommit(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()
	burst := func(round int, poison bool) (ok map[string]bool) {
		const n = 300
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			start = make(chan struct{})
		)
		ok = map[string]bool{}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s := []*Store{a, z}[i%2]
				subject := fmt.Sprint("r", round, "-", i)
				if poison && i%50 == 7 {
					subject = fmt.Sprint("poison-", i)
				}
				var err error
				if i%10 == 3 { // inside a transaction of the caller's
					err = s.InTx(ctx, func(tx *Tx) error {
						_, err := tx.Append(ctx, Event{Actor: "tx", Action: "check", Subject: subject})
						return err
					})
				} else {
					_, err = s.Append(ctx, Event{Actor: fmt.Sprint("instance-", i%2), Action: "check", Subject: subject})
				}
				mu.Lock()
				ok[subject] = err == nil
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		return ok
	}
	check := func(ok map[string]bool) {
		t.Helper()
		if _, err := a.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		if err := z.WalkAudit(ctx, func(e *Entry) error { got[e.Subject] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		for subject, said := range ok {
			want := !strings.HasPrefix(subject, "poison")
			if said != want || got[subject] != want {
				t.Errorf("%s: Append said ok=%v, in the log=%v, want %v", subject, said, got[subject], want)
			}
		}
	}
	check(burst(1, false))
	batches := a.audit.batches.Load() + z.audit.batches.Load()
	t.Logf("%d group-commit transactions for 270 appends", batches)
	if batches >= 270 {
		t.Errorf("%d transactions for 270 appends: no group commit", batches)
	}
	for _, q := range b.poison {
		if _, err := a.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	check(burst(2, true))
	nEntries, err := a.VerifyAudit(ctx)
	if err != nil || nEntries != 600-6 {
		t.Fatalf("%d entries, %v: want 594", nEntries, err)
	}

	// An ended context: an error, nothing recorded.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Append(done, Event{Action: "check", Subject: "late"}); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}
	// A closed store: ErrClosed.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, Event{Action: "check", Subject: "after-close"}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if n2, err := z.VerifyAudit(ctx); err != nil || n2 != nEntries {
		t.Errorf("after: %d %v (want %d)", n2, err, nEntries)
	}
}

// TestAuditBatchTypes: entries written in batches (SQLite: one INSERT OR
// FAIL of many rows) are stored as one at a time would be: integers,
// texts, and the hashes as 32-byte BLOBs; and the chain verifies.
func TestAuditBatchTypes(t *testing.T) {
	s := openAt(t, sqliteBackend().fresh(t), newClock())
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, Event{Actor: "a\"ctor", Action: "check", Subject: fmt.Sprint("é", i), Details: map[string]string{"k": "v\n"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := s.audit.batches.Load(); n >= 200 {
		t.Fatalf("%d transactions for 200 entries: no batch was written", n)
	}
	rows, err := s.Query(ctx, `SELECT DISTINCT typeof(seq), typeof(at), typeof(actor), typeof(subject), typeof(details), typeof(prev_hash), length(prev_hash), typeof(hash), length(hash) FROM audit`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var kinds []string
	for rows.Next() {
		var k [9]string
		if err := rows.Scan(&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], &k[8]); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, strings.Join(k[:], " "))
	}
	if want := "integer integer text text text blob 32 blob 32"; len(kinds) != 1 || kinds[0] != want {
		t.Fatalf("stored as %q, want %q", kinds, want)
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != 200 {
		t.Fatalf("%d entries, %v", n, err)
	}
	ents, err := s.AuditEntries(ctx, 0, 1)
	if err != nil || len(ents) != 1 || ents[0].Actor != "a\"ctor" || ents[0].Details["k"] != "v\n" {
		t.Fatalf("%+v %v", ents, err)
	}
}

// TestInsertArgsBoxedOnce: the INSERT's arguments of a batch whose entries
// share some values and differ in others (a broken previous hash too) are
// the entries' own values, in order; equal values in a row are boxed once
// (fewer allocations than 9 per entry); and such a batch, written, reads
// back field for field and verifies.
func TestInsertArgsBoxedOnce(t *testing.T) {
	at := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	var ents []*Entry
	prev := make([]byte, 32)
	for i, ev := range []struct{ actor, subject, details string }{
		{"a", "s1", `{"valid":"true"}`}, {"a", "s2", `{"valid":"true"}`}, {"b", "s2", `{"valid":"false"}`},
		{"b", "", `{"valid":"false"}`}, {"a", "s3", ""}, {"a", "s3", ""},
	} {
		e := &Entry{Seq: int64(1000 + i), At: at.Add(time.Duration(i/3) * time.Second), PrevHash: prev,
			Event: Event{Actor: ev.actor, Action: "check", Subject: ev.subject, Digest: fmt.Sprint(i % 2)}, rawDetails: ev.details}
		e.Hash = entryHash(prev, e.Seq, e.At, e.Actor, e.Action, e.Subject, e.Digest, e.rawDetails)
		if i == 4 {
			e.PrevHash = []byte("not the hash before") // appendArgs must not take the one before
		}
		ents, prev = append(ents, e), e.Hash
	}
	// Each value boxed on its own: what appendArgs must equal.
	boxEach := func(args []any) []any {
		for _, e := range ents {
			args = append(args, e.Seq, e.At.UnixNano(), e.Actor, e.Action, e.Subject, e.Digest, e.rawDetails, e.PrevHash, e.Hash)
		}
		return args
	}
	want := boxEach(nil)
	var b entryBoxes
	if got := b.appendArgs(nil, ents); !reflect.DeepEqual(got, want) {
		t.Fatalf("arguments\n%q\nwant\n%q", got, want)
	}
	args := make([]any, 0, len(want))
	each := testing.AllocsPerRun(10, func() { args = boxEach(args[:0]) })
	once := testing.AllocsPerRun(10, func() { var b entryBoxes; args = b.appendArgs(args[:0], ents) })
	t.Logf("%v allocations boxed once, %v each", once, each)
	// Boxed once: the time twice, the actor thrice, the action once,
	// the subject thrice, the details twice, the previous hash twice
	// (the first and the broken one), instead of 6 (or 5 or 4) each.
	if once > each-19 {
		t.Errorf("%v allocations for %d arguments, %v when boxing each: equal values are not boxed once", once, len(want), each)
	}

	s := sqliteBackend().open(t, newClock())
	ctx := context.Background()
	var reqs []*appendReq
	for i, e := range ents {
		r := newAppendReq(e.Event, "", nil)
		r.e.Subject += fmt.Sprint("-", i)
		if i%3 != 2 {
			r.e.Details = map[string]string{"valid": fmt.Sprint(i < 2)}
		}
		var err error
		if r.details, err = encodeEvent(r.e); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	s.writeBatch(reqs)
	for _, r := range reqs {
		if <-r.done; r.res.err != nil {
			t.Fatal(r.res.err)
		}
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditEntries(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reqs) {
		t.Fatalf("%d entries, want %d", len(got), len(reqs))
	}
	for i, e := range got {
		if !reflect.DeepEqual(e.Event, reqs[i].e) {
			t.Errorf("entry %d reads back as %+v, want %+v", i, e.Event, reqs[i].e)
		}
	}
}

// TestInsertChunks: insertEntries writes any number of entries in INSERTs
// that have a statement, in one up to exactRows, and in at most a few
// beyond.
func TestInsertChunks(t *testing.T) {
	for n := 1; n <= 3*insertRows; n++ {
		var chunks []int
		for left := n; left > 0; {
			c := insertChunk(left)
			if c < 1 || c > left || sqliteInserts[c] == "" {
				t.Fatalf("%d entries: a chunk of %d (after %v), no statement or too many", n, c, chunks)
			}
			chunks, left = append(chunks, c), left-c
		}
		if most := (n+insertRows-1)/insertRows + 2; len(chunks) > most || n <= exactRows && len(chunks) != 1 {
			t.Errorf("%d entries in %d INSERTs %v", n, len(chunks), chunks)
		}
	}
	if got := strings.Count(sqliteInserts[exactRows], "?"); got != 9*exactRows {
		t.Errorf("the INSERT of %d rows has %d parameters", exactRows, got)
	}
}
