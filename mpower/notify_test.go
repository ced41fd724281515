package mpower

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mnotify"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// newMNotify is a real MNotify (its own store) behind an HTTPS test
// server, with MPower registered as a system, and MPower's client of it.
func newMNotify(t *testing.T) *mnotifyclient.Client {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "mnotify.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mnotify.New(mnotify.Config{Store: st, Jobs: fastJobs})
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: st})
	host.Mount(svc)
	srv := httptest.NewTLSServer(host)
	t.Cleanup(func() { srv.Close(); svc.Close(); st.Close() })
	const key = "mpower-key-0123456789abcdef"
	if err := mnotify.AddSystem(context.Background(), st, "test", mnotify.NewSystem{Name: "mpower", APIKey: []byte(key)}); err != nil {
		t.Fatal(err)
	}
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs}
	c, err := mnotifyclient.New(srv.URL, mnotifyclient.Options{HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fastJobs retry soon and poll often.
var fastJobs = jobs.Options{PollInterval: 50 * time.Millisecond, Backoff: func(int) time.Duration { return 300 * time.Millisecond }}

// TestNotifiesThroughMNotify: a grant, its acceptance and its revocation
// reach the representative (and the acceptance the grantor) as
// notifications of a real MNotify, in Romanian with the code; a refused
// change (a wrong signer) notifies nobody.
func TestNotifiesThroughMNotify(t *testing.T) {
	mn := newMNotify(t)
	f := newFixture(t, filepath.Join(t.TempDir(), "semnat.db"))
	svc, err := New(Config{Store: f.st, Verify: pades.VerifyOptions{Roots: f.pki.RootPool(), Revocation: pades.RevocationSkip},
		Notify: &MNotify{Client: mn}, Jobs: fastJobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f.reg = svc.Registry()
	ctx := context.Background()
	p := f.grant(t, "AT-0000001", f.alice.IDNP, "", f.bob.IDNP)
	if _, err := f.reg.Transition(ctx, "alice", p.Code, EvSign, f.act(t, f.bob, p.Code)); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("wrong signer: %v", err)
	}
	for _, step := range []struct {
		ev     Event
		signer string
	}{{EvSign, "alice"}, {EvAccept, "bob"}, {EvRevoke, "alice"}} {
		e := f.alice
		if step.signer == "bob" {
			e = f.bob
		}
		if _, err := f.reg.Transition(ctx, step.signer, p.Code, step.ev, f.act(t, e, p.Code)); err != nil {
			t.Fatalf("%s: %v", step.ev, err)
		}
	}
	want := []string{f.alice.IDNP + " Procura " + p.Code + " a fost acceptată", f.bob.IDNP + " Procura " + p.Code + " a fost acceptată",
		f.bob.IDNP + " Procura " + p.Code + " a fost revocată", f.bob.IDNP + " Procură nouă: " + p.Code}
	sort.Strings(want)
	var got []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		list, _, err := mn.List(ctx, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, n := range list {
			for _, r := range n.Recipients {
				got = append(got, r.Value+" "+n.Subject.Ro)
			}
		}
		sort.Strings(got)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("notifications:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
