// Package client is MPower's check API for services (egov-flows §5,
// "Clients API") and a small Go client of it: a registered system asks
// whether a power of representation is valid, reads its details, finds the
// power of a type between two parties, lists a person's or a company's
// powers, and fetches the signed act. Answers come in the envelope
// {data, success, messages}; errors are RFC 9457 problem documents with
// the types below. The client authenticates with its TLS client
// certificate (put it in Options.HTTPClient) or an API key.
//
// mpower imports this package, never the other way round.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/problem"
)

// Paths of the API, under the service's base URL: the checks are GETs
// with query parameters, the grant flow POSTs of JSON.
const (
	PathCodeTrueOne    = "/api/Authorization/check/Code-True-One"      // AuthorizationCode → data: bool
	PathCodeDetailsOne = "/api/Authorization/check/Code-Details-One"   // AuthorizationCode → data: AuthorizationDetails
	PathTypeCodeValid  = "/api/Authorization/check/TypeCode-Valid-One" // AuthorizationTypeCode, AuthorizingIdn, AuthorizedIdn → data: TypeCodeValid
	PathIdnDetailsList = "/api/Authorization/check/Idn-Details-List"   // IDNx and filters → data: []AuthorizationDetails
	PathFile           = "/api/Authorization/file"                     // AuthorizationCode → data: File
	PathGrants         = "/api/Authorization/grants"                   // POST GrantRequest → data: SigningStarted (a Draft and the grantor's sign request)
	PathActs           = "/api/Authorization/acts"                     // POST ActRequest → data: SigningStarted
	PathActsComplete   = "/api/Authorization/acts/complete"            // POST {requestID} → data: AuthorizationDetails once signed
	PathOpenAPI        = "/api/Authorization/openapi.json"
	HeaderTotalCount   = "X-Total-Count" // Idn-Details-List: how many powers match in all (not on the pages asked by Cursor)
	HeaderNextCursor   = "X-Next-Cursor" // Idn-Details-List: the Cursor of the next page, when there may be one
)

// Problem types of the API (RFC 9457 "type"), with their HTTP status.
const (
	ProblemAuthenticationFailed = problem.Prefix + "authentication-failed"   // 401: no registered certificate or API key
	ProblemAuthorizationFailed  = problem.Prefix + "authorization-failed"    // 403: a power of another service's type, or an endpoint not allowed
	ProblemInvalidParameter     = problem.Prefix + "invalid-parameter"       // 400: the detail names the parameter and what is wrong
	ProblemNotFound             = problem.Prefix + "authorization-not-found" // 404: no such power, or it has no signed act
	ProblemNotSigned            = problem.Prefix + "act-not-signed"          // 409: the sign request is pending, failed, or the signature was refused
)

// Errors to test with errors.Is on what the client returns.
var (
	ErrAuthenticationFailed = &problem.Error{Type: ProblemAuthenticationFailed}
	ErrAuthorizationFailed  = &problem.Error{Type: ProblemAuthorizationFailed}
	ErrInvalidParameter     = &problem.Error{Type: ProblemInvalidParameter}
	ErrNotFound             = &problem.Error{Type: ProblemNotFound}
	ErrNotSigned            = &problem.Error{Type: ProblemNotSigned}
)

// GrantRequest creates a power (Draft) and asks MSign for the grantor's
// signature on its act.
type GrantRequest struct {
	AuthorizationTypeCode string    `json:"authorizationTypeCode"`
	AuthorizingIdn        string    `json:"authorizingIdn"`      // IDNP, or IDNO of a company
	SignerIdn             string    `json:"signerIdn,omitempty"` // the administrator who signs for a company
	AuthorizedIdn         string    `json:"authorizedIdn"`
	FromDate              time.Time `json:"fromDate"`
	ToDate                time.Time `json:"toDate"`
	Language              string    `json:"language,omitempty"` // ro (default), ru, en
}

// Acts a party signs after the grant.
const (
	ActAccept   = "accept"   // the representative
	ActRevoke   = "revoke"   // the authorizing party
	ActRenounce = "renounce" // the representative
	ActDecline  = "decline"  // the representative refuses a power that awaits acceptance
)

// ActRequest asks MSign for the signature of an act on a power.
type ActRequest struct {
	AuthorizationCode string `json:"authorizationCode"`
	Act               string `json:"act"`
}

// SigningStarted is a sign request posted to MSign: send the signer's
// browser to RedirectURL (MSign's integrator flow), then complete it.
type SigningStarted struct {
	AuthorizationCode string `json:"authorizationCode"`
	RequestID         string `json:"requestID"`
	RedirectURL       string `json:"redirectURL"`
	SignerIdn         string `json:"signerIdn"`
}

// Envelope wraps every answer.
type Envelope[T any] struct {
	Data     T        `json:"data"`
	Success  bool     `json:"success"`
	Messages []string `json:"messages"`
}

// Party types.
const (
	PartyNatural = 1 // a person, IDNP
	PartyLegal   = 2 // a legal entity, IDNO
)

// Status numbers (egov-flows §5).
const (
	StatusDraft             = 1
	StatusPendingAcceptance = 2
	StatusPendingValidity   = 3
	StatusValid             = 4
	StatusSuspended         = 5
	StatusCanceled          = 6
)

// AuthorizationDetails describes a power, its status at the moment of the
// question.
type AuthorizationDetails struct {
	AuthorizationCode     string    `json:"authorizationCode"`
	AuthorizationTypeCode string    `json:"authorizationTypeCode"`
	AuthorizingPartyType  int       `json:"authorizingPartyType"`
	AuthorizingIdn        string    `json:"authorizingIdn"`
	AuthorizedPartyType   int       `json:"authorizedPartyType"`
	AuthorizedIdn         string    `json:"authorizedIdn"`
	FromDate              time.Time `json:"fromDate"`
	ToDate                time.Time `json:"toDate"`
	Status                int       `json:"status"`
	StatusReason          string    `json:"statusReason,omitempty"`
	IsValid               bool      `json:"isValid"`
	AuthorizingPartyName  string    `json:"authorizingPartyName"`
	AuthorizedPartyName   string    `json:"authorizedPartyName"`
	AuthorizationTypeName string    `json:"authorizationTypeName"`
	ServiceProviderIdno   string    `json:"serviceProviderIdno"`
	ServiceProviderName   string    `json:"serviceProviderName"`
}

// TypeCodeValid answers TypeCode-Valid-One: the valid power of the type
// between the parties, if any.
type TypeCodeValid struct {
	AuthorizationCode string `json:"authorizationCode"`
	IsValid           bool   `json:"isValid"`
}

// File is the signed act of a power.
type File struct {
	Content     []byte `json:"content"` // base64 in JSON
	ContentType string `json:"content-type"`
}

// ListQuery is Idn-Details-List's: IDNx is required (either party).
type ListQuery struct {
	IDNx                  string
	Status                int // 0: any
	AuthorizationTypeCode string
	StartDate, EndDate    time.Time // in force some time between them
	GrantedByIdn          string
	GrantedToIdn          string
	Page, PageSize        int // from 1; 0: the first page, the default size
	// Cursor continues after the page that returned it (X-Next-Cursor):
	// keyset paging, as fast on the last page as on the first; not with
	// Page.
	Cursor string
}

// Values is q as query parameters.
func (q ListQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("IDNx", q.IDNx)
	if q.Status != 0 {
		v.Set("Status", strconv.Itoa(q.Status))
	}
	set("AuthorizationTypeCode", q.AuthorizationTypeCode)
	if !q.StartDate.IsZero() {
		v.Set("StartDate", q.StartDate.Format(time.RFC3339))
	}
	if !q.EndDate.IsZero() {
		v.Set("EndDate", q.EndDate.Format(time.RFC3339))
	}
	set("GrantedByIdn", q.GrantedByIdn)
	set("GrantedToIdn", q.GrantedToIdn)
	if q.Page != 0 {
		v.Set("Page", strconv.Itoa(q.Page))
	}
	if q.PageSize != 0 {
		v.Set("PageSize", strconv.Itoa(q.PageSize))
	}
	set("Cursor", q.Cursor)
	return v
}

// CheckCode tells what is wrong with an authorization code (16 digits with
// a check digit), as the server does, before asking.
func CheckCode(code string) error {
	if err := idn.CheckAuthCode(code); err != nil {
		return invalid("AuthorizationCode: %v", err)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return problem.Newf(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", format, args...)
}

// Options configure a Client.
type Options struct {
	// HTTPClient carries the TLS client certificate (default: one with a
	// 30 s timeout, no certificate, and up to MaxIdleConns connections
	// kept open to the MPower). A client of your own should keep as many
	// idle connections as it makes checks at once
	// (http.Transport.MaxIdleConnsPerHost, which is 2 by default): each
	// connection it has to open again costs a TLS handshake.
	HTTPClient *http.Client
	// APIKey is sent as X-API-Key when set.
	APIKey string
}

// MaxIdleConns is how many connections the default HTTP client keeps
// open to the MPower for checks made at once.
const MaxIdleConns = 64

// Client calls one MPower.
type Client struct {
	base string
	opts Options
}

// New makes a client of the MPower at baseURL.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("mpower client: base URL %q: want https://host[:port]", baseURL)
	}
	if opts.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = MaxIdleConns
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), opts: opts}, nil
}

// IsValid asks Code-True-One: is the power of code valid now.
func (c *Client) IsValid(ctx context.Context, code string) (bool, error) {
	if err := CheckCode(code); err != nil {
		return false, err
	}
	var out Envelope[bool]
	_, err := c.get(ctx, PathCodeTrueOne, url.Values{"AuthorizationCode": {code}}, &out)
	return out.Data, err
}

// Details asks Code-Details-One.
func (c *Client) Details(ctx context.Context, code string) (*AuthorizationDetails, error) {
	if err := CheckCode(code); err != nil {
		return nil, err
	}
	var out Envelope[*AuthorizationDetails]
	if _, err := c.get(ctx, PathCodeDetailsOne, url.Values{"AuthorizationCode": {code}}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// TypeCodeValid asks TypeCode-Valid-One: is there a valid power of the type
// from authorizing to authorized (MSign's check of a delegated signer).
func (c *Client) TypeCodeValid(ctx context.Context, typeCode, authorizingIdn, authorizedIdn string) (*TypeCodeValid, error) {
	var out Envelope[*TypeCodeValid]
	if _, err := c.get(ctx, PathTypeCodeValid, url.Values{"AuthorizationTypeCode": {typeCode},
		"AuthorizingIdn": {authorizingIdn}, "AuthorizedIdn": {authorizedIdn}}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// List asks Idn-Details-List: one page and the total count.
func (c *Client) List(ctx context.Context, q ListQuery) ([]AuthorizationDetails, int, error) {
	page, err := c.ListPage(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	return page.Items, page.Total, nil
}

// ListPage is one page of Idn-Details-List.
type ListPage struct {
	Items []AuthorizationDetails
	Total int // -1 on the pages asked by Cursor (counted on the first)
	// Next is the Cursor of the next page ("" after the last).
	Next string
}

// ListPage asks Idn-Details-List for one page; q.Cursor = page.Next asks
// for the next one.
func (c *Client) ListPage(ctx context.Context, q ListQuery) (*ListPage, error) {
	var out Envelope[[]AuthorizationDetails]
	resp, err := c.get(ctx, PathIdnDetailsList, q.Values(), &out)
	if err != nil {
		return nil, err
	}
	total := -1
	if v := resp.Header.Get(HeaderTotalCount); v != "" {
		total, _ = strconv.Atoi(v)
	}
	return &ListPage{Items: out.Data, Total: total, Next: resp.Header.Get(HeaderNextCursor)}, nil
}

// File fetches the signed act of the power of code.
func (c *Client) File(ctx context.Context, code string) (*File, error) {
	if err := CheckCode(code); err != nil {
		return nil, err
	}
	var out Envelope[*File]
	if _, err := c.get(ctx, PathFile, url.Values{"AuthorizationCode": {code}}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// Grant creates a power and starts the grantor's signature.
func (c *Client) Grant(ctx context.Context, g GrantRequest) (*SigningStarted, error) {
	var out Envelope[*SigningStarted]
	return out.Data, c.post(ctx, PathGrants, g, &out)
}

// StartAct starts the signature of an act (accept, revoke, renounce).
func (c *Client) StartAct(ctx context.Context, code, act string) (*SigningStarted, error) {
	var out Envelope[*SigningStarted]
	return out.Data, c.post(ctx, PathActs, ActRequest{AuthorizationCode: code, Act: act}, &out)
}

// CompleteAct fetches the signed act of MSign request id and applies it;
// ErrNotSigned while it is pending or when it was refused.
func (c *Client) CompleteAct(ctx context.Context, requestID string) (*AuthorizationDetails, error) {
	var out Envelope[*AuthorizationDetails]
	return out.Data, c.post(ctx, PathActsComplete, map[string]string{"requestID": requestID}, &out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, path, out)
}

func (c *Client) do(req *http.Request, path string, out any) error {
	_, err := c.doResp(req, path, out)
	return err
}

func (c *Client) doResp(req *http.Request, path string, out any) (*http.Response, error) {
	req.Header.Set("Accept", "application/json")
	if c.opts.APIKey != "" {
		req.Header.Set("X-API-Key", c.opts.APIKey)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mpower client: %s %s: %w", req.Method, path, err)
	}
	defer func() {
		// Read to the end (the JSON's final line end) so that the
		// connection is used again: closed early, it is dropped, and the
		// next call pays a new TLS handshake.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("mpower client: %s %s: %w", req.Method, path, problem.Read(resp))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("mpower client: %s %s: unreadable answer: %w", req.Method, path, err)
	}
	return resp, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) (*http.Response, error) {
	return c.GetRaw(ctx, path, q.Encode(), out)
}

// GetRaw calls path with the raw query and decodes the answer into out
// (for parameters the typed methods would refuse before asking).
func (c *Client) GetRaw(ctx context.Context, path, rawQuery string, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+rawQuery, nil)
	if err != nil {
		return nil, err
	}
	return c.doResp(req, path, out)
}
