package pades

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// qpdfEncrypt encrypts data with qpdf: method is rc4-40, rc4-128, aes-128
// or aes-256; extra are qpdf's permission options (--modify=none, ...).
func qpdfEncrypt(t testing.TB, data []byte, user, owner, method string, extra ...string) []byte {
	t.Helper()
	qpdf := requireTool(t, "qpdf")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	switch method {
	case "rc4-40":
		args = []string{"--allow-weak-crypto", "--encrypt", user, owner, "40"}
	case "rc4-128":
		args = []string{"--allow-weak-crypto", "--encrypt", user, owner, "128", "--use-aes=n"}
	case "aes-128":
		args = []string{"--encrypt", user, owner, "128", "--use-aes=y"}
	case "aes-256":
		args = []string{"--encrypt", user, owner, "256"}
	default:
		t.Fatalf("unknown method %s", method)
	}
	// Stream data as it is (not recompressed): the same document, encrypted.
	args = append([]string{"--compress-streams=n", "--decode-level=none"}, args...)
	args = append(append(args, extra...), "--", in, out)
	if b, err := exec.Command(qpdf, args...).CombinedOutput(); err != nil {
		t.Fatalf("qpdf %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkEncryptedOutput checks what we appended to an encrypted file: qpdf
// decrypts the whole result without complaint and finds our signature
// dictionary's /Reason, which the update does not hold in plain text.
func checkEncryptedOutput(t *testing.T, in, out, pw string) {
	t.Helper()
	orig, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(signed, orig) {
		t.Fatal("the output does not start with the original bytes")
	}
	if bytes.Contains(signed[len(orig):], []byte("Aprobat")) {
		t.Error("the update holds the signature's /Reason in plain text")
	}
	qpdf := requireTool(t, "qpdf")
	dec := filepath.Join(t.TempDir(), "decrypted.pdf")
	b, err := exec.Command(qpdf, append(qpdfPwArgs(pw), "--decrypt", out, dec)...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3 && onlyLinearizationWarnings(string(b))) {
		t.Fatalf("qpdf --decrypt: %v\n%s", err, b)
	}
	js, err := exec.Command(qpdf, "--json=2", "--json-key=qpdf", dec).CombinedOutput()
	if err != nil {
		t.Fatalf("qpdf --json: %v\n%s", err, js)
	}
	if !bytes.Contains(js, []byte("Aprobat")) {
		t.Error("qpdf does not decrypt our signature's /Reason")
	}
}

func onlyLinearizationWarnings(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "WARNING") && !strings.Contains(l, "linearization") && !strings.Contains(l, "hint table") {
			return false
		}
	}
	return true
}

// TestSignEncrypted signs files encrypted by qpdf with each method, with a
// user password, and checks the result with qpdf, pdfsig, openssl and our
// verifier.
func TestSignEncrypted(t *testing.T) {
	pki := testcerts.New(t)
	db := trustDB(t, pki)
	root := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(root, testcerts.PEM(pki.Root.Cert), 0o644)
	for _, base := range []string{"minimal-table-pdf17.pdf", "pdf17-xrefstream-objstm.pdf", "emptysig-1field-table.pdf"} {
		for _, method := range []string{"rc4-40", "rc4-128", "aes-128", "aes-256"} {
			t.Run(base+"/"+method, func(t *testing.T) {
				enc := qpdfEncrypt(t, corpus(t, base), "user", "owner", method)
				dir := t.TempDir()
				in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "signed.pdf")
				os.WriteFile(in, enc, 0o644)
				if _, err := SignFile(context.Background(), in, out, entitySigner(pki, "person-p256"), nil); !errors.Is(err, ErrPasswordRequired) {
					t.Fatalf("signing without the password: %v, want ErrPasswordRequired", err)
				}
				if _, err := SignFile(context.Background(), in, out, entitySigner(pki, "person-p256"), &Options{Password: []byte("nope")}); !errors.Is(err, ErrWrongPassword) {
					t.Fatalf("signing with a wrong password: %v, want ErrWrongPassword", err)
				}
				opts := &Options{Reason: "Aprobat", Password: []byte("user"), Visible: &Visible{Page: 1, Rect: [4]float64{20, 20, 200, 80}}}
				res, err := SignFile(context.Background(), in, out, entitySigner(pki, "person-rsa2048"), opts)
				if err != nil {
					t.Fatal(err)
				}
				qpdfCheck(t, out, "", "--password=user")
				checkCMSWithOpenSSL(t, out, res.ByteRange, root)
				checkEncryptedOutput(t, in, out, "user")
				sigs, certs := pdfsigResult(t, db, out, "-upw", "user")
				// (an empty signature field of the original is listed too)
				if len(sigs) == 0 || sigs[len(sigs)-1] != "Signature is Valid." || certs[len(certs)-1] != "Certificate is Trusted." {
					t.Errorf("pdfsig: %q %q", sigs, certs)
				}
				data, _ := os.ReadFile(out)
				if _, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip}); !errors.Is(err, ErrPasswordRequired) {
					t.Errorf("verifying without the password: %v", err)
				}
				rep := verifyBytes(t, data, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, PDF: &pdf.Options{Password: []byte("owner")}})
				if rep.Indication != TotalPassed || len(rep.Signatures) != 1 {
					t.Errorf("verify: %s", dumpReport(rep))
				}
				// A second signature on top of the first.
				two, _, err := signBytes(t, data, entitySigner(pki, "person-p256"), &Options{Password: []byte("owner")})
				if err != nil {
					t.Fatal(err)
				}
				rep = verifyBytes(t, two, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, PDF: &pdf.Options{Password: []byte("user")}})
				if rep.Indication != TotalPassed || len(rep.Signatures) != 2 {
					t.Errorf("verify after a second signature: %s", dumpReport(rep))
				}
			})
		}
	}
}

// TestSignEncryptedPermissions: without the owner password, the /P bits
// must allow annotations (bit 6), or form filling (bit 9) when an existing
// empty signature field is signed.
func TestSignEncryptedPermissions(t *testing.T) {
	pki := testcerts.New(t)
	for _, c := range []struct {
		name, base, field string
		extra             []string
		allowed           bool
	}{
		{"everything", "minimal-table-pdf17.pdf", "", nil, true},
		{"no-modify", "minimal-table-pdf17.pdf", "", []string{"--modify=none"}, false},
		{"forms-only-new-field", "minimal-table-pdf17.pdf", "", []string{"--modify=form"}, false},
		{"forms-only-existing-field", "emptysig-1field-table.pdf", "Sig1", []string{"--modify=form"}, true},
		{"annotate", "minimal-table-pdf17.pdf", "", []string{"--modify=annotate"}, true},
		{"no-annotate-no-form", "emptysig-1field-table.pdf", "Sig1", []string{"--annotate=n", "--form=n", "--modify-other=n", "--assemble=n"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := qpdfEncrypt(t, corpus(t, c.base), "", "owner", "aes-256", c.extra...)
			_, _, err := signBytes(t, enc, entitySigner(pki, "person-p256"), &Options{Field: c.field})
			if c.allowed && err != nil {
				t.Fatalf("user: %v", err)
			}
			if !c.allowed && !errors.Is(err, ErrNotPermitted) {
				t.Fatalf("user: %v, want ErrNotPermitted", err)
			}
			out, _, err := signBytes(t, enc, entitySigner(pki, "person-p256"), &Options{Password: []byte("owner")})
			if err != nil {
				t.Fatalf("owner: %v", err)
			}
			rep := verifyBytes(t, out, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip})
			if rep.Indication != TotalPassed {
				t.Errorf("verify: %s", dumpReport(rep))
			}
		})
	}
}

// BenchmarkVerifyEncrypted20MB compares verifying a signed 20 MB document
// encrypted (AES-256 R6, AES-128, RC4-128: anyone may open them) with the
// same document unencrypted (issue 12's target: within 1.3x).
func BenchmarkVerifyEncrypted20MB(b *testing.B) {
	pki := testcerts.New(b)
	doc := samplepdf.Document("bench", nil, 20<<20)
	for _, method := range []string{"plain", "aes-256", "aes-128", "rc4-128"} {
		in := doc
		if method != "plain" {
			in = qpdfEncrypt(b, doc, "", "owner", method)
		}
		signed, _, err := signBytes(b, in, entitySigner(pki, "person-p256"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(method, func(b *testing.B) {
			opts := &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip}
			if rep := verifyBytes(b, signed, opts); rep.Indication != TotalPassed {
				b.Fatalf("does not pass:\n%s", dumpReport(rep))
			}
			b.SetBytes(int64(len(signed)))
			for b.Loop() {
				verifyBytes(b, signed, opts)
			}
		})
	}
}

// rewriteContents appends an update that writes page 1's content stream
// again (decrypted, then encrypted anew: AES gets a new IV) with data
// returned by edit.
func rewriteContents(t *testing.T, signed []byte, pw string, edit func([]byte) []byte) []byte {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), &pdf.Options{Password: []byte(pw)})
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := page.Dict.Get("Contents").(pdf.Ref)
	if !ok {
		t.Fatalf("page /Contents is %v", page.Dict.Get("Contents"))
	}
	o, _ := r.Resolve(ref)
	st := o.(*pdf.Stream)
	rd, err := r.EncodedStreamReader(st)
	if err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	data.ReadFrom(rd)
	d := st.Dict.Clone()
	d.Delete("Length")
	u := r.NewUpdate()
	if err := u.Set(ref, pdf.NewStream(d, edit(data.Bytes()))); err != nil {
		t.Fatal(err)
	}
	var upd bytes.Buffer
	if _, err := u.Write(&upd); err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), signed...), upd.Bytes()...)
}

// TestVerifyEncryptedDiff: the revision diff compares decrypted data. A
// later revision that writes a page's content stream again with the same
// data (different ciphertext: a new AES IV) changes nothing; one that
// changes the data is found.
func TestVerifyEncryptedDiff(t *testing.T) {
	pki := testcerts.New(t)
	for _, method := range []string{"aes-128", "aes-256", "rc4-128"} {
		t.Run(method, func(t *testing.T) {
			enc := qpdfEncrypt(t, corpus(t, "pdf14-table.pdf"), "user", "owner", method)
			signed, _, err := signBytes(t, enc, entitySigner(pki, "person-p256"), &Options{Password: []byte("user"), Certify: 1})
			if err != nil {
				t.Fatal(err)
			}
			opts := &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, PDF: &pdf.Options{Password: []byte("user")}}
			same := rewriteContents(t, signed, "user", func(b []byte) []byte { return b })
			if method != "rc4-128" && bytes.Equal(same[len(signed):], signed[len(enc):]) {
				t.Fatal("the update did not change the ciphertext")
			}
			rep := verifyBytes(t, same, opts)
			if rep.Indication != TotalPassed {
				t.Errorf("same content written again:\n%s", dumpReport(rep))
			}
			changed := rewriteContents(t, signed, "user", func(b []byte) []byte { return append(b, " "...) })
			rep = verifyBytes(t, changed, opts)
			if rep.Indication == TotalPassed {
				t.Errorf("changed content not found:\n%s", dumpReport(rep))
			}
		})
	}
}
