package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"

	mnotifyclient "github.com/semnat/semnat/mnotify/client"
)

// mnotifyFlags are --mnotify and --mnotify-key-file of a service that
// notifies people through MNotify (the portal, MPay).
type mnotifyFlags struct{ url, keyFile string }

func (m *mnotifyFlags) register(fl *pflag.FlagSet, what string) {
	fl.StringVar(&m.url, "mnotify", "", "MNotify's URL: "+what+" (none: nobody is notified)")
	fl.StringVar(&m.keyFile, "mnotify-key-file", "", "file with this service's API key at --mnotify (else $SEMNAT_MNOTIFY_KEY; 'semnat mnotify systems add')")
}

// client is the MNotify client of the flags, nil without --mnotify.
func (m *mnotifyFlags) client(log *slog.Logger) (*mnotifyclient.Client, error) {
	if m.url == "" {
		return nil, nil
	}
	key, err := apiKey(m.keyFile, "SEMNAT_MNOTIFY_KEY")
	if err != nil {
		return nil, fmt.Errorf("--mnotify-key-file: %w", err)
	}
	if key == "" {
		log.Warn("--mnotify without an API key (--mnotify-key-file, $SEMNAT_MNOTIFY_KEY): MNotify must know this service by its TLS client certificate")
	}
	c, err := mnotifyclient.New(m.url, mnotifyclient.Options{APIKey: key})
	if err != nil {
		return nil, fmt.Errorf("--mnotify: %w", err)
	}
	return c, nil
}
