package mpower

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/msign"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// TestGrantSignedThroughMSign: a grant's act goes to a real MSign on
// loopback as MPower's sign request; the grantor signs it on the
// simulator's phone, the representative accepts on theirs, and each signed
// PDF comes back, is verified and moves the power on. The representative's
// phone cannot sign the grantor's part.
func TestGrantSignedThroughMSign(t *testing.T) {
	pki, err := testcerts.Generate(testcerts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := mobileid.New(mobileid.Options{PKI: pki, TimeScale: 0.02, Phone: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	psvc, err := pkiserve.New(pki, pkiserve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkiSrv, simSrv := httptest.NewServer(psvc), httptest.NewServer(sim.Handler())
	t.Cleanup(pkiSrv.Close)
	t.Cleanup(simSrv.Close)
	idnpOf := func(msisdn string) string {
		c, _, _, err := sim.Certificates(msisdn)
		if err != nil {
			t.Fatal(err)
		}
		return c.Subject.SerialNumber
	}
	const alicePhone, bobPhone = "+37300000001", "+37300000002"
	alice, bob := idnpOf(alicePhone), idnpOf(bobPhone)

	// MSign, with MPower registered as a system by API key.
	mst, err := store.OpenSQLite(filepath.Join(t.TempDir(), "msign.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mst.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msignURL := "http://" + ln.Addr().String()
	mobile, err := mobileid.NewClient(simSrv.URL+"/rest/service", mobileid.ClientOptions{Face: mobileid.FaceETSI, Roots: pki.RootPool(),
		Intermediates: pki.IntermediatePool(), PollInterval: 10 * time.Millisecond, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := msign.New(msign.Config{Store: mst, Roots: pki.RootPool(), Mobile: mobile, PublicOrigin: msignURL,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: pkiSrv.URL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	mhost := service.NewHost(service.HostOptions{Ready: mst})
	mhost.Mount(ms)
	t.Cleanup(func() { mhost.Close() })
	hs := httptest.NewUnstartedServer(mhost)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	const key = "mpower-key-0123456789abcdef"
	const back = "http://127.0.0.1:9/mpower/back/"
	if err := msign.AddSystem(context.Background(), mst, "test", msign.NewSystem{Name: "mpower", APIKey: []byte(key), ReturnURLs: []string{back}}); err != nil {
		t.Fatal(err)
	}
	mc, err := msignclient.New(msignURL, msignclient.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}

	// MPower.
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "mpower.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := New(Config{Store: st, MSign: mc, Verify: pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg := svc.Registry()
	if err := reg.AddType(ctx, "t", testType("AT-0000001", true)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, err := reg.Grant(ctx, "alice", GrantRequest{TypeCode: "AT-0000001", AuthorizingID: alice, RepresentedID: bob, From: now, To: now.AddDate(0, 3, 0)})
	if err != nil {
		t.Fatal(err)
	}

	// The person's browser: open MSign's page, choose the phone.
	phoneSigns := func(id, phone string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		br := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		q := url.Values{msignclient.ParamReturnURL: {back}, msignclient.ParamRelayState: {p.Code}}
		resp, err := br.Get(msignURL + "/" + id + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfField.FindSubmatch(page)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("MSign page: %d %s", resp.StatusCode, page)
		}
		form := url.Values{"_csrf": {string(m[1])}, msignclient.ParamInstrument: {"mobile"}, msignclient.ParamMSISDN: {phone}}
		req, _ := http.NewRequest(http.MethodPost, msignURL+"/"+id+"/sign", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err = br.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign on MSign: %d", resp.StatusCode)
		}
	}
	finish := func(id string) (*Power, error) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got, err := svc.FinishSigning(ctx, id)
			if errors.Is(err, ErrNotSigned) && strings.Contains(err.Error(), "pending") {
				continue
			}
			return got, err
		}
		t.Fatal("the sign request stays pending")
		return nil, nil
	}

	// The representative's phone cannot sign the grantor's act: MSign
	// refuses (expected signer), and the power stays a draft.
	start, err := svc.StartSigning(ctx, "alice", p.Code, EvSign)
	if err != nil || start.Signer != alice || !strings.HasPrefix(start.RedirectURL, msignURL) {
		t.Fatalf("start: %+v %v", start, err)
	}
	phoneSigns(start.RequestID, bobPhone)
	if _, err := finish(start.RequestID); !errors.Is(err, ErrNotSigned) {
		t.Fatalf("signed by the wrong phone: %v", err)
	}
	if got, _ := reg.Power(ctx, p.Code); got.State != Draft {
		t.Fatalf("after a refused signature: %s", got.State)
	}

	start, err = svc.StartSigning(ctx, "alice", p.Code, EvSign)
	if err != nil {
		t.Fatal(err)
	}
	phoneSigns(start.RequestID, alicePhone)
	got, err := finish(start.RequestID)
	if err != nil || got.State != PendingAcceptance {
		t.Fatalf("signed by the grantor: %v %v", got, err)
	}
	start, err = svc.StartSigning(ctx, "bob", p.Code, EvAccept)
	if err != nil || start.Signer != bob {
		t.Fatalf("start accept: %+v %v", start, err)
	}
	phoneSigns(start.RequestID, bobPhone)
	if got, err = finish(start.RequestID); err != nil || got.State != Valid {
		t.Fatalf("accepted by the representative: %v %v", got, err)
	}
	act, err := reg.LastAct(ctx, p.Code)
	if err != nil || act.Signer != bob {
		t.Fatalf("last act: %v", err)
	}
	rep, err := pades.Verify(ctx, strings.NewReader(string(act.PDF)), int64(len(act.PDF)), &pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil || len(rep.Signatures) != 2 || rep.Signatures[0].Signer.IDNP != alice || rep.Signatures[1].Signer.IDNP != bob {
		t.Fatalf("the kept act: %v %+v", err, rep)
	}
}
