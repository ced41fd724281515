package main

import (
	"context"
	"crypto/x509"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/store"
)

// systemCredential is a system's name and what it authenticates with: its
// TLS client certificate or its API key (one of the two).
type systemCredential struct {
	Name   string
	Cert   *x509.Certificate
	APIKey []byte
}

// newSystemsAddCmd is `semnat SERVICE systems add NAME` of the services
// whose systems are sysauth's (MSign, MPower, MNotify): the store flags,
// --cert or --api-key-file, and the registration's outcome; add registers
// the system with the service, and the caller adds the service's own
// flags to the command.
func newSystemsAddCmd(a *app, use, example string, add func(ctx context.Context, st *store.Store, c systemCredential) error) *cobra.Command {
	var sf storeFlags
	var cred credentialFlags
	cmd := &cobra.Command{
		Use:     use,
		Short:   "Register a system",
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := systemCredential{Name: args[0]}
			var err error
			if c.Cert, c.APIKey, err = cred.load(a, c.Name); err != nil {
				return err
			}
			return registerSystem(cmd, a, &sf, c.Name, func(ctx context.Context, st *store.Store) error {
				return add(ctx, st, c)
			})
		},
	}
	sf.register(cmd.Flags())
	cred.register(cmd)
	return cmd
}
