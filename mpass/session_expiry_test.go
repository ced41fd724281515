package mpass

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/store"
)

// ends is the audit entries of action: their details.
func ends(t *testing.T, st *store.Store, action string) []map[string]string {
	t.Helper()
	var out []map[string]string
	err := st.WalkAudit(context.Background(), func(en *store.Entry) error {
		if en.Action == action {
			out = append(out, en.Details)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitLogout waits up to d for the receiver's first accepted logout token.
func (lr *logoutReceiver) waitFor(d time.Duration) logoutClaims {
	lr.t.Helper()
	select {
	case lc := <-lr.got:
		return lc
	case <-time.After(d):
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.t.Fatalf("no logout token accepted in %v, after %d attempts (refused: %v)", d, lr.attempts, lr.refused)
		return logoutClaims{}
	}
}

// sessionLifetime logs a person in to an OpenID Connect client (with a
// back-channel logout URI) and, through the SSO session, to a SAML
// service; then nothing touches the session. At its absolute lifetime
// the client's go-oidc relying party gets a logout token for that
// session, the audit log has its end naming both services, once, and the
// browser's session is gone. afterLogin runs right after the logins.
func sessionLifetime(t *testing.T, e *env, ttl time.Duration, afterLogin func()) {
	lr := e.newLogoutReceiver(0)
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop", BackchannelLogoutURI: lr.uri(e, "shop")})
	sp := e.newRP("library.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(4)
	_, page, state, _, verifier := rp.authorize(c)
	sid := rp.sidOf(e.phoneLoginOIDC(c, page, user), state, verifier)
	loggedIn := time.Now()
	_, b := e.get(c, sp.url+"/app")
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("SSO into the SAML service: %s", b)
	}
	if afterLogin != nil {
		afterLogin()
	}
	lc := lr.waitFor(ttl + time.Minute)
	if time.Since(loggedIn) < ttl-2*time.Second { // the session began before the code exchange
		t.Fatalf("logout token %v after the login, before the session's lifetime %v", time.Since(loggedIn), ttl)
	}
	if lc.Sid != sid || lc.Sub != "MD"+user.IDNP {
		t.Fatalf("logout token of sid %q sub %q, want %q %q", lc.Sid, lc.Sub, sid, "MD"+user.IDNP)
	}
	time.Sleep(time.Second) // a second delivery, were there one
	got := ends(t, e.store, "mpass.session-expired")
	if len(got) != 1 || got[0]["session"] != sid || !strings.Contains(got[0]["services"], "oidc:shop") ||
		!strings.Contains(got[0]["services"], sp.url) {
		t.Fatalf("audit of the session's end: %v", got)
	}
	if n := len(ends(t, e.store, "mpass.logout-delivered")); n != 1 {
		t.Fatalf("%d deliveries audited, want 1", n)
	}
	lr.mu.Lock()
	n := len(lr.accepted)
	lr.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d logout tokens accepted, want 1", n)
	}
	_, b = e.get(c, e.url+pathSession)
	if strings.Contains(string(b), user.IDNP) {
		t.Fatal("the session page still shows the ended session")
	}
}

func shortSessions(ttl time.Duration) func(*Config) {
	return func(c *Config) { c.SessionTTL, c.SessionIdle = ttl, ttl; withFastJobs(c) }
}

// TestSessionLifetimeBackchannel: a session nobody touches ends at its
// absolute lifetime like any other (SQLite).
func TestSessionLifetimeBackchannel(t *testing.T) {
	const ttl = 8 * time.Second
	key := withOIDCKey(t)
	e := newEnv(t, func(c *Config) { key(c); shortSessions(ttl)(c) })
	sessionLifetime(t, e, ttl, nil)
}

// TestSessionLifetimeBackchannelPostgres: two instances on one
// PostgreSQL; the one the person logged in at stops right after the
// login, and the other ends the session at its lifetime: one logout token,
// one audit entry.
func TestSessionLifetimeBackchannelPostgres(t *testing.T) {
	const ttl = 8 * time.Second
	key := withOIDCKey(t)
	mut := func(c *Config) { key(c); shortSessions(ttl)(c) }
	e := newEnvOn(t, testtool.PostgresSchema(t), mut)
	e.second(mut)
	sessionLifetime(t, e, ttl, func() { e.srv.Close() })
}

// TestSessionIdleBackchannel: a session left unused for SessionIdle ends
// then, with no request, sending its logouts; one ended earlier by the
// person has its expiry job cancelled.
func TestSessionIdleBackchannel(t *testing.T) {
	key := withOIDCKey(t)
	e := newEnv(t, func(c *Config) { key(c); c.SessionTTL, c.SessionIdle = time.Hour, 4*time.Second; withFastJobs(c) })
	lr := e.newLogoutReceiver(0)
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop", BackchannelLogoutURI: lr.uri(e, "shop")})

	// Logged out by the person: the expiry job is cancelled with the session.
	c := newBrowserClient(t)
	_, page, state, _, verifier := rp.authorize(c)
	first := rp.sidOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(5)), state, verifier)
	job := expiryJobOf(t, e)
	e.post(c, e.url+pathLogoutAll, nil)
	if lc := lr.waitFor(time.Minute); lc.Sid != first {
		t.Fatalf("logout token for %q, want %q", lc.Sid, first)
	}
	if in, err := e.srv.queue.Get(context.Background(), job); err != nil || in.State != jobs.Cancelled {
		t.Fatalf("the ended session's expiry job: %+v %v", in, err)
	}

	// Left alone: it ends after SessionIdle.
	c = newBrowserClient(t)
	_, page, state, _, verifier = rp.authorize(c)
	sid := rp.sidOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(6)), state, verifier)
	if lc := lr.waitFor(time.Minute); lc.Sid != sid {
		t.Fatalf("logout token for %q, want %q", lc.Sid, sid)
	}
	if got := ends(t, e.store, "mpass.session-idle"); len(got) != 1 || got[0]["session"] != sid {
		t.Fatalf("audit: %v", got)
	}
	if got := ends(t, e.store, "mpass.session-expired"); len(got) != 0 {
		t.Fatalf("audit: %v", got)
	}
}

// expiryJobOf is the expiry job of the store's only session.
func expiryJobOf(t *testing.T, e *env) int64 {
	t.Helper()
	items, err := e.store.List(context.Background(), kindSession)
	if err != nil || len(items) != 1 {
		t.Fatalf("sessions: %d %v", len(items), err)
	}
	var ss ssoSession
	if err := json.Unmarshal(items[0].Value, &ss); err != nil || ss.ExpiryJob == 0 {
		t.Fatalf("session without its expiry job: %v", err)
	}
	return ss.ExpiryJob
}

// BenchmarkPutSession is the cost of storing a new SSO session with its
// expiry job and person index (putSession), beside the bare Put of the
// session row it replaced.
func BenchmarkPutSession(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	now := time.Now()
	b.Run("putSession", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ss := &ssoSession{Index: "_" + newID(), Identity: Identity{IDNP: mobileid.GeneratedUser(i % 10).IDNP}, AuthnInstant: now, LastUsed: now}
			if err := e.srv.putSession(ctx, digest(newID()), ss); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("put", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ss := &ssoSession{Index: "_" + newID(), Identity: Identity{IDNP: mobileid.GeneratedUser(i % 10).IDNP}, AuthnInstant: now, LastUsed: now}
			v, _ := json.Marshal(ss)
			if err := e.store.Put(ctx, kindSession, digest(newID()), v, e.srv.cfg.SessionTTL); err != nil {
				b.Fatal(err)
			}
		}
	})
}
