package mpass

import (
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/mobileid"
)

// TestBrowserSessionPageOthers: the session page of a person logged in on
// two browsers, in chromium: axe-core finds no serious violation on the
// list of the other session, and its button ends that session.
func TestBrowserSessionPageOthers(t *testing.T) {
	ctx := browsertest.New(t, 90*time.Second)
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	user := mobileid.GeneratedUser(0)
	here, there := newBrowserClient(t), newBrowserClient(t)
	e.login(here, rp, user)
	e.login(there, rp, user)
	u, _ := url.Parse(e.url)
	var token string
	for _, ck := range here.Jar.Cookies(u) {
		if ck.Name == cookieSession {
			token = ck.Value
		}
	}
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: cookieSession, Value: token, URL: e.url + "/"}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, chromedp.Navigate(e.url+pathSession+"?lang=ro"), chromedp.WaitVisible(chromedp.ID("others")))
	browsertest.Axe(t, ctx, "the session page with another session", "ro")
	// The button posts a form, and the page that comes back lists no
	// other session; the page before it has #person too, so the wait is
	// for the list to go (the reloaded page), not for #person.
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#others button")))
	browsertest.Until(t, ctx, `document.querySelector("#others") === null && document.querySelector("#person") !== null`, 30*time.Second)
	if _, b := e.get(there, e.url+pathSession); reOtherSession.Match(b) || len(ends(t, e.store, "mpass.logout")) != 1 {
		t.Fatalf("the other browser's session did not end")
	}
}

// TestBrowserLoginPageIDNP: the login page of the Mobile-ID face, with its
// IDNP field, in chromium: axe-core finds no serious violation.
func TestBrowserLoginPageIDNP(t *testing.T) {
	ctx := browsertest.New(t, 90*time.Second)
	e := newEnv(t, withMIDFace(t))
	rp := e.newRP("shop.test", true)
	browsertest.Do(t, ctx, chromedp.Navigate(rp.url+"/app"), chromedp.WaitVisible(chromedp.ID("idnp")))
	browsertest.Axe(t, ctx, "the login page with the IDNP field", "en") // chromium asks for English
}
