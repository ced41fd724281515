package mpass

// OpenID Connect Back-Channel Logout 1.0. When an SSO session ends (the
// person's logout on the session page, SAML single logout, RP-initiated
// logout, the idle timeout), endSession removes it and, in the same store
// transaction, enqueues one job per OpenID Connect client of the session
// that registered a back-channel logout URI. The job (jobs/, durable, run
// by one of the instances sharing the store) POSTs a signed logout token
// (iss, aud, iat, exp, jti, events, sub and sid; never a nonce) to the
// client, and is retried with backoff until the client answers 200; each
// attempt is in the audit log.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	zcrypto "github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

const (
	// backchannelTimeout bounds one delivery attempt.
	backchannelTimeout = 5 * time.Second
	// logoutAttempts is how many times a logout token is offered to a
	// client before MPass gives up (with river's n⁴ s backoff: about 1 h 20).
	logoutAttempts = 10
	// logoutTokenTTL is a logout token's life (its exp).
	logoutTokenTTL = 2 * time.Minute
)

// logoutArgs is the job of one back-channel logout: which client, which
// session (its SessionIndex, the ID tokens' sid), whose.
type logoutArgs struct {
	Client  string `json:"client" river:"unique"`
	Session string `json:"session" river:"unique"`
	IDNP    string `json:"idnp"`
}

func (logoutArgs) Kind() string { return "mpass.backchannel-logout" }

// ErrSessionEnded: the session was ended already (by another request or
// instance), whose logout is under way.
var ErrSessionEnded = errors.New("mpass: the session has ended already")

// startJobs makes the service's job queue ("mpass") and starts it.
func (s *Service) startJobs() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := jobs.New(ctx, s.cfg.Store, jobs.Options{Queue: "mpass", PollInterval: s.cfg.JobPoll, Backoff: s.cfg.JobBackoff,
		MaxAttempts: logoutAttempts, JobTimeout: 2 * backchannelTimeout, Log: s.cfg.Log})
	if err != nil {
		return fmt.Errorf("mpass: the job queue: %w", err)
	}
	if err := jobs.Register(q, jobs.WorkFunc(s.deliverLogout)); err != nil {
		return err
	}
	if err := jobs.Register(q, jobs.WorkFunc(s.expireSession)); err != nil {
		return err
	}
	if err := q.Start(context.Background()); err != nil {
		return fmt.Errorf("mpass: starting the job queue: %w", err)
	}
	s.queue = q
	return nil
}

// stopJobs stops the queue, letting a delivery under way finish.
func (s *Service) stopJobs() {
	if s.queue == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), backchannelTimeout+time.Second)
	defer cancel()
	if err := s.queue.Stop(ctx); err != nil {
		s.cfg.Log.Warn("mpass: stopping the job queue", "err", err)
	}
}

// endSession ends the SSO session stored under key: in one store
// transaction it removes the session, records ev in the audit log and
// enqueues the back-channel logout of each OpenID Connect client of the
// session that registered a URI. ErrSessionEnded when the session is gone
// already (nothing is recorded or sent twice).
func (s *Service) endSession(ctx context.Context, key string, ss *ssoSession, ev store.Event) error {
	var notify []string
	for _, sp := range ss.SPs {
		id, ok := strings.CutPrefix(sp, oidcSPPrefix)
		if !ok {
			continue
		}
		cl, err := s.sps.Client(ctx, id)
		if errors.Is(err, ErrUnknownClient) {
			continue // removed since: nobody to tell
		}
		if err != nil {
			return err
		}
		if cl.BackchannelLogoutURI != "" {
			notify = append(notify, id)
		}
	}
	return s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM items WHERE kind = ? AND id = ?`, kindSession, key)
		if err != nil {
			return fmt.Errorf("mpass: ending the session: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return ErrSessionEnded
		}
		if err := s.cancelExpiry(ctx, tx, ss); err != nil {
			return err
		}
		for _, id := range notify {
			if _, err := s.queue.EnqueueTx(ctx, tx, logoutArgs{Client: id, Session: ss.Index, IDNP: ss.Identity.IDNP},
				&jobs.EnqueueOpts{Unique: true}); err != nil {
				return fmt.Errorf("mpass: the back-channel logout of %s: %w", id, err)
			}
		}
		_, err = tx.Append(ctx, ev)
		return err
	})
}

// deliverLogout is one attempt at a back-channel logout: the client gets a
// fresh logout token; an answer other than 200 (or 204) is an error, which
// the queue retries with backoff. Every attempt is audited
// (mpass.logout-delivered, mpass.logout-undelivered with the attempt's
// number and, on the last, final=true).
func (s *Service) deliverLogout(ctx context.Context, j *jobs.Job[logoutArgs]) error {
	a := j.Args
	subject := oidcSPPrefix + a.Client
	details := map[string]string{"session": a.Session, "attempt": strconv.Itoa(j.Attempt)}
	cl, err := s.sps.Client(ctx, a.Client)
	if errors.Is(err, ErrUnknownClient) {
		details["error"] = "the client is no longer registered"
		s.audit(ctx, auditEvent("mpass.logout-undelivered", a.IDNP, subject, details))
		return jobs.Cancel(err)
	}
	if err != nil {
		return err
	}
	if cl.BackchannelLogoutURI == "" {
		details["error"] = "the client no longer has a back-channel logout URI"
		s.audit(ctx, auditEvent("mpass.logout-undelivered", a.IDNP, subject, details))
		return jobs.Cancel(errors.New(details["error"]))
	}
	ctx, cancel := context.WithTimeout(ctx, backchannelTimeout)
	defer cancel()
	if err = s.oidc.sendLogoutToken(ctx, cl, a); err == nil {
		s.audit(ctx, auditEvent("mpass.logout-delivered", a.IDNP, subject, details))
		return nil
	}
	details["error"] = err.Error()
	if j.Attempt >= j.MaxAttempts {
		details["final"] = "true"
	}
	s.cfg.Log.Warn("mpass: back-channel logout", "client", a.Client, "attempt", j.Attempt, "err", err)
	s.audit(ctx, auditEvent("mpass.logout-undelivered", a.IDNP, subject, details))
	return err
}

var errBackchannel = errors.New("mpass: the client did not accept the logout token")

// sendLogoutToken POSTs a logout token for the job's session to the
// client's back-channel logout URI. The token itself is never logged.
func (f *oidcFace) sendLogoutToken(ctx context.Context, cl *OIDCClient, a logoutArgs) error {
	now := f.s.cfg.Now()
	claims := oidc.NewLogoutTokenClaims(f.issuer, f.subject(cl, a.IDNP), oidc.Audience{cl.ID},
		now.Add(logoutTokenTTL), newID(), a.Session, 0)
	claims.IssuedAt = oidc.FromTime(now)
	signer, err := op.SignerFromKey(f.key)
	if err != nil {
		return err
	}
	token, err := zcrypto.Sign(claims, signer)
	if err != nil {
		return fmt.Errorf("mpass: signing the logout token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.s.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the client's registration, known already
		}
		return fmt.Errorf("%w: %s: %v", errBackchannel, hostOf(cl.BackchannelLogoutURI), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%w: %s answered %s", errBackchannel, hostOf(cl.BackchannelLogoutURI), resp.Status)
	}
	return nil
}
