package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/mnotify/mailsink"
)

// waitEmailed polls a notification until its e-mails are Sent.
func waitEmailed(t *testing.T, c *mnotifyclient.Client, id string) *mnotifyclient.Notification {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := c.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		sent, emails := 0, 0
		for _, r := range n.Recipients {
			for _, ch := range r.Channels {
				if ch.Channel == mnotifyclient.ChannelEmail {
					emails++
					if ch.Status == mnotifyclient.StatusSent {
						sent++
					}
				}
			}
		}
		if emails > 0 && sent == emails {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s: e-mail not sent after 20s: %+v", id, n.Recipients)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMNotifyCLI: systems and contacts are managed in the store the server
// then serves; `semnat mnotify serve` delivers e-mail through --smtp-addr.
func TestMNotifyCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyFile := filepath.Join(dir, "portal.key")
	if code, _, stderr := revRun(t, "mnotify", "systems", "add", "portal", "--data", data, "--api-key-file", keyFile, "--cabinet"); code != 0 {
		t.Fatalf("systems add: %d %s", code, stderr)
	}
	if code, out, _ := revRun(t, "--json", "mnotify", "systems", "list", "--data", data); code != 0 || !strings.Contains(out, `"name": "portal"`) || !strings.Contains(out, `"cabinet": true`) {
		t.Fatalf("systems list --json: %d %s", code, out)
	}
	const ion = "2006022048426"
	if code, _, stderr := revRun(t, "mnotify", "contacts", "set", ion, "--email", "ion@example.md", "--lang", "en", "--data", data); code != 0 {
		t.Fatalf("contacts set: %d %s", code, stderr)
	}
	code, out, _ := revRun(t, "--json", "mnotify", "contacts", "list", "--data", data)
	var contacts []mnotifyclient.Contact
	if code != 0 || json.Unmarshal([]byte(out), &contacts) != nil || len(contacts) != 1 || contacts[0].Email != "ion@example.md" || contacts[0].Language != "en" {
		t.Fatalf("contacts list: %d %s", code, out)
	}
	for _, bad := range [][]string{
		{"systems", "add", "portal", "--api-key-file", keyFile}, // taken
		{"systems", "remove", "nobody"},
		{"contacts", "set", "2006022048420", "--email", "x@example.md"}, // bad check digit
		{"contacts", "set", ion, "--email", "not an address"},
		{"contacts", "set", ion, "--lang", "fr"},
		{"contacts", "remove", "2001003328548"},
		{"serve", "--smtp-addr", "127.0.0.1:25", "--smtp-from", "a@example.md", "--smtp-user", "u"}, // no password
	} {
		if code, _, stderr := revRun(t, append(append([]string{"mnotify"}, bad...), "--data", data)...); code != exitUsage {
			t.Errorf("%v: %d %s", bad, code, stderr)
		}
	}

	sink, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	base, logs := startCommand(t, strings.NewReader(""), "mnotify", "serve", "--data", data, "--addr", "127.0.0.1:0",
		"--smtp-addr", sink.Addr(), "--smtp-tls", "none", "--smtp-from", "notificari@example.md")
	key, _ := os.ReadFile(keyFile)
	c, err := mnotifyclient.New(base, mnotifyclient.Options{APIKey: strings.TrimSpace(string(key))})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Send(context.Background(), mnotifyclient.NotificationRequest{Subject: mnotifyclient.Texts{Ro: "Bună ziua", En: "Good day"},
		Body: mnotifyclient.Texts{Ro: "Text", En: "Text in English"}, Recipients: []mnotifyclient.Recipient{{Value: ion, Type: mnotifyclient.RecipientIdnp}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitEmailed(t, c, id)
	if msgs := sink.Messages(); len(msgs) != 1 || msgs[0].Subject != "Good day" || msgs[0].To[0] != "ion@example.md" {
		t.Fatalf("the relay received %+v", msgs)
	}
	anon, _ := mnotifyclient.New(base, mnotifyclient.Options{APIKey: "not-a-registered-key-at-all"})
	if _, err := anon.Get(context.Background(), id); !errors.Is(err, mnotifyclient.ErrAuthenticationFailed) {
		t.Fatalf("unknown key: %v", err)
	}
	checkServed(t, "mnotify", base, logs, map[string]int{mnotifyclient.PathOpenAPI: 200, "/readyz": 200, "/verify": 404, "/mail/": 404})
}

// TestServeDemoMNotify: the demo mounts MNotify, with the demo API key as
// a cabinet system, and its SMTP receiver's page shows the e-mail.
func TestServeDemoMNotify(t *testing.T) {
	data := t.TempDir()
	base, _ := startCommand(t, strings.NewReader(""), "serve", "--demo", "--data", data, "--addr", "127.0.0.1:0")
	key, err := os.ReadFile(filepath.Join(data, "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := mnotifyclient.New(base, mnotifyclient.Options{APIKey: strings.TrimSpace(string(key))})
	ctx := context.Background()
	if _, err := c.SetContact(ctx, mnotifyclient.Contact{IDNP: "2006022048426", Email: "ion@example.md"}); err != nil {
		t.Fatal(err)
	}
	id, err := c.Send(ctx, mnotifyclient.NotificationRequest{Subject: mnotifyclient.Texts{Ro: "Cererea dumneavoastră a fost înregistrată"},
		Body: mnotifyclient.Texts{Ro: "Numărul cererii: 42."}, Recipients: []mnotifyclient.Recipient{{Value: "2006022048426", Type: mnotifyclient.RecipientIdnp}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitEmailed(t, c, id)
	resp, err := http.Get(base + mnotifyclient.PathReceiver)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Cererea dumneavoastră a fost înregistrată") || !strings.Contains(string(page), "ion@example.md") {
		t.Fatalf("the receiver page: %d %s", resp.StatusCode, page)
	}
	if inbox, err := c.Inbox(ctx, "2006022048426"); err != nil || len(inbox) != 1 {
		t.Fatalf("inbox: %+v %v", inbox, err)
	}
}
