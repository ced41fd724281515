package mpass

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/store"
)

// MaxRelayState is the longest RelayState accepted (saml-bindings §3.4.3,
// §3.5.3; the MPass profile): it is returned unchanged.
const MaxRelayState = 80

// maxSAMLBody bounds a POSTed AuthnRequest form.
const maxSAMLBody = 256 << 10

// Authentication context classes, one per instrument (saml-authn-context).
const (
	ACMobile = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
)

// newIdP is crewjam/saml's identity provider over the service's key,
// register and replay cache. MPass drives the login itself: the IdP parses
// and checks AuthnRequests (signature with the relying service's registered
// certificate, Destination, IssueInstant, the registered ACS URL), makes
// and signs Responses and metadata.
func (s *Service) newIdP() *saml.IdentityProvider {
	return &saml.IdentityProvider{
		Signer:                    s.cfg.Key,
		Certificate:               s.cfg.Certificate,
		Intermediates:             s.cfg.Chain,
		Logger:                    slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn),
		MetadataURL:               s.url(PathMetadata),
		SSOURL:                    s.url(PathSSO),
		LogoutURL:                 s.url(PathLogout),
		ServiceProviderProvider:   spProvider{s.sps},
		ResponseFormTemplate:      s.web.postForm,
		LogoutRequestFormTemplate: s.web.postReq,
		SessionProvider:           sessions{s},
		SignMetadata:              true,
		RejectSHA1Signatures:      true,
		WantAuthnRequestsSigned:   true,
		ReplayCache:               replayCache{st: s.cfg.Store, now: s.cfg.Now},
		NameIDFormats:             []saml.NameIDFormat{saml.UnspecifiedNameIDFormat},
		LogoutBindings:            []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding},
		OnError: func(w http.ResponseWriter, r *http.Request, status int, err error) {
			s.cfg.Log.Error("mpass: SAML", "err", err)
			http.Error(w, http.StatusText(status), status)
		},
	}
}

// ssoRequest answers /login/saml: an AuthnRequest over HTTP-Redirect (GET)
// or HTTP-POST. A valid one opens a login transaction and sends the browser
// to the login page; an invalid one gets a page saying what is wrong (the
// relying service's request cannot be trusted, so nothing goes back to it).
func (s *Service) ssoRequest(c echo.Context) error {
	if err := s.samlGate.enter(c.Request().Context()); err != nil {
		return nil // the browser went away while it waited: nobody to answer
	}
	defer s.samlGate.leave()
	c.SetRequest(c.Request().WithContext(withSPMemo(c.Request().Context())))
	return middleware.BodyLimit(fmt.Sprint(maxSAMLBody))(s.sso)(c)
}

func (s *Service) sso(c echo.Context) error {
	r := c.Request()
	lang := pageLang(c)
	req, err := saml.NewIdpAuthnRequest(s.idp, r)
	if err != nil {
		return s.refuse(c, lang, "", "bad-request", err)
	}
	if err := refuseUnsafeXML(req.RequestBuffer); err != nil {
		return s.refuse(c, lang, "", "bad-request", err)
	}
	if len(req.RelayState) > MaxRelayState {
		return s.refuse(c, lang, "", "relay-state", fmt.Errorf("the RelayState is %d bytes, at most %d are allowed", len(req.RelayState), MaxRelayState))
	}
	if err := req.Validate(); err != nil {
		issuer := ""
		if req.Request.Issuer != nil {
			issuer = req.Request.Issuer.Value
		}
		return s.refuse(c, lang, issuer, requestProblem(err), err)
	}
	issuer := req.Request.Issuer.Value
	// A request is answered once: its id is recorded until it could no
	// longer be accepted anyway.
	if err := s.idp.ReplayCache.Consume("AuthnRequest:"+issuer+" "+req.Request.ID,
		req.Request.IssueInstant.Add(saml.MaxIssueDelay+saml.MaxClockSkew)); err != nil {
		if errors.Is(err, saml.ErrAssertionReplayed) {
			return s.refuse(c, lang, issuer, "replayed", fmt.Errorf("AuthnRequest %s was already used", req.Request.ID))
		}
		return err
	}
	prev, err := s.lastRequest(c.Request().Context(), issuer, req.Request.ID)
	if err != nil {
		return err
	}
	tx := &loginTx{ID: newID(), Method: r.Method, ReceivedAt: req.Now, SP: issuer, PrevRequest: prev,
		ACS: req.ACSEndpoint.Location, Lang: lang, ClientIP: c.RealIP(),
		ForceAuthn: req.Request.ForceAuthn != nil && *req.Request.ForceAuthn,
		IsPassive:  req.Request.IsPassive != nil && *req.Request.IsPassive}
	// A browser whose session cookie came with the request (HTTP-Redirect
	// binding, a same-site POST) is answered at once, with the request just
	// checked: no login transaction, no second reading of the request.
	if ss, key := s.currentSession(r); ss != nil && !tx.ForceAuthn {
		detach(req, r, tx.ClientIP)
		tx.checked = req
		return s.finish(c, tx, ss, key, "mpass.login-sso")
	}
	tx.Browser = s.bindBrowser(c, tx.ID)
	if r.Method == http.MethodGet {
		tx.Query = r.URL.RawQuery
	} else {
		tx.Form = map[string]string{}
		for _, k := range []string{"SAMLRequest", "RelayState", "SigAlg", "Signature"} {
			if v, ok := r.PostForm[k]; ok && len(v) == 1 {
				tx.Form[k] = v[0]
			}
		}
	}
	if err := s.putTx(c, tx); err != nil {
		return err
	}
	detach(req, r, tx.ClientIP)
	s.checked.put(tx.ID, req, s.cfg.Now())
	return c.Redirect(http.StatusSeeOther, s.loginURL(tx))
}

// kindLastReq is each relying service's last AuthnRequest id, kept only
// while it has FaultStaleInResponseTo.
const kindLastReq = "mpass.lastreq"

// lastRequest records id as the relying service's last AuthnRequest and
// returns the one before, when its registration has
// FaultStaleInResponseTo ("" otherwise).
func (s *Service) lastRequest(ctx context.Context, sp, id string) (string, error) {
	reg, _, err := s.sps.Get(ctx, sp)
	if err != nil || !reg.Options.has(FaultStaleInResponseTo) {
		return "", err
	}
	prev, err := s.cfg.Store.Get(ctx, kindLastReq, sp)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) {
		return "", err
	}
	return string(prev), s.cfg.Store.Put(ctx, kindLastReq, sp, []byte(id), s.cfg.SessionTTL)
}

// ErrDTD: a message carries a document type declaration (entities, and
// everything they allow); SAML messages have none.
var ErrDTD = errors.New("mpass: the message has a document type declaration (DTD), which SAML messages never carry")

// ErrComment: a comment inside an Issuer or NameID. Exclusive
// canonicalisation drops comments, so the signature still verifies while
// parsers that keep only the first text node read another name.
var ErrComment = errors.New("mpass: the message has a comment inside an Issuer or NameID")

// refuseUnsafeXML fails on a document type declaration (or any other
// <!...> directive) anywhere in an XML message, and on a comment inside an
// Issuer or NameID.
func refuseUnsafeXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	var open []string // local names of the elements open
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // not well-formed: the SAML parser says so
		}
		switch t := tok.(type) {
		case xml.Directive:
			return ErrDTD
		case xml.StartElement:
			open = append(open, t.Name.Local)
		case xml.EndElement:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case xml.Comment:
			if n := len(open); n > 0 && (open[n-1] == "Issuer" || open[n-1] == "NameID") {
				return ErrComment
			}
		}
	}
}

// slo serves /logout/saml (crewjam's ServeSLO) after refusing a
// LogoutRequest with a document type declaration or a comment in a name.
func (s *Service) slo(c echo.Context) error {
	r := c.Request()
	idp := s.continuingIdP(r) // a relying service's LogoutResponse: the logout's key (logout_sig.go)
	if req, err := saml.NewIdpLogoutRequest(s.idp, r); err == nil {
		if err := refuseUnsafeXML(req.RequestBuffer); err != nil {
			lang := pageLang(c)
			return s.refuse(c, lang, "", "bad-request", err)
		}
		from, err := s.checkLogoutRequest(r)
		if err != nil {
			return s.refuse(c, pageLang(c), "", logoutProblem(err), err)
		}
		sps := []string{from} // a new logout: the service asking, and the session's
		if ss, _ := s.currentSession(r); ss != nil {
			sps = append(sps, ss.SPs...)
		}
		idp = s.logoutIdP(c.Response(), r, sps)
	}
	r, _ = s.withFanout(c.Response(), r, nil) // services that do not answer in time are skipped (logout_fanout.go)
	idp.ServeSLO(c.Response(), r)
	return nil
}

// requestProblem is the message key of an AuthnRequest that failed Validate.
func requestProblem(err error) string {
	switch {
	case errors.Is(err, saml.ErrUnknownServiceProvider):
		return "unknown-sp"
	case errors.Is(err, saml.ErrInvalidSignature):
		return "bad-signature"
	case errors.Is(err, saml.ErrUnknownAssertionConsumerService):
		return "unknown-acs"
	case errors.Is(err, saml.ErrExpired), errors.Is(err, saml.ErrNotYetValid):
		return "stale"
	case errors.Is(err, saml.ErrDestinationMismatch):
		return "destination"
	}
	return "bad-request"
}

// refuse answers a request MPass will not serve with a page in plain words
// (status 400) and records it in the audit log.
func (s *Service) refuse(c echo.Context, lang, sp, key string, err error) error {
	s.audit(c.Request().Context(), auditEvent("mpass.request-refused", "", sp, map[string]string{"reason": key, "error": err.Error(), "ip": c.RealIP()}))
	s.cfg.Log.Info("mpass: request refused", "reason", key, "sp", sp, "err", err)
	return s.web.page(c, http.StatusBadRequest, "error", lang, pageData{Problem: key, Detail: err.Error()})
}

// rebuild reads the transaction's AuthnRequest again, exactly as it came,
// and checks it again as at its arrival (the relying service's registration
// may have changed since): the request to answer.
func (s *Service) rebuild(c echo.Context, tx *loginTx) (*saml.IdpAuthnRequest, error) {
	if req := tx.checked; req != nil {
		req.Now = s.cfg.Now()
		return req, nil
	}
	if req := s.checked.take(tx.ID, s.cfg.Now()); req != nil { // checked by sso a moment ago (perf.go)
		req.Now = s.cfg.Now()
		return req, nil
	}
	u := s.url(PathSSO)
	var hr *http.Request
	var err error
	if tx.Method == http.MethodGet {
		u.RawQuery = tx.Query
		hr, err = http.NewRequestWithContext(c.Request().Context(), http.MethodGet, u.String(), nil)
	} else {
		form := url.Values{}
		for k, v := range tx.Form {
			form.Set(k, v)
		}
		hr, err = http.NewRequestWithContext(c.Request().Context(), http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if hr != nil {
			hr.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		}
	}
	if err != nil {
		return nil, err
	}
	hr.RemoteAddr = tx.ClientIP
	req, err := saml.NewIdpAuthnRequest(s.idp, hr)
	if err != nil {
		return nil, err
	}
	req.Now = tx.ReceivedAt
	if err := req.Validate(); err != nil {
		return nil, err
	}
	req.Now = s.cfg.Now()
	return req, nil
}

// respond sends the browser back to the relying service with a signed
// Response: an assertion about the session's person, or (sess nil) the
// status given.
func (s *Service) respond(c echo.Context, tx *loginTx, sess *ssoSession, status *saml.StatusError) error {
	if tx.OIDC != "" {
		return s.oidcRespond(c, tx, sess, status)
	}
	req, err := s.rebuild(c, tx)
	if err != nil {
		return s.refuse(c, tx.Lang, tx.SP, requestProblem(err), err)
	}
	if sess == nil {
		if sp, _, err := s.sps.Get(c.Request().Context(), tx.SP); err == nil { // its signature algorithm (ecdsa.go)
			if req.IDP, err = s.ecdsaSigner(&sp.Options, req.IDP); err != nil {
				return err
			}
		}
		if err := req.MakeErrorResponse(status.TopLevel, status.SecondLevel, status.Message); err != nil {
			return err
		}
	} else {
		sp, ed, err := s.sps.Get(c.Request().Context(), tx.SP)
		if err != nil {
			return err
		}
		if err := s.answer(c.Request().Context(), req, tx, sess, sp, ed); err != nil {
			return err
		}
	}
	c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; form-action "+formAction(req.ACSEndpoint.Location))
	return writeResponse(c.Response(), req) // response.go
}

// formAction is the CSP source of the relying service's ACS URL.
func formAction(acs string) string {
	u, err := url.Parse(acs)
	if err != nil || u.Host == "" {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}

// samlSession is the session as crewjam's assertion maker reads it.
func (ss *ssoSession) samlSession(ttl time.Duration) *saml.Session {
	id := ss.Identity
	return &saml.Session{ID: ss.Index, CreateTime: ss.AuthnInstant, ExpireTime: ss.AuthnInstant.Add(ttl), Index: ss.Index,
		NameID: id.IDNP, NameIDFormat: string(saml.UnspecifiedNameIDFormat), AuthnContextClassRef: ss.ClassRef}
}

// attr is an MPass attribute: a bare name, one string value.
func attr(name, value string) saml.Attribute {
	return saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
		Values: []saml.AttributeValue{{Type: "xs:string", Value: value}}}
}
