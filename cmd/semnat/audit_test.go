package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/store"
)

// TestCLIAudit: verify names the first broken entry of a tampered log and
// export writes every hashed field, so that an archive can be re-checked.
func TestCLIAudit(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "semnat.db")
	st, err := store.OpenSQLite(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, a := range []string{"sign", "seal", "grant", "revoke"} {
		if _, err := st.Append(ctx, store.Event{Actor: "2000000000004", Action: a, Subject: "req-" + string(rune('a'+i)),
			Details: map[string]string{"level": "B-T"}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	code, out, errOut := runSignCLI(t, "audit", "verify", "--data", dir, "--json")
	var res auditVerifyResult
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || !res.Valid || res.Entries != 4 || len(res.LastHash) != 64 {
		t.Fatalf("verify: code %d, %s %s", code, out, errOut)
	}
	exp := filepath.Join(dir, "audit.jsonl")
	if code, _, errOut := runSignCLI(t, "audit", "export", "--store", db, "-o", exp); code != exitOK {
		t.Fatalf("export: %d %s", code, errOut)
	}
	f, err := os.Open(exp)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []auditLine
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 4 || lines[2].Action != "grant" || lines[2].Details["level"] != "B-T" || lines[3].PrevHash != lines[2].Hash || lines[3].Hash != res.LastHash {
		t.Fatalf("export: %+v", lines)
	}
	if fi, _ := os.Stat(exp); fi.Mode().Perm() != 0o600 {
		t.Errorf("export mode %04o", fi.Mode().Perm())
	}

	// Someone with file access drops the guard and edits entry 3.
	// One connection, in the WAL mode and with the busy timeout the store
	// uses, so that the edit and the store's next opening do not race; it
	// stays open until the check is done, so that its close (the last
	// connection's, which deletes the WAL) does not fall between the edit
	// and the store's opening (SQLITE_IOERR_FSTAT, "disk I/O error", in a
	// fresh-clone CI run).
	raw, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET actor = 'mallory' WHERE seq = 3`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut = runSignCLI(t, "audit", "verify", "--data", dir)
	if code != exitFailed || !strings.Contains(errOut, "broken at entry 3") || !strings.Contains(errOut, "was changed") {
		t.Fatalf("tampered: code %d, %s", code, errOut)
	}

	// No store: a usage error, and none is created.
	empty := t.TempDir()
	if code, _, errOut := runSignCLI(t, "audit", "verify", "--data", empty); code != exitUsage || !strings.Contains(errOut, "no store at") {
		t.Fatalf("no store: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(empty, "semnat.db")); err == nil {
		t.Fatal("audit verify created a store")
	}
}
