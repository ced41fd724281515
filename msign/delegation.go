package msign

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/semnat/semnat/idn"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/problem"
)

// Signing on behalf of another party (ExpectedSigner.DelegatorType Person
// or Organization): the signer must hold a valid power of representation
// from DelegatorID in MPower at the moment of signing. MSign asks MPower's
// check API (Config.Powers) once the signer's certificate is known, as it
// compares ExpectedSigner.ID; without MPower such requests are refused.
//
// DelegatedRoleID names the type of the power: n is MPower's type
// AT-n (seven digits); 0 accepts a valid power of any type.

// delegation is what a system's request asks of the signer.
type delegation struct {
	Type   client.DelegatorType `json:"type"`
	ID     string               `json:"id"`     // IDNP or IDNO of the party represented
	RoleID int                  `json:"roleID"` // MPower's type number; 0: any
}

// errNotDelegated: MPower knows no valid power from the delegator to the
// signer.
var errNotDelegated = problem.New(http.StatusUnprocessableEntity, "not-delegated", "No power of representation",
	"the signer holds no valid power of representation from the party the request names (MPower)")

// checkDelegator checks ExpectedSigner's delegator fields at
// PostSignRequest: the number fits the type, and MPower is reachable.
func (s *Service) checkDelegator(es *client.ExpectedSigner) error {
	if es == nil || es.DelegatorType == "" || es.DelegatorType == client.DelegatorNone {
		return nil
	}
	if s.cfg.Powers == nil {
		return errInvalid(fmt.Sprintf("ExpectedSigner.DelegatorType: %s is not supported here: signing on behalf of another party is checked with MPower, "+
			"which this MSign is not connected to (semnat msign serve --mpower URL); send None", es.DelegatorType))
	}
	want, what := idn.Person, "an IDNP (a person)"
	if es.DelegatorType == client.DelegatorOrganization {
		want, what = idn.Entity, "an IDNO (an organisation)"
	}
	if idn.KindOf(es.DelegatorID) != want {
		return errInvalid(fmt.Sprintf("ExpectedSigner.DelegatorID: %q is not %s", es.DelegatorID, what))
	}
	if es.DelegatedRoleID < 0 || es.DelegatedRoleID > 9999999 {
		return errInvalid(fmt.Sprintf("ExpectedSigner.DelegatedRoleID: %d: want MPower's type number (AT-nnnnnnn), or 0 for any", es.DelegatedRoleID))
	}
	return nil
}

// delegationOf is what a checked ExpectedSigner asks (nil: no delegation).
func delegationOf(es *client.ExpectedSigner) *delegation {
	if es == nil || es.DelegatorType == "" || es.DelegatorType == client.DelegatorNone {
		return nil
	}
	return &delegation{Type: es.DelegatorType, ID: es.DelegatorID, RoleID: es.DelegatedRoleID}
}

// checkDelegation asks MPower whether signer may sign for d's party now:
// errNotDelegated when not, another error when MPower cannot say.
func (s *Service) checkDelegation(ctx context.Context, d *delegation, signer string) error {
	if d == nil {
		return nil
	}
	if s.cfg.Powers == nil {
		return fmt.Errorf("msign: the request is on behalf of %s, and MPower is not configured", d.ID)
	}
	if signer == "" {
		return fmt.Errorf("%w: the signer's certificate carries no IDNP", errNotDelegated)
	}
	if d.RoleID > 0 {
		typ := fmt.Sprintf("AT-%07d", d.RoleID)
		v, err := s.cfg.Powers.TypeCodeValid(ctx, typ, d.ID, signer)
		if errors.Is(err, mpowerclient.ErrNotFound) {
			return fmt.Errorf("%w: MPower has no type of power %s", errNotDelegated, typ)
		}
		if err != nil {
			return fmt.Errorf("msign: asking MPower: %w", err)
		}
		if !v.IsValid {
			return errNotDelegated
		}
		return nil
	}
	list, _, err := s.cfg.Powers.List(ctx, mpowerclient.ListQuery{IDNx: signer, GrantedByIdn: d.ID, GrantedToIdn: signer, Status: mpowerclient.StatusValid})
	if err != nil {
		return fmt.Errorf("msign: asking MPower: %w", err)
	}
	for _, p := range list {
		if p.IsValid && p.AuthorizingIdn == d.ID && p.AuthorizedIdn == signer {
			return nil
		}
	}
	return errNotDelegated
}

// isNotDelegated tells whether err says the signer holds no power.
func isNotDelegated(err error) bool { return errors.Is(err, errNotDelegated) }
