package main

import (
	"context"
	"errors"
	"time"

	"github.com/semnat/semnat/mnotify"
	"github.com/semnat/semnat/mnotify/mailsink"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// demoMNotify starts the demo's SMTP receiver on loopback and returns
// MNotify's configuration pointing at it (the receiver's page is mounted
// by mountMailSink).
func demoMNotify() (*mnotify.Config, *mailsink.Sink, error) {
	sink, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		return nil, nil, err
	}
	return &mnotify.Config{SMTP: &mnotify.SMTP{Addr: sink.Addr(), From: "notificari@semnat.localhost", TLS: mnotify.TLSNone,
		HelloName: "semnat.localhost", Timeout: 30 * time.Second}}, sink, nil
}

// mountMailSink serves the receiver's page at /mail/.
func mountMailSink(h interface{ Mount(service.Service) }, sink *mailsink.Sink) {
	h.Mount(service.Handler("mailsink", sink.Handler(), nil, "/mail", "/mail/*"))
}

// seedMNotify registers the demo API key (DATA/api-key) as an MNotify
// system that is also the cabinet (it reads inboxes and keeps contacts).
func seedMNotify(ctx context.Context, st *store.Store, apiKey string) error {
	err := mnotify.AddSystem(ctx, st, "demo", mnotify.NewSystem{Name: "demo", APIKey: []byte(apiKey), Cabinet: true})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return nil
}
