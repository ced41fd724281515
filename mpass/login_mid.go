package mpass

// The Mobile-ID face of an MSSP identifies a person by their phone number
// and their IDNP together: its requests carry both, and the service checks
// that the number belongs to that person. When MPass's mobile client talks
// to that face, the login form asks for the IDNP too.

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mobileid"
)

// asksIDNP says whether the login form asks for the person's IDNP.
func (s *Service) asksIDNP() bool {
	return s.cfg.Mobile != nil && s.cfg.Mobile.Face() == mobileid.FaceMID
}

// formIDNP reads the login form's IDNP into tx when the face needs one:
// false when it is missing or not a valid IDNP.
func (s *Service) formIDNP(c echo.Context, tx *loginTx) bool {
	if !s.asksIDNP() {
		return true
	}
	tx.IDNP = strings.TrimSpace(c.FormValue("idnp"))
	return idn.Valid(tx.IDNP)
}
