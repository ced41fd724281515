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
	"github.com/semnat/semnat/mpower/client"
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
	if err := AddSystem(ctx, st, "t", NewSystem{Name: "asp", APIKey: []byte(aspKey)}); err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: st})
	host.Mount(svc)
	mp := httptest.NewServer(host)
	t.Cleanup(mp.Close)
	portal, err := client.New(mp.URL, client.Options{APIKey: aspKey})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	grant := client.GrantRequest{AuthorizationTypeCode: "AT-0000001", AuthorizingIdn: alice, AuthorizedIdn: bob, FromDate: now, ToDate: now.AddDate(0, 3, 0)}

	// The person's browser: open MSign's page, choose the phone.
	phoneSigns := func(id, code, phone string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		br := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		q := url.Values{msignclient.ParamReturnURL: {back}, msignclient.ParamRelayState: {code}}
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
	complete := func(id string) (*client.AuthorizationDetails, error) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			d, err := portal.CompleteAct(ctx, id)
			if errors.Is(err, client.ErrNotSigned) && strings.Contains(err.Error(), "pending") {
				continue
			}
			return d, err
		}
		t.Fatal("the sign request stays pending")
		return nil, nil
	}

	// The representative's phone cannot sign the grantor's act: MSign
	// refuses (expected signer), and the power stays a draft.
	start, err := portal.Grant(ctx, grant)
	if err != nil || start.SignerIdn != alice || !strings.HasPrefix(start.RedirectURL, msignURL) {
		t.Fatalf("grant: %+v %v", start, err)
	}
	code := start.AuthorizationCode
	phoneSigns(start.RequestID, code, bobPhone)
	if _, err := complete(start.RequestID); !errors.Is(err, client.ErrNotSigned) {
		t.Fatalf("signed by the wrong phone: %v", err)
	}
	if got, _ := reg.Power(ctx, code); got.State != Draft {
		t.Fatalf("after a refused signature: %s", got.State)
	}
	// Signed by the grantor through the service itself (the same flow).
	st2, err := svc.StartSigning(ctx, "alice", code, EvSign)
	if err != nil {
		t.Fatal(err)
	}
	phoneSigns(st2.RequestID, code, alicePhone)
	d, err := complete(st2.RequestID)
	if err != nil || d.Status != client.StatusPendingAcceptance {
		t.Fatalf("signed by the grantor: %+v %v", d, err)
	}
	if _, err := portal.StartAct(ctx, code, "approve"); !errors.Is(err, client.ErrInvalidParameter) {
		t.Fatalf("unknown act: %v", err)
	}
	start, err = portal.StartAct(ctx, code, client.ActAccept)
	if err != nil || start.SignerIdn != bob {
		t.Fatalf("start accept: %+v %v", start, err)
	}
	phoneSigns(start.RequestID, code, bobPhone)
	if d, err = complete(start.RequestID); err != nil || d.Status != client.StatusValid || !d.IsValid {
		t.Fatalf("accepted by the representative: %+v %v", d, err)
	}
	if ok, err := portal.IsValid(ctx, code); err != nil || !ok {
		t.Fatalf("check after acceptance: %v %v", ok, err)
	}
	if _, err := portal.CompleteAct(ctx, start.RequestID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("completing twice: %v", err)
	}
	act, err := reg.LastAct(ctx, code)
	if err != nil || act.Signer != bob {
		t.Fatalf("last act: %v", err)
	}
	rep, err := pades.Verify(ctx, strings.NewReader(string(act.PDF)), int64(len(act.PDF)), &pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil || len(rep.Signatures) != 2 || rep.Signatures[0].Signer.IDNP != alice || rep.Signatures[1].Signer.IDNP != bob {
		t.Fatalf("the kept act: %v %+v", err, rep)
	}
	// Revoked on the grantor's phone: false at once.
	start, err = portal.StartAct(ctx, code, client.ActRevoke)
	if err != nil || start.SignerIdn != alice {
		t.Fatalf("start revoke: %+v %v", start, err)
	}
	phoneSigns(start.RequestID, code, alicePhone)
	if d, err = complete(start.RequestID); err != nil || d.Status != client.StatusCanceled || d.StatusReason != ReasonRevoked {
		t.Fatalf("revoked: %+v %v", d, err)
	}
	if ok, err := portal.IsValid(ctx, code); err != nil || ok {
		t.Fatalf("check after revocation: %v %v", ok, err)
	}
}
