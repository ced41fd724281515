package client

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The sealed status statement: GET PathStatement?AuthorizationCode=
// answers data: a JWS (compact) signed by the registry's seal key, its
// certificate chain in the x5c header, holding a Statement. A service
// keeps it as evidence and checks it offline with VerifyStatement.
const (
	PathStatement = "/api/Authorization/check/statement"
	// StatementType is the JWS "typ".
	StatementType = "mpower-statement+jwt"
	// MaxStatementAge is the longest a statement is good for.
	MaxStatementAge = 24 * time.Hour
)

// Statement is what a sealed statement says of a power, at IssuedAt.
type Statement struct {
	AuthorizationCode     string    `json:"authorizationCode"`
	AuthorizationTypeCode string    `json:"authorizationTypeCode"`
	AuthorizingPartyType  int       `json:"authorizingPartyType"`
	AuthorizingIdn        string    `json:"authorizingIdn"`
	AuthorizedIdn         string    `json:"authorizedIdn"`
	FromDate              time.Time `json:"fromDate"`
	ToDate                time.Time `json:"toDate"`
	Status                int       `json:"status"`
	StatusReason          string    `json:"statusReason,omitempty"`
	IsValid               bool      `json:"isValid"`
	IssuedAt              time.Time `json:"issuedAt"`
	ExpiresAt             time.Time `json:"expiresAt"`
}

// ErrBadStatement is wrapped by every refusal of VerifyStatement.
var ErrBadStatement = errors.New("mpower: the statement does not verify")

// StatementAlgorithms are the signature algorithms a statement may use.
var StatementAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.RS256}

// VerifyStatement checks a statement offline at now: one signature by the
// certificate of its x5c header, which chains to roots (its other
// certificates help build the chain), a statement within its validity
// (issued no later than now, not expired, at most MaxStatementAge long).
// It returns the statement and the sealing certificate.
func VerifyStatement(jws []byte, roots *x509.CertPool, now time.Time) (*Statement, *x509.Certificate, error) {
	obj, err := jose.ParseSignedCompact(strings.TrimSpace(string(jws)), StatementAlgorithms)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: not a JWS of an allowed algorithm: %v", ErrBadStatement, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, nil, fmt.Errorf("%w: want one signature, got %d", ErrBadStatement, len(obj.Signatures))
	}
	h := obj.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != StatementType {
		return nil, nil, fmt.Errorf("%w: typ %q, want %s", ErrBadStatement, typ, StatementType)
	}
	chains, err := h.Certificates(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the sealing certificate (x5c) does not chain to a trust anchor: %v", ErrBadStatement, err)
	}
	leaf := chains[0][0]
	payload, err := obj.Verify(leaf.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the signature does not verify with the sealing certificate: %v", ErrBadStatement, err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, nil, fmt.Errorf("%w: unreadable payload: %v", ErrBadStatement, err)
	}
	const skew = 5 * time.Minute
	switch {
	case st.IssuedAt.IsZero() || st.ExpiresAt.IsZero():
		return nil, nil, fmt.Errorf("%w: no issue or expiry time", ErrBadStatement)
	case st.IssuedAt.After(now.Add(skew)):
		return nil, nil, fmt.Errorf("%w: issued in the future (%s)", ErrBadStatement, st.IssuedAt.Format(time.RFC3339))
	case !now.Before(st.ExpiresAt):
		return nil, nil, fmt.Errorf("%w: expired at %s: ask for a new one", ErrBadStatement, st.ExpiresAt.Format(time.RFC3339))
	case st.ExpiresAt.Sub(st.IssuedAt) > MaxStatementAge:
		return nil, nil, fmt.Errorf("%w: valid for %s, more than %s", ErrBadStatement, st.ExpiresAt.Sub(st.IssuedAt), MaxStatementAge)
	}
	return &st, leaf, nil
}

// Statement fetches the sealed statement of the power of code (the JWS).
func (c *Client) Statement(ctx context.Context, code string) ([]byte, error) {
	if err := CheckCode(code); err != nil {
		return nil, err
	}
	var out Envelope[string]
	if _, err := c.get(ctx, PathStatement, url.Values{"AuthorizationCode": {code}}, &out); err != nil {
		return nil, err
	}
	return []byte(out.Data), nil
}
