package pades

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// breakStartxref damages a PDF: its last startxref points nowhere.
func breakStartxref(t *testing.T, data []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(data, []byte("startxref"))
	if i < 0 {
		t.Fatal("no startxref")
	}
	j := i + len("startxref")
	for j < len(data) && (data[j] == '\r' || data[j] == '\n' || data[j] == ' ') {
		j++
	}
	k := j
	for k < len(data) && data[k] >= '0' && data[k] <= '9' {
		k++
	}
	out := append([]byte(nil), data[:j]...)
	out = append(out, "12"...)
	return append(out, data[k:]...)
}

// TestRepairThenSign: a damaged file with no signature is rewritten and
// the rewrite signs and verifies (with pdfsig and qpdf as oracles); a
// damaged signed file and an intact one are not rewritten.
func TestRepairThenSign(t *testing.T) {
	pki := testcerts.New(t)
	db := trustDB(t, pki)
	type tc struct {
		name string
		data []byte
		pw   string
	}
	var cases []tc
	for _, row := range readManifest(t) {
		if strings.HasPrefix(row["file"], "broken-") {
			cases = append(cases, tc{row["file"], corpus(t, row["file"]), ""})
		}
	}
	cases = append(cases,
		tc{"startxref-broken-table", breakStartxref(t, corpus(t, "pdf14-table.pdf")), ""},
		tc{"startxref-broken-objstm", breakStartxref(t, corpus(t, "pdf17-xrefstream-objstm.pdf")), ""},
		tc{"startxref-broken-encrypted", breakStartxref(t, qpdfEncrypt(t, corpus(t, "pdf14-table.pdf"), "user", "owner", "aes-256")), "user"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := signBytes(t, c.data, entitySigner(pki, "person-p256"), &Options{Password: []byte(c.pw)}); !errors.Is(err, ErrDamaged) {
				t.Fatalf("signing the damaged file: %v, want ErrDamaged", err)
			}
			var fixed bytes.Buffer
			reasons, err := Repair(bytes.NewReader(c.data), int64(len(c.data)), &fixed, []byte(c.pw))
			if err != nil {
				t.Fatal(err)
			}
			if len(reasons) == 0 {
				t.Error("no repair reason")
			}
			signed, _, err := signBytes(t, fixed.Bytes(), entitySigner(pki, "person-p256"), &Options{Password: []byte(c.pw), Reason: "Aprobat"})
			if err != nil {
				t.Fatalf("signing the rewrite: %v", err)
			}
			rep := verifyBytes(t, signed, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, PDF: &pdf.Options{Password: []byte(c.pw)}})
			if rep.Indication != TotalPassed {
				t.Errorf("verify: %s", dumpReport(rep))
			}
			file := filepath.Join(t.TempDir(), "signed.pdf")
			os.WriteFile(file, signed, 0o644)
			qpdfCheck(t, file, "", qpdfPwArgs(c.pw)...)
			sigs, certs := pdfsigResult(t, db, file, pdfsigPwArgs(c.pw)...)
			if len(sigs) != 1 || sigs[0] != "Signature is Valid." || certs[0] != "Certificate is Trusted." {
				t.Errorf("pdfsig: %q %q", sigs, certs)
			}
			if c.pw != "" && !bytes.Contains(signed, []byte("/Encrypt")) {
				t.Error("the rewrite lost its encryption")
			}
			// Signed now: damaging it again makes it unrepairable.
			broken := breakStartxref(t, signed)
			if _, err := Repair(bytes.NewReader(broken), int64(len(broken)), &bytes.Buffer{}, []byte(c.pw)); !errors.Is(err, ErrDamagedSigned) {
				t.Errorf("repairing a damaged signed file: %v, want ErrDamagedSigned", err)
			}
			if _, err := Repair(bytes.NewReader(signed), int64(len(signed)), &bytes.Buffer{}, []byte(c.pw)); !errors.Is(err, ErrNotDamaged) {
				t.Errorf("repairing an intact file: %v, want ErrNotDamaged", err)
			}
		})
	}
}
