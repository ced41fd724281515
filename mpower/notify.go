package mpower

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/semnat/semnat/jobs"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/store"
)

// Notices: the parties hear of a change of their power (the
// representative of a grant, an acceptance and a revocation; the grantor
// of an acceptance, a refusal and a renunciation). Each notice is a
// durable job enqueued in the change's own transaction (package jobs, the
// queue "mpower"), so that a change is never made without its notices nor
// a notice sent about a change that did not happen; the job hands it to
// the Notifier, retried while the Notifier fails. Sending the same
// notice again (a job run twice) carries the same idempotency key, which
// MNotify answers with the notification it already has.

// Notice is what one person hears of a change of a power.
type Notice struct {
	Code     string    `json:"code"`
	TypeCode string    `json:"type"`
	Event    Event     `json:"event"`
	State    State     `json:"state"` // the power's state after the change
	To       string    `json:"to"`    // the IDNP told
	Lang     string    `json:"lang"`  // the power's language
	Until    time.Time `json:"until"`
	// Key is the notice's idempotency key: the change's audit entry and
	// the person.
	Key string `json:"key"`
}

// Notifier hands a notice to the people's notification service.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// notices are the notices of ev on p (after the change), keyed by the
// change's audit entry seq.
func notices(p *Power, ev Event, seq int64) []Notice {
	var to []string
	switch ev {
	case EvSign, EvRevoke:
		to = []string{p.RepresentedID}
	case EvAccept:
		to = []string{p.RepresentedID, p.SignedBy}
	case EvDecline, EvRenounce:
		to = []string{p.SignedBy}
	}
	out := make([]Notice, 0, len(to))
	for _, idnp := range to {
		out = append(out, Notice{Code: p.Code, TypeCode: p.TypeCode, Event: ev, State: p.State, To: idnp, Lang: p.Lang, Until: p.To,
			Key: fmt.Sprintf("mpower-%s-%d-%s", p.Code, seq, idnp)})
	}
	return out
}

// noticeArgs is the job of one notice.
type noticeArgs struct {
	Notice Notice `json:"notice" river:"unique"`
}

func (noticeArgs) Kind() string { return "mpower.notify" }

// startNotices starts the notice queue and hooks it to the registry's
// changes.
func (s *Service) startNotices(ctx context.Context, opts jobs.Options) error {
	opts.Queue = "mpower"
	if opts.Log == nil {
		opts.Log = s.log
	}
	q, err := jobs.New(ctx, s.cfg.Store, opts)
	if err != nil {
		return fmt.Errorf("mpower: the notice queue: %w", err)
	}
	if err := jobs.Register(q, jobs.WorkFunc(func(ctx context.Context, j *jobs.Job[noticeArgs]) error {
		return s.cfg.Notify.Notify(ctx, j.Args.Notice)
	})); err != nil {
		return err
	}
	if err := q.Start(context.Background()); err != nil {
		return fmt.Errorf("mpower: starting the notice queue: %w", err)
	}
	s.notices = q
	s.reg.changed = func(ctx context.Context, tx *store.Tx, p *Power, ev Event, seq int64) error {
		for _, n := range notices(p, ev, seq) {
			if _, err := q.EnqueueTx(ctx, tx, noticeArgs{Notice: n}, &jobs.EnqueueOpts{Unique: true}); err != nil {
				return fmt.Errorf("mpower: a notice of %s: %w", p.Code, err)
			}
		}
		return nil
	}
	return nil
}

// MNotify sends notices through MNotify's API, MPower being one of its
// registered systems: to the person's MCabinet inbox (and e-mail, when
// their contact has one), in the power's language with Romanian always.
type MNotify struct {
	Client *mnotifyclient.Client
}

// noticeTexts: subject and body of each event, Romanian first; %[1]s is
// the code, %[2]s the type, %[3]s the end date.
var noticeTexts = map[Event][2]mnotifyclient.Texts{
	EvSign: {
		{Ro: "Procură nouă: %[1]s", Ru: "Новая доверенность: %[1]s", En: "New power of representation: %[1]s"},
		{Ro: "Vi s-a acordat procura %[1]s (tip %[2]s), valabilă până la %[3]s. Dacă tipul o cere, acceptați-o prin semnătură în MPower.",
			Ru: "Вам выдана доверенность %[1]s (тип %[2]s), действительная до %[3]s. Если тип этого требует, примите её подписью в MPower.",
			En: "You were granted the power of representation %[1]s (type %[2]s), valid until %[3]s. If its type requires, accept it by signature in MPower."},
	},
	EvAccept: {
		{Ro: "Procura %[1]s a fost acceptată", Ru: "Доверенность %[1]s принята", En: "Power of representation %[1]s accepted"},
		{Ro: "Procura %[1]s (tip %[2]s) a fost acceptată de reprezentant și este în vigoare până la %[3]s.",
			Ru: "Доверенность %[1]s (тип %[2]s) принята представителем и действует до %[3]s.",
			En: "The power of representation %[1]s (type %[2]s) was accepted by the representative and is in force until %[3]s."},
	},
	EvRevoke: {
		{Ro: "Procura %[1]s a fost revocată", Ru: "Доверенность %[1]s отозвана", En: "Power of representation %[1]s revoked"},
		{Ro: "Procura %[1]s (tip %[2]s) a fost revocată de cel care a acordat-o și nu mai este în vigoare.",
			Ru: "Доверенность %[1]s (тип %[2]s) отозвана доверителем и больше не действует.",
			En: "The power of representation %[1]s (type %[2]s) was revoked by its grantor and is no longer in force."},
	},
	EvDecline: {
		{Ro: "Procura %[1]s a fost refuzată", Ru: "Доверенность %[1]s отклонена", En: "Power of representation %[1]s declined"},
		{Ro: "Reprezentantul a refuzat procura %[1]s (tip %[2]s).", Ru: "Представитель отклонил доверенность %[1]s (тип %[2]s).",
			En: "The representative declined the power of representation %[1]s (type %[2]s)."},
	},
	EvRenounce: {
		{Ro: "Reprezentantul a renunțat la procura %[1]s", Ru: "Представитель отказался от доверенности %[1]s", En: "The representative renounced %[1]s"},
		{Ro: "Reprezentantul a renunțat la procura %[1]s (tip %[2]s); ea nu mai este în vigoare.",
			Ru: "Представитель отказался от доверенности %[1]s (тип %[2]s); она больше не действует.",
			En: "The representative renounced the power of representation %[1]s (type %[2]s); it is no longer in force."},
	},
}

// Notify implements Notifier.
func (m *MNotify) Notify(ctx context.Context, n Notice) error {
	texts, ok := noticeTexts[n.Event]
	if !ok {
		return jobs.Cancel(fmt.Errorf("mpower: no notice text for %q", n.Event))
	}
	until := n.Until.In(chisinau).Format("02.01.2006")
	fill := func(t mnotifyclient.Texts) mnotifyclient.Texts {
		f := func(s string) string {
			if s == "" {
				return ""
			}
			return fmt.Sprintf(s, n.Code, n.TypeCode, until)
		}
		return mnotifyclient.Texts{Ro: f(t.Ro), Ru: f(t.Ru), En: f(t.En)}
	}
	_, err := m.Client.Send(ctx, mnotifyclient.NotificationRequest{Subject: fill(texts[0]), Body: fill(texts[1]),
		BodyShort:  fill(texts[0]),
		Recipients: []mnotifyclient.Recipient{{Value: n.To, Type: mnotifyclient.RecipientIdnp}}}, n.Key)
	if errors.Is(err, mnotifyclient.ErrInvalid) || errors.Is(err, mnotifyclient.ErrAuthorizationFailed) {
		return jobs.Cancel(err) // sending it again would be refused again
	}
	return err
}

// chisinau is the time zone dates are shown in.
var chisinau = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Chisinau"); err == nil {
		return l
	}
	return time.FixedZone("EET", 2*60*60)
}()
