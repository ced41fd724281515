package mpass

import (
	"crypto/x509"

	"github.com/crewjam/saml"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/semnat/semnat/dirattr"
)

// Personal data of a login, from the certificate's subjectDirectoryAttributes
// (RFC 3739) only: what the certificate does not say stays absent.
type Personal struct {
	BirthDate string   `json:"birthDate,omitempty"` // YYYY-MM-DD
	Gender    string   `json:"gender,omitempty"`    // M or F
	Residence []string `json:"residence,omitempty"` // ISO 3166 codes of the countries of residence
}

// personalOf reads the personal data of cert. A malformed extension is
// logged and read as none: the login goes on without the data.
func (s *Service) personalOf(cert *x509.Certificate) Personal {
	a, err := dirattr.Of(cert)
	if err != nil {
		s.cfg.Log.Warn("mpass: the certificate's personal data (subjectDirectoryAttributes) is malformed; left out", "err", err)
		return Personal{}
	}
	return Personal{BirthDate: a.DateOfBirth, Gender: a.Gender, Residence: a.CountriesOfResidence}
}

// residentMD is the IsResident value ("true"/"false"), "" when the
// certificate names no country of residence.
func (p Personal) residentMD() string {
	r, known := dirattr.Attributes{CountriesOfResidence: p.Residence}.ResidentOf("MD")
	switch {
	case !known:
		return ""
	case r:
		return "true"
	}
	return "false"
}

// personalAttrs are the MPass attributes BirthDate, Gender and IsResident,
// each only when known.
func personalAttrs(p Personal) []saml.Attribute {
	var out []saml.Attribute
	if p.BirthDate != "" {
		out = append(out, attr("BirthDate", p.BirthDate))
	}
	if p.Gender != "" {
		out = append(out, attr("Gender", p.Gender))
	}
	if r := p.residentMD(); r != "" {
		out = append(out, attr("IsResident", r))
	}
	return out
}

// eidasPersonal is the eIDAS DateOfBirth (xsd:date), when known.
func eidasPersonal(p Personal) []saml.Attribute {
	if p.BirthDate == "" {
		return nil
	}
	return []saml.Attribute{eidasAttr(EIDASDateOfBirth, "DateOfBirth", p.BirthDate)}
}

// personalClaims sets the OIDC birthdate and gender claims (profile
// scope), each only when known.
func personalClaims(ui *oidc.UserInfo, p Personal) {
	ui.Birthdate = p.BirthDate
	switch p.Gender {
	case "M":
		ui.Gender = oidc.Gender("male")
	case "F":
		ui.Gender = oidc.Gender("female")
	}
}
