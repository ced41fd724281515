package testtool

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NSSTrustDB makes an NSS database in the test's temporary directory that
// trusts root as a CA (certutil -t CT,C,C), for pdfsig -nssdir: without it
// pdfsig has no trust anchor and checks no chain.
func NSSTrustDB(t testing.TB, root *x509.Certificate) string {
	t.Helper()
	certutil := Require(t, "certutil")
	dir := t.TempDir()
	file := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+dir, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v %s", err, out)
	}
	if out, err := exec.Command(certutil, "-A", "-d", "sql:"+dir, "-n", "semnat-test-root", "-t", "CT,C,C", "-i", file).CombinedOutput(); err != nil {
		t.Fatalf("certutil -A: %v %s", err, out)
	}
	return dir
}

// PdfsigTrusted runs pdfsig with the NSS database db (from NSSTrustDB) and
// fails the test unless file has a signature and pdfsig calls every
// signature valid and its certificate trusted. Revocation is not asked
// (-no-ocsp): the test PKI's responder need not be running, and the
// verifier's own tests check revocation.
func PdfsigTrusted(t testing.TB, db, file string) {
	t.Helper()
	out, err := exec.Command(Require(t, "pdfsig"), "-no-ocsp", "-nssdir", "sql:"+db, file).CombinedOutput()
	n := bytes.Count(out, []byte("- Signature Validation: "))
	if err != nil || n == 0 || bytes.Count(out, []byte("- Signature Validation: Signature is Valid.")) != n ||
		bytes.Count(out, []byte("- Certificate Validation: Certificate is Trusted.")) != n {
		t.Fatalf("pdfsig does not call every signature of %s valid and trusted: %v\n%s", filepath.Base(file), err, strings.TrimSpace(string(out)))
	}
}
