package reportpdf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// TestRenderAndSeal: a signed document's report, rendered in each
// language, shows the signer by name, the IDNP, the signing time in
// Europe/Chisinau and UTC, the verdict and the document's SHA-256
// (pdftotext reads them); sealed, the report is itself a signed PDF that
// our verifier and pdfsig accept.
func TestRenderAndSeal(t *testing.T) {
	pki := testcerts.New(t)
	person := pki.ByRole(testcerts.RolePerson)[0]
	seal := pki.ByRole(testcerts.RoleSeal)[0]
	doc := samplepdf.Document("Contract", []string{"Contract de vânzare"}, 0)
	at := time.Date(2026, 7, 1, 9, 30, 0, 0, time.UTC) // 12:30 EEST in Chisinau
	var signed bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed,
		pades.NewKeySigner(person.Key, person.Cert, person.Chain), &pades.Options{Time: at}); err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(context.Background(), bytes.NewReader(signed.Bytes()), int64(signed.Len()),
		&pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil {
		t.Fatal(err)
	}
	rep.File = "contract.pdf"
	sum := sha256.Sum256(signed.Bytes())
	dir := t.TempDir()
	for lang, want := range map[string][]string{
		"ro": {"Raport de verificare a semnăturilor electronice", "Semnatar: " + person.Cert.Subject.CommonName, "2026-07-01 12:30:00 EEST (Europe/Chisinau) · 09:30:00 UTC", "declarată de semnatar"},
		"ru": {"Отчёт о проверке электронных подписей", "Подписант: " + person.Cert.Subject.CommonName},
		"en": {"Electronic signature verification report", "Signer: " + person.Cert.Subject.CommonName, "contract.pdf"},
	} {
		out, err := Render(Input{Report: rep, DocumentSHA256: sum[:], Lang: lang, Issuer: "MSign test"})
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, filepath.Join(dir, lang+".pdf"), out)
		want = append(want, "IDNP: "+person.IDNP, string(rep.Signatures[0].Indication), "MSign test")
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q not in the report:\n%s", lang, w, text)
			}
		}
		// The hash may wrap; its 64 hex digits are there in order.
		if !strings.Contains(strings.Join(strings.Fields(text), ""), "SHA-256") || !strings.Contains(strings.ReplaceAll(text, "\n", ""), hex.EncodeToString(sum[:])) {
			t.Errorf("%s: the document's SHA-256 is not in the report", lang)
		}
	}
	if _, err := Render(Input{Report: rep, Lang: "de"}); !errors.Is(err, ErrLanguage) {
		t.Errorf("language de: %v, want ErrLanguage", err)
	}

	plain, err := Render(Input{Report: rep, DocumentSHA256: sum[:], Issuer: "MSign test"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := Seal(context.Background(), plain, pades.NewKeySigner(seal.Key, seal.Cert, seal.Chain), &pades.Options{Name: "MSign test"})
	if err != nil {
		t.Fatal(err)
	}
	check, err := pades.Verify(context.Background(), bytes.NewReader(sealed), int64(len(sealed)),
		&pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Signatures) != 1 || check.Signatures[0].Checks.Integrity != pades.CheckPassed || check.Signatures[0].Checks.Chain != pades.CheckPassed ||
		check.Signatures[0].Signer.Subject != seal.Cert.Subject.String() {
		t.Fatalf("the sealed report does not verify as sealed by %s: %+v", seal.Cert.Subject, check.Signatures)
	}
	file := filepath.Join(dir, "sealed.pdf")
	os.WriteFile(file, sealed, 0o600)
	testtool.PdfsigTrusted(t, testtool.NSSTrustDB(t, pki.Root.Cert), file)
}

// pdfText writes doc to file, checks it with qpdf and returns its text.
func pdfText(t *testing.T, file string, doc []byte) string {
	t.Helper()
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testtool.Require(t, "qpdf"), "--check", file).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	out, err := exec.Command(testtool.Require(t, "pdftotext"), "-raw", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
