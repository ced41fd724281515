package msign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// zeepPython is a python3 that has zeep (Debian's python3-zeep).
func zeepPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import zeep").Run() == nil {
			return py
		}
	}
	if testtool.InCI() {
		t.Fatal("no python3 with zeep: install python3-zeep")
	}
	t.Skip("no python3 with zeep (apt-get install python3-zeep)")
	return ""
}

// TestSOAPWithZeep: an independent SOAP client built by zeep from our WSDL
// posts a PDF request, reads its state, gets each fault with its detail
// element, and, once the person signed on the phone, the signed PDF.
func TestSOAPWithZeep(t *testing.T) {
	py := zeepPython(t)
	pki, _ := signFixtures(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const key, otherKey = "zeep-system-key-0123456789", "other-system-key-0123456789"
	ctx := context.Background()
	for name, k := range map[string]string{"zeep": key, "other": otherKey} {
		if err := AddSystem(ctx, st, "test", NewSystem{Name: name, APIKey: []byte(k), ReturnURLs: []string{"http://127.0.0.1:1/back/"}}); err != nil {
			t.Fatal(err)
		}
	}
	mc := newMobileClient(t, pki)
	seal := pki.MustGet("seal")
	_, host := serve(t, Config{Store: st, Roots: pki.RootPool(), Mobile: mc, MaxUpload: 4 << 20, Seal: pades.NewKeySigner(seal.Key, seal.Cert, seal.Chain),
		Timestamper: pades.TSA{Client: &tsa.Client{URL: signShared.pkiURL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}})
	hs := httptest.NewServer(host)
	t.Cleanup(hs.Close)
	wsdl := hs.URL + "/MSign.svc?wsdl"
	pdf := filepath.Join(t.TempDir(), "cerere.pdf")
	os.WriteFile(pdf, samplepdf.Document("Cerere SOAP", nil, 0), 0o644)
	run := func(args ...string) map[string]json.RawMessage {
		t.Helper()
		cmd := exec.Command(py, append([]string{filepath.Join("testdata", "zeep_client.py"), wsdl, key, otherKey}, args...)...)
		out, err := cmd.Output()
		var m map[string]json.RawMessage
		if err != nil || json.Unmarshal(out, &m) != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("zeep %v: %v\n%s\n%s", args, err, out, stderr)
		}
		return m
	}
	got := run("post", pdf)
	var id, status string
	json.Unmarshal(got["id"], &id)
	json.Unmarshal(got["status"], &status)
	if !isID(id) || status != "Pending" {
		t.Fatalf("PostSignRequest/GetSignResponse: %s", got)
	}
	for field, want := range map[string]string{"notFound": "RequestNotFound", "invalid": "InvalidParameter", "authn": "AuthenticationFailed", "authz": "AuthorizationFailed"} {
		var f struct{ Name, Message string }
		if err := json.Unmarshal(got[field], &f); err != nil || f.Name != "{https://msign.gov.md}"+want || f.Message == "" {
			t.Errorf("%s: %s, want the fault %s", field, got[field], want)
		}
	}
	var inv struct{ Message string }
	json.Unmarshal(got["invalid"], &inv)
	if !strings.Contains(inv.Message, "ShortContentDescription") || !strings.Contains(inv.Message, "not a PDF") {
		t.Errorf("InvalidParameter names the fields: %q", inv.Message)
	}

	// The person signs (scripted phone); the SOAP client gets the PDF.
	jar, _ := cookiejar.New(nil)
	p := &person{base: hs.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	csrf := p.open(t, id, url.Values{client.ParamReturnURL: {"http://127.0.0.1:1/back/soap"}})
	p.sign(t, id, csrf, "+37300000001")
	rest, _ := client.New(hs.URL, client.Options{APIKey: key})
	var res *client.SignResponse
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err = rest.GetSignResponse(ctx, id, "ro"); err != nil || res.Status != client.StatusPending {
			break
		}
	}
	if err != nil || res.Status != client.StatusSuccess {
		t.Fatalf("signing: %+v %v", res, err)
	}
	got = run("get", id)
	var results []struct {
		CorrelationID   string `json:"correlationID"`
		SignatureSha256 string `json:"signatureSha256"`
		Certificate     string `json:"certificate"`
	}
	json.Unmarshal(got["status"], &status)
	json.Unmarshal(got["results"], &results)
	sum := sha256.Sum256(res.Results[0].Signature)
	if status != "Success" || len(results) != 1 || results[0].CorrelationID != "c1" || results[0].SignatureSha256 != hex.EncodeToString(sum[:]) ||
		results[0].Certificate != base64.StdEncoding.EncodeToString(res.Results[0].Certificate) {
		t.Fatalf("zeep GetSignResponse after signing: %s", got)
	}
	checkSigned(t, pki, res.Results[0].Signature, "SERIALNUMBER=", "B-T")
	var verify []struct {
		CorrelationID string `json:"correlationID"`
		Valid         bool   `json:"valid"`
		Message       string `json:"message"`
		ReportPdf     []byte `json:"reportPdf"`
		Signers       []struct {
			Valid    bool   `json:"valid"`
			Subject  string `json:"subject"`
			SignedAt bool   `json:"signedAt"`
		} `json:"signers"`
	}
	if err := json.Unmarshal(got["verify"], &verify); err != nil || len(verify) != 2 || !verify[0].Valid || len(verify[0].Signers) != 1 ||
		!verify[0].Signers[0].SignedAt || !strings.Contains(verify[0].Signers[0].Subject, "SERIALNUMBER=") || verify[1].Valid {
		t.Fatalf("zeep VerifySignatures: %s", got["verify"])
	}
	// ReportPdf: the report as a PDF sealed by the service.
	rp := verify[0].ReportPdf
	rep, err := pades.Verify(ctx, bytes.NewReader(rp), int64(len(rp)), &pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Signer.Subject != seal.Cert.Subject.String() || rep.Signatures[0].Checks.Integrity != pades.CheckPassed {
		t.Fatalf("zeep VerifySignatures ReportPdf: %v %+v", err, rep)
	}
}
