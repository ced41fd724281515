package pades

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

const corpusDir = "../../shared/corpus" // testtool.CorpusDir checks it exists

func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

// manifestRow is one line of the corpus MANIFEST.tsv, by column name.
type manifestRow = testtool.ManifestRow

func readManifest(t testing.TB) []manifestRow { return testtool.Manifest(t) }

// unsupportedReason says why semnat refuses to sign a corpus file, or "".
func unsupportedReason(row manifestRow) error {
	switch {
	case strings.HasPrefix(row["file"], "broken-"):
		return ErrDamaged
	case row["file"] == "signed-encrypted-aes128-linearized.pdf":
		// /P -3120 permits filling in existing form fields, not adding
		// one, and its only signature field is signed; the owner
		// password is not known.
		return ErrNotPermitted
	case row["file"] == "signed-certified-pdf13.pdf", row["file"] == "certified-pyhanko.pdf":
		// Certified with DocMDP /P 1 (qpdf --json shows "/P": 1): no change,
		// a further signature included, is allowed.
		return ErrCertifiedNoChanges
	}
	return nil
}

// corpusPassword is the user password the manifest gives for an
// encrypted file ("" when anyone may open it).
func corpusPassword(row manifestRow) string {
	switch pw := strings.TrimSpace(row["user_password"]); pw {
	case "", "-", "?", "(empty)":
		return ""
	default:
		return pw
	}
}

// notPermitted are the corpus files whose /P forbids signing without the
// owner password (qpdf --show-encryption: "modify forms: not allowed",
// "modify annotations: not allowed") and whose owner password is known.
var notPermitted = map[string]bool{
	"encrypted-aes256-r6-nouserpw.pdf": true,
	"encrypted-rc4-40-userpw.pdf":      true,
}

// fillOnly are the corpus files whose /P permits filling in existing form
// fields (bit 9) but not adding annotations (bit 6): they are signed in
// their empty signature field (qpdf --json: /Sig field "Signature1").
var fillOnly = map[string]string{
	"emptysig-encrypted-aes128-linearized.pdf": "Signature1",
}

// signPassword is the password to sign a corpus file with: the owner's
// for the files whose permissions forbid signing.
func signPassword(row manifestRow) string {
	if notPermitted[row["file"]] {
		return strings.TrimSpace(row["owner_password"])
	}
	return corpusPassword(row)
}

// qpdfPwArgs and pdfsigPwArgs are the options that open a file with
// password pw. and pdfsig options that open a file with password pw.
func qpdfPwArgs(pw string) []string {
	if pw == "" {
		return nil
	}
	return []string{"--password=" + pw}
}

func pdfsigPwArgs(pw string) []string {
	if pw == "" {
		return nil
	}
	return []string{"-upw", pw}
}

// pdfsigArgs opens a corpus file for pdfsig with the password it is signed
// with (pdfsig needs to be told an owner password is one).
func pdfsigArgs(row manifestRow) []string {
	if notPermitted[row["file"]] {
		return []string{"-opw", signPassword(row)}
	}
	return pdfsigPwArgs(corpusPassword(row))
}

// trustDB makes an NSS database trusting the PKI's root, for pdfsig.
func trustDB(t *testing.T, pki *testcerts.PKI) string {
	t.Helper()
	return testtool.NSSTrustDB(t, pki.Root.Cert)
}

// pdfsigEntry is what pdfsig says about one signature field ("" where it
// printed nothing, e.g. for an unsigned field).
type pdfsigEntry struct{ field, sig, cert string }

// pdfsigEntries runs pdfsig on file and returns its signature fields in
// order.
func pdfsigEntries(t *testing.T, db, file string, args ...string) []pdfsigEntry {
	t.Helper()
	// -no-ocsp: the test PKI's responder may not be running; revocation is
	// checked by the verifier's own tests. args: a password.
	args = append(append([]string{"-no-ocsp", "-nssdir", "sql:" + db}, args...), file)
	out, _ := exec.Command(requireTool(t, "pdfsig"), args...).CombinedOutput()
	var es []pdfsigEntry
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "Signature #"):
			es = append(es, pdfsigEntry{})
		case len(es) == 0:
		case strings.HasPrefix(l, "- Signature Field Name: "):
			es[len(es)-1].field = strings.TrimPrefix(l, "- Signature Field Name: ")
		case strings.HasPrefix(l, "- Signature Validation: "):
			es[len(es)-1].sig = strings.TrimPrefix(l, "- Signature Validation: ")
		case strings.HasPrefix(l, "- Certificate Validation: "):
			es[len(es)-1].cert = strings.TrimPrefix(l, "- Certificate Validation: ")
		}
	}
	return es
}

// pdfsigResult runs pdfsig and returns, per signature, its "Signature
// Validation" and "Certificate Validation" values ("" when pdfsig printed
// none for that signature).
func pdfsigResult(t *testing.T, db, file string, args ...string) (sigs []string, certs []string) {
	t.Helper()
	for _, e := range pdfsigEntries(t, db, file, args...) {
		sigs, certs = append(sigs, e.sig), append(certs, e.cert)
	}
	return sigs, certs
}

// checkPdfsigAfter checks with pdfsig that out is in plus our signature in
// field ours (valid, trusted) and, with docTS, a document timestamp in a
// new field (pdfsig 22.12 cannot verify those): every other field keeps
// its status; ours is a new field or an empty one of in.
func checkPdfsigAfter(t *testing.T, db, in, out, ours string, docTS bool, args ...string) {
	t.Helper()
	checkPdfsigAgainst(t, db, pdfsigEntries(t, db, in, args...), out, ours, docTS, args...)
}

// checkPdfsigAgainst is checkPdfsigAfter with pdfsig's entries for the
// input already read.
func checkPdfsigAgainst(t *testing.T, db string, before []pdfsigEntry, out, ours string, docTS bool, args ...string) {
	t.Helper()
	byField := func(es []pdfsigEntry) map[string]pdfsigEntry {
		m := map[string]pdfsigEntry{}
		for _, e := range es {
			m[e.field] = e
		}
		return m
	}
	after := pdfsigEntries(t, db, out, args...)
	bst, ast := byField(before), byField(after)
	added := 1
	if docTS {
		added++
	}
	if e, ok := bst[ours]; ok {
		if e.sig != "" {
			t.Fatalf("pdfsig: our field %q was already signed (%q)", ours, e.sig)
		}
		added-- // an empty field was filled
	}
	if len(after) != len(before)+added {
		t.Fatalf("pdfsig lists %d signature fields %v, want %d (before: %v)", len(after), after, len(before)+added, before)
	}
	if e := ast[ours]; e.sig != "Signature is Valid." || e.cert != "Certificate is Trusted." {
		t.Errorf("pdfsig on our signature %q: %q / %q", ours, e.sig, e.cert)
	}
	for _, e := range before {
		if e.field != ours && ast[e.field] != e {
			t.Errorf("earlier signature field %q changed from %+v to %+v", e.field, e, ast[e.field])
		}
	}
}

func signCorpusFile(t *testing.T, in, out string, s Signer, opts *Options) (*Result, error) {
	t.Helper()
	return SignFile(context.Background(), in, out, s, opts)
}

// checkCMSWithOpenSSL extracts the CMS at byte range br of file and has
// openssl cms -verify check it against the signed bytes.
func checkCMSWithOpenSSL(t *testing.T, file string, br [4]int64, root string) {
	t.Helper()
	openssl := requireTool(t, "openssl")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	der := contentsOf(t, data, br)
	dir := t.TempDir()
	sig := filepath.Join(dir, "sig.p7s")
	content := filepath.Join(dir, "content.bin")
	os.WriteFile(sig, der, 0o644)
	os.WriteFile(content, append(append([]byte(nil), data[:br[1]]...), data[br[2]:br[2]+br[3]]...), 0o644)
	out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", content,
		"-CAfile", root, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification successful")) {
		t.Errorf("openssl cms -verify: %v\n%s", err, out)
	}
}

// qpdfCheck runs qpdf --check on file. Warnings (exit status 3) are
// accepted only when orig, the input it was signed from, has the same
// ones: signing may keep a damage or a stale linearization hint table
// that was already there, never add one. orig "" accepts no warning;
// args (a password) open both.
func qpdfCheck(t *testing.T, file, orig string, args ...string) {
	t.Helper()
	qpdf := requireTool(t, "qpdf")
	out, err := exec.Command(qpdf, append(append([]string{"--check"}, args...), file)...).CombinedOutput()
	if err == nil {
		return
	}
	var ee *exec.ExitError
	if orig == "" || !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("qpdf --check: %v\n%s", err, out)
		return
	}
	before, _ := exec.Command(qpdf, append(append([]string{"--check"}, args...), orig)...).CombinedOutput()
	had := map[string]bool{}
	for _, w := range qpdfWarnings(before, orig) {
		had[w] = true
	}
	for _, w := range qpdfWarnings(out, file) {
		if !had[w] {
			t.Errorf("qpdf --check warns of what the input %s did not have: %s\n%s", filepath.Base(orig), w, out)
			return
		}
	}
}

// qpdfWarnings lists qpdf's WARNING lines with the file's name and byte
// offsets taken out, so that the warnings of two files compare (an object
// the update rewrites, with the defect it had, moves).
func qpdfWarnings(out []byte, file string) []string {
	var ws []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "WARNING: ") {
			ws = append(ws, qpdfOffset.ReplaceAllString(strings.ReplaceAll(l, file, "FILE"), "offset _"))
		}
	}
	return ws
}

var qpdfOffset = regexp.MustCompile(`offset [0-9]+`)

// TestSignCorpusBB signs every corpus file at B-B with an ECDSA key and
// checks the result with qpdf, pdfsig and openssl; unsupported files give
// a clear error and no output file.
func TestSignCorpusBB(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	signer := NewKeySigner(e.Key, e.Cert, e.Chain)
	db := trustDB(t, pki)
	root := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(root, testcerts.PEM(pki.Root.Cert), 0o644)
	for _, row := range readManifest(t) {
		name := row["file"]
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(corpusDir, name)
			out := filepath.Join(t.TempDir(), "signed.pdf")
			pw := corpusPassword(row)
			if notPermitted[name] {
				_, err := signCorpusFile(t, in, out, signer, &Options{Password: []byte(pw)})
				if !errors.Is(err, ErrNotPermitted) {
					t.Fatalf("signing with the user password: %v, want ErrNotPermitted", err)
				}
				if _, serr := os.Stat(out); !os.IsNotExist(serr) {
					t.Fatal("an output file was left behind")
				}
				pw = signPassword(row)
			}
			if f := fillOnly[name]; f != "" {
				if _, err := signCorpusFile(t, in, out, signer, &Options{Password: []byte(pw), NewField: true}); !errors.Is(err, ErrNotPermitted) {
					t.Fatalf("adding a signature field where only filling is permitted: %v, want ErrNotPermitted", err)
				}
			}
			res, err := signCorpusFile(t, in, out, signer, &Options{Reason: "Aprobat", Location: "Chișinău", Password: []byte(pw), Field: fillOnly[name]})
			if want := unsupportedReason(row); want != nil {
				if !errors.Is(err, want) {
					t.Fatalf("want %v, got %v", want, err)
				}
				if _, serr := os.Stat(out); !os.IsNotExist(serr) {
					t.Fatal("an output file was left behind")
				}
				entries, _ := os.ReadDir(filepath.Dir(out))
				if len(entries) != 0 {
					t.Fatalf("temporary files left: %v", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			qpdfCheck(t, out, in, qpdfPwArgs(pw)...)
			checkCMSWithOpenSSL(t, out, res.ByteRange, root)
			if row["encrypted"] != "none" {
				checkEncryptedOutput(t, in, out, pw)
				// Our verifier decrypts what we wrote and passes our signature.
				data, _ := os.ReadFile(out)
				rep := verifyBytes(t, data, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, PDF: &pdf.Options{Password: []byte(pw)}})
				if n := len(rep.Signatures); n == 0 || rep.Signatures[n-1].Indication != TotalPassed {
					t.Errorf("verify:\n%s", dumpReport(rep))
				}
			}
			checkPdfsigAfter(t, db, in, out, res.Field, false, pdfsigArgs(row)...)
		})
	}
}

// TestSignCorpusBLTAVisible signs every supported corpus file at B-LTA with
// a visible stamp (RSA-PSS, SHA-384) against live TSA/OCSP/CRL servers:
// qpdf accepts the result, pdfsig validates our signature and leaves earlier
// ones as they were, openssl accepts the CMS and both timestamps.
// smallPages are corpus files whose first page is smaller than the table
// tests' stamp, with a stamp rectangle that fits it.
var smallPages = map[string][4]float64{"pdf11-clippath.pdf": {10, 10, 190, 90}}

func TestSignCorpusBLTAVisible(t *testing.T) {
	l := newLivePKI(t)
	e := l.pki.MustGet("person-pss")
	signer := NewKeySigner(e.Key, e.Cert, e.Chain)
	db := trustDB(t, l.pki)
	root := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(root, testcerts.PEM(l.pki.Root.Cert), 0o644)
	for _, row := range readManifest(t) {
		name := row["file"]
		if unsupportedReason(row) != nil {
			continue // TestSignCorpusBB checks the refusals
		}
		t.Run(name, func(t *testing.T) {
			opts := l.options(LevelBLTA)
			opts.PSS, opts.Hash = true, crypto.SHA384
			opts.Reason, opts.Location = "Aprobat", "Chișinău"
			opts.Visible = &Visible{Page: 1, Rect: [4]float64{40, 40, 300, 110}}
			pw := signPassword(row)
			opts.Password = []byte(pw)
			opts.Field = fillOnly[name]
			in := filepath.Join(corpusDir, name)
			out := filepath.Join(t.TempDir(), "signed.pdf")
			if small, ok := smallPages[name]; ok {
				// The usual stamp does not fit this page: refused, then
				// placed inside it.
				if _, err := signCorpusFile(t, in, out, signer, opts); !errors.Is(err, ErrStampOutsidePage) {
					t.Fatalf("a stamp outside a %s page: %v, want ErrStampOutsidePage", name, err)
				}
				opts.Visible.Rect = small
			}
			res, err := signCorpusFile(t, in, out, signer, opts)
			if fillOnly[name] != "" {
				// The document timestamp would add a field.
				if !errors.Is(err, ErrNotPermitted) {
					t.Fatalf("B-LTA where only filling is permitted: %v, want ErrNotPermitted", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			qpdfCheck(t, out, in, qpdfPwArgs(pw)...)
			checkCMSWithOpenSSL(t, out, res.ByteRange, root)
			if row["encrypted"] != "none" {
				checkEncryptedOutput(t, in, out, pw)
			}
			data, _ := os.ReadFile(out)
			checkDocTimestampWithOpenSSL(t, data, l.pki, []byte(pw)...)
			checkPdfsigAfter(t, db, in, out, res.Field, true, pdfsigArgs(row)...)
		})
	}
}
