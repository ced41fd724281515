package mpass

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// TestWaitReloadHeld: the wait page's reload URL asks to be held, and a
// held reload is answered when the phone's answer is recorded, with the
// relying service's Response, not with the wait page again; a reload
// without hold=1 still gets the wait page at once.
func TestWaitReloadHeld(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRPWith("held.test", &SPOptions{}, nil)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(8)
	tx, _ := e.startLogin(c, rp)
	resp, b, code := e.phoneLogin(c, tx, user.MSISDN)
	if code == "" {
		t.Fatalf("no verification code: %d\n%s", resp.StatusCode, b)
	}
	wait := resp.Request.URL.String()
	if !bytes.Contains(b, []byte("hold=1")) {
		t.Fatalf("the wait page's reload does not ask to be held:\n%s", b)
	}
	if _, b := e.get(c, wait); !reCode.Match(b) {
		t.Fatalf("a plain reload: not the wait page:\n%s", b)
	}
	type answer struct {
		body []byte
		err  error
	}
	held := make(chan answer, 1)
	go func() {
		r, err := c.Get(wait + "&hold=1")
		if err != nil {
			held <- answer{err: err}
			return
		}
		defer r.Body.Close()
		body, err := io.ReadAll(r.Body)
		held <- answer{body, err}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case a := <-held:
		t.Fatalf("the held reload was answered before the phone: %v\n%s", a.err, a.body)
	default:
	}
	approve(t, user.MSISDN, code)
	select {
	case a := <-held:
		if a.err != nil || !bytes.Contains(a.body, []byte(`name="SAMLResponse"`)) {
			t.Fatalf("the held reload: %v\n%s", a.err, a.body)
		}
	case <-time.After(holdMax - time.Second):
		t.Fatal("the held reload was not answered when the phone answered")
	}
}
