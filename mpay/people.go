package mpay

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml/samlsp"
	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/internal/samlrp"
	"github.com/semnat/semnat/store"
)

// MPay's pages for people logged in with MPass (MPay is a SAML relying
// service of MPass, through internal/samlrp like MPower and the portal):
//
//   - PathMine, a payer's history: the payments MPay knows were made by
//     the logged-in person's IDNP, with amount, service, state, date and
//     receipt. MPay knows a payer's IDNP two ways (table mpay_payers): the
//     order's customer when the SP names a person (CustomerID, recorded
//     when the payment is approved), and the person logged in with MPass
//     when they start a payment (recorded with the payment's start);
//   - PathStaff+ServiceID, an SP's view: the service's payments, their
//     confirmation deliveries, and its webhook deliveries with each
//     attempt, for the people named staff of the service (SP.Staff,
//     `semnat mpay services add --staff IDNP`); others get a plain 403 page.

// WebConfig turns the pages for people on.
type WebConfig struct {
	// PublicURL is MPay's URL as browsers see it: the SAML entity id is
	// PublicURL+"/mpay/saml/metadata".
	PublicURL string
	// IdPMetadata is MPass's SAML metadata.
	IdPMetadata []byte
	// Key and Certificate sign the AuthnRequests and the session cookies
	// (instances behind one URL share them); register Metadata with MPass.
	Key         crypto.Signer
	Certificate *x509.Certificate
}

// Paths of the pages for people.
const (
	PathMine  = PathStart + "/platile-mele" // the payer's history
	PathStaff = PathStart + "/furnizor/"    // + ServiceID: the SP's view
)

var payersSchema = store.Schema{Name: "mpay-payers", SQLite: `
CREATE TABLE IF NOT EXISTS mpay_payers (
	payment_id TEXT NOT NULL, idnp TEXT NOT NULL, how TEXT NOT NULL, at INTEGER NOT NULL,
	PRIMARY KEY (payment_id, idnp));
CREATE INDEX IF NOT EXISTS mpay_payers_idnp ON mpay_payers (idnp, at);
`}

func init() {
	payersSchema.Postgres = strings.ReplaceAll(payersSchema.SQLite, " INTEGER ", " BIGINT ")
}

// newPeople sets up the relying service (nil, nil without cfg).
func newPeople(cfg *WebConfig) (*samlsp.Middleware, error) {
	if cfg == nil {
		return nil, nil
	}
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("mpay: public URL %q: want http(s)://host[:port]", cfg.PublicURL)
	}
	sp, err := samlrp.New(samlrp.Options{Base: base, Prefix: PathStart, IdPMetadata: cfg.IdPMetadata, Key: cfg.Key, Certificate: cfg.Certificate,
		CookieName: "semnat_mpay", DefaultRedirect: PathMine})
	if err != nil {
		return nil, fmt.Errorf("mpay: %w", err)
	}
	return sp, nil
}

// Metadata is MPay's SAML metadata, to register with MPass (an error when
// the pages for people are off).
func (s *Service) Metadata() ([]byte, error) {
	if s.people == nil {
		return nil, errors.New("mpay: the pages for people are not configured (no MPass)")
	}
	return samlrp.Metadata(s.people)
}

func (s *Service) mountPeople(g *echo.Group) {
	if s.people == nil {
		return
	}
	sp := echo.WrapHandler(s.people)
	g.GET(PathStart+"/saml/metadata", sp)
	g.POST(PathStart+"/saml/acs", sp)
	login := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if samlrp.UserOf(s.people, c.Request()) == nil {
				s.people.HandleStartAuthFlow(c.Response(), c.Request())
				return nil
			}
			return next(c)
		}
	}
	g.GET(PathMine, s.minePage, pageHeaders, login)
	g.GET(PathStaff+":service", s.staffPage, pageHeaders, login)
}

// MinePayment is one line of a payer's history.
type MinePayment struct {
	Payment
	Token, ServiceID, ServiceName, OrderKey string
}

// PayerPayments lists the payments made by the person idnp, newest first
// (at most n).
func (l *Ledger) PayerPayments(ctx context.Context, idnp string, n int) ([]MinePayment, error) {
	cols := strings.ReplaceAll("p."+paymentCols, ", ", ", p.")
	rows, err := l.st.Query(ctx, `SELECT `+cols+`, i.token, i.service_id, i.order_key FROM mpay_payments p
		JOIN mpay_invoices i ON i.id = p.invoice_id
		WHERE p.id IN (SELECT payment_id FROM mpay_payers WHERE idnp = ?) ORDER BY p.created DESC, p.id LIMIT ?`, idnp, n)
	if err != nil {
		return nil, fmt.Errorf("mpay: the payments of a payer: %w", err)
	}
	defer rows.Close()
	var out []MinePayment
	for rows.Next() {
		var m MinePayment
		p, err := scanPayment(scanMore{rows, []any{&m.Token, &m.ServiceID, &m.OrderKey}})
		if err != nil {
			return nil, err
		}
		m.Payment = *p
		out = append(out, m)
	}
	return out, rows.Err()
}

// recordPayer records that the person idnp made payment p (how: "mpass"
// or "order"); recording it again changes nothing.
func recordPayer(ctx context.Context, tx *store.Tx, p *Payment, idnp, how string, at time.Time) error {
	if idn.KindOf(idnp) != idn.Person {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO mpay_payers (payment_id, idnp, how, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.ID, idnp, how, at.UnixNano())
	if err != nil {
		return fmt.Errorf("mpay: recording the payer of %s: %w", p.ID, err)
	}
	return nil
}

// recordOrderPayer records the order's customer, when the SP named a
// person, as the payer of p (in the approval's transaction, which has p's
// invoice in, locked).
func (s *Service) recordOrderPayer(ctx context.Context, tx *store.Tx, in *Invoice, p *Payment) error {
	if in.Order.CustomerType == "Organization" {
		return nil
	}
	return recordPayer(ctx, tx, p, in.Order.CustomerID, "order", s.cfg.Store.Now())
}

// recordLoggedIn records the person logged in with MPass, if any, as the
// payer of p (called when a payment starts on MPay's pages).
func (s *Service) recordLoggedIn(c echo.Context, p *Payment) {
	if s.people == nil || p == nil {
		return
	}
	u := samlrp.UserOf(s.people, c.Request())
	if u == nil {
		return
	}
	ctx := c.Request().Context()
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error { return recordPayer(ctx, tx, p, u.IDNP, "mpass", s.cfg.Store.Now()) })
	if err != nil {
		s.log.Warn("mpay: recording the logged-in payer", "payment", p.ID, "err", err)
	}
}

// peoplePage is what the pages for people get.
type peoplePage struct {
	*page
	User     *samlrp.User
	Mine     []MinePayment
	Staff    *SP
	SPays    []ServicePayment
	Webhooks []WebhookAttempt
}

func (s *Service) minePage(c echo.Context) error {
	ctx := c.Request().Context()
	p := &peoplePage{page: newPage(c), User: samlrp.UserOf(s.people, c.Request())}
	var err error
	if p.Mine, err = s.ledger.PayerPayments(ctx, p.User.IDNP, 200); err != nil {
		return err
	}
	names := map[string]string{}
	if sps, err := Services(ctx, s.cfg.Store); err == nil {
		for _, sp := range sps {
			names[sp.ServiceID] = sp.Name
		}
	}
	for i := range p.Mine {
		if p.Mine[i].ServiceName = names[p.Mine[i].ServiceID]; p.Mine[i].ServiceName == "" {
			p.Mine[i].ServiceName = p.Mine[i].ServiceID
		}
	}
	return renderPeople(c, http.StatusOK, "mine", p)
}

func (s *Service) staffPage(c echo.Context) error {
	ctx := c.Request().Context()
	p := &peoplePage{page: newPage(c), User: samlrp.UserOf(s.people, c.Request())}
	sp, err := LookupService(ctx, s.cfg.Store, c.Param("service"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if sp == nil || !slices.Contains(sp.Staff, p.User.IDNP) {
		// The same answer for an unknown service: nobody learns which exist.
		p.Error = p.T("staff.forbidden")
		return render(c, http.StatusForbidden, "error", p.page)
	}
	p.Staff = sp
	if p.SPays, err = s.ledger.ServicePayments(ctx, sp.ServiceID, 200); err != nil {
		return err
	}
	if p.Webhooks, err = s.ledger.WebhookAttempts(ctx, sp.ServiceID); err != nil {
		return err
	}
	return renderPeople(c, http.StatusOK, "staff", p)
}

func renderPeople(c echo.Context, status int, name string, p *peoplePage) error {
	var b strings.Builder
	if err := pages.Execute(&b, p.Lang, name, p); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}

// scanMore scans a payment's columns and more after them.
type scanMore struct {
	r     rowScanner
	extra []any
}

func (s scanMore) Scan(dest ...any) error { return s.r.Scan(append(dest, s.extra...)...) }

// SetStaff replaces the staff of the service id (the IDNPs who see its
// payments and deliveries on MPay's pages; ErrBadService for one that is
// not an IDNP, store.ErrNotFound for an unknown service), recorded in the
// audit log as mpay-system-staff.
func SetStaff(ctx context.Context, st *store.Store, actor, id string, staff []string) error {
	if err := checkStaff(id, staff); err != nil {
		return err
	}
	return st.UpdateSystemSettings(ctx, storeService, id, func(old []byte) ([]byte, *store.Event, error) {
		var set map[string]json.RawMessage
		if err := json.Unmarshal(old, &set); err != nil {
			return nil, nil, fmt.Errorf("mpay: service %s: settings: %w", id, err)
		}
		b, err := json.Marshal(staff)
		if err != nil {
			return nil, nil, err
		}
		if len(staff) == 0 {
			delete(set, "staff")
		} else {
			set["staff"] = b
		}
		out, err := json.Marshal(set)
		return out, &store.Event{Actor: actor, Action: storeService + "-system-staff", Subject: id,
			Details: map[string]string{"staff": strings.Join(staff, " ")}}, err
	})
}

// checkStaff refuses a staff entry that is not a person's IDNP.
func checkStaff(id string, staff []string) error {
	for _, p := range staff {
		if idn.KindOf(p) != idn.Person {
			return fmt.Errorf("%w: %s: staff %q is not a valid IDNP (13 digits)", ErrBadService, id, p)
		}
	}
	return nil
}
