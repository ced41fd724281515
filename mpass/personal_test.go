package mpass

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/semnat/semnat/mobileid"
)

// samlLoginAttrs logs browser c in to rp with user's phone and returns the
// attributes of the Assertion rp accepted (name → values).
func (e *env) samlLoginAttrs(c *http.Client, rp *relyingParty, user mobileid.User) map[string][]string {
	e.t.Helper()
	tx, _ := e.startLogin(c, rp)
	resp, _, code := e.phoneLogin(c, tx, user.MSISDN)
	if code == "" {
		e.t.Fatal("no verification code")
	}
	if user.Behaviour == mobileid.Manual {
		approve(e.t, user.MSISDN, code)
	}
	_, b := e.waitDone(c, resp.Request.URL.String())
	action, fields := form(e.t, b)
	r, raw := samlResponse(e.t, fields)
	acs, _ := url.Parse(action)
	as, err := rp.mw.ServiceProvider.ParseXMLResponse(raw, []string{r.InResponseTo}, *acs)
	if err != nil {
		e.t.Fatalf("the relying service refuses our Response: %v", err)
	}
	out := map[string][]string{}
	for _, st := range as.AttributeStatements {
		for _, a := range st.Attributes {
			for _, v := range a.Values {
				out[a.Name] = append(out[a.Name], v.Value)
			}
		}
	}
	return out
}

// TestPersonalData: BirthDate, Gender and IsResident come from the
// certificate's subjectDirectoryAttributes (RFC 3739): the simulator's SIM
// certificates carry them for generated users, and MPass releases them as
// the MPass attributes, the eIDAS DateOfBirth and the OIDC birthdate and
// gender claims. A certificate without them (a scripted user's) gives
// none: nothing is invented.
func TestPersonalData(t *testing.T) {
	e := newEnv(t, withOIDCKey(t))
	user := mobileid.GeneratedUser(5)
	if user.BirthDate == "" || user.Gender == "" || user.Residence != "MD" {
		t.Fatalf("the generated user has no personal data: %+v", user)
	}
	got := e.samlLoginAttrs(newBrowserClient(t), e.newRPWith("shop.test", &SPOptions{}, nil), user)
	if v := got["BirthDate"]; len(v) != 1 || v[0] != user.BirthDate {
		t.Errorf("BirthDate %v, want %s", v, user.BirthDate)
	}
	if v := got["Gender"]; len(v) != 1 || v[0] != user.Gender {
		t.Errorf("Gender %v, want %s", v, user.Gender)
	}
	if v := got["IsResident"]; len(v) != 1 || v[0] != "true" {
		t.Errorf("IsResident %v", v)
	}

	// eIDAS: DateOfBirth under its URI.
	got = e.samlLoginAttrs(newBrowserClient(t), e.newRPWith("eidas.test", &SPOptions{EIDAS: true}, nil), user)
	if v := got[EIDASDateOfBirth]; len(v) != 1 || v[0] != user.BirthDate {
		t.Errorf("eIDAS DateOfBirth %v (attributes %v)", v, got)
	}

	// A certificate without the data: none of the three.
	plain := mobileid.ScriptedUsers()[2] // +37300000003, answers OK by itself
	if plain.BirthDate != "" || plain.Behaviour != mobileid.AnswerOKSlow {
		t.Fatalf("scripted user %+v", plain)
	}
	got = e.samlLoginAttrs(newBrowserClient(t), e.newRPWith("plain.test", &SPOptions{}, nil), plain)
	for _, name := range []string{"BirthDate", "Gender", "IsResident"} {
		if v, ok := got[name]; ok {
			t.Errorf("%s %v from a certificate without it", name, v)
		}
	}
	if got["NameIdentifier"][0] != plain.IDNP {
		t.Errorf("attributes %v", got)
	}

	// OIDC: the birthdate and gender claims in the ID token.
	ctx := context.Background()
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop"})
	c := newBrowserClient(t)
	_, page, state, _, verifier := rp.authorize(c)
	code := rp.codeOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(6)), state)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		Birthdate string `json:"birthdate"`
		Gender    string `json:"gender"`
	}
	u6 := mobileid.GeneratedUser(6)
	if err := idt.Claims(&cl); err != nil || cl.Birthdate != u6.BirthDate || cl.Gender != map[string]string{"M": "male", "F": "female"}[u6.Gender] {
		t.Errorf("ID token birthdate/gender: %+v %v (want %s %s)", cl, err, u6.BirthDate, u6.Gender)
	}
}
