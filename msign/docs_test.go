package msign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// fileSize is the size of path, 0 when it does not exist.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestUploadsBesideDatabase: with SQLite, eight 30 MB anonymous sign
// requests keep their documents as files beside the database (0600), not
// in it: the database and its WAL stay small. A cancelled request's file
// is removed at once; at start, files no live request names (orphans,
// expired files, interrupted writes) are removed and the others kept.
func TestUploadsBesideDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "semnat.db")
	docs := filepath.Join(dir, "semnat-documents")
	open := func() (*Service, http.Handler, func()) {
		st, err := store.OpenSQLite(db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, h := serve(t, Config{Store: st, PendingQuota: 1 << 30})
		return s, h, func() { s.Close(); st.Close() }
	}
	_, h, stop := open()
	doc := samplepdf.Document("Mare", nil, 30<<20)
	ent := testcerts.New(t).MustGet("person-p256")
	ct, body := form(tokenForm(ent, map[string]string{"level": "B-B"}), "mare.pdf", doc)
	var ids []string
	for i := range 8 {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var v struct{ ID string }
		if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &v) != nil {
			t.Fatalf("sign request %d: %d %s", i+1, rec.Code, rec.Body)
		}
		ids = append(ids, v.ID)
	}
	if size := fileSize(db) + fileSize(db+"-wal"); size > 8<<20 {
		t.Errorf("eight 30 MB uploads grew the database and its WAL to %d MB", size>>20)
	}
	files, _ := filepath.Glob(filepath.Join(docs, "*"+docExt))
	if len(files) != 8 {
		t.Fatalf("%d document files, want 8: %v", len(files), files)
	}
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil || info.Mode().Perm() != 0o600 || info.Size() != int64(len(doc)) {
			t.Errorf("%s: %v %v", f, info.Mode(), err)
		}
	}
	if info, err := os.Stat(docs); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("documents directory: %v %v", info.Mode(), err)
	}
	// Cancelled: its file goes at once.
	req := httptest.NewRequest(http.MethodDelete, "/api/v1/sign-requests/"+ids[0], nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	if files, _ = filepath.Glob(filepath.Join(docs, "*"+docExt)); len(files) != 7 {
		t.Errorf("after a cancel, %d document files, want 7", len(files))
	}
	stop()

	// Left by a crash: a file whose reference was never stored, an
	// expired file, and an old temporary file of an interrupted write.
	future := time.Now().Add(time.Hour).Unix()
	orphan := filepath.Join(docs, fmt.Sprintf("%d-%s%s", future, strings.Repeat("ab", 16), docExt))
	expired := filepath.Join(docs, fmt.Sprintf("%d-%s%s", time.Now().Add(-time.Minute).Unix(), strings.Repeat("cd", 16), docExt))
	tmp := filepath.Join(docs, ".x.doc.123.tmp")
	for _, f := range []string{orphan, expired, tmp} {
		if err := os.WriteFile(f, []byte("left"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-2 * time.Minute)
		os.Chtimes(f, old, old)
	}
	s, _, stop := open()
	defer stop()
	for _, f := range []string{orphan, expired, tmp} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s survived the start: %v", filepath.Base(f), err)
		}
	}
	if files, _ = filepath.Glob(filepath.Join(docs, "*"+docExt)); len(files) != 7 {
		t.Errorf("after a restart, %d document files, want the 7 live ones", len(files))
	}
	// The live requests still have their documents.
	for _, id := range ids[1:] {
		if b, err := s.docs.get(t.Context(), kindSignIn, docKey(id, 1)); err != nil || !bytes.Equal(b, doc) {
			t.Fatalf("request %s after the restart: %v", id, err)
		}
	}
}

// TestDocDirChoice: SQLite keeps documents beside the database unless
// told otherwise ("-": in the store); an explicit directory wins.
func TestDocDirChoice(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	st, err := store.OpenSQLite(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct{ cfg, want string }{
		{"", strings.TrimSuffix(db, ".db") + "-documents"},
		{"-", ""},
		{"/srv/docs", "/srv/docs"},
	} {
		if got := docDir(Config{Store: st, DocDir: tc.cfg}); got != tc.want {
			t.Errorf("DocDir %q: %q, want %q", tc.cfg, got, tc.want)
		}
	}
}
