package mpass

// The end of an SSO session that nobody touches. A session ends at its
// absolute lifetime (SessionTTL after the login) or when no relying
// service was logged in through it for SessionIdle, whichever comes first,
// and it ends like any other: endSession removes it, enqueues the
// back-channel logout of its OpenID Connect clients and records the end in
// the audit log, naming its services (its SAML services were told the
// absolute end in the assertion's SessionNotOnOrAfter). The request that
// finds a session over ends it (currentSession); so does its expiry job,
// enqueued in the transaction that stores the session and run at the
// session's first possible end by one of the instances sharing the store,
// also when no request ever comes. A job that finds the session used since
// waits for its new end (a snooze, not an attempt).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// sessionGrace is how long a session's row outlives its absolute lifetime
// in the store, so that its expiry job still finds it (and ends it with its
// logouts) when the instances were down at that moment. Past it the
// store's sweep removes the row without logouts.
const sessionGrace = 24 * time.Hour

// expiryArgs is the expiry job of one SSO session: its store key.
type expiryArgs struct {
	Key string `json:"key" river:"unique"`
}

func (expiryArgs) Kind() string { return "mpass.session-expiry" }

// putSession stores a new SSO session under key together with its expiry
// job (both or neither), and notes the job in the session so that an
// earlier end cancels it.
func (s *Service) putSession(ctx context.Context, key string, ss *ssoSession) error {
	return s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		job, err := s.queue.EnqueueTx(ctx, tx, expiryArgs{Key: key}, &jobs.EnqueueOpts{RunAt: s.sessionEnd(ss)})
		if err != nil {
			return fmt.Errorf("mpass: the session's expiry: %w", err)
		}
		ss.ExpiryJob = job.ID
		b, err := json.Marshal(ss)
		if err != nil {
			return err
		}
		return tx.PutMany(ctx, []store.ItemPut{{Kind: kindSession, ID: key, Value: b, TTL: s.cfg.SessionTTL + sessionGrace},
			s.personSessionItem(key, ss)})
	})
}

// sessionEnd is when ss ends unless used again: its absolute end or its
// idle end, whichever comes first.
func (s *Service) sessionEnd(ss *ssoSession) time.Time {
	end, idle := ss.AuthnInstant.Add(s.cfg.SessionTTL), ss.LastUsed.Add(s.cfg.SessionIdle)
	if idle.Before(end) {
		return idle
	}
	return end
}

// sessionOver says whether ss has ended by now and, if so, the audit event
// of its end: mpass.session-expired at its absolute lifetime,
// mpass.session-idle after SessionIdle without use.
func (s *Service) sessionOver(ss *ssoSession) (store.Event, bool) {
	now := s.cfg.Now()
	details := map[string]string{"session": ss.Index, "services": strings.Join(ss.SPs, " ")}
	switch {
	case !now.Before(ss.AuthnInstant.Add(s.cfg.SessionTTL)):
		return auditEvent("mpass.session-expired", ss.Identity.IDNP, "mpass", details), true
	case now.Sub(ss.LastUsed) >= s.cfg.SessionIdle:
		return auditEvent("mpass.session-idle", ss.Identity.IDNP, "mpass", details), true
	}
	return store.Event{}, false
}

// expireSession is a session's expiry job: it ends the session if it is
// over, waits for its new end if it was used since, and does nothing if
// it ended already.
func (s *Service) expireSession(ctx context.Context, j *jobs.Job[expiryArgs]) error {
	b, err := s.cfg.Store.Get(ctx, kindSession, j.Args.Key)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil // ended already, with its logouts
	}
	if err != nil {
		return err
	}
	var ss ssoSession
	if err := json.Unmarshal(b, &ss); err != nil {
		return jobs.Cancel(fmt.Errorf("mpass: the session cannot be read: %w", err))
	}
	ev, over := s.sessionOver(&ss)
	if !over {
		return jobs.Snooze(max(s.sessionEnd(&ss).Sub(s.cfg.Now()), time.Second))
	}
	ss.ExpiryJob = 0 // this job: it ends by itself
	if err := s.endSession(ctx, j.Args.Key, &ss, ev); err != nil && !errors.Is(err, ErrSessionEnded) {
		return err
	}
	return nil
}

// cancelExpiry cancels, in tx, the expiry job of a session that ends
// before it (a logout): nothing is left to do at its end.
func (s *Service) cancelExpiry(ctx context.Context, tx *store.Tx, ss *ssoSession) error {
	if ss.ExpiryJob == 0 {
		return nil
	}
	if _, err := s.queue.CancelTx(ctx, tx, ss.ExpiryJob); err != nil && !errors.Is(err, jobs.ErrNotFound) {
		return fmt.Errorf("mpass: cancelling the session's expiry: %w", err)
	}
	return nil
}
