package portal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/jobs"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/store"
)

// The applicant hears of each change of their application's state
// (Submitted, Paid, InProgress, Completed, Rejected, Cancelled) through
// MNotify, by IDNP: a job of the portal's queue enqueued in the change's
// transaction posts the notification (ro, ru, en) and is retried until
// MNotify takes it; its Idempotency-Key makes a retry after a lost answer
// the same notification, so it arrives once.

// NotifyArgs is the job that tells the applicant of application ID that
// it reached State.
type NotifyArgs struct {
	ID    string `json:"id" river:"unique"`
	State string `json:"state" river:"unique"`
}

// Kind is the job's stable name.
func (NotifyArgs) Kind() string { return "portal.notify" }

// notifyAttempts bounds the retries of one notification: with river's
// attempt⁴ s back-off, 25 attempts take about 5 days.
const notifyAttempts = 25

// enqueueNotify is the application store's OnChange: in the change's
// transaction, a notification job for the state reached (none for Draft).
func (s *Service) enqueueNotify(ctx context.Context, tx *store.Tx, a *application.Application, _ application.State) error {
	if a.State == application.Draft {
		return nil
	}
	_, err := s.queue.EnqueueTx(ctx, tx, NotifyArgs{ID: a.ID, State: string(a.State)}, &jobs.EnqueueOpts{Unique: true, MaxAttempts: notifyAttempts})
	return err
}

// notify posts the notification of a job to MNotify (an error: retried).
func (s *Service) notify(ctx context.Context, j *jobs.Job[NotifyArgs]) error {
	a, err := s.apps.Get(ctx, j.Args.ID)
	if errors.Is(err, application.ErrNotFound) {
		return jobs.Cancel(err)
	}
	if err != nil {
		return err
	}
	if err := s.rememberLanguage(ctx, a); err != nil {
		return err
	}
	req := s.notification(a, application.State(j.Args.State))
	if _, err := s.cfg.MNotify.Send(ctx, req, "portal-"+a.ID+"-"+j.Args.State); err != nil {
		if errors.Is(err, mnotifyclient.ErrInvalid) || errors.Is(err, mnotifyclient.ErrAuthorizationFailed) {
			return jobs.Cancel(fmt.Errorf("portal: MNotify refused the notification of %s (%s): %w", a.ID, j.Args.State, err))
		}
		return fmt.Errorf("portal: notifying %s of %s (attempt %d; retried): %w", a.Applicant, a.ID, j.Attempt, err)
	}
	return nil
}

// rememberLanguage puts the applicant in MNotify's contact registry with
// the language they applied in, when it does not know them yet: MNotify
// writes to a person in their registered language (a language the person
// chose there stays).
func (s *Service) rememberLanguage(ctx context.Context, a *application.Application) error {
	_, err := s.cfg.MNotify.Contact(ctx, a.Applicant)
	if !errors.Is(err, mnotifyclient.ErrNotFound) {
		if errors.Is(err, mnotifyclient.ErrAuthorizationFailed) {
			return nil // not a cabinet system: MNotify's default language
		}
		return err
	}
	lang := a.Lang
	if lang == "" {
		lang = i18n.Default
	}
	_, err = s.cfg.MNotify.SetContact(ctx, mnotifyclient.Contact{IDNP: a.Applicant, Language: lang})
	return err
}

// notification words the state st of a in each language.
func (s *Service) notification(a *application.Application, st application.State) mnotifyclient.NotificationRequest {
	var subject, body mnotifyclient.Texts
	url := s.url(PathPrefix + "/cereri/" + a.ID)
	for _, lang := range i18n.Langs {
		w := wording(lang)
		title := a.Service
		if svc, err := s.cfg.Catalog.Service(a.Service); err == nil {
			title = svc.Title.In(lang)
		}
		state := stateText(w, st, a.Reason)
		if st != a.State {
			state = w[string(st)] // the job runs after a later change: this one's words
		}
		loc := messages.Localizer(lang)
		subject.Set(lang, loc.T("portal.NotifySubject", "ID", a.ID, "State", state))
		body.Set(lang, loc.T("portal.NotifyBody", "ID", a.ID, "Service", title, "State", state, "URL", url))
	}
	return mnotifyclient.NotificationRequest{Subject: subject, Body: body, BodyShort: subject, Priority: mnotifyclient.PriorityMedium,
		Recipients: []mnotifyclient.Recipient{{Value: a.Applicant, Type: mnotifyclient.RecipientIdnp}}}
}

// jobPoll is how often the portal's queue looks for work.
func (s *Service) jobPoll() time.Duration {
	if s.cfg.JobPoll > 0 {
		return s.cfg.JobPoll
	}
	if s.cfg.MPaySP != nil && s.cfg.MPaySP.Poll > 0 {
		return s.cfg.MPaySP.Poll
	}
	return time.Second
}
