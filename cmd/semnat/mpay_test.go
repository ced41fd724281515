package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// TestMPayServicesCLI: service providers are registered, listed (never
// their webhook secret) and removed in the store the server uses.
func TestMPayServicesCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	_, cert, err := demosp.NewKey("MDS02")
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "sp.pem")
	os.WriteFile(certFile, testcerts.PEM(cert), 0o644)
	secretFile := filepath.Join(dir, "hook.key")
	if code, out, stderr := revRun(t, "mpay", "services", "add", "MDS02", "--data", data, "--name", "Agenția Servicii Publice",
		"--endpoint", "https://sp.example/mpay", "--cert", certFile, "--webhook-secret-file", secretFile, "--staff", mobileid.GeneratedUser(0).IDNP); code != 0 || !strings.Contains(out, "registered MDS02") {
		t.Fatalf("services add: %d %s %s", code, out, stderr)
	}
	secret, err := os.ReadFile(secretFile)
	if err != nil || len(strings.TrimSpace(string(secret))) < 16 {
		t.Fatalf("webhook secret file: %v %q", err, secret)
	}
	code, out, _ := revRun(t, "--json", "mpay", "services", "list", "--data", data)
	if code != 0 || !strings.Contains(out, `"serviceID": "MDS02"`) || !strings.Contains(out, `"webhookSecret": true`) || !strings.Contains(out, `"face": "rest"`) {
		t.Fatalf("services list --json: %d %s", code, out)
	}
	if strings.Contains(out, strings.TrimSpace(string(secret))) {
		t.Fatal("the webhook secret is printed")
	}
	for _, bad := range [][]string{
		{"add", "MDS02", "--endpoint", "https://sp.example/mpay", "--cert", certFile},                 // taken
		{"add", "MDS03", "--endpoint", "ftp://sp.example/", "--cert", certFile},                       // endpoint
		{"add", "MDS04", "--endpoint", "https://sp.example/", "--cert", certFile, "--face", "soap"},   // SOAP needs an RSA certificate
		{"add", "MDS05", "--endpoint", "https://sp.example/"},                                         // no certificate
		{"add", "a/b", "--endpoint", "https://sp.example/", "--cert", certFile},                       // ServiceID
		{"add", "MDS06", "--endpoint", "https://sp.example/", "--cert", certFile, "--staff", "12345"}, // staff not an IDNP
		{"remove", "NOBODY"},
	} {
		if code, _, stderr := revRun(t, append(append([]string{"mpay", "services"}, bad...), "--data", data)...); code != exitUsage {
			t.Errorf("%v: %d %s", bad, code, stderr)
		}
	}
	staff := mobileid.GeneratedUser(1).IDNP
	if code, out, stderr := revRun(t, "mpay", "services", "staff", "MDS02", staff, "--data", data); code != 0 || !strings.Contains(out, "1 staff") {
		t.Fatalf("services staff: %d %s %s", code, out, stderr)
	}
	if sp := mpayService(t, data, "MDS02"); len(sp.Staff) != 1 || sp.Staff[0] != staff || sp.WebhookSecret == "" {
		t.Fatalf("after services staff: %v (webhook secret kept: %v)", sp.Staff, sp.WebhookSecret != "")
	}
	for _, bad := range [][]string{{"MDS02", "123"}, {"NOBODY", staff}} {
		if code, _, stderr := revRun(t, append(append([]string{"mpay", "services", "staff"}, bad...), "--data", data)...); code != exitUsage {
			t.Errorf("staff %v: %d %s", bad, code, stderr)
		}
	}
	if code, out, stderr := revRun(t, "--json", "mpay", "payments", "MDS02", "--data", data); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("payments: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := revRun(t, "mpay", "services", "remove", "MDS02", "--data", data); code != 0 {
		t.Fatalf("remove: %d %s", code, stderr)
	}
	if code, out, _ := revRun(t, "--json", "mpay", "services", "list", "--data", data); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("after remove: %s", out)
	}
	if code, _, stderr := revRun(t, "mpay", "serve", "--data", data); code != exitUsage || !strings.Contains(stderr, "needs its key") {
		t.Fatalf("serve without a key: %d %s", code, stderr)
	}
	if code, _, stderr := revRun(t, "mpay", "serve", "--data", data, "--p12", "x.p12", "--mpass-metadata", "md.xml"); code != exitUsage || !strings.Contains(stderr, "--saml-key") {
		t.Fatalf("serve with MPass but no SAML key: %d %s", code, stderr)
	}
}

// demoPay pays the demo SPs' state fees (the REST one's and the SOAP
// one's) through the demo's MPay with the approve card; each SP's page
// shows it paid once MPay's confirmation is acknowledged.
func demoPay(t *testing.T, base string) {
	t.Helper()
	demoPayAt(t, base, demoSPID, demoSPPath, "DEMO-TAXA-1", "150.00")
	demoPayAt(t, base, demoSOAPSPID, demoSOAPSPPath, "DEMO-SOAP-1", "100.00")
}

func demoPayAt(t *testing.T, base, spID, spPath, orderKey, sum string) {
	t.Helper()
	nr := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	resp, err := nr.PostForm(base+mpay.PathPay, url.Values{"ServiceID": {spID}, "OrderKey": {orderKey}, "ReturnUrl": {base + spPath + "/"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo MPay: POST %s: %v %v", mpay.PathPay, err, resp)
	}
	resp.Body.Close()
	inv, _ := url.Parse(resp.Header.Get("Location"))
	resp, err = nr.PostForm(base+inv.Path+"/card", url.Values{"amount": {sum}, "number": {cardsim.CardApprove}, "expiry": {"12/35"}, "cvc": {"123"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo MPay: paying: %v %v", err, resp)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + spPath + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `id="paid-`+orderKey+`">`+sum+` MDL`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo SP never saw the payment:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mpayService reads a registered service provider from the store in data.
func mpayService(t *testing.T, data, id string) *mpay.SP {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(data, "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp, err := mpay.LookupService(context.Background(), st, id)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
