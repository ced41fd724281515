package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
	"github.com/semnat/semnat/tsa"
)

const mpayRoutesHelp = `  POST /service/pay             ServiceID, OrderKey, ReturnUrl: the SP's page sends the payer here
  GET  /mpay                     the payer starts at MPay: choose the service, type the order key
  GET  /mpay/invoice/TOKEN       checkout (the order is pulled again on each visit), card form
  GET  /mpay/invoice/TOKEN/payment/ID[/receipt.pdf]   status, 3-D Secure page, sealed receipt
  GET  /mpay/bank/TOKEN/ID       the simulated bank's page (e-banking)
  GET  /mpay/terminal            the simulated cash terminal (pays a payment code)
  GET  /mpay/platile-mele        a payer's payments, after MPass login (with --mpass-metadata)
  GET  /mpay/furnizor/SERVICEID  a service's payments, deliveries, webhook attempts: its --staff only
  GET  /mpay/api/v1/invoices?serviceID=&orderKey=      for SPs (mpay/client): invoice and payments
  GET  /mpay/api/v1/payments/ID/receipt                for SPs: the sealed receipt
  POST /mpay/api/v1/refunds                            for SPs: a refund (answer signed by MPay)
                               SP calls are signed by the SP's key (detached JWS)
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
`

func newMPayCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mpay",
		Short: "MPay: the payment gateway (order pull, signed confirmations, sealed receipts)",
		Long: `MPay collects payments for the orders of registered service providers (SPs):
it pulls the order from the SP (GetOrderDetails), the payer pays at the
simulated card processor, and MPay pushes the signed ConfirmOrderPayment to
the SP until the SP acknowledges it (PaymentID is the idempotency key). Each
message is a detached JWS (RFC 7515, unencoded payload per RFC 7797) kept
as evidence; the payer and the SP download a receipt sealed by MPay's key.

'semnat mpay serve' runs it alone; 'semnat serve --demo' beside the other
services, with a demo SP at /demo-mpay/. 'services' manages the SPs in the
store (--data or --store, as for the server); 'payments' lists an SP's
payments and their confirmation attempts. SPs registered with --webhook-url
also get signed webhooks (payment_succeeded, payment_failed,
refund_succeeded).`,
	}
	cmd.AddCommand(newMPayServeCmd(a), newMPayServicesCmd(a), newMPayPaymentsCmd(a))
	return cmd
}

func newMPayServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve (--p12 FILE | --key FILE --cert FILE | --token ...) [--tsa URL] ...",
		Short: "Run MPay alone",
		Long: `Run MPay as a service of its own:

` + mpayRoutesHelp + `
MPay's key (--p12, --key/--cert/--chain or --token, as for 'semnat sign')
seals the receipts: at B-LT with --tsa (the revocation data is fetched
online), else at B-B; it signs the SOAP face's messages (WS-Security,
RSA-SHA256). The REST face's messages (JWS) are signed by MPay's message
key: an EC P-256 key (ES256) made at the first start in DATA, unless
--message-key gives one ("seal": MPay's own key). Give the service
providers its certificate (DATA/mpay-message.crt): they check MPay's
messages against it. Confirmations and
expirations are durable jobs in the store: a restart resumes them. Payers
are told of their confirmed payments through the MNotify at --mnotify (API
key in --mnotify-key-file): by the IDNP the order names, else its e-mail. The other
settings are those of 'semnat serve' (store, address, TLS, logs).`,
		Example: `  semnat mpay serve --p12 mpay.p12 --p12-pass-file /run/secrets/p12 --tsa https://tsa.example/ --store postgres://mpay@db/semnat
  semnat mpay services add MDS02 --endpoint https://sp.example/mpay --cert sp.pem --webhook-secret-file sp-hook.key`,
		Args: cobra.NoArgs,
	}
	var mn mnotifyFlags
	var tf mpayTimeFlags
	var pf mpayPagesFlags
	var mf mpayMessageFlags
	f.bind(a, cmd, false, func(ctx context.Context, a *app, f *serveFlags, name string) error {
		return runMPayServe(ctx, a, f, &mn, &tf, &pf, &mf, name)
	})
	mn.register(cmd.Flags(), "payers are notified there of their confirmed payments")
	tf.register(cmd.Flags())
	pf.register(cmd.Flags())
	mf.register(cmd.Flags())
	return cmd
}

func runMPayServe(ctx context.Context, a *app, f *serveFlags, mn *mnotifyFlags, tf *mpayTimeFlags, pf *mpayPagesFlags, mf *mpayMessageFlags, name string) error {
	if !f.keys.given() {
		return withCode(exitUsage, errors.New("MPay needs its key: give --p12, --key/--cert or --token (it signs the messages to service providers and the receipts)"))
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return withCode(exitUsage, err)
	}
	web, err := pf.web(ctx)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return withCode(exitUsage, err)
	}
	signer, closeSigner, err := f.keys.open(ctx, a)
	if err != nil {
		return err
	}
	defer closeSigner()
	mc := &mpay.Config{Key: signer, Cert: signer.Certificate(), Chain: signer.Chain()}
	tf.apply(mc, f.data)
	msgCert, err := mf.apply(mc, f.data, a.log)
	if err != nil {
		return withCode(exitUsage, err)
	}
	mc.Web = web
	if mc.MNotify, err = mn.client(a.log); err != nil {
		return withCode(exitUsage, err)
	}
	if f.tsaURL != "" {
		mc.Timestamper = pades.TSA{Client: &tsa.Client{URL: f.tsaURL, HTTPClient: &http.Client{Timeout: 15 * time.Second}}}
		mc.Revocation = pades.OnlineRevocation{HTTP: &http.Client{Timeout: 15 * time.Second}}
	}
	return f.serveComposed(ctx, a, tlsCfg, func(st *store.Store, base string) (server.Config, string) {
		if mc.Web != nil {
			mc.Web.PublicURL = base
		}
		return server.Config{MPay: mc}, fmt.Sprintf("%s: %s (pay: POST %s%s; payers: %s%s)%s", name, base, base, mpay.PathPay, base, mpay.PathStart, messageCertNote(msgCert))
	})
}

func newMPayServicesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "services", Short: "Register, list and remove the service providers MPay collects for"}
	cmd.AddCommand(newMPayServicesAddCmd(a), newMPayServicesListCmd(a), newMPayServicesRemoveCmd(a), newMPayServicesStaffCmd(a))
	return cmd
}

func newMPayServicesAddCmd(a *app) *cobra.Command {
	var sf storeFlags
	var sp mpay.SP
	var certFile, secretFile string
	cmd := &cobra.Command{
		Use:   "add SERVICE-ID --endpoint URL --cert FILE [--face rest] [--name NAME] [--webhook-secret-file FILE]",
		Short: "Register a service provider",
		Long: `Register a service provider: its ServiceID (up to 36 characters), the
endpoint URL MPay calls, the face it speaks (rest: JSON with detached JWS,
POST URL/GetOrderDetails and URL/ConfirmOrderPayment; soap: IServiceProvider
at URL, SOAP 1.1 with WS-Security X.509 signatures, its WSDL published at
/mpay/soap/IServiceProvider.wsdl, an RSA certificate), the certificate its
answers and API calls are signed with (PEM or DER), and the file with the secret its webhooks will be signed with (created
with a new secret when missing; never printed). Return URLs must be on the
endpoint's host. --staff IDNP (repeatable) names the people who see the
service's payments, confirmation deliveries and webhook attempts at
/mpay/furnizor/SERVICE-ID after logging in with MPass.`,
		Example: `  semnat mpay services add MDS02 --name "Agenția Servicii Publice" --endpoint https://sp.example/mpay --cert sp.pem --webhook-secret-file mds02-hook.key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sp.ServiceID = args[0]
			if certFile == "" {
				return withCode(exitUsage, errors.New("give --cert FILE: the certificate the service's answers are signed with"))
			}
			certs, err := loadCertificates([]string{certFile})
			if err != nil || len(certs) == 0 {
				return withCode(exitUsage, fmt.Errorf("--cert %s: %v", certFile, err))
			}
			sp.Cert = certs[0]
			if secretFile != "" {
				if sp.WebhookSecret, err = demoAPIKey(secretFile); err != nil {
					return withCode(exitUsage, fmt.Errorf("--webhook-secret-file: %w", err))
				}
			}
			return registerSystem(cmd, a, &sf, sp.ServiceID, func(ctx context.Context, st *store.Store) error {
				if err := mpay.AddService(ctx, st, cliActor(), sp); err != nil {
					if errors.Is(err, mpay.ErrBadService) {
						return fmt.Errorf("%w: %w", sysauth.ErrBadSystem, err)
					}
					return err
				}
				return nil
			})
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().StringVar(&sp.Endpoint, "endpoint", "", "the URL MPay calls (GetOrderDetails, ConfirmOrderPayment under it)")
	cmd.Flags().StringVar(&sp.Face, "face", mpay.FaceREST, "the protocol face: rest (JSON, detached JWS) or soap (WS-Security)")
	cmd.Flags().StringVar(&sp.Name, "name", "", "the name payers see (default: the ServiceID)")
	cmd.Flags().StringVar(&certFile, "cert", "", "the certificate the service signs with (PEM or DER)")
	cmd.Flags().StringVar(&secretFile, "webhook-secret-file", "", "file with the webhook signing secret (created when missing)")
	cmd.Flags().StringSliceVar(&sp.Staff, "staff", nil, "IDNP of a person of the service who sees its payments and deliveries on MPay's pages (repeatable)")
	cmd.Flags().StringVar(&sp.WebhookURL, "webhook-url", "", "URL the events (payment_succeeded, payment_failed, refund_succeeded) are POSTed to, signed with the secret")
	return cmd
}

func newMPayServicesListCmd(a *app) *cobra.Command {
	type row struct {
		ServiceID   string    `json:"serviceID"`
		Name        string    `json:"name"`
		Endpoint    string    `json:"endpoint"`
		Face        string    `json:"face"`
		CertSubject string    `json:"certSubject"`
		CertSerial  string    `json:"certSerial"`
		Webhooks    bool      `json:"webhookSecret"` // whether one is set; never the secret
		Created     time.Time `json:"created"`
	}
	return newListCmd(a, "List the registered service providers", mpay.Services, func(s mpay.SP) row {
		return row{ServiceID: s.ServiceID, Name: s.Name, Endpoint: s.Endpoint, Face: s.Face, CertSubject: s.Cert.Subject.String(),
			CertSerial: s.Cert.SerialNumber.Text(16), Webhooks: s.WebhookSecret != "", Created: s.Created}
	}, "SERVICE\tNAME\tFACE\tENDPOINT\tCERTIFICATE\tWEBHOOK SECRET\tREGISTERED", func(r row) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%v\t%s", r.ServiceID, r.Name, r.Face, r.Endpoint, r.CertSubject, r.Webhooks, r.Created.Format(time.DateTime))
	})
}

func newMPayServicesRemoveCmd(a *app) *cobra.Command {
	return newSystemsRemoveCmd(a, "mpay", "Remove a registered service provider (payers can no longer pay its orders)")
}

func newMPayPaymentsCmd(a *app) *cobra.Command {
	var sf storeFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "payments SERVICE-ID [--limit N]",
		Short: "List a service provider's latest payments and their confirmation deliveries",
		Long: `List the latest payments of a service provider's orders, newest first: the
state, the amount, when it was paid and acknowledged by the SP, how many
confirmation attempts were made and the last error of an unacknowledged one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := sf.open(cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			l, err := mpay.NewLedger(cmd.Context(), st)
			if err != nil {
				return withCode(exitFailed, err)
			}
			list, err := l.ServicePayments(cmd.Context(), args[0], limit)
			if err != nil {
				return withCode(exitFailed, err)
			}
			type row struct {
				PaymentID   string     `json:"paymentID"`
				OrderKey    string     `json:"orderKey"`
				InvoiceID   string     `json:"invoiceID"`
				State       string     `json:"state"`
				Instrument  string     `json:"instrument"`
				Amount      string     `json:"amount"`
				Currency    string     `json:"currency"`
				PaidAt      *time.Time `json:"paidAt,omitempty"`
				ConfirmedAt *time.Time `json:"confirmedAt,omitempty"`
				Attempts    int        `json:"attempts"`
				LastError   string     `json:"lastError,omitempty"`
			}
			at := func(t time.Time) *time.Time {
				if t.IsZero() {
					return nil
				}
				u := t.UTC()
				return &u
			}
			var rows []row
			for _, p := range list {
				rows = append(rows, row{PaymentID: p.ID, OrderKey: p.OrderKey, InvoiceID: p.InvoiceID, State: string(p.State), Instrument: p.Instrument,
					Amount: mpay.FormatAmount(p.Amount), Currency: p.Currency, PaidAt: at(p.PaidAt), ConfirmedAt: at(p.ConfirmedAt), Attempts: p.Attempts, LastError: p.LastError})
			}
			return printRows(a, rows, "PAYMENT\tORDER\tSTATE\tAMOUNT\tACKNOWLEDGED\tATTEMPTS\tLAST ERROR", func(r row) string {
				ack := "-"
				if r.ConfirmedAt != nil {
					ack = r.ConfirmedAt.Format(time.DateTime)
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s %s\t%s\t%d\t%s", r.PaymentID, r.OrderKey, r.State, r.Amount, r.Currency, ack, r.Attempts, r.LastError)
			})
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 50, "how many payments, newest first")
	return cmd
}
