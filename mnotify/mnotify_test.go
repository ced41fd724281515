package mnotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mnotify/client"
)

// TestEmailToIndependentServer: a notification to a person (whose contact
// has an e-mail address and Russian) and to an address reaches an
// independent SMTP server (aiosmtpd) as one message each, in the right
// language; the person's inbox has it, and reading it makes it Read.
func TestEmailToIndependentServer(t *testing.T) { eachBackend(t, testEmailToIndependentServer) }
func testEmailToIndependentServer(t *testing.T, dsn string) {
	ctx := context.Background()
	relay := startAiosmtpd(t, freePort(t), t.TempDir())
	e := newEnv(t, dsn, relayAt(relay.Addr))
	if _, err := e.portal.SetContact(ctx, client.Contact{IDNP: ion, Email: "ion@example.md", Language: "ru"}); err != nil {
		t.Fatal(err)
	}
	req := client.NotificationRequest{
		Subject:    client.Texts{Ro: "Cererea a fost aprobată", Ru: "Заявление одобрено"},
		Body:       client.Texts{Ro: "Certificatul dumneavoastră este gata.\nDescărcați-l din MCabinet.", Ru: "Ваша справка готова.\nСкачайте её в MCabinet."},
		BodyShort:  client.Texts{Ro: "Certificat gata"},
		Recipients: []client.Recipient{person(ion), email("office@example.md")},
	}
	id := mustSend(t, e.asp, req)
	n := waitFor(t, e.asp, id, "sent", func(n *client.Notification) bool {
		a, _ := emailStatus(n, ion)
		b, _ := emailStatus(n, "office@example.md")
		return a.Status == client.StatusSent && b.Status == client.StatusSent
	})
	if n.Status != client.StatusSent || n.System != "asp" {
		t.Errorf("notification status %s of %s, want Sent of asp", n.Status, n.System)
	}
	got := relay.Messages(t)
	if len(got) != 2 {
		t.Fatalf("the SMTP server received %d messages, want 2: %+v", len(got), got)
	}
	byTo := map[string]received{}
	for _, m := range got {
		byTo[m.RcptTo] = m
	}
	ru, ro := byTo["ion@example.md"], byTo["office@example.md"]
	if ru.Subject != req.Subject.Ru || ru.Body != req.Body.Ru || ru.To != "ion@example.md" {
		t.Errorf("the person's e-mail: %+v, want the Russian texts", ru)
	}
	if ro.Subject != req.Subject.Ro || ro.Body != req.Body.Ro || !strings.HasPrefix(ro.ContentType, "text/plain") {
		t.Errorf("the address's e-mail: %+v, want the Romanian texts", ro)
	}
	if ru.MessageID == "" || ru.MessageID == ro.MessageID || !strings.Contains(ru.MessageID, id) {
		t.Errorf("Message-IDs %q and %q: want one per delivery, naming the notification", ru.MessageID, ro.MessageID)
	}
	// The inbox: Delivered, then Read.
	inbox, err := e.portal.Inbox(ctx, ion)
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 || inbox[0].NotificationID != id || inbox[0].Subject != req.Subject.Ru || inbox[0].Status != client.StatusDelivered || inbox[0].System != "asp" {
		t.Fatalf("inbox: %+v", inbox)
	}
	m, err := e.portal.MarkRead(ctx, ion, inbox[0].ID)
	if err != nil || m.Status != client.StatusRead || m.ReadAt == nil {
		t.Fatalf("MarkRead: %+v, %v", m, err)
	}
	n, err = e.asp.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range n.Recipients {
		want := map[string]string{ion: client.StatusRead, "office@example.md": client.StatusSent}[r.Value]
		if r.Status != want {
			t.Errorf("recipient %s: %s, want %s (%+v)", r.Value, r.Status, want, r.Channels)
		}
	}
	if n.Status != client.StatusSent {
		t.Errorf("notification: %s, want Sent (its least advanced recipient)", n.Status)
	}
	// Another person's inbox does not have it; the message is not theirs to read.
	if other, err := e.portal.Inbox(ctx, maria); err != nil || len(other) != 0 {
		t.Errorf("another inbox: %+v, %v", other, err)
	}
	if _, err := e.portal.MarkRead(ctx, maria, inbox[0].ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("reading another's message: %v, want ErrNotFound", err)
	}
	// A second notification: every e-mail delivered once only.
	time.Sleep(300 * time.Millisecond)
	if got := relay.Messages(t); len(got) != 2 {
		t.Errorf("%d messages after a while, want still 2", len(got))
	}
}

// TestRelayDownThenBack: while the relay is down the e-mails are retried
// (Pending, with the error and the attempts); when it comes back every
// message arrives exactly once.
func TestRelayDownThenBack(t *testing.T) {
	addr := freePort(t)
	e := newEnv(t, sqliteDSN(t), relayAt(addr))
	var ids []string
	for i := range 3 {
		ids = append(ids, mustSend(t, e.asp, simple(fmt.Sprint("Mesaj ", i), "Conținut", email(fmt.Sprintf("p%d@example.md", i)))))
	}
	for i, id := range ids {
		to := fmt.Sprintf("p%d@example.md", i)
		n := waitFor(t, e.asp, id, "retried", func(n *client.Notification) bool {
			ch, _ := emailStatus(n, to)
			return ch.Attempts >= 2 && ch.Status == client.StatusPending
		})
		ch, _ := emailStatus(n, to)
		if !strings.Contains(ch.LastError, "connecting to the relay") {
			t.Errorf("last error %q: want the relay's address and why", ch.LastError)
		}
	}
	relay := startAiosmtpd(t, addr, t.TempDir())
	for i, id := range ids {
		to := fmt.Sprintf("p%d@example.md", i)
		waitFor(t, e.asp, id, "sent", func(n *client.Notification) bool { ch, _ := emailStatus(n, to); return ch.Status == client.StatusSent })
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	got := relay.Messages(t)
	count := map[string]int{}
	for _, m := range got {
		count[m.RcptTo]++
	}
	for i := range 3 {
		if c := count[fmt.Sprintf("p%d@example.md", i)]; c != 1 {
			t.Errorf("p%d received %d messages, want 1", i, c)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d messages, want 3", len(got))
	}
}

// TestCancel: cancelling stops the pending e-mails (none arrives when the
// relay comes back); a second cancel, or one of a notification already
// delivered, is a 409.
func TestCancel(t *testing.T) {
	ctx := context.Background()
	addr := freePort(t)
	e := newEnv(t, sqliteDSN(t), relayAt(addr))
	id := mustSend(t, e.asp, simple("Programare", "Anulată", email("a@example.md"), email("b@example.md"), person(ion)))
	waitFor(t, e.asp, id, "tried", func(n *client.Notification) bool { ch, _ := emailStatus(n, "a@example.md"); return ch.Attempts >= 1 })
	n, err := e.asp.Cancel(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// A retry may be on the wire at the moment of the cancel: that
	// recipient is Cancelling until the attempt ends, then Cancelled.
	for _, r := range n.Recipients {
		switch {
		case r.Value == ion:
			if r.Status != client.StatusDelivered { // the inbox has it already
				t.Errorf("recipient %s: %s, want %s", r.Value, r.Status, client.StatusDelivered)
			}
		case r.Status != client.StatusCancelled && r.Status != client.StatusCancelling:
			t.Errorf("recipient %s: %s, want %s (or %s)", r.Value, r.Status, client.StatusCancelled, client.StatusCancelling)
		}
	}
	waitFor(t, e.asp, id, "cancelled", func(n *client.Notification) bool {
		for _, r := range n.Recipients {
			if r.Value != ion && r.Status != client.StatusCancelled {
				return false
			}
		}
		return true
	})
	if _, err := e.asp.Cancel(ctx, id); !errors.Is(err, client.ErrDelivered) {
		t.Errorf("second cancel: %v, want ErrDelivered (409)", err)
	}
	relay := startAiosmtpd(t, addr, t.TempDir())
	// A notification sent after the relay is back arrives: the queue works.
	later := mustSend(t, e.asp, simple("Alt mesaj", "Trimis", email("c@example.md")))
	waitFor(t, e.asp, later, "sent", func(n *client.Notification) bool { return n.Status == client.StatusSent })
	time.Sleep(800 * time.Millisecond) // past two retry periods
	for _, m := range relay.Messages(t) {
		if m.RcptTo != "c@example.md" {
			t.Errorf("a cancelled e-mail arrived: %+v", m)
		}
	}
	n, _ = e.asp.Get(ctx, id)
	if ch, _ := emailStatus(n, "a@example.md"); ch.Status != client.StatusCancelled {
		t.Errorf("after the relay came back: %s, want Cancelled", ch.Status)
	}
	if _, err := e.asp.Cancel(ctx, later); !errors.Is(err, client.ErrDelivered) {
		t.Errorf("cancelling a sent notification: %v, want ErrDelivered", err)
	}
}

// TestRestartKeepsPending: e-mails pending when the service stops are
// sent by the service that starts next on the same store.
func TestRestartKeepsPending(t *testing.T) { eachBackend(t, testRestartKeepsPending) }
func testRestartKeepsPending(t *testing.T, dsn string) {
	addr := freePort(t)
	e := newEnv(t, dsn, relayAt(addr))
	id := mustSend(t, e.asp, simple("Înainte de repornire", "Text", email("x@example.md"), email("y@example.md")))
	waitFor(t, e.asp, id, "tried", func(n *client.Notification) bool { ch, _ := emailStatus(n, "x@example.md"); return ch.Attempts >= 1 })
	e.close(t)
	relay := startAiosmtpd(t, addr, t.TempDir())
	e2 := newEnv(t, dsn, relayAt(addr))
	waitFor(t, e2.asp, id, "sent", func(n *client.Notification) bool { return n.Status == client.StatusSent })
	time.Sleep(300 * time.Millisecond)
	if got := relay.Messages(t); len(got) != 2 {
		t.Errorf("%d messages after the restart, want 2: %+v", len(got), got)
	}
}

// TestCallers: without a registered credential nothing is answered; a
// system sees only its own notifications; only a cabinet reads inboxes
// and contacts; a TLS client certificate is a credential.
func TestCallers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteDSN(t), nil)
	id := mustSend(t, e.asp, simple("Salut", "Text", person(ion)))
	checks := map[string]error{}
	_, checks["anon send"] = e.anon.Send(ctx, simple("x", "y", person(ion)), "")
	_, checks["anon get"] = e.anon.Get(ctx, id)
	_, _, checks["anon list"] = e.anon.List(ctx, 0, 0)
	_, checks["anon cancel"] = e.anon.Cancel(ctx, id)
	_, checks["anon templates"] = e.anon.Templates(ctx)
	_, checks["anon inbox"] = e.anon.Inbox(ctx, ion)
	for what, err := range checks {
		if !errors.Is(err, client.ErrAuthenticationFailed) {
			t.Errorf("%s: %v, want ErrAuthenticationFailed", what, err)
		}
	}
	if _, err := e.mtls.Get(ctx, id); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("another system's notification: %v, want ErrNotFound", err)
	}
	if _, err := e.mtls.Send(ctx, simple("Prin certificat", "Text", person(ion)), ""); err != nil {
		t.Errorf("a system by TLS client certificate: %v", err)
	}
	if _, err := e.asp.Inbox(ctx, ion); !errors.Is(err, client.ErrAuthorizationFailed) {
		t.Errorf("inbox by a non-cabinet system: %v, want ErrAuthorizationFailed", err)
	}
	if _, err := e.asp.SetContact(ctx, client.Contact{IDNP: ion, Email: "evil@example.md"}); !errors.Is(err, client.ErrAuthorizationFailed) {
		t.Errorf("contact by a non-cabinet system: %v, want ErrAuthorizationFailed", err)
	}
	list, total, err := e.asp.List(ctx, 1, 10)
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != id {
		t.Errorf("asp's list: %d of %d, %v", len(list), total, err)
	}
	// E-mail to an address with no relay: refused, nothing recorded.
	if _, err := e.asp.Send(ctx, simple("x", "y", email("a@example.md")), ""); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("e-mail without a relay: %v, want ErrInvalid", err)
	}
	if _, total, _ := e.asp.List(ctx, 1, 10); total != 1 {
		t.Errorf("a refused notification was recorded: %d", total)
	}
}

// TestRequests: bad requests get a problem naming the field; an
// idempotency key makes a retry return the same notification.
func TestRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteDSN(t), nil)
	bad := map[string]client.NotificationRequest{
		"no recipient":  simple("s", "b"),
		"bad IDNP":      simple("s", "b", person("2001003328546")),
		"bad e-mail":    simple("s", "b", email("Ion <ion@example.md>")),
		"no subject":    simple("", "b", person(ion)),
		"two lines":     simple("a\r\nBcc: x@example.md", "b", person(ion)),
		"bad priority":  {Subject: client.Texts{Ro: "s"}, Body: client.Texts{Ro: "b"}, Priority: "Urgent", Recipients: []client.Recipient{person(ion)}},
		"twice":         simple("s", "b", person(ion), person(ion)),
		"unknown type":  simple("s", "b", client.Recipient{Value: "1003600096694", Type: "IDNO"}),
		"long short":    {Subject: client.Texts{Ro: "s"}, Body: client.Texts{Ro: "b"}, BodyShort: client.Texts{Ro: strings.Repeat("ș", 161)}, Recipients: []client.Recipient{person(ion)}},
		"no template":   {Template: &client.TemplateRef{ID: "none"}, Recipients: []client.Recipient{person(ion)}},
		"template+text": {Template: &client.TemplateRef{ID: "t"}, Subject: client.Texts{Ro: "s"}, Recipients: []client.Recipient{person(ion)}},
	}
	for what, req := range bad {
		var out string
		// Past the client's own check: the server must refuse too.
		_, err := e.asp.RawPost(ctx, client.PathNotifications, req, &out)
		if !errors.Is(err, client.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", what, err)
		}
	}
	var out string
	if _, err := e.asp.RawPost(ctx, client.PathNotifications, json.RawMessage(`{"subject":{"ro":"s"},"body":{"ro":"b"},"recipients":[{"value":"`+ion+`","type":"Idnp"}],"attachments":[]}`), &out); !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), "attachments") {
		t.Errorf("an unimplemented field: %v, want ErrInvalid naming it", err)
	}
	req := simple("Plată confirmată", "Mulțumim", person(ion))
	a, err := e.asp.Send(ctx, req, "pay-123")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.asp.Send(ctx, req, "pay-123")
	if err != nil || a != b {
		t.Errorf("retry with the same key: %s then %s, %v", a, b, err)
	}
	c, err := e.mtls.Send(ctx, req, "pay-123")
	if err != nil || c == a {
		t.Errorf("another system's same key: %s (first %s), %v", c, a, err)
	}
	if inbox, _ := e.portal.Inbox(ctx, ion); len(inbox) != 2 {
		t.Errorf("inbox has %d messages, want 2 (the retry sent nothing)", len(inbox))
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(a) {
		t.Errorf("id %q is not a UUID", a)
	}
}

// TestTemplates: create, render, send with variables (HTML escaped in an
// HTML body), refuse a missing variable, protect another system's.
func TestTemplates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteDSN(t), nil)
	tpl := client.Template{ID: "cerere.aprobata",
		Subject: client.Texts{Ro: "Cererea {{Numar}} a fost aprobată", En: "Application {{Numar}} approved"},
		Body:    client.Texts{Ro: "<p>Stimate {{ Nume }}, cererea {{Numar}} este gata.</p>"}}
	if _, err := e.asp.CreateTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.asp.CreateTemplate(ctx, tpl); !errors.Is(err, client.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	r, err := e.asp.CheckTemplate(ctx, tpl.ID, `{"Numar": 42, "Nume": "Ion <b>"}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject.Ro != "Cererea 42 a fost aprobată" || r.Subject.En != "Application 42 approved" || r.Body.Ro != "<p>Stimate Ion &lt;b&gt;, cererea 42 este gata.</p>" {
		t.Errorf("rendered: %+v", r)
	}
	if _, err := e.asp.CheckTemplate(ctx, tpl.ID, `{"Numar": 42}`); !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), "Nume") {
		t.Errorf("missing variable: %v, want ErrInvalid naming it", err)
	}
	id, err := e.asp.Send(ctx, client.NotificationRequest{Template: &client.TemplateRef{ID: tpl.ID, Variables: `{"Numar":"A-7","Nume":"Ion"}`},
		Recipients: []client.Recipient{person(ion)}}, "")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := e.asp.Get(ctx, id)
	if n.TemplateID != tpl.ID || n.Subject.Ro != "Cererea A-7 a fost aprobată" {
		t.Errorf("sent from a template: %+v", n)
	}
	if _, err := e.mtls.PutTemplate(ctx, tpl); !errors.Is(err, client.ErrAuthorizationFailed) {
		t.Errorf("another system's PUT: %v, want ErrAuthorizationFailed", err)
	}
	if err := e.mtls.DeleteTemplate(ctx, tpl.ID); !errors.Is(err, client.ErrAuthorizationFailed) {
		t.Errorf("another system's DELETE: %v, want ErrAuthorizationFailed", err)
	}
	if _, err := e.asp.CreateTemplate(ctx, client.Template{ID: "rupt", Subject: client.Texts{Ro: "{{Nume"}, Body: client.Texts{Ro: "x"}}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("a broken placeholder: %v, want ErrInvalid", err)
	}
	list, err := e.mtls.Templates(ctx)
	if err != nil || len(list) != 1 || list[0].Owner != "asp" {
		t.Errorf("templates: %+v, %v", list, err)
	}
	if err := e.asp.DeleteTemplate(ctx, tpl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.asp.Template(ctx, tpl.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("deleted template: %v", err)
	}
}

// TestContactsAndPreferences: a person who wants the inbox only gets no
// e-mail, unless the priority is High.
func TestContactsAndPreferences(t *testing.T) {
	ctx := context.Background()
	relay := startAiosmtpd(t, freePort(t), t.TempDir())
	e := newEnv(t, sqliteDSN(t), relayAt(relay.Addr))
	if _, err := e.portal.SetContact(ctx, client.Contact{IDNP: maria, Email: "maria@example.md", Channels: []string{client.ChannelInbox}}); err != nil {
		t.Fatal(err)
	}
	ct, err := e.portal.Contact(ctx, maria)
	if err != nil || ct.Email != "maria@example.md" || ct.Updated.IsZero() {
		t.Fatalf("contact: %+v, %v", ct, err)
	}
	low := mustSend(t, e.asp, simple("Informare", "Text", person(maria)))
	high := mustSend(t, e.asp, client.NotificationRequest{Subject: client.Texts{Ro: "Urgent"}, Body: client.Texts{Ro: "Text"}, Priority: client.PriorityHigh, Recipients: []client.Recipient{person(maria)}})
	n, _ := e.asp.Get(ctx, low)
	if _, has := emailStatus(n, maria); has || len(n.Recipients[0].Channels) != 1 {
		t.Errorf("a Medium notification to an inbox-only person: %+v", n.Recipients)
	}
	waitFor(t, e.asp, high, "e-mailed", func(n *client.Notification) bool {
		ch, _ := emailStatus(n, maria)
		return ch.Status == client.StatusSent
	})
	if err := e.portal.DeleteContact(ctx, maria); err != nil {
		t.Fatal(err)
	}
	if _, err := e.portal.Contact(ctx, maria); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("deleted contact: %v", err)
	}
	if _, err := e.portal.SetContact(ctx, client.Contact{IDNP: maria, Email: "x@example.md\r\nBcc: y@example.md"}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("an address with a header in it: %v, want ErrInvalid", err)
	}
}

// TestCancelWhileSending: a delivery cancelled while its attempt is under
// way (a relay that hangs) is Cancelling, then Cancelled when the attempt
// ends, and not tried again.
func TestCancelWhileSending(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and say nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	relay := relayAt(ln.Addr().String())
	relay.Timeout = 1500 * time.Millisecond
	e := newEnv(t, sqliteDSN(t), relay)
	id := mustSend(t, e.asp, simple("Agățat", "Text", email("a@example.md")))
	waitFor(t, e.asp, id, "sending", func(n *client.Notification) bool {
		ch, _ := emailStatus(n, "a@example.md")
		return ch.Status == client.StatusSending
	})
	n, err := e.asp.Cancel(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ch, _ := emailStatus(n, "a@example.md"); ch.Status != client.StatusCancelling {
		t.Fatalf("cancelled while sending: %s, want Cancelling", ch.Status)
	}
	n = waitFor(t, e.asp, id, "cancelled", func(n *client.Notification) bool { return n.Status == client.StatusCancelled })
	time.Sleep(2 * time.Second) // a retry would be Sending again by now
	n, _ = e.asp.Get(ctx, id)
	if ch, _ := emailStatus(n, "a@example.md"); ch.Status != client.StatusCancelled || ch.Attempts != 1 {
		t.Errorf("after the attempt: %+v, want Cancelled after one attempt", ch)
	}
}
