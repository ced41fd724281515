package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
)

// TestServeDemo runs `semnat serve --demo`: seal a PDF with the demo API
// key, verify it online through the same server (its TSA and OCSP).
func TestServeDemo(t *testing.T) {
	data := t.TempDir()
	base := revStartServer(t, "serve", "--demo", "--data", data, "--addr", "127.0.0.1:0")
	key, err := os.ReadFile(filepath.Join(data, "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(data, "api-key")); st.Mode().Perm() != 0o600 {
		t.Errorf("api-key mode %v", st.Mode().Perm())
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/seal", bytes.NewReader(samplepdf.Document("Demo", nil, 0)))
	req.Header.Set("X-API-Key", strings.TrimSpace(string(key)))
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("seal: %d %s", resp.StatusCode, sealed)
	}
	resp, err = http.Post(base+"/api/v1/verifications", "application/pdf", bytes.NewReader(sealed))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Indication string `json:"indication"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || rep.Indication != "TOTAL-PASSED" {
		t.Fatalf("verification of the sealed PDF: %v %+v", err, rep)
	}
	if _, err := os.Stat(filepath.Join(data, "semnat.db")); err != nil {
		t.Fatal("no database in the data directory")
	}
}
