// Package mpower is MPower, the registry of powers of representation
// (egov-flows §5): a person or a company authorises a representative for
// an authorization type defined by a service provider; the acts (grant,
// acceptance, revocation, renunciation) are signed PDFs, verified before
// the power changes; services check powers through the check API
// (mpower/client), registered by TLS client certificate or API key
// (sysauth).
//
// The model is an explicit state machine (model.go: State, Apply and one
// transition table); the Registry keeps it in the store, each change one
// transaction with its audit event. The Service mounts the check API on a
// service.Host.
package mpower

import (
	"context"
	"crypto"
	"crypto/x509"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mpower/client"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// Config configures the service.
type Config struct {
	Store *store.Store // required: the registry and the audit log
	Log   *slog.Logger
	// Verify configures the verification of signed acts (trust anchors,
	// revocation); its At is ignored (now).
	Verify pades.VerifyOptions
	// MSign, when set, signs the acts (MPower is one of its registered
	// systems).
	MSign *msignclient.Client
	// Seal and SealChain (leaf first), when set, sign status statements.
	Seal      crypto.Signer
	SealChain []*x509.Certificate
	// Notify, when set, tells the parties of each change of their power
	// (MNotify: through MNotify's API), as durable jobs of the store
	// (Jobs tunes them; the queue is "mpower"); nil: nobody is told.
	Notify Notifier
	Jobs   jobs.Options
	// Web, when set, adds the pages for people behind MPass login (under
	// PathPages; MSign is then required).
	Web *WebConfig
}

// Service is MPower as a service.Service.
type Service struct {
	cfg    Config
	reg    *Registry
	log    *slog.Logger
	sealer *Sealer // nil: no statements
	// systems remembers the registered systems found by credential.
	systems sysauth.Cache
	parsed  parsedSystems                // the System of each of those
	notices *jobs.Queue                  // nil without a Notifier
	web     *web                         // nil without the pages
	trueOne atomic.Pointer[checkDetails] // trueOneDetails'
}

// New builds the service and creates its tables in the store.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("mpower: a store is required")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := NewRegistry(ctx, cfg.Store, &PadesVerifier{Options: cfg.Verify})
	if err != nil {
		return nil, err
	}
	svc := &Service{cfg: cfg, reg: reg, log: log}
	if cfg.Seal != nil {
		if svc.sealer, err = NewSealer(cfg.Seal, cfg.SealChain); err != nil {
			return nil, err
		}
	}
	if cfg.Web != nil {
		if svc.web, err = newWeb(cfg.Web, cfg.MSign); err != nil {
			return nil, err
		}
	}
	if cfg.Notify != nil {
		if err := svc.startNotices(ctx, cfg.Jobs); err != nil {
			return nil, err
		}
	}
	return svc, nil
}

// Registry is the service's registry (the CLI and the grant flow change it).
func (s *Service) Registry() *Registry { return s.reg }

// Name is "mpower".
func (s *Service) Name() string { return "mpower" }

// Close stops sending notices (those not sent yet wait in the store for
// the next start).
func (s *Service) Close() error {
	err := s.reg.Close()
	if s.notices == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, s.notices.Stop(ctx))
}

//go:embed openapi.json
var openAPI []byte

// Mount adds the check API and its description.
func (s *Service) Mount(g *echo.Group) {
	g.GET(client.PathOpenAPI, func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI) })
	g.GET(client.PathCodeTrueOne, s.codeTrueOne, s.authenticated)
	g.GET(client.PathCodeDetailsOne, s.codeDetailsOne, s.authenticated)
	g.GET(client.PathTypeCodeValid, s.typeCodeValidOne, s.authenticated)
	g.GET(client.PathIdnDetailsList, s.idnDetailsList, s.authenticated)
	g.GET(client.PathIdnEntitiesList, s.idnEntitiesList, s.authenticated)
	g.GET(client.PathFile, s.file, s.authenticated)
	g.GET(client.PathStatement, s.statement, s.authenticated)
	s.mountGrantFlow(g)
	if s.web != nil {
		s.mountWeb(g)
	}
}
