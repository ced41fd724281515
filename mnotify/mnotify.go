// Package mnotify is MNotify, the notification service (egov-flows §6): a
// registered system posts a notification (texts in ro/ru/en or a template
// with variables) for people, by IDNP, or e-mail addresses; each recipient
// gets it on its channels — the MCabinet inbox of an IDNP, and e-mail
// through an SMTP relay when the contact registry knows the person's
// address or the recipient is one — and every delivery has its status
// (Pending → Sending → Sent → Delivered → Read; Cancelled; Failed).
//
// E-mail deliveries are durable jobs (package jobs) enqueued in the same
// transaction as the notification: a relay that is down is retried with
// backoff, a restart loses nothing, a cancelled notification sends nothing
// more. The Service mounts the REST API (mnotify/client) on a service.Host.
package mnotify

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// Config configures the service.
type Config struct {
	Store *store.Store // required: notifications, deliveries, jobs, audit log
	Log   *slog.Logger
	// SMTP is the e-mail relay; nil: no e-mail channel (notifications to
	// e-mail addresses are refused, people get their inbox only).
	SMTP *SMTP
	// Jobs tunes the delivery queue (its Queue is "mnotify"); the zero
	// value retries an e-mail 12 times over about six hours.
	Jobs jobs.Options
}

// Service is MNotify as a service.Service. It works its delivery jobs
// from New until Close.
type Service struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	q       *jobs.Queue
	systems sysauth.Cache
}

// New builds the service, creates its tables and starts delivering.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("mnotify: a store is required")
	}
	if cfg.SMTP != nil {
		if err := cfg.SMTP.check(); err != nil {
			return nil, err
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cfg.Store.CreateSchema(ctx, schema); err != nil {
		return nil, err
	}
	jo := cfg.Jobs
	jo.Queue = "mnotify"
	if jo.MaxAttempts == 0 {
		jo.MaxAttempts = 12
	}
	if jo.Log == nil {
		jo.Log = log
	}
	q, err := jobs.New(ctx, cfg.Store, jo)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, st: cfg.Store, log: log, q: q}
	if err := jobs.Register(q, jobs.Worker[emailArgs](&emailWorker{s: s})); err != nil {
		return nil, err
	}
	if err := q.Start(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is "mnotify".
func (s *Service) Name() string { return "mnotify" }

// Close stops delivering: it waits up to 10 s for the e-mails being sent;
// those cut short are sent again later (same Message-ID).
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.q.Stop(ctx)
}

//go:embed openapi.json
var openAPI []byte

// Mount adds the REST API and its description.
func (s *Service) Mount(g *echo.Group) {
	g.GET(client.PathOpenAPI, func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI) })
	auth := s.authenticated
	g.POST(route(client.PathNotifications), s.postNotification, auth)
	g.GET(route(client.PathNotifications), s.listNotifications, auth)
	g.GET(route(client.PathNotification), s.getNotification, auth)
	g.DELETE(route(client.PathNotification), s.cancelNotification, auth)
	g.GET(route(client.PathTemplates), s.listTemplates, auth)
	g.POST(route(client.PathTemplates), s.createTemplate, auth)
	g.GET(route(client.PathTemplate), s.getTemplate, auth)
	g.PUT(route(client.PathTemplate), s.putTemplate, auth)
	g.DELETE(route(client.PathTemplate), s.deleteTemplate, auth)
	g.POST(route(client.PathTemplateCheck), s.checkTemplate, auth)
	g.GET(route(client.PathContact), s.getContact, auth, cabinetOnly)
	g.PUT(route(client.PathContact), s.putContact, auth, cabinetOnly)
	g.DELETE(route(client.PathContact), s.deleteContact, auth, cabinetOnly)
	g.GET(route(client.PathInbox), s.inbox, auth, cabinetOnly)
	g.POST(route(client.PathInboxRead), s.markRead, auth, cabinetOnly)
}

// newID is a random UUID (version 4).
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}
