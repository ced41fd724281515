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
	"strings"

	"github.com/crewjam/saml/samlsp"
)

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
	return sp, nil
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
