package mpass

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/store"
)

// loginTx is one login: the relying service's AuthnRequest as it came (to
// be answered once, whatever happens), and the person's progress.
type loginTx struct {
	ID      string `json:"id"`
	Browser string `json:"browser"` // SHA-256 of the browser cookie that started it
	// Admin: a login to the admin page, not for a relying service (no
	// AuthnRequest; it ends on the admin page).
	Admin bool `json:"admin,omitempty"`
	// The request: GET with its raw query (HTTP-Redirect), or the POST form.
	Method     string            `json:"method"`
	Query      string            `json:"query,omitempty"`
	Form       map[string]string `json:"form,omitempty"`
	ReceivedAt time.Time         `json:"receivedAt"`
	SP         string            `json:"sp"`
	ACS        string            `json:"acs"`
	ForceAuthn bool              `json:"forceAuthn,omitempty"`
	IsPassive  bool              `json:"isPassive,omitempty"`
	Lang       string            `json:"lang"`
	ClientIP   string            `json:"clientIp"`
	// PrevRequest is the relying service's AuthnRequest before this one
	// (kept only for FaultStaleInResponseTo).
	PrevRequest string                `json:"prevRequest,omitempty"`
	OIDC        string                `json:"oidc,omitempty"` // an OpenID Connect authorization request (oidc.go), not a SAML one
	checked     *saml.IdpAuthnRequest // the request as sso checked it, when answered at once (perf.go)

	// The phone step: State is "" (not started), "waiting", "failed" or "done".
	State   string                 `json:"state,omitempty"`
	Phone   string                 `json:"phone,omitempty"`
	IDNP    string                 `json:"idnp,omitempty"` // as the person gave it (Mobile-ID face, login_mid.go)
	Code    string                 `json:"code,omitempty"`
	Pending *mobileid.PendingState `json:"pending,omitempty"`
	// Owner is the instance waiting for the phone; it refreshes Beat while
	// it waits. A stale Beat (the instance stopped) lets another take over.
	Owner    string    `json:"owner,omitempty"`
	Beat     time.Time `json:"beat,omitzero"`
	Problem  string    `json:"problem,omitempty"` // message key of a failure
	Identity *Identity `json:"identity,omitempty"`
	// Instrument proved the Identity: "mobile" or "token".
	Instrument string `json:"instrument,omitempty"`
	// The token step: the one-time nonce the agent's login challenge is
	// for, and when it was issued.
	Nonce   string    `json:"nonce,omitempty"`
	NonceAt time.Time `json:"nonceAt,omitzero"`
}

// Identity is the person a login proved, read from their certificate.
type Identity struct {
	IDNP        string `json:"idnp"`
	GivenName   string `json:"givenName"`
	Surname     string `json:"surname"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"` // the certificate's e-mail address, if any
	IDNO        string `json:"idno,omitempty"`  // an organisation certificate: O = "Name IDNO"
	CompanyName string `json:"companyName,omitempty"`
	Certificate string `json:"certificate"` // issuer and serial, for the audit log
	Personal           // date of birth, gender, residence, when the certificate says (personal.go)
}

// ssoSession is a person's single sign-on session.
type ssoSession struct {
	Index        string    `json:"index"` // SessionIndex
	Identity     Identity  `json:"identity"`
	Method       string    `json:"method"` // "mobile" or "token"
	ClassRef     string    `json:"classRef"`
	AuthnInstant time.Time `json:"authnInstant"`
	LastUsed     time.Time `json:"lastUsed"` // the last login through it (idle timeout)
	Lang         string    `json:"lang"`
	SPs          []string  `json:"sps"`                 // relying services it logged into
	ExpiryJob    int64     `json:"expiryJob,omitempty"` // its expiry job (session_expiry.go)
}

// cookieSession holds the SSO session's token (its SHA-256 is the store key).
const cookieSession = "mpass_session"

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// bindBrowser gives the login its own random cookie and returns the
// cookie's digest: the login continues only in the browser that started
// it, so that nobody can hand someone else a login to finish. One cookie
// per login (under /login, for LoginTTL): a login started in one tab never
// disturbs another's.
func (s *Service) bindBrowser(c echo.Context, txID string) string {
	v := newID()
	c.SetCookie(&http.Cookie{Name: txCookie(txID), Value: v, Path: pathLogin, MaxAge: int(s.cfg.LoginTTL / time.Second),
		HttpOnly: true, Secure: s.base.Scheme == "https", SameSite: http.SameSiteLaxMode})
	return digest(v)
}

// txCookie is the name of a login's browser cookie.
func txCookie(txID string) string { return "mpass_tx_" + txID[:16] }

func (s *Service) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: s.base.Scheme == "https", SameSite: http.SameSiteLaxMode})
}

var errNoTx = errors.New("mpass: no such login")

func (s *Service) putTx(c echo.Context, tx *loginTx) error {
	b, err := json.Marshal(tx)
	if err != nil {
		return err
	}
	return s.cfg.Store.Put(c.Request().Context(), kindLogin, tx.ID, b, s.cfg.LoginTTL)
}

// loadTx reads the login of the request's "tx" parameter, for this browser
// only; take also removes it (the login is being answered).
func (s *Service) loadTx(c echo.Context, take bool) (*loginTx, error) {
	id := c.QueryParam("tx")
	if id == "" {
		id = c.FormValue("tx")
	}
	if len(id) != 32 {
		return nil, errNoTx
	}
	var b []byte
	var err error
	if take {
		b, err = s.cfg.Store.Take(c.Request().Context(), kindLogin, id)
	} else {
		b, err = s.cfg.Store.Get(c.Request().Context(), kindLogin, id)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil, errNoTx
	}
	if err != nil {
		return nil, err
	}
	var tx loginTx
	if err := json.Unmarshal(b, &tx); err != nil {
		return nil, err
	}
	ck, cerr := c.Cookie(txCookie(tx.ID))
	if cerr != nil || subtle.ConstantTimeCompare([]byte(digest(ck.Value)), []byte(tx.Browser)) != 1 {
		if take { // not this browser's: put it back untouched
			_ = s.cfg.Store.Put(c.Request().Context(), kindLogin, tx.ID, b, s.cfg.LoginTTL)
		}
		return nil, errNoTx
	}
	if take { // the login is over: its cookie goes (a browser would pile them up until LoginTTL)
		s.dropTxCookie(c, tx.ID)
	}
	return &tx, nil
}

// noTx is the page of a login that is unknown, finished, expired or
// another browser's.
func (s *Service) noTx(c echo.Context, err error) error {
	if !errors.Is(err, errNoTx) {
		return err
	}
	return s.web.page(c, http.StatusNotFound, "error", pageLang(c), pageData{Problem: "no-login"})
}

func (s *Service) loginURL(tx *loginTx) string {
	return pathLogin + "?" + url.Values{"tx": {tx.ID}, "lang": {tx.Lang}}.Encode()
}

func (s *Service) waitURL(tx *loginTx) string {
	return pathWait + "?" + url.Values{"tx": {tx.ID}, "lang": {tx.Lang}}.Encode()
}

// currentSession is the browser's SSO session and its store key, or nil.
func (s *Service) currentSession(r *http.Request) (*ssoSession, string) {
	ck, err := r.Cookie(cookieSession)
	if err != nil || len(ck.Value) != 64 {
		return nil, ""
	}
	b, err := s.cfg.Store.Get(r.Context(), kindSession, digest(ck.Value))
	if err != nil {
		return nil, ""
	}
	var ss ssoSession
	if json.Unmarshal(b, &ss) != nil {
		return nil, ""
	}
	if ev, over := s.sessionOver(&ss); over { // idle too long or at its end: over
		_ = s.endSession(r.Context(), digest(ck.Value), &ss, ev)
		return nil, ""
	}
	return &ss, digest(ck.Value)
}

// loginPage shows the phone form of a login, or answers at once: from the
// browser's SSO session (unless the relying service forces a new
// authentication), or NoPassive to a passive request without one.
func (s *Service) loginPage(c echo.Context) error {
	c.SetRequest(c.Request().WithContext(withSPMemo(c.Request().Context())))
	tx, err := s.loadTx(c, false)
	if err != nil {
		return s.noTx(c, err)
	}
	if l := c.QueryParam("lang"); l != "" && pickLang(l, "") != tx.Lang {
		tx.Lang = pickLang(l, "")
		if err := s.putTx(c, tx); err != nil {
			return err
		}
	}
	if tx.State == "waiting" {
		return c.Redirect(http.StatusSeeOther, s.waitURL(tx))
	}
	if ss, key := s.currentSession(c.Request()); ss != nil && !tx.ForceAuthn {
		if tx, err = s.loadTx(c, true); err != nil {
			return s.noTx(c, err)
		}
		return s.finish(c, tx, ss, key, "mpass.login-sso")
	}
	if tx.IsPassive {
		if tx, err = s.loadTx(c, true); err != nil {
			return s.noTx(c, err)
		}
		s.audit(c.Request().Context(), auditEvent("mpass.login-failed", "", tx.SP, map[string]string{"reason": "passive", "ip": tx.ClientIP}))
		return s.respond(c, tx, nil, &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusNoPassive,
			Message: "the person has no session and a passive request cannot ask them to log in"})
	}
	return s.showLogin(c, tx, http.StatusOK, tx.Problem)
}

func (s *Service) showLogin(c echo.Context, tx *loginTx, status int, problem string) error {
	d := pageData{Tx: tx.ID, SP: hostOf(tx.ACS), Phone: tx.Phone, AskIDNP: s.asksIDNP(), IDNP: tx.IDNP,
		Problem: problem, Mobile: s.cfg.Mobile != nil, Self: pathLogin + "?tx=" + tx.ID}
	if s.cfg.TokenRoots != nil {
		d.AgentURL = s.cfg.AgentURL
		c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; connect-src 'self' "+s.cfg.AgentURL)
	}
	return s.web.page(c, status, "login", tx.Lang, d)
}

// NormalizePhone turns a phone number as people write it into the
// international form: Moldovan local numbers (069123456, 69123456) get
// +373; spaces, dots, dashes and brackets are ignored; 00 stands for +.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("phone number %q: only digits, spaces and a leading + are allowed", s)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "+"):
	case strings.HasPrefix(d, "00"):
		d = "+" + d[2:]
	case len(d) == 9 && d[0] == '0':
		d = "+373" + d[1:]
	case len(d) == 8 && d[0] != '0':
		d = "+373" + d
	case strings.HasPrefix(d, "373") && len(d) == 11:
		d = "+" + d
	default:
		return "", fmt.Errorf("phone number %q: write it as 069123456 or +37369123456", s)
	}
	if n := len(d) - 1; n < 8 || n > 15 || d[1] == '0' {
		return "", fmt.Errorf("phone number %q: write it as 069123456 or +37369123456", s)
	}
	if strings.HasPrefix(d, "+373") && len(d) != 12 {
		return "", fmt.Errorf("phone number %q: a Moldovan number has 8 digits after +373", s)
	}
	return d, nil
}

// mobileStart asks the phone to authenticate its owner and shows the
// verification code; the answer is awaited in the background.
func (s *Service) mobileStart(c echo.Context) error {
	tx, err := s.loadTx(c, false)
	if err != nil {
		return s.noTx(c, err)
	}
	if s.cfg.Mobile == nil {
		return s.showLogin(c, tx, http.StatusBadRequest, "no-mobile")
	}
	if tx.State == "waiting" {
		return c.Redirect(http.StatusSeeOther, s.waitURL(tx))
	}
	phone, err := NormalizePhone(c.FormValue("phone"))
	if err != nil {
		tx.Phone = c.FormValue("phone")
		return s.showLogin(c, tx, http.StatusBadRequest, "bad-phone")
	}
	tx.Phone = phone
	if !s.formIDNP(c, tx) {
		return s.showLogin(c, tx, http.StatusBadRequest, "bad-idnp")
	}
	p, err := s.cfg.Mobile.StartAuthentication(c.Request().Context(), mobileid.AuthRequest{MSISDN: phone, IDNP: tx.IDNP,
		DisplayText: "MPass: " + hostOf(tx.ACS)})
	if err != nil {
		tx.Problem = problemOf(err)
		s.audit(c.Request().Context(), auditEvent("mpass.login-failed", "phone:"+phone, tx.SP, map[string]string{"reason": tx.Problem, "error": err.Error(), "ip": tx.ClientIP}))
		if perr := s.putTx(c, tx); perr != nil {
			return perr
		}
		return s.showLogin(c, tx, http.StatusOK, tx.Problem)
	}
	st := p.State()
	tx.State, tx.Code, tx.Pending, tx.Problem = "waiting", p.VerificationCode(), &st, ""
	tx.Owner, tx.Beat = s.instance, s.cfg.Now().UTC()
	if err := s.putTx(c, tx); err != nil {
		return err
	}
	s.bgWG.Add(1)
	go s.awaitPhone(tx.ID, p)
	return c.Redirect(http.StatusSeeOther, s.waitURL(tx))
}

// stale tells whether the login has waited for its phone longer than
// three heartbeats: its owner may have stopped (ownerAlive says).
func (s *Service) stale(tx *loginTx) bool {
	return tx.State == "waiting" && tx.Pending != nil && s.cfg.Now().Sub(tx.Beat) > 3*s.cfg.Heartbeat
}

// takeOver waits for the phone of a login whose instance stopped, from
// the transaction's pending state, as that instance would have.
func (s *Service) takeOver(ctx context.Context, id, owner string) {
	if s.ownerAlive(ctx, owner) {
		return
	}
	var pending *mobileid.PendingState
	err := s.cfg.Store.Update(ctx, kindLogin, id, func(old []byte) ([]byte, error) {
		var tx loginTx
		if err := json.Unmarshal(old, &tx); err != nil {
			return nil, err
		}
		if !s.stale(&tx) || tx.Owner != owner { // someone else took it over meanwhile
			return old, nil
		}
		tx.Owner, tx.Beat, pending = s.instance, s.cfg.Now().UTC(), tx.Pending
		return json.Marshal(tx)
	})
	if err != nil || pending == nil {
		return
	}
	p, err := s.cfg.Mobile.Resume(*pending)
	if err != nil {
		s.cfg.Log.Warn("mpass: cannot resume a phone wait", "err", err)
		return
	}
	s.cfg.Log.Info("mpass: took over the phone wait of a stopped instance")
	s.bgWG.Add(1)
	go s.awaitPhone(id, p)
}

// awaitPhone waits for the phone's answer, checks the certificate and
// records the outcome in the login.
func (s *Service) awaitPhone(id string, p *mobileid.Pending) {
	defer s.bgWG.Done()
	ctx, cancel := context.WithTimeout(s.bg, s.cfg.PhoneTimeout)
	defer cancel()
	s.startBeat() // the instance says it is alive (pending.go)
	var ident *Identity
	res, err := p.Wait(ctx)
	if err == nil {
		ident, err = s.identify(ctx, res.Certificate, res.Chain)
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (no answer in %v)", mobileid.ErrTimeout, s.cfg.PhoneTimeout)
	}
	if s.bg.Err() != nil {
		return // shutting down: the login stays waiting until it expires
	}
	uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ucancel()
	var sp, phone string
	uerr := s.cfg.Store.Update(uctx, kindLogin, id, func(old []byte) ([]byte, error) {
		var tx loginTx
		if err := json.Unmarshal(old, &tx); err != nil {
			return nil, err
		}
		sp, phone = tx.SP, tx.Phone
		if err != nil {
			tx.State, tx.Problem = "failed", problemOf(err)
		} else {
			ident.Phone = tx.Phone
			tx.State, tx.Identity, tx.Instrument = "done", ident, "mobile"
		}
		tx.Pending, tx.Owner = nil, ""
		return json.Marshal(tx)
	})
	if uerr != nil {
		s.cfg.Log.Warn("mpass: the login ended before the phone answered", "err", uerr)
	}
	s.phoneDone.done(id) // the reloads held for it (waithold.go)
	if err != nil {
		actor := "phone:" + phone
		if res != nil && res.Certificate != nil {
			actor = mobileid.IdentityOf(res.Certificate).IDNP
		}
		s.audit(uctx, auditEvent("mpass.login-failed", actor, sp, map[string]string{"reason": problemOf(err), "error": err.Error(), "method": "mobile"}))
	}
}

// Errors of the certificate checks at login.
var (
	ErrRevoked         = errors.New("mpass: the certificate is revoked")
	ErrCertUnknown     = errors.New("mpass: the certificate's CA does not know it")
	ErrNoRevocation    = errors.New("mpass: the certificate's revocation status cannot be checked now")
	ErrNoPersonalID    = errors.New("mpass: the certificate names no person (no valid IDNP in its serialNumber)")
	ErrNoIssuerInChain = errors.New("mpass: the certificate's issuer is not known")
)

// identify checks the login certificate's revocation (OCSP, else the CRL)
// and reads the person from it. Its chain and key usage were checked by the
// mobileid client against the trust anchors.
func (s *Service) identify(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate) (*Identity, error) {
	if len(chain) == 0 {
		return nil, ErrNoIssuerInChain
	}
	issuer := chain[0]
	var state crl.State
	res, oerr := s.cfg.OCSP.Check(ctx, cert, issuer)
	if oerr == nil {
		state = res.Status.State
	} else {
		st, _, cerr := s.cfg.CRL.Check(ctx, cert, issuer)
		if cerr != nil {
			return nil, fmt.Errorf("%w: OCSP: %v; CRL: %v", ErrNoRevocation, oerr, cerr)
		}
		state = st.State
	}
	switch state {
	case crl.Revoked:
		return nil, ErrRevoked
	case crl.Unknown:
		return nil, ErrCertUnknown
	}
	p := mobileid.IdentityOf(cert)
	if !idn.Valid(p.IDNP) {
		return nil, fmt.Errorf("%w: %q", ErrNoPersonalID, p.IDNP)
	}
	id := &Identity{IDNP: p.IDNP, GivenName: p.GivenName, Surname: p.Surname,
		Certificate: fmt.Sprintf("%s #%x", issuer.Subject.CommonName, cert.SerialNumber)}
	if len(cert.EmailAddresses) > 0 {
		id.Email = cert.EmailAddresses[0]
	}
	id.Personal = s.personalOf(cert)
	// An organisation certificate: O = "<name> <IDNO>".
	if i := strings.LastIndexByte(p.Organization, ' '); i > 0 && idn.Valid(p.Organization[i+1:]) {
		id.CompanyName, id.IDNO = p.Organization[:i], p.Organization[i+1:]
	}
	return id, nil
}

// problemOf is the message key of a failed login.
func problemOf(err error) string {
	switch {
	case errors.Is(err, mobileid.ErrUserCancelled):
		return "refused"
	case errors.Is(err, mobileid.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, mobileid.ErrNotClient):
		return "unknown-phone"
	case errors.Is(err, ErrRevoked), errors.Is(err, mobileid.ErrCertificateRevoked):
		return "revoked"
	case errors.Is(err, ErrNoRevocation):
		return "no-revocation"
	case errors.Is(err, mobileid.ErrCertificateExpired), errors.Is(err, mobileid.ErrUntrusted),
		errors.Is(err, mobileid.ErrNoCertificate), errors.Is(err, ErrCertUnknown), errors.Is(err, ErrNoPersonalID),
		errors.Is(err, ErrNoIssuerInChain), errors.Is(err, mobileid.ErrNoKey):
		return "certificate"
	case errors.Is(err, mobileid.ErrPhoneAbsent), errors.Is(err, mobileid.ErrDelivery), errors.Is(err, mobileid.ErrSIM):
		return "unreachable"
	case errors.Is(err, mobileid.ErrPINBlocked), errors.Is(err, mobileid.ErrCardBlocked):
		return "blocked"
	case errors.Is(err, mobileid.ErrBusy):
		return "busy"
	case errors.Is(err, mobileid.ErrInvalidSignature):
		return "bad-answer"
	}
	return "failed"
}

// waitPage shows the verification code until the phone answered, then the
// refusal in plain words, or answers the relying service.
func (s *Service) waitPage(c echo.Context) error {
	tx, err := s.loadTx(c, false)
	if err == nil {
		tx, err = s.hold(c, tx) // a reload: answered when the phone is (waithold.go)
	}
	if err != nil {
		return s.noTx(c, err)
	}
	switch tx.State {
	case "waiting":
		if s.stale(tx) && s.cfg.Mobile != nil {
			s.takeOver(c.Request().Context(), tx.ID, tx.Owner)
		}
		return s.web.page(c, http.StatusOK, "wait", tx.Lang, pageData{Tx: tx.ID, SP: hostOf(tx.ACS), Phone: tx.Phone,
			Code: tx.Code, Refresh: s.holdURL(tx)})
	case "done":
		if tx, err = s.loadTx(c, true); err != nil {
			return s.noTx(c, err)
		}
		if tx.State != "done" || tx.Identity == nil {
			return s.noTx(c, errNoTx)
		}
		return s.newSession(c, tx)
	}
	return c.Redirect(http.StatusSeeOther, s.loginURL(tx))
}

// newSession opens the person's SSO session and answers the relying service.
func (s *Service) newSession(c echo.Context, tx *loginTx) error {
	token := newID() + newID()
	now := s.cfg.Now().UTC()
	ss := &ssoSession{Index: "_" + newID(), Identity: *tx.Identity, Method: "mobile", ClassRef: ACMobile,
		AuthnInstant: now, LastUsed: now, Lang: tx.Lang}
	if tx.Instrument == "token" {
		ss.Method, ss.ClassRef = "token", ACToken
	}
	if !tx.Admin { // written with the session: finish has no session update to make
		ss.SPs = []string{tx.SP}
	}
	s.setCookie(c, cookieSession, token, int(s.cfg.SessionTTL/time.Second))
	key := digest(token)
	if err := s.putSession(c.Request().Context(), key, ss); err != nil {
		return err
	}
	return s.finish(c, tx, ss, key, "mpass.login")
}

// finish records the relying service in the session and the login in the
// audit log (before anything is handed out), then answers with the
// assertion.
func (s *Service) finish(c echo.Context, tx *loginTx, ss *ssoSession, key, action string) error {
	ctx := c.Request().Context()
	if tx.Admin {
		if _, err := s.cfg.Store.Append(ctx, auditEvent("mpass.admin-login", ss.Identity.IDNP, "mpass", map[string]string{
			"method": ss.Method, "session": ss.Index, "certificate": ss.Identity.Certificate, "ip": tx.ClientIP,
			"admin": fmt.Sprint(slices.Contains(s.cfg.Admins, ss.Identity.IDNP))})); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, pathAdmin)
	}
	// The service and a recent LastUsed already recorded: no session write.
	if !slices.Contains(ss.SPs, tx.SP) || s.cfg.Now().Sub(ss.LastUsed) >= sessionTouch(s.cfg.SessionIdle) {
		err := s.cfg.Store.Update(ctx, kindSession, key, func(old []byte) ([]byte, error) {
			var cur ssoSession
			if err := json.Unmarshal(old, &cur); err != nil {
				return nil, err
			}
			cur.LastUsed = s.cfg.Now().UTC()
			if !slices.Contains(cur.SPs, tx.SP) {
				cur.SPs = append(cur.SPs, tx.SP)
			}
			return json.Marshal(cur)
		})
		if err != nil {
			return err
		}
	}
	if _, err := s.cfg.Store.Append(ctx, auditEvent(action, ss.Identity.IDNP, tx.SP, map[string]string{
		"method": ss.Method, "session": ss.Index, "certificate": ss.Identity.Certificate, "ip": tx.ClientIP})); err != nil {
		return err // nothing is handed out unless it is in the audit log
	}
	return s.respond(c, tx, ss, nil)
}

// cancel ends a login at the person's wish: the relying service gets a
// Response with a non-success status.
func (s *Service) cancel(c echo.Context) error {
	tx, err := s.loadTx(c, true)
	if err != nil {
		return s.noTx(c, err)
	}
	s.audit(c.Request().Context(), auditEvent("mpass.login-cancelled", "", tx.SP, map[string]string{"ip": tx.ClientIP, "problem": tx.Problem}))
	if tx.Admin {
		return c.Redirect(http.StatusSeeOther, pathAdmin)
	}
	msg := "the person cancelled the login"
	if tx.Problem != "" {
		msg = "the login failed (" + tx.Problem + ") and the person returned to the service"
	}
	return s.respond(c, tx, nil, &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusAuthnFailed, Message: msg})
}

func auditEvent(action, actor, sp string, details map[string]string) store.Event {
	if actor == "" {
		actor = "anonymous"
	}
	return store.Event{Actor: actor, Action: action, Subject: sp, Details: details}
}
