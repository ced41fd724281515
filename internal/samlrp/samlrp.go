// Package samlrp is the SAML relying-service side that semnat's services
// with pages for people share (the portal, MPower, the demo service): a
// crewjam/saml samlsp middleware set up for MPass at a path prefix, and
// the person MPass said is logged in.
package samlrp

import (
	"crypto"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
)

// ACSmartcardPKI is the SAML authentication context class (saml-authn-
// context §3.4.14) MPass states for a login with a certificate on a USB
// token; a login by mobile signature states MobileTwoFactorContract.
const ACSmartcardPKI = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"

// AttrAuthnContext is the session attribute that keeps the assertion's
// AuthnContextClassRef (how the person logged in): samlsp keeps only the
// attribute statements, so the session codec adds it, in place of any
// attribute of that name the assertion had.
const AttrAuthnContext = "AuthnContextClassRef"

// Options set up a relying service.
type Options struct {
	// Base is the service's public URL (scheme and host, perhaps a path);
	// Prefix the path its pages are under ("/portal"): the entity id is
	// Base+Prefix+"/saml/metadata", the assertion consumer
	// Base+Prefix+"/saml/acs".
	Base   *url.URL
	Prefix string
	// IdPMetadata is MPass's SAML metadata.
	IdPMetadata []byte
	// Key and Certificate sign the AuthnRequests and the session cookies.
	Key         crypto.Signer
	Certificate *x509.Certificate
	// CookieName is the session cookie's; DefaultRedirect where a login
	// started elsewhere than on a page lands.
	CookieName, DefaultRedirect string
}

// New builds the samlsp middleware of o.
func New(o Options) (*samlsp.Middleware, error) {
	if o.Base == nil || o.Key == nil || o.Certificate == nil || len(o.IdPMetadata) == 0 {
		return nil, errors.New("samlrp: MPass's metadata, the public URL and the SAML key and certificate are required")
	}
	idp, err := samlsp.ParseMetadata(o.IdPMetadata)
	if err != nil {
		return nil, fmt.Errorf("samlrp: MPass's metadata: %w", err)
	}
	root := *o.Base
	root.Path = strings.TrimRight(root.Path, "/") + o.Prefix + "/" // samlsp puts saml/acs and saml/metadata below it
	sp, err := samlsp.New(samlsp.Options{URL: root, Key: o.Key, Certificate: o.Certificate, IDPMetadata: idp, SignRequest: true,
		CookieName: o.CookieName, DefaultRedirectURI: o.DefaultRedirect})
	if err != nil {
		return nil, fmt.Errorf("samlrp: %w", err)
	}
	if cp, ok := sp.Session.(samlsp.CookieSessionProvider); ok {
		if jc, ok := cp.Codec.(samlsp.JWTSessionCodec); ok {
			cp.Codec = contextCodec{jc}
			sp.Session = cp
		}
	}
	return sp, nil
}

// contextCodec is samlsp's JWT session codec that also keeps, as the
// attribute AttrAuthnContext, the authentication context classes of the
// assertion's authentication statements (signed in the session's JWT like
// the other attributes).
type contextCodec struct{ samlsp.JWTSessionCodec }

// New is the session of assertion, with its authentication context.
func (c contextCodec) New(assertion *saml.Assertion) (samlsp.Session, error) {
	sess, err := c.JWTSessionCodec.New(assertion)
	if err != nil {
		return nil, err
	}
	claims, ok := sess.(samlsp.JWTSessionClaims)
	if !ok {
		return nil, fmt.Errorf("samlrp: unexpected session type %T", sess)
	}
	delete(claims.Attributes, AttrAuthnContext)
	for _, st := range assertion.AuthnStatements {
		if ref := st.AuthnContext.AuthnContextClassRef; ref != nil && ref.Value != "" {
			claims.Attributes[AttrAuthnContext] = append(claims.Attributes[AttrAuthnContext], ref.Value)
		}
	}
	return claims, nil
}

// Metadata is the relying service's SAML metadata, to register with MPass.
func Metadata(sp *samlsp.Middleware) ([]byte, error) {
	return xml.MarshalIndent(sp.ServiceProvider.Metadata(), "", "  ")
}

// User is who is logged in, as MPass said.
type User struct {
	IDNP, FirstName, LastName string
	Attrs                     samlsp.Attributes
}

// ByCertificate tells whether the person logged in with a certificate on
// a USB token (MPass's authentication context SmartcardPKI), and not
// otherwise (mobile signature).
func (u *User) ByCertificate() bool {
	refs := u.Attrs[AttrAuthnContext]
	return len(refs) > 0 && !slices.ContainsFunc(refs, func(r string) bool { return r != ACSmartcardPKI })
}

// Name is the person's first and last name.
func (u *User) Name() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// Administers tells whether MPass says the user administers the company
// of idno (attribute AdministeredLegalEntity: "<name> <IDNO>", the IDNO
// after the last space, egov-flows §2.4), and its name.
func (u *User) Administers(idno string) (string, bool) {
	for _, v := range u.Attrs["AdministeredLegalEntity"] {
		i := strings.LastIndexByte(v, ' ')
		if i > 0 && v[i+1:] == idno {
			return v[:i], true
		}
	}
	return "", false
}

// UserOf is the person logged in on r's session cookie, or nil.
func UserOf(sp *samlsp.Middleware, r *http.Request) *User {
	sess, err := sp.Session.GetSession(r)
	if err != nil || sess == nil {
		return nil
	}
	sa, ok := sess.(samlsp.SessionWithAttributes)
	if !ok {
		return nil
	}
	a := sa.GetAttributes()
	idnp := a.Get("NameIdentifier")
	if idnp == "" {
		if sn, ok := sess.(samlsp.SessionWithNameID); ok {
			idnp = sn.GetNameID()
		}
	}
	if idnp == "" {
		return nil
	}
	return &User{IDNP: idnp, FirstName: a.Get("FirstName"), LastName: a.Get("LastName"), Attrs: a}
}
