package portal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mnotify/mnotifytest"
	"github.com/semnat/semnat/portal/application"
)

const portalMNotifyKey = "portal-mnotify-key-0123456789"

// withMNotify wires the portal to mn as the cabinet system "portal", its
// jobs polled and retried quickly.
func withMNotify(mn *mnotifytest.Server) func(*Config) {
	mn.AddSystem("portal", portalMNotifyKey, true)
	return func(cfg *Config) {
		cfg.MNotify = mn.Client(portalMNotifyKey)
		cfg.JobPoll = 50 * time.Millisecond
		cfg.JobBackoff = func(int) time.Duration { return 150 * time.Millisecond }
	}
}

// notifyEnv is a portal notifying through a real MNotify, and a draft
// of the criminal record certificate (free) applied for in lang.
func notifyEnv(t *testing.T, lang string) (*mnotifytest.Server, *env, *application.Application) {
	t.Helper()
	mn := mnotifytest.Start(t)
	e := newEnv(t, withMNotify(mn))
	const applicant = "2006022048426"
	a := &application.Application{Service: "000101", Lang: lang, Applicant: applicant, ApplicantName: "Ion Popescu",
		OnBehalf: application.Self, Beneficiary: applicant, Basis: "self", Fields: map[string]string{"idnp": applicant}, Delivery: "mcabinet"}
	if err := e.portal.Applications().Create(context.Background(), applicant, a); err != nil {
		t.Fatal(err)
	}
	return mn, e, a
}

// TestNotifyEachChange: an application that reaches Submitted puts a
// notification in the applicant's MCabinet inbox at MNotify, in the
// language they applied in, naming the application and its state; each
// later change another one; a refused change none.
func TestNotifyEachChange(t *testing.T) {
	mn, e, a := notifyEnv(t, "ru")
	ctx, idnp := context.Background(), a.Applicant
	if _, err := e.portal.Applications().Transition(ctx, idnp, a.ID, application.EvSubmit, "", nil); err != nil {
		t.Fatal(err)
	}
	in := mn.Inbox(idnp, 1)
	ru := wording("ru")
	if m := in[0]; m.Subject != "Заявление "+a.ID+": "+ru[string(application.Submitted)] || !strings.Contains(m.Body, "«Справка о судимости (электронная)»") ||
		!strings.Contains(m.Body, e.url+"/portal/cereri/"+a.ID) || m.System != "portal" {
		t.Fatalf("the Submitted notification: %+v", m)
	}
	// A change the table refuses (a free application is not paid) tells nothing.
	if _, err := e.portal.Applications().Transition(ctx, "mpay", a.ID, application.EvPay, "", nil); err == nil {
		t.Fatal("a free application was paid")
	}
	if _, err := e.portal.Applications().Transition(ctx, idnp, a.ID, application.EvCancel, application.ReasonByApplicant, nil); err != nil {
		t.Fatal(err)
	}
	in = mn.Inbox(idnp, 2)
	want := ru[string(application.Cancelled)] + " (" + ru[application.ReasonByApplicant] + ")"
	if !strings.Contains(in[0].Subject+in[1].Subject, want) {
		t.Fatalf("no Cancelled notification with its reason %q: %+v", want, in)
	}
	// The person's language stays theirs: a later application in
	// English still comes in Russian (the contact registry says so).
	if c, err := mn.Cabinet().Contact(ctx, idnp); err != nil || c.Language != "ru" {
		t.Fatalf("contact: %+v %v", c, err)
	}
}

// TestNotifyMNotifyDown: while MNotify is down the notification job
// fails and is retried; once it is back the notification arrives, once,
// even when MNotify's first answer is lost after it took the notification.
func TestNotifyMNotifyDown(t *testing.T) {
	mn, e, a := notifyEnv(t, "en")
	ctx, idnp := context.Background(), a.Applicant
	mn.Down()
	if _, err := e.portal.Applications().Transition(ctx, idnp, a.ID, application.EvSubmit, "", nil); err != nil {
		t.Fatalf("the change waits for no MNotify: %v", err)
	}
	// Retried while down: the job's attempts grow.
	deadline := time.Now().Add(20 * time.Second)
	for attempts(t, e) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the notification job was not retried: %d attempts", attempts(t, e))
		}
		time.Sleep(50 * time.Millisecond)
	}
	mn.LoseAnswers(1)
	mn.Up()
	in := mn.Inbox(idnp, 1)
	if in[0].Subject != "Application "+a.ID+": Submitted" {
		t.Fatalf("the notification: %+v", in[0])
	}
	time.Sleep(time.Second) // nothing more comes
	mn.Inbox(idnp, 1)
}

// attempts is how many times the portal's notification job has run.
func attempts(t *testing.T, e *env) int {
	t.Helper()
	var n int
	if err := e.portalStore.QueryRow(context.Background(), `SELECT COALESCE(MAX(attempt), 0) FROM river_job WHERE kind = ?`, NotifyArgs{}.Kind()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
