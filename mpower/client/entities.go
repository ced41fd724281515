package client

import (
	"context"
	"net/url"

	"github.com/semnat/semnat/idn"
)

// PathIdnEntitiesList lists the legal entities a person administers now:
// Idnp → data: []LegalEntity.
const PathIdnEntitiesList = "/api/Authorization/check/Idn-Entities-List"

// LegalEntity is a company of the register of legal entities.
type LegalEntity struct {
	Idno string `json:"idno"`
	Name string `json:"name"`
}

// AdministeredEntities asks Idn-Entities-List: the legal entities idnp
// administers now (MPass's AdministeredLegalEntity).
func (c *Client) AdministeredEntities(ctx context.Context, idnp string) ([]LegalEntity, error) {
	if idn.KindOf(idnp) != idn.Person {
		return nil, invalid("Idnp: %q is not a valid IDNP", idnp)
	}
	var out Envelope[[]LegalEntity]
	if _, err := c.get(ctx, PathIdnEntitiesList, url.Values{"Idnp": {idnp}}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}
