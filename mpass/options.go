package mpass

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/store"
)

// SPOptions are what a relying service's registration decides beyond its
// metadata (`semnat mpass sp add` flags).
type SPOptions struct {
	// SignAssertion signs the Assertion too (the Response is always signed).
	SignAssertion bool `json:"signAssertion,omitempty"`
	// Encrypt sends an EncryptedAssertion for EncryptionCert (DER), or
	// without it for the metadata's encryption certificate. An encrypted
	// assertion is signed before it is encrypted.
	Encrypt        bool   `json:"encrypt,omitempty"`
	EncryptionCert []byte `json:"encryptionCert,omitempty"`
	// Attributes are the attribute names released (AttributeNames, or with
	// EIDAS EIDASAttributeNames). Empty: those the metadata's
	// AttributeConsumingService requests, else every one MPass has.
	Attributes []string `json:"attributes,omitempty"`
	// EIDAS answers in the eIDAS SAML attribute profile: the eIDAS
	// natural- (and legal-) person attribute URIs instead of the MPass
	// names, and the eIDAS level of assurance as AuthnContextClassRef.
	EIDAS bool `json:"eidas,omitempty"`
	// Faults are fault-injection switches (the Fault* names): Responses to
	// this relying service are wrong on purpose, for its conformance tests.
	Faults []string `json:"faults,omitempty"`
	// SignatureAlgorithm signs its Responses (and Assertions) with
	// SigRSASHA256 (""; the default) or SigECDSASHA256 (ecdsa.go).
	SignatureAlgorithm string `json:"signatureAlgorithm,omitempty"`
}

// Fault-injection switches, as the MPass test IdP's "SAML Advanced
// Options" (egov-flows §2.5): each makes every successful Response to the
// relying service wrong in the way it names; a conformant relying service
// refuses it.
const (
	FaultUnsignedResponse  = "unsigned-response"    // neither the Response nor the Assertion is signed
	FaultWrongCertificate  = "wrong-certificate"    // signed with a key other than the published one
	FaultExpired           = "expired"              // issued an hour ago: IssueInstant, Conditions and SubjectConfirmationData long past
	FaultFuture            = "future"               // issued an hour from now: not yet valid
	FaultNoDestination     = "no-destination"       // the Response has no Destination
	FaultNoInResponseTo    = "no-in-response-to"    // neither the Response nor the SubjectConfirmationData has InResponseTo
	FaultStaleInResponseTo = "stale-in-response-to" // InResponseTo names the relying service's previous AuthnRequest
)

// Faults lists every fault-injection switch.
var Faults = []string{FaultUnsignedResponse, FaultWrongCertificate, FaultExpired, FaultFuture,
	FaultNoDestination, FaultNoInResponseTo, FaultStaleInResponseTo}

// AttributeNames are the MPass attributes (egov-flows §2.4), official names.
var AttributeNames = []string{"NameIdentifier", "FirstName", "LastName", "BirthDate", "Gender", "IsResident",
	"EmailAddress", "MobilePhone", "Language", "AdministeredLegalEntity", "IDNO", "CompanyName", "Role"}

// eIDAS SAML attribute profile v1.2: natural- and legal-person attribute
// URIs and levels of assurance.
const (
	EIDASPersonIdentifier      = "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier"
	EIDASFamilyName            = "http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName"
	EIDASGivenName             = "http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName"
	EIDASDateOfBirth           = "http://eidas.europa.eu/attributes/naturalperson/DateOfBirth"
	EIDASLegalPersonIdentifier = "http://eidas.europa.eu/attributes/legalperson/LegalPersonIdentifier"
	EIDASLegalName             = "http://eidas.europa.eu/attributes/legalperson/LegalName"
	EIDASLoALow                = "http://eidas.europa.eu/LoA/low"
	EIDASLoASubstantial        = "http://eidas.europa.eu/LoA/substantial"
	EIDASLoAHigh               = "http://eidas.europa.eu/LoA/high"
)

// EIDASAttributeNames are the eIDAS attributes MPass can release.
var EIDASAttributeNames = []string{EIDASPersonIdentifier, EIDASFamilyName, EIDASGivenName, EIDASDateOfBirth, EIDASLegalPersonIdentifier, EIDASLegalName}

// ErrBadOptions: a registration's options are not usable.
var ErrBadOptions = errors.New("mpass: the relying service's options are not usable")

// check refuses options MPass cannot honour for the metadata ed.
func (o *SPOptions) check(ed *saml.EntityDescriptor) error {
	for _, f := range o.Faults {
		if !slices.Contains(Faults, f) {
			return fmt.Errorf("%w: unknown fault %q (one of %s)", ErrBadOptions, f, strings.Join(Faults, ", "))
		}
	}
	if err := checkSignatureAlgorithm(o.SignatureAlgorithm); err != nil {
		return err
	}
	known := AttributeNames
	if o.EIDAS {
		known = EIDASAttributeNames
	}
	for _, a := range o.Attributes {
		if !slices.Contains(known, a) {
			return fmt.Errorf("%w: unknown attribute %q (one of %s)", ErrBadOptions, a, strings.Join(known, ", "))
		}
	}
	if len(o.EncryptionCert) > 0 {
		if _, err := x509.ParseCertificate(o.EncryptionCert); err != nil {
			return fmt.Errorf("%w: the encryption certificate: %v", ErrBadOptions, err)
		}
		o.Encrypt = true
	}
	if o.Encrypt && len(o.EncryptionCert) == 0 && !infoOf(SP{}, ed).Encrypts {
		return fmt.Errorf("%w: %s publishes no encryption certificate; give one (--encryption-cert) or do not ask for encryption", ErrBadOptions, ed.EntityID)
	}
	return nil
}

func (o *SPOptions) has(fault string) bool { return slices.Contains(o.Faults, fault) }

// encryptionKeys are the key descriptors MPass encrypts assertions for:
// none unless the registration asks for encryption.
func (o *SPOptions) encryptionKeys(d *saml.SPSSODescriptor) []saml.KeyDescriptor {
	switch {
	case !o.Encrypt:
		return nil
	case len(o.EncryptionCert) > 0:
		return []saml.KeyDescriptor{{Use: "encryption", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
			X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(o.EncryptionCert)}}}}}}
	}
	return d.KeyDescriptors
}

// SetFaults replaces the fault-injection switches of a registration.
func (r *Registry) SetFaults(ctx context.Context, entityID string, faults []string) error {
	o := SPOptions{Faults: faults}
	if err := o.check(&saml.EntityDescriptor{}); err != nil {
		return err
	}
	err := r.Store.Update(ctx, kindSP, entityID, func(old []byte) ([]byte, error) {
		var sp SP
		if err := json.Unmarshal(old, &sp); err != nil {
			return nil, err
		}
		sp.Options.Faults = faults
		return json.Marshal(sp)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return fmt.Errorf("%w: %q", ErrUnknownSP, entityID)
	}
	return err
}

// kindRole holds the Role values a person has at a relying service, by
// entity id and IDNP (Forever).
const kindRole = "mpass.role"

func roleKey(entityID, idnp string) string { return entityID + "\n" + idnp }

// SetRoles gives a person roles at a relying service (the Role
// attribute); no roles removes them.
func (r *Registry) SetRoles(ctx context.Context, entityID, idnp string, roles []string) error {
	if idn.KindOf(idnp) != idn.Person {
		return fmt.Errorf("%w: %q is not a valid IDNP", ErrBadOptions, idnp)
	}
	if _, _, err := r.Get(ctx, entityID); err != nil {
		return err
	}
	for _, role := range roles {
		if strings.TrimSpace(role) == "" || len(role) > 128 {
			return fmt.Errorf("%w: role %q: 1 to 128 characters", ErrBadOptions, role)
		}
	}
	if len(roles) == 0 {
		err := r.Store.Delete(ctx, kindRole, roleKey(entityID, idnp))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	b, err := json.Marshal(roles)
	if err != nil {
		return err
	}
	return r.Store.Put(ctx, kindRole, roleKey(entityID, idnp), b, store.Forever)
}

// Roles are a person's roles at a relying service.
func (r *Registry) Roles(ctx context.Context, entityID, idnp string) ([]string, error) {
	b, err := r.Store.Get(ctx, kindRole, roleKey(entityID, idnp))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var roles []string
	return roles, json.Unmarshal(b, &roles)
}

// attributes are what the relying service sp is told about the session's
// person, and the authentication context class to state.
func (s *Service) attributes(ctx context.Context, ss *ssoSession, sp *SP, ed *saml.EntityDescriptor) ([]saml.Attribute, string, error) {
	id, o := ss.Identity, sp.Options
	var all []saml.Attribute
	classRef := ss.ClassRef
	if o.EIDAS {
		classRef = EIDASLoAHigh // a qualified certificate whose key is on a QSCD, unlocked by PIN
		all = append(all, eidasAttr(EIDASPersonIdentifier, "PersonIdentifier", "MD/MD/"+id.IDNP),
			eidasAttr(EIDASFamilyName, "FamilyName", id.Surname), eidasAttr(EIDASGivenName, "FirstName", id.GivenName))
		all = append(all, eidasPersonal(id.Personal)...)
		if id.IDNO != "" {
			all = append(all, eidasAttr(EIDASLegalPersonIdentifier, "LegalPersonIdentifier", "MD/MD/"+id.IDNO),
				eidasAttr(EIDASLegalName, "LegalName", id.CompanyName))
		}
	} else {
		all = append(all, attr("NameIdentifier", id.IDNP), attr("FirstName", id.GivenName), attr("LastName", id.Surname))
		all = append(all, personalAttrs(id.Personal)...)
		if id.Email != "" {
			all = append(all, attr("EmailAddress", id.Email))
		}
		if id.Phone != "" {
			all = append(all, attr("MobilePhone", id.Phone))
		}
		if ss.Lang != "" {
			all = append(all, attr("Language", ss.Lang))
		}
		if id.IDNO != "" {
			all = append(all, attr("IDNO", id.IDNO), attr("CompanyName", id.CompanyName))
		}
		if s.cfg.MPower != nil {
			list, err := s.cfg.MPower.AdministeredEntities(ctx, id.IDNP)
			if err != nil {
				// The login goes on without the attribute: the relying
				// service must not be told "none" when MPower did not answer.
				s.cfg.Log.Warn("mpass: MPower's register of legal entities did not answer; AdministeredLegalEntity left out", "err", err)
			} else if len(list) > 0 {
				a := attr("AdministeredLegalEntity", "")
				a.Values = nil
				for _, e := range list {
					a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: e.Name + " " + e.Idno})
				}
				all = append(all, a)
			}
		}
		roles, err := s.sps.Roles(ctx, sp.EntityID, id.IDNP)
		if err != nil {
			return nil, "", err
		}
		if len(roles) > 0 {
			a := attr("Role", "")
			a.Values = nil
			for _, r := range roles {
				a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: r})
			}
			all = append(all, a)
		}
	}
	wanted := o.Attributes
	if len(wanted) == 0 {
		for _, d := range ed.SPSSODescriptors {
			for _, acs := range d.AttributeConsumingServices {
				for _, ra := range acs.RequestedAttributes {
					wanted = append(wanted, ra.Name)
				}
			}
		}
	}
	if len(wanted) == 0 {
		return all, classRef, nil
	}
	out := all[:0:0]
	for _, a := range all {
		if slices.Contains(wanted, a.Name) {
			out = append(out, a)
		}
	}
	return out, classRef, nil
}

// eidasAttr is an eIDAS attribute: a URI name with its friendly name.
func eidasAttr(name, friendly, value string) saml.Attribute {
	return saml.Attribute{Name: name, FriendlyName: friendly, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
		Values: []saml.AttributeValue{{Type: "xs:string", Value: value}}}
}

// answer makes the signed Response to req for the session's person, as
// the registration sp asks: attributes, signed or encrypted assertion, and
// the fault-injection switches.
func (s *Service) answer(ctx context.Context, req *saml.IdpAuthnRequest, tx *loginTx, ss *ssoSession, sp *SP, ed *saml.EntityDescriptor) error {
	o := &sp.Options
	attrs, classRef, err := s.attributes(ctx, ss, sp, ed)
	if err != nil {
		return err
	}
	switch {
	case o.has(FaultExpired):
		req.Now = req.Now.Add(-time.Hour)
	case o.has(FaultFuture):
		req.Now = req.Now.Add(time.Hour)
	}
	switch {
	case o.has(FaultNoInResponseTo):
		req.Request.ID = ""
	case o.has(FaultStaleInResponseTo):
		req.Request.ID = tx.PrevRequest
		if req.Request.ID == "" {
			req.Request.ID = "_" + newID() // no earlier request: one it never sent
		}
	}
	sess := ss.samlSession(s.cfg.SessionTTL)
	sess.AuthnContextClassRef, sess.CustomAttributes = classRef, attrs
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, sess); err != nil {
		return err
	}
	// Only MPass's attributes: none of crewjam's defaults.
	req.Assertion.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	if len(attrs) == 0 {
		req.Assertion.AttributeStatements = nil
	}
	desc := *req.SPSSODescriptor
	desc.KeyDescriptors = o.encryptionKeys(req.SPSSODescriptor)
	req.SPSSODescriptor = &desc
	if req.IDP, err = s.ecdsaSigner(o, req.IDP); err != nil {
		return err
	}
	if o.has(FaultWrongCertificate) {
		idp := *req.IDP
		if idp.Signer, idp.Certificate, err = s.wrongKey(); err != nil {
			return err
		}
		idp.Intermediates = nil
		req.IDP = &idp
	}
	switch {
	case o.has(FaultUnsignedResponse):
		req.AssertionEl = req.Assertion.Element()
	case o.SignAssertion || o.Encrypt:
		if err := req.MakeAssertionEl(); err != nil {
			return err
		}
	default:
		req.AssertionEl = req.Assertion.Element()
	}
	acs := req.ACSEndpoint
	if o.has(FaultNoDestination) {
		e := *acs
		e.Location = ""
		req.ACSEndpoint = &e
	}
	err = makeResponse(req, !o.has(FaultUnsignedResponse)) // response.go
	req.ACSEndpoint = acs
	return err
}
