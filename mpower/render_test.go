package mpower

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
)

// TestRenderAct: the act is a PDF qpdf finds sound, whose text (as
// pdftotext extracts it) holds the filled legal text with its diacritics.
func TestRenderAct(t *testing.T) {
	typ := testType("AT-0000001", true)
	typ.LegalText["ru"] = "Я, {{.AuthorizingIdn}}, уполномочиваю {{.RepresentedIdn}}."
	from := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p := &Power{Code: "1234567890123452", AuthorizingID: "2004001000010", SignedBy: "2004001000010", RepresentedID: "2004001000021",
		From: from, To: from.AddDate(0, 6, 0), Lang: "ro"}
	for lang, want := range map[string][]string{
		"ro": {"Procură", "împuternicesc pe 2004001000021 să ridice certificatul de înmatriculare", "2027-06-05", p.Code},
		"ru": {"Доверенность", "уполномочиваю 2004001000021"},
		"en": {"Procură", "împuternicesc"}, // no English text: the whole act in Romanian
	} {
		p.Lang = lang
		doc, err := RenderAct(&typ, p, "")
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "act.pdf")
		os.WriteFile(file, doc, 0o600)
		if out, err := exec.Command(testtool.Require(t, "qpdf"), "--check", file).CombinedOutput(); err != nil {
			t.Fatalf("%s: qpdf --check: %v\n%s", lang, err, out)
		}
		out, err := exec.Command(testtool.Require(t, "pdftotext"), "-raw", file, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(out)), " ")
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q not in the act's text: %s", lang, w, text)
			}
		}
	}
	bad := testType("AT-0000001", true)
	bad.LegalText["ro"] = "{{.Nobody}}"
	if err := bad.Check(); err == nil {
		t.Error("a template naming an unknown field was accepted")
	}
}
