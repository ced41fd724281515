package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpass/demorp"
	"github.com/semnat/semnat/server"
)

// newMPassClientCmd is `semnat mpass client add|list|remove`: the
// register of OpenID Connect clients.
func newMPassClientCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "client",
		Aliases: []string{"clients"},
		Short:   "Register, list and remove the OpenID Connect clients",
	}
	var spec mpass.OIDCClientSpec
	add := &cobra.Command{
		Use:   "add --redirect-uri URL [--redirect-uri URL ...] [--id ID] [--auth METHOD | --jwks FILE] [--pairwise]",
		Short: "Register an OpenID Connect client (or replace the registration of its id)",
		Long: `Register an OpenID Connect client of MPass's OpenID provider (issuer
PUBLIC-URL/oidc, discovery at PUBLIC-URL/oidc/.well-known/openid-configuration).

The client uses the authorization code flow with PKCE (S256, required). Its
redirect URIs are compared exactly with each request's redirect_uri. The
client authenticates at the token endpoint with the secret printed here, once
(only its digest is kept): client_secret_basic (default) or client_secret_post;
--auth none registers a public client (PKCE only, no secret). With --jwks FILE
(a JWK set of public keys) the client authenticates with private_key_jwt
instead: a JWT it signs (iss = sub = client id, aud = the token endpoint or the
issuer, exp at most 10 minutes ahead, a jti used once).

The ID token's sub is "MD" followed by the person's IDNP; with --pairwise the
client gets a subject of its own for each person instead, which other clients
cannot link. Registering an id again replaces its registration and its secret.

With --backchannel-logout-uri the client gets a signed logout token (OpenID
Connect Back-Channel Logout 1.0: iss, aud, iat, exp, jti, events, sub, sid)
POSTed to that URI whenever a session it logged in through ends, whichever
service or person ended it. The delivery is retried with backoff until the
client answers 200; each attempt is in the audit log.`,
		Example: `  semnat mpass client add --id shop --redirect-uri https://shop.example/callback --post-logout-uri https://shop.example/
  semnat mpass client add --redirect-uri https://app.example/cb --auth client_secret_post --pairwise
  semnat mpass client add --id bank --redirect-uri https://bank.example/cb --jwks bank-public.jwks`,
		Args: cobra.NoArgs,
	}
	addStore := mpassStoreFlags(add)
	add.Flags().StringVar(&spec.ID, "id", "", "the client id (default: one is made)")
	add.Flags().StringVar(&spec.Name, "name", "", "the client's name, for people")
	add.Flags().StringArrayVar(&spec.RedirectURIs, "redirect-uri", nil, "a redirect URI (repeatable; compared exactly)")
	add.Flags().StringArrayVar(&spec.PostLogoutRedirectURIs, "post-logout-uri", nil, "a post-logout redirect URI of RP-initiated logout (repeatable)")
	add.Flags().StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "where a logout token is POSTed when a session the client logged in through ends")
	add.Flags().BoolVar(&spec.BackchannelLogoutSessionRequired, "backchannel-logout-session-required", false, "the client needs the sid claim in its logout tokens (MPass always sends sid and sub)")
	add.Flags().StringVar(&spec.AuthMethod, "auth", "", "token endpoint authentication: client_secret_basic (default), client_secret_post, private_key_jwt (the default with --jwks) or none")
	var jwksFile string
	add.Flags().StringVar(&jwksFile, "jwks", "", "a JWK set FILE of the client's public keys, for --auth private_key_jwt (private keys are refused)")
	add.Flags().BoolVar(&spec.Pairwise, "pairwise", false, "a pairwise subject for this client instead of MD+IDNP")
	add.RunE = func(cmd *cobra.Command, _ []string) error {
		if jwksFile != "" {
			b, err := os.ReadFile(jwksFile)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("--jwks: %w", err))
			}
			spec.JWKS = b
		}
		return withRegistry(a, addStore, func(r *mpass.Registry) error {
			cl, secret, err := r.AddClient(cmd.Context(), spec, time.Now())
			if err != nil {
				if errors.Is(err, mpass.ErrBadClient) {
					return withCode(exitUsage, err)
				}
				return withCode(exitFailed, err)
			}
			if a.json {
				return a.printJSON(struct {
					ID     string `json:"clientId"`
					Secret string `json:"clientSecret,omitempty"`
					Auth   string `json:"tokenEndpointAuthMethod"`
				}{cl.ID, secret, cl.AuthMethod})
			}
			a.say("registered client %s (redirect URIs: %s)\n", cl.ID, strings.Join(cl.RedirectURIs, ", "))
			if secret != "" {
				a.say("client secret (shown once, keep it secret): %s\n", secret)
			}
			return nil
		})
	}
	list := &cobra.Command{Use: "list", Short: "List the registered OpenID Connect clients", Args: cobra.NoArgs}
	listStore := mpassStoreFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		return withRegistry(a, listStore, func(r *mpass.Registry) error {
			cls, err := r.Clients(cmd.Context())
			if err != nil {
				return withCode(exitFailed, err)
			}
			return printRows(a, cls, "CLIENT ID\tREDIRECT URIS\tAUTH\tPAIRWISE\tREGISTERED", func(c mpass.OIDCClient) string {
				return fmt.Sprintf("%s\t%s\t%s\t%v\t%s", c.ID, strings.Join(c.RedirectURIs, " "), c.AuthMethod, c.Pairwise, c.Added.Format(time.RFC3339))
			})
		})
	}
	remove := &cobra.Command{Use: "remove CLIENT-ID", Short: "Remove an OpenID Connect client's registration", Args: cobra.ExactArgs(1)}
	removeStore := mpassStoreFlags(remove)
	remove.RunE = func(cmd *cobra.Command, args []string) error {
		return withRegistry(a, removeStore, func(r *mpass.Registry) error {
			if err := r.RemoveClient(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, mpass.ErrUnknownClient) {
					return withCode(exitUsage, err)
				}
				return withCode(exitFailed, err)
			}
			a.say("removed client %s\n", args[0])
			return nil
		})
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

// oidcOptions are the OpenID Connect settings of `semnat mpass serve`.
func (mf *mpassFlags) oidcOptions() (mpass.OIDCOptions, error) {
	var o mpass.OIDCOptions
	if mf.oidcKey == "" {
		return o, nil
	}
	k, err := keyfile.LoadKey(mf.oidcKey)
	if err != nil {
		return o, fmt.Errorf("--oidc-key: %w", err)
	}
	o.Key = k
	return o, nil
}

// demoOIDCKey is the demo's ID-token key (ECDSA P-256), made on first
// start in dir.
func demoOIDCKey(a *app, dir string) (crypto.Signer, error) {
	path := filepath.Join(dir, "oidc-key.pem")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "generated the MPass ID-token key in %s\n", path)
	}
	k, err := keyfile.LoadKey(path)
	if err != nil {
		return nil, fmt.Errorf("the demo's MPass ID-token key %s: %w (remove it to make a new one)", path, err)
	}
	return k, nil
}

// demoOIDCClient mounts the demo's OpenID Connect client and registers it
// with the demo's MPass (anew at each start, with a new secret).
func demoOIDCClient(ctx context.Context, srv *server.Server, base string) error {
	_, secret, err := srv.MPass.Registry().AddClient(ctx, mpass.OIDCClientSpec{ID: "demo-oidc", Name: "Demo OpenID Connect client",
		RedirectURIs: []string{demorp.OIDCRedirectURI(base)}, PostLogoutRedirectURIs: []string{demorp.OIDCPostLogoutURI(base)}}, time.Now())
	if err != nil {
		return err
	}
	srv.Mount(demorp.NewOIDC(base, srv.MPass.Issuer(), "demo-oidc", secret).Service())
	return nil
}
