package main

import (
	"context"
	"fmt"
	"time"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/server"
)

// demoMPayPerson is the demo's first virtual phone's person: staff of the
// demo MPay service, and the customer of its order DEMO-TAXA-1 (so that
// their history at /mpay/platile-mele shows it once paid).
var demoMPayPerson = mobileid.GeneratedUser(0).IDNP

// demoMPayWeb turns on MPay's pages for people in the demo (a SAML key
// made at each start; the server gives them the demo's MPass metadata,
// registerMPayPages registers them with it).
func demoMPayWeb(base string) (*mpay.WebConfig, error) {
	key, cert, err := mpass.SelfSigned("mpay (demo)", time.Now(), 1)
	if err != nil {
		return nil, err
	}
	return &mpay.WebConfig{PublicURL: base, Key: key, Certificate: cert}, nil
}

// registerMPayPages registers MPay's pages with the demo's MPass (anew at
// each start: their key is made at start).
func registerMPayPages(ctx context.Context, srv *server.Server) error {
	md, err := srv.MPay.Metadata()
	if err != nil {
		return err
	}
	if _, err := srv.MPass.Registry().Add(ctx, md, mpass.SPOptions{}, time.Now()); err != nil {
		return fmt.Errorf("registering MPay's pages with MPass: %w", err)
	}
	return nil
}
