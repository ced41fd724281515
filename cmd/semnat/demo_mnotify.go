package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/semnat/semnat/mnotify"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
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

// demoNotifiers are the demo portal's, MPay's and MPower's MNotify
// clients (keys in DATA/portal-mnotify-key, DATA/mpay-mnotify-key,
// DATA/mpower-mnotify-key), pointing at the demo's own MNotify; register
// records the systems there once MNotify's tables exist (the portal as the
// cabinet).
type demoNotifiers struct {
	portal, mpay, mpower          *mnotifyclient.Client
	portalKey, mpayKey, mpowerKey string
}

func newDemoNotifiers(data, base string) (*demoNotifiers, error) {
	n := &demoNotifiers{}
	var err error
	if n.portalKey, err = demoAPIKey(filepath.Join(data, "portal-mnotify-key")); err != nil {
		return nil, err
	}
	if n.mpayKey, err = demoAPIKey(filepath.Join(data, "mpay-mnotify-key")); err != nil {
		return nil, err
	}
	if n.mpowerKey, err = demoAPIKey(filepath.Join(data, "mpower-mnotify-key")); err != nil {
		return nil, err
	}
	if n.portal, err = mnotifyclient.New(base, mnotifyclient.Options{APIKey: n.portalKey}); err != nil {
		return nil, err
	}
	if n.mpay, err = mnotifyclient.New(base, mnotifyclient.Options{APIKey: n.mpayKey}); err != nil {
		return nil, err
	}
	if n.mpower, err = mnotifyclient.New(base, mnotifyclient.Options{APIKey: n.mpowerKey}); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *demoNotifiers) register(ctx context.Context, st *store.Store) error {
	for _, s := range []mnotify.NewSystem{{Name: "portal", APIKey: []byte(n.portalKey), Cabinet: true}, {Name: "mpay", APIKey: []byte(n.mpayKey)}, {Name: "mpower", APIKey: []byte(n.mpowerKey)}} {
		if err := mnotify.AddSystem(ctx, st, "demo", s); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("registering %s with MNotify: %w", s.Name, err)
		}
	}
	return nil
}
