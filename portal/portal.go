// Package portal is semnat's public-services portal, in the shape of
// servicii.gov.md and AGE's front office (egov-flows §7): a catalogue of
// services (package portal/catalog) and the application wizard. A citizen
// logs in with MPass (the portal is a SAML relying service, made with
// crewjam/saml's samlsp), applies for themselves, another person or a
// company (checked with MPower's check API, or as the company's
// administrator as MPass says), fills the service's form (prefilled from
// MPass), attaches documents, chooses the delivery, and signs the
// application through MSign's integrator flow; a service with a tariff is
// then paid through MPay (the portal is its service provider: mpay.go). Applications and their
// history are in portal/application.
//
// The portal reaches MPass, MPower and MSign only through their public
// protocols (SAML metadata, mpower/client, msign/client). It is a
// service.Service: `semnat portal serve` runs it alone, `semnat serve
// --demo` as the home page.
package portal

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/jobs"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// Config wires the portal.
type Config struct {
	// Store is required: applications, their files and history, the
	// audit log.
	Store *store.Store
	// PublicURL is the portal's URL as browsers see it; the SAML entity id
	// is PublicURL+PathMetadata.
	PublicURL string
	// Catalog is the services offered (required).
	Catalog *catalog.Catalog
	// IdPMetadata is MPass's SAML metadata (required): who people log in
	// with.
	IdPMetadata []byte
	// Key and Certificate sign the portal's AuthnRequests and its session
	// cookies; register Metadata with MPass. Instances behind one URL share
	// them.
	Key         crypto.Signer
	Certificate *x509.Certificate
	// MSign signs applications (the portal is one of its registered
	// systems, with PublicURL+PathSigned among its return URLs). nil: no
	// application can be submitted.
	MSign *msignclient.Client
	// MPower checks powers of representation. nil: nobody applies on
	// another person's behalf, and for a company only its administrators.
	MPower *mpowerclient.Client
	// Payments sends payers to MPay, where the portal is the service
	// provider MPaySP (both or neither). nil: only free services can be
	// applied for.
	Payments Payments
	MPaySP   *MPaySP
	// MNotify is where the applicant is notified of each change of their
	// application's state (the portal is a cabinet system there). nil: no
	// notifications.
	MNotify *mnotifyclient.Client
	// Office is the back office of the institutions the catalogue names
	// (office.go); nil: none.
	Office *Office
	// JobPoll is how often the portal's job queue looks for work (default
	// MPaySP.Poll, else 1 s); JobBackoff the wait before a failed job's
	// next attempt (default river's attempt⁴ s).
	JobPoll    time.Duration
	JobBackoff func(attempt int) time.Duration
	// MaxAttachment bounds one attached file (default 5 MiB); MaxFiles the
	// number of files of an application (default 10).
	MaxAttachment int64
	MaxFiles      int
	// MaxDrafts bounds the drafts one person keeps open (default 20): a
	// draft holds up to MaxFiles attachments.
	MaxDrafts int
	// Location is where dates are shown and days begin (default
	// Europe/Chisinau).
	Location *time.Location
	Log      *slog.Logger
}

// Paths of the portal.
const (
	PathHome     = "/"
	PathPrefix   = "/portal"
	PathMetadata = PathPrefix + "/saml/metadata"
	PathACS      = PathPrefix + "/saml/acs"
	PathSigned   = PathPrefix + "/semnat" // MSign's POST back (ReturnUrl)
	pathStatic   = PathPrefix + "/static/"
)

// Service is the portal.
type Service struct {
	cfg  Config
	apps *application.Store
	sp   *samlsp.Middleware
	web  *web
	base *url.URL
	// queue runs the payment time-outs and the notifications (nil
	// without MPay and MNotify).
	queue *jobs.Queue
}

var _ service.Service = (*Service)(nil)

// New builds the portal.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("portal: a store and a catalogue are required")
	}
	if cfg.Key == nil || cfg.Certificate == nil || len(cfg.IdPMetadata) == 0 {
		return nil, errors.New("portal: MPass's metadata and the portal's SAML key and certificate are required (people log in with MPass)")
	}
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("portal: public URL %q: want http(s)://host[:port]", cfg.PublicURL)
	}
	if (cfg.Payments == nil) != (cfg.MPaySP == nil) || cfg.MPaySP != nil && (cfg.MPaySP.MPay == nil || cfg.MPaySP.Signer == nil || cfg.MPaySP.ServiceID == "") {
		return nil, errors.New("portal: payments need both the way to MPay (Payments) and the portal's registration there (MPaySP: service id, MPay's certificate, the portal's key)")
	}
	if cfg.MaxAttachment <= 0 {
		cfg.MaxAttachment = 5 << 20
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = 10
	}
	if cfg.MaxDrafts <= 0 {
		cfg.MaxDrafts = 20
	}
	if cfg.Location == nil {
		if cfg.Location, err = time.LoadLocation("Europe/Chisinau"); err != nil {
			cfg.Location = time.FixedZone("EET", 2*3600)
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	apps, err := application.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	idp, err := samlsp.ParseMetadata(cfg.IdPMetadata)
	if err != nil {
		return nil, fmt.Errorf("portal: MPass's metadata: %w", err)
	}
	root := *base
	root.Path = strings.TrimRight(root.Path, "/") + PathPrefix + "/" // samlsp puts saml/acs and saml/metadata below it
	sp, err := samlsp.New(samlsp.Options{URL: root, Key: cfg.Key, Certificate: cfg.Certificate, IDPMetadata: idp, SignRequest: true,
		CookieName: "semnat_portal", DefaultRedirectURI: PathPrefix + "/cereri"})
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if err := apps.OpenIssued(ctx); err != nil { // the issued documents (office.go, verifydoc.go)
		return nil, err
	}
	w, err := newWeb()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, apps: apps, sp: sp, web: w, base: base}
	if cfg.MNotify == nil {
		cfg.Log.Info("portal: no MNotify configured: applicants are not notified of their applications' changes")
	}
	if cfg.MPaySP != nil || cfg.MNotify != nil {
		if err := s.startJobs(ctx); err != nil {
			return nil, fmt.Errorf("portal: the job queue: %w", err)
		}
	}
	return s, nil
}

// Name is "portal".
func (s *Service) Name() string { return "portal" }

// Close stops the job queue and waits for its running jobs (the others
// stay in the store for the next start).
func (s *Service) Close() error {
	if s.queue == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.queue.Stop(ctx)
}

// Applications is the portal's store of applications (the back office and
// tests read it).
func (s *Service) Applications() *application.Store { return s.apps }

// Metadata is the portal's SAML metadata, to register with MPass.
func (s *Service) Metadata() ([]byte, error) {
	return xmlMetadata(s.sp)
}

// url is the public URL of a path of the portal.
func (s *Service) url(path string) string {
	return strings.TrimRight(s.base.String(), "/") + path
}
