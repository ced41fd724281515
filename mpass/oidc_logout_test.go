package mpass

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/store"
)

// withFastJobs makes the job queue poll often and retry soon.
func withFastJobs(c *Config) {
	c.JobPoll = 20 * time.Millisecond
	c.JobBackoff = func(int) time.Duration { return 100 * time.Millisecond }
}

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutReceiver is a relying party's back-channel logout endpoint on a
// loopback server: it checks each logout token with coreos/go-oidc
// against MPass's discovery and JWKS (signature, iss, aud, exp), then the
// claims the specification asks for; it answers 500 to the first
// failFirst tokens, then 200.
type logoutReceiver struct {
	t         testing.TB
	url       string
	failFirst int

	mu       sync.Mutex
	attempts int
	accepted []logoutClaims
	refused  []string
	got      chan logoutClaims
}

type logoutClaims struct {
	Sub    string         `json:"sub"`
	Sid    string         `json:"sid"`
	Jti    string         `json:"jti"`
	Iat    int64          `json:"iat"`
	Nonce  *string        `json:"nonce"`
	Events map[string]any `json:"events"`
}

func (e *env) newLogoutReceiver(failFirst int) *logoutReceiver {
	lr := &logoutReceiver{t: e.t, failFirst: failFirst, got: make(chan logoutClaims, 8)}
	hs := httptest.NewServer(http.HandlerFunc(lr.serve))
	e.t.Cleanup(hs.Close)
	lr.url = hs.URL + "/backchannel"
	return lr
}

// verify checks a logout token as a relying party of client id does.
func verifyLogoutToken(ctx context.Context, issuer, clientID, raw string) (logoutClaims, error) {
	var lc logoutClaims
	p, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		return lc, err
	}
	tok, err := p.Verifier(&gooidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256", "RS256"}}).Verify(ctx, raw)
	if err != nil {
		return lc, err
	}
	if err := tok.Claims(&lc); err != nil {
		return lc, err
	}
	switch {
	case lc.Events[backchannelEvent] == nil || len(lc.Events) != 1:
		return lc, fmt.Errorf("events: %v", lc.Events)
	case lc.Nonce != nil:
		return lc, fmt.Errorf("a logout token has no nonce")
	case lc.Sub == "" && lc.Sid == "", lc.Jti == "", lc.Iat == 0:
		return lc, fmt.Errorf("claims missing: %+v", lc)
	}
	return lc, nil
}

func (lr *logoutReceiver) serve(w http.ResponseWriter, r *http.Request) {
	lr.mu.Lock()
	lr.attempts++
	n := lr.attempts
	lr.mu.Unlock()
	if n <= lr.failFirst {
		http.Error(w, "busy", http.StatusInternalServerError)
		return
	}
	// The client id is the receiver's first path element after the issuer
	// is known: the test registers one receiver per client.
	lc, err := verifyLogoutToken(r.Context(), r.URL.Query().Get("iss"), r.URL.Query().Get("client"), r.PostFormValue("logout_token"))
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if err != nil {
		lr.refused = append(lr.refused, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	lr.accepted = append(lr.accepted, lc)
	lr.got <- lc
}

// uri is the back-channel logout URI to register for client id.
func (lr *logoutReceiver) uri(e *env, id string) string {
	return lr.url + "?iss=" + e.url + PathOIDC + "&client=" + id
}

func (lr *logoutReceiver) wait() logoutClaims {
	lr.t.Helper()
	select {
	case lc := <-lr.got:
		return lc
	case <-time.After(30 * time.Second):
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.t.Fatalf("no logout token accepted after %d attempts (refused: %v)", lr.attempts, lr.refused)
		return logoutClaims{}
	}
}

// sidOf logs the client in (its code exchanged, the ID token checked by
// go-oidc) and returns the ID token's sid.
func (rp *oidcRP) sidOf(resp *http.Response, state, verifier string) string {
	rp.e.t.Helper()
	ctx := context.Background()
	tok, err := rp.oauth.Exchange(ctx, rp.codeOf(resp, state), oauth2.VerifierOption(verifier))
	if err != nil {
		rp.e.t.Fatalf("token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		rp.e.t.Fatal(err)
	}
	var cl struct {
		Sid string `json:"sid"`
	}
	if err := idt.Claims(&cl); err != nil || cl.Sid == "" {
		rp.e.t.Fatalf("ID token without sid: %v", err)
	}
	return cl.Sid
}

// auditOf lists the audit entries of an action as "subject attempt=N ...".
func auditOf(t *testing.T, st *store.Store, action string) []string {
	t.Helper()
	var out []string
	err := st.WalkAudit(context.Background(), func(en *store.Entry) error {
		if en.Action == action {
			d := en.Details
			out = append(out, fmt.Sprintf("%s attempt=%s final=%s", en.Subject, d["attempt"], d["final"]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOIDCBackchannelLogout: the session page names the clients by their
// registered names. When the person logs out on MPass's session
// page, each OpenID Connect client of the session that registered a
// back-channel logout URI gets a logout token that coreos/go-oidc accepts
// against MPass's JWKS (signature, iss, aud, exp), with the events claim,
// the person's sub, the session's sid (the ID token's) and no nonce. A
// client that answers 500 twice gets it from the durable job queue until
// it answers 200, and then never again; every attempt is audited.
func TestOIDCBackchannelLogout(t *testing.T) {
	e := newEnv(t, func(c *Config) { withOIDCKey(t)(c); withFastJobs(c) })
	good, flaky := e.newLogoutReceiver(0), e.newLogoutReceiver(2)
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop", Name: "Magazinul „Test”", BackchannelLogoutURI: good.uri(e, "shop"), BackchannelLogoutSessionRequired: true})
	rp2 := e.newOIDCRP(OIDCClientSpec{ID: "library", BackchannelLogoutURI: flaky.uri(e, "library")})
	var disc struct {
		Supported        bool     `json:"backchannel_logout_supported"`
		SessionSupported bool     `json:"backchannel_logout_session_supported"`
		Claims           []string `json:"claims_supported"`
	}
	if err := rp.provider.Claims(&disc); err != nil || !disc.Supported || !disc.SessionSupported || !strings.Contains(strings.Join(disc.Claims, " "), "sid") {
		t.Fatalf("discovery: %+v %v", disc, err)
	}
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(0)
	_, page, state, _, verifier := rp.authorize(c)
	sid := rp.sidOf(e.phoneLoginOIDC(c, page, user), state, verifier)
	resp, _, state, _, verifier := rp2.authorize(c)
	if sid2 := rp2.sidOf(resp, state, verifier); sid2 != sid {
		t.Fatalf("one session, two sids: %s %s", sid, sid2)
	}

	// The session page names the clients by their registered names.
	_, b := e.get(c, e.url+pathSession)
	if page := string(b); !strings.Contains(page, "<li>Magazinul „Test”</li>") || !strings.Contains(page, "<li>library</li>") ||
		strings.Contains(page, oidcSPPrefix) {
		t.Fatalf("session page:\n%s", page)
	}

	e.post(c, e.url+pathLogoutAll, nil)
	for _, lr := range []*logoutReceiver{good, flaky} {
		if lc := lr.wait(); lc.Sub != "MD"+user.IDNP || lc.Sid != sid {
			t.Fatalf("logout token: %+v (sid %s)", lc, sid)
		}
	}
	time.Sleep(500 * time.Millisecond) // time for a wrong extra delivery
	good.mu.Lock()
	flaky.mu.Lock()
	if good.attempts != 1 || len(good.accepted) != 1 || flaky.attempts != 3 || len(flaky.accepted) != 1 || len(flaky.refused) != 0 {
		t.Fatalf("deliveries: good %d/%d, flaky %d/%d %v", good.attempts, len(good.accepted), flaky.attempts, len(flaky.accepted), flaky.refused)
	}
	flaky.mu.Unlock()
	good.mu.Unlock()
	want := []string{"oidc:library attempt=1 final=", "oidc:library attempt=2 final="}
	if got := auditOf(t, e.store, "mpass.logout-undelivered"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("undelivered: %v", got)
	}
	for i := 0; ; i++ {
		got := strings.Join(auditOf(t, e.store, "mpass.logout-delivered"), "|")
		if strings.Contains(got, "oidc:shop attempt=1") && strings.Contains(got, "oidc:library attempt=3") {
			break
		}
		if i > 100 {
			t.Fatalf("delivered: %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The session is over: a second logout sends nothing more.
	e.post(c, e.url+pathLogoutAll, nil)
	time.Sleep(300 * time.Millisecond)
	good.mu.Lock()
	defer good.mu.Unlock()
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if good.attempts != 1 || flaky.attempts != 3 {
		t.Fatalf("a second logout delivered again: %d %d", good.attempts, flaky.attempts)
	}
}
