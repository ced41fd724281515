package mpower

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/problem"
)

// Sealer signs status statements with the registry's seal key.
type Sealer struct {
	signer jose.Signer
}

// NewSealer makes the statement signer of key and its certificate chain
// (leaf first), put in each statement's x5c header. The key may be in a
// token (any crypto.Signer).
func NewSealer(key crypto.Signer, chain []*x509.Certificate) (*Sealer, error) {
	if key == nil || len(chain) == 0 {
		return nil, errors.New("mpower: a seal key and its certificate are required for statements")
	}
	op := cryptosigner.Opaque(key)
	algs := op.Algs()
	if len(algs) == 0 {
		return nil, fmt.Errorf("mpower: the seal key (%T) has no JWS algorithm", key.Public())
	}
	alg := algs[0]
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		alg = jose.PS256
	}
	x5c := make([]string, len(chain))
	for i, c := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: op},
		(&jose.SignerOptions{}).WithType(client.StatementType).WithHeader("x5c", x5c))
	if err != nil {
		return nil, fmt.Errorf("mpower: statement signer: %w", err)
	}
	return &Sealer{signer: s}, nil
}

// Seal signs st (compact JWS).
func (s *Sealer) Seal(st *client.Statement) ([]byte, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	obj, err := s.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("mpower: sealing the statement: %w", err)
	}
	out, err := obj.CompactSerialize()
	return []byte(out), err
}

// GET statement: the power's status now, sealed, good for
// client.MaxStatementAge.
func (s *Service) statement(c echo.Context) error {
	if s.sealer == nil {
		return problem.New(http.StatusServiceUnavailable, "statements-unavailable", "Statements unavailable",
			"this MPower has no seal key to sign statements with")
	}
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	p, _, err := s.visible(c, code)
	if errors.Is(err, ErrNotFound) {
		return notFound("no power of representation has the code %s", code)
	}
	if err != nil {
		return err
	}
	now := s.reg.Now().UTC().Truncate(time.Second)
	state, reason := p.StateAt(now)
	st := &client.Statement{AuthorizationCode: p.Code, AuthorizationTypeCode: p.TypeCode, AuthorizingPartyType: int(p.AuthorizingBy),
		AuthorizingIdn: p.AuthorizingID, AuthorizedIdn: p.RepresentedID, FromDate: p.From, ToDate: p.To, Status: state.Code(),
		StatusReason: reason, IsValid: state == Valid, IssuedAt: now, ExpiresAt: now.Add(client.MaxStatementAge)}
	jws, err := s.sealer.Seal(st)
	if err != nil {
		return err
	}
	if err := s.audit(c, code, map[string]string{"statement": "issued", "valid": fmt.Sprint(st.IsValid)}); err != nil {
		return err
	}
	return ok(c, string(jws))
}
