package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// livePKI is a PKI whose AIA/CRL URLs point at real OCSP, CRL and TSA
// servers on loopback, shared by the tests of this binary.
type livePKI struct {
	pki  *testcerts.PKI
	base string
	svc  *pkiserve.Services
}

var live struct {
	once sync.Once
	p    *livePKI
	err  error
}

// startLivePKI generates a PKI whose URLs point at a loopback server and
// serves its OCSP, CRLs, CA certificates and TSA there until stop.
func startLivePKI() (l *livePKI, stop func(), err error) {
	ln, base, err := httpserve.Listen("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	pki, err := testcerts.Generate(testcerts.Options{BaseURL: base})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	svc, err := pkiserve.New(pki, pkiserve.Options{})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	srv := &http.Server{Handler: svc}
	go srv.Serve(ln)
	return &livePKI{pki: pki, base: base, svc: svc}, func() { srv.Close() }, nil
}

// newLivePKI is the live PKI shared by the tests of this binary (its
// server lives as long as the binary); tests that revoke use their own.
func newLivePKI(t *testing.T) *livePKI {
	t.Helper()
	live.once.Do(func() { live.p, _, live.err = startLivePKI() })
	if live.err != nil {
		t.Fatal(live.err)
	}
	return live.p
}

func (l *livePKI) options(level Level) *Options {
	hc := &http.Client{Timeout: 10 * time.Second}
	return &Options{
		Level:       level,
		Timestamper: TSA{Client: &tsa.Client{URL: l.base + testcerts.TSAPath, HTTPClient: hc, Roots: l.pki.RootPool()}},
		Revocation:  OnlineRevocation{HTTP: hc},
		ExtraCerts:  [][]byte{l.pki.Root.Cert.Raw},
	}
}

// TestLevels signs at B-T, B-LT and B-LTA against live TSA/OCSP/CRL
// servers and checks the result with pdfsig, qpdf and openssl ts -verify.
func TestLevels(t *testing.T) {
	l := newLivePKI(t)
	db := trustDB(t, l.pki)
	in := corpus(t, "pdf17-xrefstream-objstm.pdf")
	for _, lvl := range []Level{LevelBT, LevelBLT, LevelBLTA} {
		t.Run(lvl.String(), func(t *testing.T) {
			e := l.pki.MustGet("person-rsa2048")
			out, res, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), l.options(lvl))
			if err != nil {
				t.Fatal(err)
			}
			if res.TimestampTime.IsZero() || time.Since(res.TimestampTime) > time.Minute {
				t.Fatalf("timestamp time %v", res.TimestampTime)
			}
			file := writeTemp(t, out)
			qpdfCheck(t, file, "")
			sigs, certs := pdfsigResult(t, db, file)
			want := 1
			if lvl == LevelBLTA {
				want = 2 // the document timestamp is listed too
			}
			if len(sigs) != want {
				t.Fatalf("pdfsig lists %d signatures, want %d: %v", len(sigs), want, sigs)
			}
			if sigs[0] != "Signature is Valid." {
				t.Errorf("pdfsig signature: %s", sigs[0])
			}
			// pdfsig 22.12 does not verify ETSI.RFC3161 document timestamps
			// ("Signature has not yet been verified."): openssl ts -verify
			// checks ours over the document bytes instead.
			if lvl == LevelBLTA {
				checkDocTimestampWithOpenSSL(t, out, l.pki)
			}
			// pdfsig 22.12 validates the certificate of signatures only, not
			// of document timestamps (it prints no line for those).
			if len(certs) < 1 || certs[0] != "Certificate is Trusted." {
				t.Errorf("pdfsig certificate validation: %v", certs)
			}
			checkTimestampWithOpenSSL(t, out, res.ByteRange, l.pki)
			r, err := pdf.Open(bytes.NewReader(out), int64(len(out)), nil)
			if err != nil {
				t.Fatal(err)
			}
			cat, _ := r.Catalog()
			dss, _ := r.ResolveDict(cat.Get("DSS"))
			if (dss != nil) != (lvl >= LevelBLT) {
				t.Fatalf("DSS present=%v at %v", dss != nil, lvl)
			}
			if dss != nil {
				certsArr, _ := mustResolve(r, dss.Get("Certs")).(pdf.Array)
				ocsps, _ := mustResolve(r, dss.Get("OCSPs")).(pdf.Array)
				// signer, token CA, root, TSA, OCSP responder(s)
				if len(certsArr) < 4 || len(ocsps) < 2 {
					t.Errorf("DSS holds %d certificates and %d OCSP responses", len(certsArr), len(ocsps))
				}
			}
		})
	}
}

// checkTimestampWithOpenSSL has openssl ts -verify check the signature
// timestamp token against the signature value it must cover.
func checkTimestampWithOpenSSL(t *testing.T, file []byte, br [4]int64, pki *testcerts.PKI) {
	t.Helper()
	openssl := requireTool(t, "openssl")
	der := contentsOf(t, file, br)
	p, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	tokens := p.Signer.UnsignedValues(cms.OIDAttrTimeStampToken)
	if len(tokens) != 1 {
		t.Fatalf("%d timestamp tokens", len(tokens))
	}
	dir := t.TempDir()
	tok := filepath.Join(dir, "token.der")
	data := filepath.Join(dir, "sigvalue.bin")
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(tok, tokens[0], 0o644)
	os.WriteFile(data, p.Signer.Signature, 0o644)
	os.WriteFile(ca, testcerts.PEM(pki.Root.Cert), 0o644)
	untrusted := filepath.Join(dir, "chain.pem")
	os.WriteFile(untrusted, testcerts.PEM(pki.TokenCA.Cert), 0o644)
	out, err := exec.Command(openssl, "ts", "-verify", "-token_in", "-in", tok, "-data", data, "-CAfile", ca, "-untrusted", untrusted).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
		t.Errorf("openssl ts -verify: %v\n%s", err, out)
	}
	// The imprint is over the signature value, not anything else.
	sum := sha256.Sum256(p.Signer.Signature)
	info, err := cms.ParseTSTInfo(mustParse(t, tokens[0]).EContent)
	if err != nil || !bytes.Equal(info.HashedMessage, sum[:]) {
		t.Errorf("token imprint does not cover the signature value")
	}
}

func mustParse(t *testing.T, der []byte) *cms.Parsed {
	t.Helper()
	p, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// contentsOf decodes the /Contents hex string in the ByteRange gap and
// cuts the zero padding by the DER length (trimming '0' characters would
// eat a DER value that ends in a zero byte).
func contentsOf(t *testing.T, file []byte, br [4]int64) []byte {
	t.Helper()
	raw, err := hex.DecodeString(string(file[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatalf("contents not hex: %v", err)
	}
	in := cryptobyte.String(raw)
	var der cryptobyte.String
	if !in.ReadASN1Element(&der, cbasn1.SEQUENCE) {
		t.Fatal("contents hold no DER SEQUENCE")
	}
	return der
}

func TestRevokedSignerRefusedAtBLT(t *testing.T) {
	l := newLivePKI(t)
	e := l.pki.MustGet("revoked")
	in := corpus(t, "minimal-table-pdf17.pdf")
	_, _, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), l.options(LevelBLT))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("revoked")) {
		t.Fatalf("B-LT with a revoked certificate: %v", err)
	}
	_ = context.Background
}

// checkDocTimestampWithOpenSSL finds the document timestamp and has openssl
// ts -verify check its token against the bytes its ByteRange covers.
func checkDocTimestampWithOpenSSL(t *testing.T, file []byte, pki *testcerts.PKI, password ...byte) {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(file), int64(len(file)), &pdf.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := r.Catalog()
	af, err := readAcroForm(r, cat)
	if err != nil {
		t.Fatal(err)
	}
	var br [4]int64
	found := false
	for _, f := range af.Fields {
		sd, _ := r.ResolveDict(f.Value)
		if sd == nil {
			continue
		}
		if st, _ := sd.Name("SubFilter"); st != "ETSI.RFC3161" {
			continue
		}
		arr, _ := mustResolve(r, sd.Get("ByteRange")).(pdf.Array)
		for i := 0; i < 4 && i < len(arr); i++ {
			br[i], _ = pdf.Int(arr[i])
		}
		found = true
	}
	if !found {
		t.Fatal("no document timestamp field")
	}
	if br[2]+br[3] != int64(len(file)) {
		t.Errorf("document timestamp ByteRange %v does not end at the file end %d", br, len(file))
	}
	dir := t.TempDir()
	tok := filepath.Join(dir, "dts.der")
	data := filepath.Join(dir, "covered.bin")
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(tok, contentsOf(t, file, br), 0o644)
	os.WriteFile(data, append(append([]byte(nil), file[:br[1]]...), file[br[2]:br[2]+br[3]]...), 0o644)
	os.WriteFile(ca, testcerts.PEM(pki.Root.Cert), 0o644)
	untrusted := filepath.Join(dir, "chain.pem")
	os.WriteFile(untrusted, testcerts.PEM(pki.TokenCA.Cert), 0o644)
	out, err := exec.Command(requireTool(t, "openssl"), "ts", "-verify", "-token_in", "-in", tok, "-data", data, "-CAfile", ca, "-untrusted", untrusted).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
		t.Errorf("openssl ts -verify (document timestamp): %v\n%s", err, out)
	}
}
