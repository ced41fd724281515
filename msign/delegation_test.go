package msign

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// TestDelegatorCheckedWithMPower: a request on behalf of another party
// (ExpectedSigner.DelegatorType Person) is signed only when a real MPower
// (its own store, on loopback, reached through mpower/client) says the
// signer holds a valid power from that party: of the type DelegatedRoleID
// names, or of any type with 0. A signer without one, or after the power
// is revoked, gets Failure with its message and no signature; a
// mis-typed DelegatorID is an InvalidParameter.
func TestDelegatorCheckedWithMPower(t *testing.T) {
	ctx := context.Background()
	pki, sim := signFixtures(t)
	var signer string // the holder of +37300000001, which approves at once
	for _, u := range sim.Users() {
		if u.MSISDN == "+37300000001" {
			signer = u.IDNP
		}
	}
	grantor := pki.ByRole(testcerts.RolePerson)[0]
	if signer == "" || grantor.IDNP == "" {
		t.Fatal("no phone user +37300000001 or no grantor IDNP in the test PKI")
	}

	// MPower, with one valid power of AT-0000002 from grantor to signer.
	mst, err := store.OpenSQLite(filepath.Join(t.TempDir(), "mpower.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mst.Close() })
	msvc, err := mpower.New(mpower.Config{Store: mst, Verify: pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip}})
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: mst})
	host.Mount(msvc)
	mp := httptest.NewServer(host)
	t.Cleanup(mp.Close)
	reg := msvc.Registry()
	if err := reg.AddType(ctx, "test", mpower.AuthType{Code: "AT-0000002", Names: map[string]string{"ro": "Semnarea contractelor"},
		LegalText: map[string]string{"ro": "Subsemnatul {{.AuthorizingIdn}} împuternicesc pe {{.RepresentedIdn}} să semneze, de la {{.From}} până la {{.To}}."},
		MaxDays:   365, ProviderIDNO: "1003600011118", ProviderName: "ASP", System: "asp"}); err != nil {
		t.Fatal(err)
	}
	now := reg.Now()
	p, err := reg.Grant(ctx, "test", mpower.GrantRequest{TypeCode: "AT-0000002", AuthorizingID: grantor.IDNP, RepresentedID: signer, From: now, To: now.AddDate(0, 6, 0)})
	if err != nil {
		t.Fatal(err)
	}
	act, err := reg.Document(ctx, p.Code)
	if err != nil {
		t.Fatal(err)
	}
	var signedAct bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(act), int64(len(act)), &signedAct, pades.NewKeySigner(grantor.Key, grantor.Cert, grantor.Chain), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Transition(ctx, "test", p.Code, mpower.EvSign, signedAct.Bytes()); err != nil {
		t.Fatal(err)
	}
	const key = "msign-at-mpower-0123456789"
	if err := mpower.AddSystem(ctx, mst, "test", mpower.NewSystem{Name: "msign", APIKey: []byte(key), ViewAll: true}); err != nil {
		t.Fatal(err)
	}
	powers, err := mpowerclient.New(mp.URL, mpowerclient.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}

	e := newMSignTLS(t, func(c *Config) { c.Powers = powers })
	app := newRelyingApp(t, e.url, e.cert)
	e.register(t, app)
	doc := samplepdf.Document("Contract", nil, 0)
	sign := func(es client.ExpectedSigner) *client.SignResponse {
		t.Helper()
		id, err := app.msign.PostSignRequest(ctx, client.SignRequest{ShortContentDescription: "Contract", ContentType: client.ContentPdf,
			Contents: []client.SignContent{{CorrelationID: "c1", Name: "contract.pdf", Content: doc}}, ExpectedSigner: &es})
		if err != nil {
			t.Fatal(err)
		}
		pp := newPerson(e)
		csrf := pp.open(t, id, url.Values{client.ParamReturnURL: {app.url + "/back/d"}})
		if resp, _ := pp.sign(t, id, csrf, "+37300000001"); resp.StatusCode != 303 {
			t.Fatalf("sign: %d", resp.StatusCode)
		}
		return waitDone(t, app, id)
	}
	for name, tc := range map[string]struct {
		es   client.ExpectedSigner
		want client.Status
	}{
		"the type's power":  {client.ExpectedSigner{ID: signer, DelegatorType: client.DelegatorPerson, DelegatorID: grantor.IDNP, DelegatedRoleID: 2}, client.StatusSuccess},
		"any power":         {client.ExpectedSigner{DelegatorType: client.DelegatorPerson, DelegatorID: grantor.IDNP}, client.StatusSuccess},
		"another type":      {client.ExpectedSigner{DelegatorType: client.DelegatorPerson, DelegatorID: grantor.IDNP, DelegatedRoleID: 3}, client.StatusFailure},
		"another delegator": {client.ExpectedSigner{DelegatorType: client.DelegatorPerson, DelegatorID: mustPerson(t, pki, grantor.IDNP, signer)}, client.StatusFailure},
	} {
		res := sign(tc.es)
		if res.Status != tc.want {
			t.Errorf("%s: %s %q, want %s", name, res.Status, res.Message, tc.want)
			continue
		}
		if tc.want == client.StatusFailure && (res.Message != testWords(t, "en", "result."+outcomeNotDelegated) || len(res.Results) != 0) {
			t.Errorf("%s: %q with %d results", name, res.Message, len(res.Results))
		}
		if tc.want == client.StatusSuccess && len(res.Results) != 1 {
			t.Errorf("%s: %d results", name, len(res.Results))
		}
	}
	// Suspended by the registry: refused at once.
	if _, err := reg.Transition(ctx, "test", p.Code, mpower.EvSuspend, nil); err != nil {
		t.Fatal(err)
	}
	if res := sign(client.ExpectedSigner{DelegatorType: client.DelegatorPerson, DelegatorID: grantor.IDNP, DelegatedRoleID: 2}); res.Status != client.StatusFailure {
		t.Errorf("after suspension: %s %q", res.Status, res.Message)
	}
	// An IDNP where an organisation's IDNO is due.
	_, err = app.msign.PostSignRequest(ctx, client.SignRequest{ShortContentDescription: "Contract", ContentType: client.ContentPdf,
		Contents:       []client.SignContent{{CorrelationID: "c1", Content: doc}},
		ExpectedSigner: &client.ExpectedSigner{DelegatorType: client.DelegatorOrganization, DelegatorID: grantor.IDNP}})
	wantType(t, "organisation with an IDNP", err, client.ErrInvalidParameter)
}

// mustPerson is the IDNP of a person in pki other than those given.
func mustPerson(t *testing.T, pki *testcerts.PKI, not ...string) string {
	t.Helper()
next:
	for _, e := range pki.ByRole(testcerts.RolePerson) {
		for _, n := range not {
			if e.IDNP == n || e.IDNP == "" {
				continue next
			}
		}
		return e.IDNP
	}
	t.Fatal("no other person in the test PKI")
	return ""
}
