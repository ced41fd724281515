package mpower

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

// The grant flow for a registered system acting for a person (the portal,
// until MPower has its own pages behind MPass): create a grant, start the
// acts, complete them once MSign has the signature. A system cannot make a
// power valid by itself: each step needs the right person's signature.

// maxJSON bounds a grant-flow request body.
const maxJSON = 16 << 10

func (s *Service) mountGrantFlow(g *echo.Group) {
	g.POST(client.PathGrants, s.postGrant, s.authenticated, s.withMSign)
	g.POST(client.PathActs, s.postAct, s.authenticated, s.withMSign)
	g.POST(client.PathActsComplete, s.postActComplete, s.authenticated, s.withMSign)
}

// withMSign refuses the grant flow when no MSign signs the acts.
func (s *Service) withMSign(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.MSign == nil {
			return problem.New(http.StatusServiceUnavailable, "signing-unavailable", "Signing unavailable",
				"this MPower has no MSign to sign acts with: configure one")
		}
		return next(c)
	}
}

func bindJSON(c echo.Context, v any) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxJSON)
	if err := c.Bind(v); err != nil {
		return badParam("the body is not the JSON this endpoint takes: %v", err)
	}
	return nil
}

// flowError maps the registry's refusals to problems.
func flowError(err error) error {
	var te *TransitionError
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return notFound("%v", err)
	case errors.Is(err, ErrNotSigned), errors.Is(err, ErrWrongSigner), errors.Is(err, ErrWrongDocument):
		return problem.Newf(http.StatusConflict, "act-not-signed", "Act not signed", "%v", err)
	case errors.As(err, &te):
		return problem.Newf(http.StatusConflict, "act-not-signed", "Act not signed", "%v", err)
	case errors.Is(err, ErrInvalid):
		return badParam("%v", err)
	}
	return err
}

// ownType refuses a system that may not act on powers of type code.
func (s *Service) ownType(c echo.Context, code string) error {
	t, err := s.reg.Type(c.Request().Context(), code)
	if err != nil {
		return flowError(err)
	}
	if sys := system(c); !sys.ViewAll && t.System != sys.Name {
		return forbidden("the type %s is not one of system %s's", code, sys.Name)
	}
	return nil
}

func (s *Service) postGrant(c echo.Context) error {
	var g client.GrantRequest
	if err := bindJSON(c, &g); err != nil {
		return err
	}
	if err := s.ownType(c, g.AuthorizationTypeCode); err != nil {
		return err
	}
	ctx := c.Request().Context()
	actor := system(c).Name
	p, err := s.reg.Grant(ctx, actor, GrantRequest{TypeCode: g.AuthorizationTypeCode, AuthorizingID: g.AuthorizingIdn, SignedBy: g.SignerIdn,
		RepresentedID: g.AuthorizedIdn, From: g.FromDate, To: g.ToDate, Lang: g.Language})
	if err != nil {
		return flowError(err)
	}
	st, err := s.StartSigning(ctx, actor, p.Code, EvSign)
	if err != nil {
		return flowError(err)
	}
	return ok(c, client.SigningStarted{AuthorizationCode: p.Code, RequestID: st.RequestID, RedirectURL: st.RedirectURL, SignerIdn: st.Signer})
}

var actEvents = map[string]Event{client.ActAccept: EvAccept, client.ActDecline: EvDecline, client.ActRevoke: EvRevoke, client.ActRenounce: EvRenounce}

func (s *Service) postAct(c echo.Context) error {
	var a client.ActRequest
	if err := bindJSON(c, &a); err != nil {
		return err
	}
	ev, known := actEvents[a.Act]
	if !known {
		return badParam("act %q: want accept, decline, revoke or renounce", a.Act)
	}
	if err := client.CheckCode(a.AuthorizationCode); err != nil {
		return err
	}
	p, _, err := s.visible(c, a.AuthorizationCode)
	if err != nil {
		return flowError(err)
	}
	st, err := s.StartSigning(c.Request().Context(), system(c).Name, p.Code, ev)
	if err != nil {
		return flowError(err)
	}
	return ok(c, client.SigningStarted{AuthorizationCode: p.Code, RequestID: st.RequestID, RedirectURL: st.RedirectURL, SignerIdn: st.Signer})
}

func (s *Service) postActComplete(c echo.Context) error {
	var in struct {
		RequestID string `json:"requestID"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.RequestID == "" || len(in.RequestID) > 64 {
		return badParam("requestID: give the id of the sign request")
	}
	ctx := c.Request().Context()
	code, err := s.pendingCode(c, in.RequestID)
	if err != nil {
		return err
	}
	if _, _, err := s.visible(c, code); err != nil {
		return flowError(err)
	}
	p, err := s.FinishSigning(ctx, in.RequestID)
	if err != nil {
		return flowError(err)
	}
	t, err := s.reg.Type(ctx, p.TypeCode)
	if err != nil {
		return err
	}
	d, err := s.details(ctx, p, t, nil)
	if err != nil {
		return err
	}
	return ok(c, d)
}
