// Package client is MPay's API for service providers and a small Go client
// of it: send the payer to MPay (the form of POST /service/pay), read an
// order's invoice and payments, fetch a payment's sealed receipt. Every
// call is signed by the SP's key as a detached JWS (protocol.go, kind
// "client.request") over "METHOD URI\n" and the body, and checked against the
// certificate registered with `semnat mpay services add`; X-MPay-Service
// names the SP.
//
// mpay imports this package, never the other way round.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/semnat/semnat/problem"
)

// Paths and headers of the API.
const (
	PathPay       = "/service/pay"
	PathInvoices  = "/mpay/api/v1/invoices"            // GET ?serviceID=&orderKey= → Invoice
	PathReceipt   = "/mpay/api/v1/payments/%s/receipt" // GET → application/pdf
	HeaderService = "X-MPay-Service"
)

// Problem types of the API.
const (
	ProblemAuthenticationFailed = problem.Prefix + "authentication-failed" // 401
	ProblemNotFound             = problem.Prefix + "mpay-not-found"        // 404
)

// Errors to test with errors.Is.
var (
	ErrAuthenticationFailed = &problem.Error{Type: ProblemAuthenticationFailed}
	ErrNotFound             = &problem.Error{Type: ProblemNotFound}
)

// Payment is one payment of an invoice as the API tells it.
type Payment struct {
	PaymentID   string     `json:"paymentID"`
	State       string     `json:"state"`  // authorizing, challenge, approved, declined
	Amount      int64      `json:"amount"` // minor units
	Currency    string     `json:"currency"`
	PaidAt      *time.Time `json:"paidAt,omitempty"`
	ConfirmedAt *time.Time `json:"confirmedAt,omitempty"` // when the SP acknowledged
	Attempts    int        `json:"attempts"`
	Refunded    int64      `json:"refunded,omitempty"`  // minor units given back
	Instrument  string     `json:"instrument"`          // card, ebanking, cash
	LastError   string     `json:"lastError,omitempty"` // of the latest unacknowledged confirmation
	Reason      string     `json:"reason,omitempty"`
}

// Invoice is an order's invoice at MPay.
type Invoice struct {
	InvoiceID string    `json:"invoiceID"`
	ServiceID string    `json:"serviceID"`
	OrderKey  string    `json:"orderKey"`
	State     string    `json:"state"` // created, pending, partial, paid, failed, expired
	AmountDue *int64    `json:"amountDue"`
	Currency  string    `json:"currency"`
	Payments  []Payment `json:"payments"`
}

// Client calls MPay for one SP.
type Client struct {
	base      string
	serviceID string
	signer    *Signer
	http      *http.Client
}

// New makes a client of the MPay at base for the SP serviceID, signing
// with signer (the SP's key; its certificate is the registered one).
func New(base, serviceID string, signer *Signer, hc *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mpay client: base URL %q: give http(s)://host[:port]", base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), serviceID: serviceID, signer: signer, http: hc}, nil
}

// PayForm is where the SP's page sends the payer: an HTML form POSTs
// Fields to Action.
func (c *Client) PayForm(orderKey, returnURL string) (action string, fields url.Values) {
	return c.base + PathPay, url.Values{"ServiceID": {c.serviceID}, "OrderKey": {orderKey}, "ReturnUrl": {returnURL}}
}

// Invoice reads the invoice of an order and its payments.
func (c *Client) Invoice(ctx context.Context, orderKey string) (*Invoice, error) {
	q := url.Values{"serviceID": {c.serviceID}, "orderKey": {orderKey}}
	body, err := c.get(ctx, PathInvoices+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	var in Invoice
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("mpay client: the invoice: %w", err)
	}
	return &in, nil
}

// Receipt fetches a payment's sealed receipt (PDF).
func (c *Client) Receipt(ctx context.Context, paymentID string) ([]byte, error) {
	return c.get(ctx, fmt.Sprintf(PathReceipt, url.PathEscape(paymentID)))
}

// SigningInput is what a call's signature covers: "METHOD URI", a line
// feed and the body.
func SigningInput(method, requestURI string, body []byte) []byte {
	return append([]byte(method+" "+requestURI+"\n"), body...)
}

// RefundRequest asks MPay to give back (part of) a payment. RefundID is the
// SP's idempotency key: the same request again returns the same refund.
type RefundRequest struct {
	PaymentID string `json:"paymentID"`
	RefundID  string `json:"refundID"`
	Amount    int64  `json:"amount"` // minor units; at most what is not refunded yet
	Reason    string `json:"reason,omitempty"`
}

// Refund is a refund done. The answer's X-JWS-Signature (MPay's key, kind
// "refund.response") is its confirmation; RefundReceipt keeps it.
type Refund struct {
	RefundID   string    `json:"refundID"`
	PaymentID  string    `json:"paymentID"`
	Amount     int64     `json:"amount"`
	Currency   string    `json:"currency"`
	RefundedAt time.Time `json:"refundedAt"`
	// Signature is MPay's detached JWS over the answer's body (Body).
	Signature string `json:"-"`
	Body      []byte `json:"-"`
}

// Problem types of refunds.
const (
	ProblemRefundRefused = problem.Prefix + "mpay-refund-refused" // 409: more than is left, or the RefundID reused for another refund
)

// ErrRefundRefused is a refused refund.
var ErrRefundRefused = &problem.Error{Type: ProblemRefundRefused}

// PathRefunds is where refunds are requested (POST RefundRequest → Refund).
const PathRefunds = "/mpay/api/v1/refunds"

// Refund asks for a refund; the same RefundID again returns the same one.
func (c *Client) Refund(ctx context.Context, r RefundRequest) (*Refund, error) {
	in, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	body, sig, err := c.do(ctx, http.MethodPost, PathRefunds, in)
	if err != nil {
		return nil, err
	}
	var out Refund
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("mpay client: the refund: %w", err)
	}
	out.Signature, out.Body = sig, body
	return &out, nil
}

func (c *Client) get(ctx context.Context, uri string) ([]byte, error) {
	body, _, err := c.do(ctx, http.MethodGet, uri, nil)
	return body, err
}

func (c *Client) do(ctx context.Context, method, uri string, in []byte) ([]byte, string, error) {
	sig, err := c.signer.Sign(OpClientCall, SigningInput(method, uri, in))
	if err != nil {
		return nil, "", err
	}
	var rd io.Reader
	if in != nil {
		rd = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+uri, rd)
	if err != nil {
		return nil, "", err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(HeaderService, c.serviceID)
	req.Header.Set(HeaderSignature, sig)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("mpay client: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, "", fmt.Errorf("mpay client: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var p problem.Problem
		if json.Unmarshal(body, &p) == nil && p.Type != "" {
			return nil, "", &problem.Error{Status: p.Status, Type: p.Type, Title: p.Title, Detail: p.Detail}
		}
		return nil, "", errors.New("mpay client: " + resp.Status)
	}
	return body, resp.Header.Get(HeaderSignature), nil
}
