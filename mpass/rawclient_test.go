package mpass

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/semnat/semnat/mobileid"
)

// The light load generator of BenchmarkSSOResponse accepts MPass's real
// answers and refuses what is not one: a Response to another request, a
// failed or tampered one, and the refusal of a replayed request.
func TestLightClientChecks(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRPWith("shop.test", &SPOptions{}, nil)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(9)
	e.login(c, rp, user)
	sp := rp.mw.ServiceProvider
	reqs := redirectRequests(t, &sp, c, 2)
	rc := &rawConn{addr: redirectHost(t, e.url)}
	for _, r := range reqs { // two on one connection: keep-alive
		if err := rc.roundTrip(r.wire); err != nil {
			t.Fatal(err)
		}
		if err := rc.checkReply(r.id); err != nil {
			t.Fatal(err)
		}
		if err := checkFully(&sp, rc.body, r.id, user.IDNP); err != nil {
			t.Fatal(err)
		}
	}
	page := bytes.Clone(rc.body)
	if err := rc.checkReply(reqs[0].id); err == nil {
		t.Error("a Response to another request passed the check of every reply")
	}
	if err := checkFully(&sp, page, reqs[0].id, user.IDNP); err == nil {
		t.Error("a Response to another request passed the full check")
	}
	if err := checkFully(&sp, page, reqs[1].id, "2000000000007"); err == nil {
		t.Error("a Response naming someone else passed the full check")
	}
	// The Response with another status, or another person, re-encoded
	// into the page as html/template writes it.
	with := func(old, new string) []byte {
		_, rest, _ := bytes.Cut(page, samlResponseField)
		v, _, _ := bytes.Cut(rest, []byte(`"`))
		x, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(v), "&#43;", "+"))
		if err != nil || !bytes.Contains(x, []byte(old)) {
			t.Fatalf("%q not in the Response (%v)", old, err)
		}
		x = bytes.Replace(x, []byte(old), []byte(new), 1)
		return bytes.Replace(page, v, []byte(strings.ReplaceAll(base64.StdEncoding.EncodeToString(x), "+", "&#43;")), 1)
	}
	failed := with("status:Success", "status:Requester")
	rc.body = failed
	if err := rc.checkReply(reqs[1].id); err == nil {
		t.Error("a failed Response passed the check of every reply")
	}
	tampered := with(">"+user.IDNP+"<", ">2000000000007<")
	rc.body = tampered
	if err := rc.checkReply(reqs[1].id); err != nil {
		t.Fatalf("the tampered page is not what the cheap check reads: %v", err)
	}
	if err := checkFully(&sp, tampered, reqs[1].id, "2000000000007"); err == nil {
		t.Error("a tampered Response passed the full check")
	}
	// A request sent again is refused by MPass, and the client says so.
	if err := rc.roundTrip(reqs[0].wire); err == nil {
		if err = rc.checkReply(reqs[0].id); err == nil {
			t.Error("a replayed AuthnRequest was answered")
		}
	}
}
