// Package client is MSign's protocol for registered systems and a small Go
// client of it: a system posts a sign request (PDFs or hashes), sends the
// person's browser to MSign (RedirectURL), is POSTed back to its ReturnUrl
// with RequestID and RelayState, and fetches the result. The structures
// keep the names of msign.gov.md's (egov-flows §3.2); their JSON names are
// the same in camelCase. The client authenticates with its TLS client
// certificate (put it in Options.HTTPClient) or an API key.
//
// msign imports this package, never the other way round.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/problem"
)

// Paths of the API, under the service's base URL.
const (
	PathSignRequests = "/api/v1/signature-requests" // POST: PostSignRequest; GET /{requestID}: GetSignResponse
)

// Problem types of the API (RFC 9457 "type"), with their HTTP status.
const (
	ProblemAuthenticationFailed = problem.Prefix + "authentication-failed" // 401: no registered certificate or API key
	ProblemAuthorizationFailed  = problem.Prefix + "authorization-failed"  // 403: another system's request
	ProblemInvalidParameter     = problem.Prefix + "invalid-parameter"     // 400: the detail names the field and what is wrong
	ProblemRequestNotFound      = problem.Prefix + "request-not-found"     // 404: unknown or purged request
	ProblemRateLimited          = problem.Prefix + "rate-limited"          // 429: too many requests from this system or address; nothing was done, try again after Retry-After
)

// Errors to test with errors.Is on what the client returns.
var (
	ErrAuthenticationFailed = &problem.Error{Type: ProblemAuthenticationFailed}
	ErrAuthorizationFailed  = &problem.Error{Type: ProblemAuthorizationFailed}
	ErrInvalidParameter     = &problem.Error{Type: ProblemInvalidParameter}
	ErrRequestNotFound      = &problem.Error{Type: ProblemRequestNotFound}
	ErrRateLimited          = &problem.Error{Type: ProblemRateLimited}
)

// ContentType is what the contents are.
type ContentType string

const (
	ContentPdf  ContentType = "Pdf"  // PDF documents: the results are the signed PDFs (PAdES B-T)
	ContentHash ContentType = "Hash" // digests: the results are detached CAdES B-T signatures over them
)

// DelegatorType says on whose behalf the signer signs.
type DelegatorType string

const (
	DelegatorNone         DelegatorType = "None"
	DelegatorPerson       DelegatorType = "Person"
	DelegatorOrganization DelegatorType = "Organization"
)

// SignRequest is what a system asks to have signed.
type SignRequest struct {
	ContentDescription      string          `json:"contentDescription,omitempty"` // ≤ 512, shown on MSign's page
	ShortContentDescription string          `json:"shortContentDescription"`      // ≤ 90, required, shown on the phone
	SignatureReason         string          `json:"signatureReason,omitempty"`    // ≤ 255, PDF only
	ContentType             ContentType     `json:"contentType"`
	Contents                []SignContent   `json:"contents"`
	ExpectedSigner          *ExpectedSigner `json:"expectedSigner,omitempty"`
}

// SignContent is one document or hash.
type SignContent struct {
	CorrelationID      string `json:"correlationID"` // ≤ 36, unique in the request
	Name               string `json:"name,omitempty"`
	MultipleSignatures bool   `json:"multipleSignatures,omitempty"`
	Content            []byte `json:"content"` // the PDF, or the 32-byte SHA-256 hash
}

// ExpectedSigner names who must sign.
type ExpectedSigner struct {
	ID              string        `json:"id,omitempty"` // IDNP; the signer certificate's must match
	DelegatorType   DelegatorType `json:"delegatorType,omitempty"`
	DelegatorID     string        `json:"delegatorID,omitempty"`
	DelegatedRoleID int           `json:"delegatedRoleID,omitempty"`
}

// PostResponse answers PostSignRequest.
type PostResponse struct {
	RequestID string `json:"requestID"`
}

// Status of a sign request.
type Status string

const (
	StatusPending Status = "Pending"
	StatusSuccess Status = "Success"
	StatusFailure Status = "Failure"
	StatusExpired Status = "Expired"
)

// SignResponse answers GetSignResponse.
type SignResponse struct {
	Status  Status       `json:"status"`
	Message string       `json:"message,omitempty"` // in the language asked for
	Results []SignResult `json:"results,omitempty"`
}

// SignResult is the signature of one content.
type SignResult struct {
	CorrelationID string `json:"correlationID"`
	Certificate   []byte `json:"certificate"` // the signer's, DER
	Signature     []byte `json:"signature"`   // the signed PDF, or the CAdES signature (DER)
}

// Parameters of the browser redirect to MSign (GET or POST /{requestID})
// and of the POST back to the ReturnUrl.
const (
	ParamReturnURL  = "ReturnUrl"
	ParamRelayState = "RelayState"
	ParamLang       = "lang"
	ParamInstrument = "Instrument" // "mobile" (with MSISDN) or "token"
	ParamMSISDN     = "MSISDN"
	ParamRequestID  = "RequestID"
	// MaxRelayState bounds RelayState, in bytes.
	MaxRelayState = 80
)

// Options tune a Client.
type Options struct {
	// HTTPClient carries the TLS client certificate (default: one with a
	// 60 s timeout and no certificate).
	HTTPClient *http.Client
	// APIKey is sent as X-API-Key when set.
	APIKey string
}

// Client calls one MSign.
type Client struct {
	base string
	opts Options
}

// New returns a client of the MSign at baseURL ("https://msign.example.md").
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("msign client: base URL %q: want https://host[:port]", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), opts: opts}, nil
}

// PostSignRequest posts req and returns its requestID.
func (c *Client) PostSignRequest(ctx context.Context, req SignRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var out PostResponse
	if err := c.do(ctx, http.MethodPost, c.base+PathSignRequests, body, &out); err != nil {
		return "", err
	}
	return out.RequestID, nil
}

// GetSignResponse returns the state of request id, its message in lang
// (ro, ru or en; "" is ro) and, once signed, the results.
func (c *Client) GetSignResponse(ctx context.Context, id, lang string) (*SignResponse, error) {
	u := c.base + PathSignRequests + "/" + url.PathEscape(id)
	if lang != "" {
		u += "?language=" + url.QueryEscape(lang)
	}
	var out SignResponse
	if err := c.do(ctx, http.MethodGet, u, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RedirectURL is where the browser goes to sign request id (with the
// Param* values, as a query or a POSTed form).
func (c *Client) RedirectURL(id string) string { return c.base + "/" + url.PathEscape(id) }

// busyTries is how many times a call refused by MSign's rate limit (429
// with the problem type rate-limited: the request was not carried out) is
// made in all. Other 429 refusals (a busy phone, too many phone prompts,
// the upload quota) are not the rate limit and are returned at once.
const busyTries = 5

func (c *Client) do(ctx context.Context, method, u string, body []byte, out any) error {
	for try := 1; ; try++ {
		resp, err := c.send(ctx, method, u, body)
		if err != nil {
			return fmt.Errorf("msign client: %s %s: %w", method, u, err)
		}
		if resp.StatusCode/100 == 2 {
			err = json.NewDecoder(resp.Body).Decode(out)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("msign client: %s %s: unreadable answer: %w", method, u, err)
			}
			return nil
		}
		perr := problem.Read(resp)
		resp.Body.Close()
		if try >= busyTries || resp.StatusCode != http.StatusTooManyRequests || !errors.Is(perr, ErrRateLimited) {
			return fmt.Errorf("msign client: %s: %w", method, perr)
		}
		t := time.NewTimer(retryAfter(resp.Header.Get("Retry-After"), try))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("msign client: %s %s: %w", method, u, ctx.Err())
		case <-t.C:
		}
	}
}

// send makes one call.
func (c *Client) send(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.opts.APIKey != "" {
		req.Header.Set("X-API-Key", c.opts.APIKey)
	}
	return c.opts.HTTPClient.Do(req)
}

// retryAfter is how long to wait before try+1 of a call refused with 429:
// the answer's Retry-After in seconds (at most 2 s), else 100 ms doubled
// at each try, with up to half of it added at random so that callers
// refused together do not come back together.
func retryAfter(h string, try int) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 2*time.Second)
	}
	d := 100 * time.Millisecond << (try - 1)
	return d + rand.N(d/2+1)
}

// Validate checks req as MSign does (each field: lengths, required ones,
// unique CorrelationIDs, hash sizes, the IDNP's check digit); it returns an InvalidParameter problem naming the field. Is
// a PDF really a PDF is for the server to say.
func (req *SignRequest) Validate() error {
	var details []string
	bad := func(field, format string, args ...any) {
		details = append(details, field+": "+fmt.Sprintf(format, args...))
	}
	if n := len([]rune(req.ContentDescription)); n > 512 {
		bad("ContentDescription", "%d characters, at most 512", n)
	}
	if n := len([]rune(strings.TrimSpace(req.ShortContentDescription))); n == 0 || n > 90 {
		bad("ShortContentDescription", "required, at most 90 characters (it is shown on the phone); got %d", n)
	}
	if n := len([]rune(req.SignatureReason)); n > 255 {
		bad("SignatureReason", "%d characters, at most 255", n)
	}
	switch req.ContentType {
	case ContentPdf, ContentHash:
	default:
		bad("ContentType", "%q: want Pdf or Hash", req.ContentType)
	}
	if len(req.Contents) == 0 {
		bad("Contents", "empty: send at least one content")
	}
	seen := map[string]bool{}
	for i, c := range req.Contents {
		f := fmt.Sprintf("Contents[%d]", i)
		switch {
		case c.CorrelationID == "" || len([]rune(c.CorrelationID)) > 36:
			bad(f+".CorrelationID", "required, at most 36 characters")
		case seen[c.CorrelationID]:
			bad(f+".CorrelationID", "%q is used twice in the request", c.CorrelationID)
		}
		seen[c.CorrelationID] = true
		if len([]rune(c.Name)) > 256 {
			bad(f+".Name", "at most 256 characters")
		}
		switch {
		case len(c.Content) == 0:
			bad(f+".Content", "empty")
		case req.ContentType == ContentHash && len(c.Content) != 32:
			// A 20-byte SHA-1 (as msign.gov.md takes for XAdES) cannot be
			// the message-digest of a CAdES signature made with SHA-256.
			bad(f+".Content", "a hash is the 32-byte SHA-256 of the content; got %d bytes (SHA-1 hashes are not signed)", len(c.Content))
		}
	}
	if es := req.ExpectedSigner; es != nil {
		if es.ID != "" {
			if err := idn.Check(es.ID); err != nil {
				bad("ExpectedSigner.ID", "not an IDNP: %v", err)
			}
		}
		switch es.DelegatorType {
		case "", DelegatorNone:
		case DelegatorPerson, DelegatorOrganization:
			// The server checks DelegatorID and asks MPower at signing.
		default:
			bad("ExpectedSigner.DelegatorType", "%q: want None, Person or Organization", es.DelegatorType)
		}
	}
	if len(details) == 0 {
		return nil
	}
	return problem.New(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", strings.Join(details, "; "))
}

// PathVerifications is VerifySignatures (POST).
const PathVerifications = "/api/v1/signature-verifications"

// VerificationRequest asks for signatures to be checked.
type VerificationRequest struct {
	SignedContentType ContentType           `json:"signedContentType"`
	Language          string                `json:"language,omitempty"` // ro (default), ru, en
	Contents          []VerificationContent `json:"contents"`
	// ReportPdf asks, for Pdf content, for the report as a PDF sealed by
	// the service (in Language), in each result's ReportPdf.
	ReportPdf bool `json:"reportPdf,omitempty"`
}

// VerificationContent is one signed content: for Pdf the signed PDF in
// Signature; for Hash the 32-byte SHA-256 in Content and the detached CMS
// signature in Signature.
type VerificationContent struct {
	CorrelationID string `json:"correlationID"`
	Content       []byte `json:"content,omitempty"`
	Signature     []byte `json:"signature"`
}

// VerificationResponse answers VerifySignatures, one result per content.
type VerificationResponse struct {
	Results []VerificationResult `json:"results"`
}

// VerificationResult is the verdict on one content's signatures.
type VerificationResult struct {
	CorrelationID   string                    `json:"correlationID"`
	SignaturesValid bool                      `json:"signaturesValid"` // every signature is valid (and there is one)
	Message         string                    `json:"message"`
	Certificates    []VerificationCertificate `json:"certificates"`
	// Report is semnat's full report (for Pdf: as `semnat verify --json`).
	Report json.RawMessage `json:"report,omitempty"`
	// ReportPdf is that report as a PDF sealed by the service, when the
	// request asked for it (Pdf content only).
	ReportPdf []byte `json:"reportPdf,omitempty"`
}

// VerificationCertificate is one signature's signer.
type VerificationCertificate struct {
	SignatureValid bool       `json:"signatureValid"`
	Subject        string     `json:"subject"`
	Certificate    []byte     `json:"certificate,omitempty"` // DER
	SignedAt       *time.Time `json:"signedAt,omitempty"`    // only with a valid signature timestamp
}

// VerifySignatures checks the signatures of req's contents.
func (c *Client) VerifySignatures(ctx context.Context, req VerificationRequest) (*VerificationResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out VerificationResponse
	if err := c.do(ctx, http.MethodPost, c.base+PathVerifications, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
