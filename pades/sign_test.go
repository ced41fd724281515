package pades

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
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
	case row["encrypted"] != "none":
		return ErrEncrypted
	case strings.HasPrefix(row["file"], "broken-"):
		return ErrDamaged
	case row["file"] == "signed-certified-pdf13.pdf", row["file"] == "certified-pyhanko.pdf":
		// Certified with DocMDP /P 1 (qpdf --json shows "/P": 1): no change,
		// a further signature included, is allowed.
		return ErrCertifiedNoChanges
	}
	return nil
}

// trustDB makes (once per root) an NSS database trusting the PKI's root,
// for pdfsig.
var nssDirs sync.Map // root fingerprint -> dir

func trustDB(t *testing.T, pki *testcerts.PKI) string {
	t.Helper()
	certutil := requireTool(t, "certutil")
	key := string(pki.Root.Cert.Raw)
	if d, ok := nssDirs.Load(key); ok {
		return d.(string)
	}
	dir, err := os.MkdirTemp("", "semnat-nss-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, testcerts.PEM(pki.Root.Cert), 0o644)
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+dir, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v %s", err, out)
	}
	if out, err := exec.Command(certutil, "-A", "-d", "sql:"+dir, "-n", "semnat-test-root", "-t", "CT,C,C", "-i", root).CombinedOutput(); err != nil {
		t.Fatalf("certutil -A: %v %s", err, out)
	}
	nssDirs.Store(key, dir)
	return dir
}

// pdfsigEntry is what pdfsig says about one signature field ("" where it
// printed nothing, e.g. for an unsigned field).
type pdfsigEntry struct{ field, sig, cert string }

// pdfsigEntries runs pdfsig on file and returns its signature fields in
// order.
func pdfsigEntries(t *testing.T, db, file string) []pdfsigEntry {
	t.Helper()
	// -no-ocsp: the test PKI's responder may not be running; revocation is
	// checked by the verifier's own tests.
	out, _ := exec.Command(requireTool(t, "pdfsig"), "-no-ocsp", "-nssdir", "sql:"+db, file).CombinedOutput()
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
func pdfsigResult(t *testing.T, db, file string) (sigs []string, certs []string) {
	t.Helper()
	for _, e := range pdfsigEntries(t, db, file) {
		sigs, certs = append(sigs, e.sig), append(certs, e.cert)
	}
	return sigs, certs
}

// checkPdfsigAfter checks with pdfsig that out is in plus our signature in
// field ours (valid, trusted) and, with docTS, a document timestamp in a
// new field (pdfsig 22.12 cannot verify those): every other field keeps
// its status; ours is a new field or an empty one of in.
func checkPdfsigAfter(t *testing.T, db, in, out, ours string, docTS bool) {
	t.Helper()
	checkPdfsigAgainst(t, db, pdfsigEntries(t, db, in), out, ours, docTS)
}

// checkPdfsigAgainst is checkPdfsigAfter with pdfsig's entries for the
// input already read.
func checkPdfsigAgainst(t *testing.T, db string, before []pdfsigEntry, out, ours string, docTS bool) {
	t.Helper()
	byField := func(es []pdfsigEntry) map[string]pdfsigEntry {
		m := map[string]pdfsigEntry{}
		for _, e := range es {
			m[e.field] = e
		}
		return m
	}
	after := pdfsigEntries(t, db, out)
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

func qpdfCheck(t *testing.T, file string, allowWarnings bool) {
	t.Helper()
	out, err := exec.Command(requireTool(t, "qpdf"), "--check", file).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if allowWarnings && errors.As(err, &ee) && ee.ExitCode() == 3 {
			return
		}
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
}

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
			res, err := signCorpusFile(t, in, out, signer, &Options{Reason: "Aprobat", Location: "Chișinău"})
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
			qpdfCheck(t, out, row["qpdf_check"] != "ok")
			checkCMSWithOpenSSL(t, out, res.ByteRange, root)
			checkPdfsigAfter(t, db, in, out, res.Field, false)
		})
	}
}

// TestSignCorpusBLTAVisible signs every supported corpus file at B-LTA with
// a visible stamp (RSA-PSS, SHA-384) against live TSA/OCSP/CRL servers:
// qpdf accepts the result, pdfsig validates our signature and leaves earlier
// ones as they were, openssl accepts the CMS and both timestamps.
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
			in := filepath.Join(corpusDir, name)
			out := filepath.Join(t.TempDir(), "signed.pdf")
			res, err := signCorpusFile(t, in, out, signer, opts)
			if err != nil {
				t.Fatal(err)
			}
			qpdfCheck(t, out, row["qpdf_check"] != "ok")
			checkCMSWithOpenSSL(t, out, res.ByteRange, root)
			data, _ := os.ReadFile(out)
			checkDocTimestampWithOpenSSL(t, data, l.pki)
			checkPdfsigAfter(t, db, in, out, res.Field, true)
		})
	}
}
