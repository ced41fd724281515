package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/mnotify"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
)

const mnotifyRoutesHelp = `  POST   /api/Notification              send: subject, body, bodyShort {ro, ru, en} or a
                                         template {id, variables}; recipients [{value, type: Idnp|Email}];
                                         priority Low|Medium|High; Idempotency-Key header  → 201 "UUID"
  GET    /api/Notification[?Page=&PageSize=]   the system's notifications (X-Total-Count)
  GET    /api/Notification/{id}         status per recipient and channel:
                                         Pending → Sending → Sent → Delivered → Read; Cancelled; Failed
  DELETE /api/Notification/{id}         cancel what is not delivered yet (409 when nothing is left)
  GET|POST /api/Template, GET|PUT|DELETE /api/Template/{id}, POST /api/Template/{id}/check
                                         templates with {{Name}} placeholders
  GET|PUT|DELETE /api/Contact/{idnp}    the contact registry: e-mail, language, channels (cabinet systems)
  GET    /api/Inbox/{idnp}, POST /api/Inbox/{idnp}/{msg}/read   the MCabinet inbox (cabinet systems)
                               for registered systems (TLS client certificate or X-API-Key;
                               see 'semnat mnotify systems')
  /api/mnotify/openapi.json    the API description
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
`

func newMNotifyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mnotify",
		Short: "MNotify: notifications to people (MCabinet inbox, e-mail) for registered systems",
		Long: `MNotify delivers notifications from registered systems to people, by IDNP
(their MCabinet inbox, and e-mail when the contact registry knows their
address) or to e-mail addresses, through an SMTP relay. Every delivery has a
status; e-mails are durable jobs in the store, retried with backoff while
the relay is down and kept across restarts.

'semnat mnotify serve' runs it alone; 'semnat serve --demo' beside the other
services, with an SMTP receiver whose page is /mail/. 'systems' and
'contacts' manage the registry in the store (--data or --store, as for the
server).`,
	}
	cmd.AddCommand(newMNotifyServeCmd(a), newMNotifySystemsCmd(a), newMNotifyContactsCmd(a))
	return cmd
}

// smtpFlags are the relay settings of 'semnat mnotify serve'.
type smtpFlags struct {
	addr, from, tlsMode, user, passFile, ca, hello string
	timeout                                        time.Duration
}

func (f *smtpFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.addr, "smtp-addr", "", "the SMTP relay HOST:PORT e-mail goes through (none: no e-mail channel)")
	fl.StringVar(&f.from, "smtp-from", "", "the sender address of the e-mails")
	fl.StringVar(&f.tlsMode, "smtp-tls", mnotify.TLSStartTLS, "starttls (required of the relay), tls (implicit, port 465) or none (a relay on loopback only)")
	fl.StringVar(&f.user, "smtp-user", "", "log in to the relay as this user (AUTH PLAIN, over TLS)")
	fl.StringVar(&f.passFile, "smtp-password-file", "", "file with the relay password (else $SEMNAT_SMTP_PASSWORD)")
	fl.StringVar(&f.ca, "smtp-ca", "", "PEM CA certificates the relay's certificate must chain to (default: the system's)")
	fl.StringVar(&f.hello, "smtp-hello", "", "the name sent in EHLO (default localhost)")
	fl.DurationVar(&f.timeout, "smtp-timeout", time.Minute, "time limit of one delivery")
}

// relay is the SMTP relay of the flags (nil without --smtp-addr).
func (f *smtpFlags) relay() (*mnotify.SMTP, error) {
	if f.addr == "" {
		return nil, nil
	}
	s := &mnotify.SMTP{Addr: f.addr, From: f.from, TLS: f.tlsMode, Username: f.user, HelloName: f.hello, Timeout: f.timeout}
	if f.user != "" {
		switch {
		case f.passFile != "":
			b, err := secret.FromFile(f.passFile)
			if err != nil {
				return nil, fmt.Errorf("--smtp-password-file: %w", err)
			}
			s.Password = string(b)
		case os.Getenv("SEMNAT_SMTP_PASSWORD") != "":
			s.Password = os.Getenv("SEMNAT_SMTP_PASSWORD")
		default:
			return nil, errors.New("--smtp-user needs a password: --smtp-password-file FILE or $SEMNAT_SMTP_PASSWORD")
		}
	}
	if f.ca != "" {
		certs, err := loadCertificates([]string{f.ca})
		if err != nil {
			return nil, fmt.Errorf("--smtp-ca: %w", err)
		}
		s.TLSConfig = &tls.Config{RootCAs: certPool(certs), MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

func newMNotifyServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	sf := &smtpFlags{}
	cmd := &cobra.Command{
		Use:   "serve [--smtp-addr HOST:PORT --smtp-from ADDR ...] [--tls-cert FILE --tls-key FILE --client-ca PEM] ...",
		Short: "Run MNotify alone: the notification API and its deliveries",
		Long: `Run MNotify as a service of its own:

` + mnotifyRoutesHelp + `
E-mail goes through the relay of --smtp-addr: STARTTLS is required of it
unless --smtp-tls says otherwise, and a login (--smtp-user, the password
from --smtp-password-file or $SEMNAT_SMTP_PASSWORD, never a flag) is only
sent over TLS or to a relay on loopback. A relay that is down is retried
with backoff (12 attempts over about 11 hours); a refusal (5xx) fails the
delivery at once. The other settings are those of 'semnat serve' (store,
address, TLS, logs): each a flag, $SEMNAT_NAME or a NAME = VALUE line of the
--config file.`,
		Example: `  semnat mnotify serve --smtp-addr mail.example.md:587 --smtp-from notificari@example.md --smtp-user mnotify --smtp-password-file /run/secrets/smtp
  semnat mnotify serve --store postgres://mnotify@db/semnat --tls-cert srv.pem --tls-key srv.key --client-ca systems-ca.pem --smtp-addr 127.0.0.1:25 --smtp-tls none --smtp-from mnotify@example.md`,
		Args: cobra.NoArgs,
	}
	f.bind(a, cmd, false, func(ctx context.Context, a *app, f *serveFlags, name string) error {
		relay, err := sf.relay()
		if err != nil {
			return withCode(exitUsage, err)
		}
		if relay == nil {
			a.log.Warn("no --smtp-addr: MNotify delivers to MCabinet inboxes only, and refuses e-mail recipients")
		}
		tlsCfg, err := f.tlsConfig()
		if err != nil {
			return withCode(exitUsage, err)
		}
		if err := os.MkdirAll(f.data, 0o700); err != nil {
			return withCode(exitUsage, err)
		}
		return f.serveComposed(ctx, a, tlsCfg, func(st *store.Store, base string) (server.Config, string) {
			e := "no e-mail"
			if relay != nil {
				e = "e-mail through " + relay.Addr
			}
			return server.Config{MNotify: &mnotify.Config{SMTP: relay}},
				fmt.Sprintf("%s: %s (send: POST %s%s; %s)", name, base, base, mnotifyclient.PathNotifications, e)
		})
	})
	sf.register(cmd.Flags())
	return cmd
}

func newMNotifySystemsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "systems",
		Short: "Register the services that may send notifications",
		Long: `The services (information systems) that may send notifications. A system is
known by its TLS client certificate (issuer and serial number) or by an API
key, of which only the SHA-256 is kept. It sees only its own notifications.
A system registered with --cabinet (MCabinet, the portal) also reads
people's inboxes and keeps the contact registry.`,
	}
	cmd.AddCommand(newMNotifySystemsAddCmd(a), newMNotifySystemsListCmd(a),
		newSystemsRemoveCmd(a, "mnotify", "Remove a registered system (it can no longer send notifications)"))
	return cmd
}

func newMNotifySystemsAddCmd(a *app) *cobra.Command {
	var n mnotify.NewSystem
	cmd := newSystemsAddCmd(a, "add NAME (--cert FILE | --api-key-file FILE) [--cabinet]",
		`  semnat mnotify systems add asp --api-key-file asp.key
  semnat mnotify systems add portal --cert portal.pem --cabinet`,
		func(ctx context.Context, st *store.Store, c systemCredential) error {
			n.Name, n.Cert, n.APIKey = c.Name, c.Cert, c.APIKey
			return mnotify.AddSystem(ctx, st, cliActor(), n)
		})
	cmd.Flags().BoolVar(&n.Cabinet, "cabinet", false, "the system is MCabinet: it reads inboxes and keeps contacts")
	return cmd
}

func newMNotifySystemsListCmd(a *app) *cobra.Command {
	type row struct {
		Name string `json:"name"`
		systemAuth
		Cabinet bool      `json:"cabinet"`
		Created time.Time `json:"created"`
	}
	return newListCmd(a, "List the registered systems", mnotify.Systems, func(s mnotify.System) row {
		return row{Name: s.Name, systemAuth: authOf(s.Cert), Cabinet: s.Cabinet, Created: s.Created}
	}, "NAME\tAUTH\tCABINET\tREGISTERED", func(r row) string {
		return fmt.Sprintf("%s\t%s\t%v\t%s", r.Name, r.column(), r.Cabinet, r.Created.Format(time.DateTime))
	})
}

func newMNotifyContactsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contacts",
		Short: "The contact registry: where a person's e-mail goes, in which language",
		Long: `The contact registry: for a person (IDNP), the e-mail address notifications
go to besides their MCabinet inbox, their language (ro, ru, en) and the
channels they want (empty: all; a High priority notification uses all).
Cabinet systems keep it over the API (PUT /api/Contact/{idnp}).`,
	}
	cmd.AddCommand(newMNotifyContactsSetCmd(a), newMNotifyContactsListCmd(a), newMNotifyContactsRemoveCmd(a))
	return cmd
}

// openMNotifyStore opens the store of sf with MNotify's tables in it.
func openMNotifyStore(cmd *cobra.Command, a *app, sf *storeFlags) (*store.Store, error) {
	st, err := sf.open(cmd.Flags(), a.log)
	if err != nil {
		return nil, err
	}
	if err := st.CreateSchema(cmd.Context(), mnotify.Schema); err != nil {
		st.Close()
		return nil, withCode(exitFailed, err)
	}
	return st, nil
}

func newMNotifyContactsSetCmd(a *app) *cobra.Command {
	var sf storeFlags
	var c mnotifyclient.Contact
	cmd := &cobra.Command{
		Use:     "set IDNP [--email ADDR] [--lang ro|ru|en] [--channel email|inbox]...",
		Short:   "Set (replace) a person's contact",
		Example: `  semnat mnotify contacts set 2006022048426 --email ion@example.md --lang ro`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.IDNP = args[0]
			if err := c.Check(); err != nil {
				return withCode(exitUsage, err)
			}
			st, err := openMNotifyStore(cmd, a, &sf)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := mnotify.SetContact(cmd.Context(), st, cliActor(), c); err != nil {
				return withCode(exitFailed, err)
			}
			a.say("set the contact of %s\n", c.IDNP)
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().StringVar(&c.Email, "email", "", "the person's e-mail address")
	cmd.Flags().StringVar(&c.Language, "lang", "", "the person's language: ro (default), ru or en")
	cmd.Flags().StringArrayVar(&c.Channels, "channel", nil, "a channel the person wants: email or inbox (repeatable; default all)")
	return cmd
}

func newMNotifyContactsListCmd(a *app) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the contact registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openMNotifyStore(cmd, a, &sf)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := mnotify.Contacts(cmd.Context(), st)
			if err != nil {
				return withCode(exitFailed, err)
			}
			return printRows(a, list, "IDNP\tE-MAIL\tLANGUAGE\tCHANNELS\tUPDATED", func(c mnotifyclient.Contact) string {
				ch := strings.Join(c.Channels, " ")
				if ch == "" {
					ch = "all"
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", c.IDNP, c.Email, c.Language, ch, c.Updated.Format(time.DateTime))
			})
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func newMNotifyContactsRemoveCmd(a *app) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "remove IDNP",
		Short: "Forget a person's contact",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openMNotifyStore(cmd, a, &sf)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := mnotify.DeleteContact(cmd.Context(), st, cliActor(), args[0]); err != nil {
				if errors.Is(err, mnotify.ErrNotFound) {
					return withCode(exitUsage, err)
				}
				return withCode(exitFailed, err)
			}
			a.say("removed the contact of %s\n", args[0])
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}
