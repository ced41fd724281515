package mpass

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/store"
)

// Login with a USB token through the person's local agent (`semnat
// agent`, protocol agent/wire): the login page lists the agent's
// certificates, asks MPass for a one-time nonce (pathTokenNonce), has the
// agent sign its login challenge for MPass's origin and that nonce (POST
// /v1/authenticate: the agent asks "log in to <origin> as <name>"), and
// posts the certificate and signature here (pathToken). MPass checks the
// signature for its own origin and the nonce it issued (once), the chain to
// its trust anchors, the key usage and the revocation (OCSP, else the
// CRL), and takes the person from the certificate.
const (
	pathTokenNonce = "/login/token/nonce"
	pathToken      = "/login/token"
)

// ACToken is the authentication context class of a login with a USB token
// (saml-authn-context: a smartcard holding the private key, unlocked with
// a PIN).
const ACToken = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"

// nonceTTL bounds the time between the nonce and the token's answer (the
// person reads the prompt and types the PIN).
const nonceTTL = 5 * time.Minute

// Errors of a token login.
var (
	ErrTokenSignature = errors.New("mpass: the token's login signature is not for this site and login")
	ErrNoNonce        = errors.New("mpass: no login challenge is pending (it was used, or expired): ask for a new one")
	ErrUntrusted      = errors.New("mpass: the certificate does not chain to a trusted CA")
	ErrKeyUsage       = errors.New("mpass: not an authentication certificate (key usage digitalSignature without nonRepudiation, extended key usage clientAuth): log in with the token's authentication certificate")
	ErrBadTokenLogin  = errors.New("mpass: the token login request cannot be read")
)

// tokenLogin is what the login page posts to pathToken.
type tokenLogin struct {
	Certificate []byte   `json:"certificate"` // DER, from the agent's list
	Chain       [][]byte `json:"chain,omitempty"`
	Signature   []byte   `json:"signature"`
	Hash        string   `json:"hash"`
	Scheme      string   `json:"scheme,omitempty"`
}

// maxTokenLogin bounds the posted JSON (a certificate chain).
const maxTokenLogin = 64 << 10

// origin is MPass's web origin, as browsers send it in Origin headers
// (and the agent binds the login to): scheme://host[:port], no default port.
func (s *Service) origin() string {
	scheme, host := strings.ToLower(s.base.Scheme), strings.ToLower(s.base.Host)
	if p := s.base.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host
}

// tokenNonce issues the login's one-time nonce for the agent.
func (s *Service) tokenNonce(c echo.Context) error {
	tx, err := s.loadTx(c, false)
	if err != nil {
		return c.JSON(http.StatusNotFound, tokenAnswer{Problem: "no-login"})
	}
	if s.cfg.TokenRoots == nil || tx.State == "waiting" {
		return c.JSON(http.StatusConflict, tokenAnswer{Problem: "no-token"})
	}
	nonce := newID()
	now := s.cfg.Now().UTC()
	err = s.cfg.Store.Update(c.Request().Context(), kindLogin, tx.ID, func(old []byte) ([]byte, error) {
		var cur loginTx
		if err := json.Unmarshal(old, &cur); err != nil {
			return nil, err
		}
		cur.Nonce, cur.NonceAt = nonce, now
		return json.Marshal(cur)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tokenAnswer{Nonce: nonce})
}

// tokenAnswer is the JSON the login page's script reads.
type tokenAnswer struct {
	Nonce   string `json:"nonce,omitempty"`
	Next    string `json:"next,omitempty"`    // where the browser goes on success
	Problem string `json:"problem,omitempty"` // message key
	Message string `json:"message,omitempty"` // the message, in the login's language
}

// tokenFinish checks the token's login signature and completes the login.
func (s *Service) tokenFinish(c echo.Context) error {
	tx, err := s.loadTx(c, false)
	if err != nil {
		return c.JSON(http.StatusNotFound, tokenAnswer{Problem: "no-login", Message: pageData{Lang: pickLang(c.QueryParam("lang"), "")}.T("problem.no-login")})
	}
	ctx := c.Request().Context()
	// The nonce is used once, whatever the outcome.
	var nonce string
	var nonceAt time.Time
	err = s.cfg.Store.Update(ctx, kindLogin, tx.ID, func(old []byte) ([]byte, error) {
		var cur loginTx
		if err := json.Unmarshal(old, &cur); err != nil {
			return nil, err
		}
		nonce, nonceAt = cur.Nonce, cur.NonceAt
		cur.Nonce = ""
		return json.Marshal(cur)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return c.JSON(http.StatusNotFound, tokenAnswer{Problem: "no-login"})
	}
	if err != nil {
		return err
	}
	var in tokenLogin
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxTokenLogin))
	dec.DisallowUnknownFields()
	var ident *Identity
	var cert *x509.Certificate
	if err = dec.Decode(&in); err != nil {
		err = fmt.Errorf("%w: %v", ErrBadTokenLogin, err)
	} else if nonce == "" || s.cfg.TokenRoots == nil || s.cfg.Now().Sub(nonceAt) > nonceTTL {
		err = ErrNoNonce
	} else {
		cert, ident, err = s.verifyToken(ctx, nonce, in)
	}
	if err != nil {
		actor := ""
		if cert != nil {
			actor = cert.Subject.SerialNumber
		}
		key := tokenProblem(err)
		s.audit(ctx, auditEvent("mpass.login-failed", actor, tx.SP, map[string]string{"reason": key, "error": err.Error(), "method": "token", "ip": c.RealIP()}))
		s.cfg.Log.Info("mpass: token login refused", "reason", key, "err", err)
		return c.JSON(http.StatusBadRequest, tokenAnswer{Problem: key, Message: pageData{Lang: tx.Lang}.T("problem." + key)})
	}
	err = s.cfg.Store.Update(ctx, kindLogin, tx.ID, func(old []byte) ([]byte, error) {
		var cur loginTx
		if err := json.Unmarshal(old, &cur); err != nil {
			return nil, err
		}
		if cur.State == "waiting" {
			return nil, errors.New("mpass: a phone login is under way for this login")
		}
		cur.State, cur.Identity, cur.Instrument, cur.Problem = "done", ident, "token", ""
		return json.Marshal(cur)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tokenAnswer{Next: s.waitURL(tx)})
}

// verifyToken checks a token login: the signature over MPass's challenge
// for its origin and nonce, the chain, the key usage, the revocation.
func (s *Service) verifyToken(ctx context.Context, nonce string, in tokenLogin) (*x509.Certificate, *Identity, error) {
	cert, err := x509.ParseCertificate(in.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the certificate: %v", ErrBadTokenLogin, err)
	}
	h, err := wire.HashByName(in.Hash)
	if err != nil {
		return cert, nil, fmt.Errorf("%w: %v", ErrBadTokenLogin, err)
	}
	if err := wire.VerifyAuthentication(cert.PublicKey, h, in.Scheme, s.origin(), nonce, in.Signature); err != nil {
		if errors.Is(err, wire.ErrAuthentication) {
			return cert, nil, ErrTokenSignature
		}
		return cert, nil, fmt.Errorf("%w: %v", ErrTokenSignature, err)
	}
	// Key separation: only an authentication certificate logs in. A
	// signature by the signing (nonRepudiation) key over this challenge is
	// a "document" signature a site the person allowed in their agent may
	// have obtained: never a login.
	if !wire.IsAuthentication(cert) {
		return cert, nil, ErrKeyUsage
	}
	inter := x509.NewCertPool()
	if s.cfg.TokenIntermediates != nil {
		inter = s.cfg.TokenIntermediates.Clone()
	}
	for _, der := range in.Chain {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: s.cfg.TokenRoots, Intermediates: inter, CurrentTime: s.cfg.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return cert, nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	ident, err := s.identify(ctx, cert, chains[0][1:])
	return cert, ident, err
}

// tokenProblem is the message key of a failed token login.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, ErrTokenSignature):
		return "token-signature"
	case errors.Is(err, ErrNoNonce):
		return "token-nonce"
	case errors.Is(err, ErrRevoked):
		return "token-revoked"
	case errors.Is(err, ErrNoRevocation):
		return "no-revocation"
	case errors.Is(err, ErrUntrusted), errors.Is(err, ErrKeyUsage), errors.Is(err, ErrCertUnknown),
		errors.Is(err, ErrNoPersonalID), errors.Is(err, ErrNoIssuerInChain):
		return "token-certificate"
	}
	return "token-bad-request"
}
