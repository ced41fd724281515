package mpower

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mpower/client"
)

// AdministeredBy lists the legal entities of the register that idnp
// administers at t (in office), by IDNO.
func (r *Registry) AdministeredBy(ctx context.Context, idnp string, t time.Time) ([]Entity, error) {
	// The administrators are a JSON column: the register is read whole
	// and the decoded lists decide (an index by administrator is for when
	// the register is large).
	all, err := r.Entities(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entity
	for _, e := range all {
		if e.AdministeredBy(idnp, t) {
			out = append(out, e)
		}
	}
	return out, nil
}

// GET Idn-Entities-List: the legal entities a person administers now, as
// MPass's AdministeredLegalEntity attribute names them.
func (s *Service) idnEntitiesList(c echo.Context) error {
	idnp := strings.TrimSpace(c.QueryParam("Idnp"))
	if idn.KindOf(idnp) != idn.Person {
		return badParam("Idnp: %q is not a valid IDNP (13 digits, a person's)", idnp)
	}
	list, err := s.reg.AdministeredBy(c.Request().Context(), idnp, s.reg.Now())
	if err != nil {
		return err
	}
	out := make([]client.LegalEntity, 0, len(list))
	for _, e := range list {
		out = append(out, client.LegalEntity{Idno: e.IDNO, Name: e.Name})
	}
	if err := s.audit(c, idnp, map[string]string{"entities": strconv.Itoa(len(out))}); err != nil {
		return err
	}
	return ok(c, out)
}
