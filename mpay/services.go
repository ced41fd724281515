package mpay

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// storeService names MPay's service providers among the store's systems.
const storeService = "mpay"

// Faces of the SP protocol.
const (
	FaceREST = "rest"
	FaceSOAP = "soap"
)

// SP is a service provider registered with MPay: its ServiceID, the
// endpoint MPay calls (GetOrderDetails, ConfirmOrderPayment), the face it
// speaks, the certificate its answers are signed with, and the secret its
// webhooks would be signed with.
type SP struct {
	ServiceID string
	Name      string // shown to payers
	Endpoint  string
	Face      string
	Cert      *x509.Certificate
	// WebhookURL, when set, receives webhooks (events) signed with
	// WebhookSecret (never printed).
	WebhookURL    string
	WebhookSecret string `json:"-"`
	// Staff are the IDNPs of the people who see the service's payments
	// and deliveries on MPay's pages after an MPass login.
	Staff   []string
	Created time.Time
}

type spSettings struct {
	Name          string   `json:"name"`
	Endpoint      string   `json:"endpoint"`
	Face          string   `json:"face"`
	WebhookSecret string   `json:"webhookSecret,omitempty"`
	WebhookURL    string   `json:"webhookURL,omitempty"`
	Staff         []string `json:"staff,omitempty"`
}

var serviceID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$`)

// ErrBadService is a registration refused for what it says.
var ErrBadService = errors.New("mpay: bad service registration")

// AddService registers an SP (ErrBadService, store.ErrExists) and records
// it in the audit log.
func AddService(ctx context.Context, st *store.Store, actor string, sp SP) error {
	if !serviceID.MatchString(sp.ServiceID) {
		return fmt.Errorf("%w: ServiceID %q: 1 to 36 letters, digits, '.', '_' or '-'", ErrBadService, sp.ServiceID)
	}
	u, err := url.Parse(sp.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: endpoint %q: give the http(s) URL MPay calls", ErrBadService, sp.Endpoint)
	}
	switch sp.Face {
	case FaceREST:
	case FaceSOAP:
		if err := checkSOAPCert(sp.Cert); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: face %q: rest or soap", ErrBadService, sp.Face)
	}
	if sp.Cert == nil {
		return fmt.Errorf("%w: %s: the certificate its answers are signed with is required", ErrBadService, sp.ServiceID)
	}
	if sp.WebhookSecret != "" && len(sp.WebhookSecret) < 16 {
		return fmt.Errorf("%w: %s: the webhook secret is shorter than 16 characters", ErrBadService, sp.ServiceID)
	}
	if sp.WebhookURL != "" {
		w, err := url.Parse(sp.WebhookURL)
		if err != nil || (w.Scheme != "https" && w.Scheme != "http") || w.Host == "" {
			return fmt.Errorf("%w: webhook URL %q: give the http(s) URL the events go to", ErrBadService, sp.WebhookURL)
		}
		if sp.WebhookSecret == "" {
			return fmt.Errorf("%w: %s: a webhook URL needs a webhook secret to sign the events with", ErrBadService, sp.ServiceID)
		}
	}
	if err := checkStaff(sp.ServiceID, sp.Staff); err != nil {
		return err
	}
	if sp.Name == "" {
		sp.Name = sp.ServiceID
	}
	settings, err := json.Marshal(spSettings{Name: sp.Name, Endpoint: sp.Endpoint, Face: sp.Face, WebhookSecret: sp.WebhookSecret, WebhookURL: sp.WebhookURL,
		Staff: sp.Staff})
	if err != nil {
		return err
	}
	return sysauth.Register(ctx, st, actor, sysauth.Registration{Service: storeService, Name: sp.ServiceID, Cert: sp.Cert,
		Settings: settings, Details: map[string]string{"endpoint": sp.Endpoint, "face": sp.Face}})
}

// RemoveService removes an SP (store.ErrNotFound) and records it.
func RemoveService(ctx context.Context, st *store.Store, actor, id string) error {
	return sysauth.Remove(ctx, st, actor, storeService, id)
}

// Services lists the registered SPs by ServiceID.
func Services(ctx context.Context, st *store.Store) ([]SP, error) {
	list, err := st.Systems(ctx, storeService)
	if err != nil {
		return nil, err
	}
	out := make([]SP, 0, len(list))
	for i := range list {
		sp, err := spOf(&list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *sp)
	}
	return out, nil
}

// LookupService finds one SP (store.ErrNotFound).
func LookupService(ctx context.Context, st *store.Store, id string) (*SP, error) {
	rec, err := st.System(ctx, storeService, id)
	if err != nil {
		return nil, err
	}
	return spOf(rec)
}

func spOf(s *store.System) (*SP, error) {
	var set spSettings
	if err := json.Unmarshal(s.Settings, &set); err != nil {
		return nil, fmt.Errorf("mpay: service %s: settings: %w", s.Name, err)
	}
	c, err := parseSPCert(s.Cert)
	if err != nil {
		return nil, fmt.Errorf("mpay: service %s: certificate: %w", s.Name, err)
	}
	return &SP{ServiceID: s.Name, Name: set.Name, Endpoint: set.Endpoint, Face: set.Face, Cert: c, WebhookSecret: set.WebhookSecret, WebhookURL: set.WebhookURL,
		Staff: set.Staff, Created: s.Created}, nil
}
