package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// PathPosPay is the counter POS endpoint of the reference (egov-flows
// §4.3): POST /PosTerminal/Pay/{ServiceId}/{OrderKey}. A card payment
// taken at a POS terminal at the SP's counter is reported to MPay, which
// pulls the order, records the payment, confirms it to the SP
// (ConfirmOrderPayment, as for any payment) and issues the receipt. The
// call is signed by the SP's key like the other API calls; ServiceId must
// be the caller's.
const PathPosPay = "/PosTerminal/Pay/"

// PosPayment is what the POS terminal reports. TerminalID and
// TransactionID (the terminal's reference, e.g. its RRN) make the
// idempotency key: the same transaction reported again is the same
// payment.
type PosPayment struct {
	TerminalID    string `json:"TerminalID"`
	TransactionID string `json:"TransactionID"`
	Amount        int64  `json:"Amount"` // minor units
	Currency      string `json:"Currency"`
	AuthCode      string `json:"AuthCode,omitempty"`
	CardLast4     string `json:"CardLast4,omitempty"`
}

// PosReceipt is MPay's answer, signed by its key (Signature, over Body).
type PosReceipt struct {
	PaymentID string    `json:"PaymentID"`
	InvoiceID string    `json:"InvoiceID"`
	Amount    int64     `json:"Amount"`
	Currency  string    `json:"Currency"`
	PaidAt    time.Time `json:"PaidAt"`
	// Receipt is the API path of the payment's receipt PDF.
	Receipt string `json:"Receipt"`

	Signature string `json:"-"`
	Body      []byte `json:"-"`
}

// PosPay reports a POS payment for orderKey (problem errors: 404 unknown
// order, 409 refused amount or order not payable, 400 bad fields).
func (c *Client) PosPay(ctx context.Context, orderKey string, p PosPayment) (*PosReceipt, error) {
	in, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	body, sig, err := c.do(ctx, http.MethodPost, PathPosPay+url.PathEscape(c.serviceID)+"/"+url.PathEscape(orderKey), in)
	if err != nil {
		return nil, err
	}
	var out PosReceipt
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("mpay client: the POS payment: %w", err)
	}
	out.Signature, out.Body = sig, body
	return &out, nil
}
