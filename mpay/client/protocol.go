// This file is the REST/JSON face of MPay's service-provider protocol
// (egov-flows §4.2-4.3) for both sides: the messages (OrderDetails,
// PaymentConfirmation, faults), and their signatures. Every message, MPay's
// requests and the SP's answers alike, travels with a detached JWS (RFC
// 7515) over the unencoded body (RFC 7797: "b64": false, "crit": ["b64"])
// in the X-JWS-Signature header, signed by the sender's key and checked
// against its certificate: MPay's for the SP, the SP's registered one for
// MPay. Both sides keep the signed messages as evidence.
//
// An SP mounts Handler with its own Orders; MPay (package mpay) is the
// caller. Amounts are integers in minor units (bani, cents), never floats.

package client

import (
	"errors"
	"fmt"
	"net/mail"
	"time"
)

// Paths of the two operations under the SP's registered endpoint URL.
const (
	PathGetOrderDetails     = "/GetOrderDetails"
	PathConfirmOrderPayment = "/ConfirmOrderPayment"
	// HeaderSignature carries the detached JWS of the body.
	HeaderSignature = "X-JWS-Signature"
)

// Order statuses (egov-flows §4.3): Active and PartiallyPaid are payable.
const (
	StatusActive        = "Active"
	StatusPartiallyPaid = "PartiallyPaid"
	StatusPaid          = "Paid"
	StatusCompleted     = "Completed"
	StatusExpired       = "Expired"
	StatusCancelled     = "Cancelled"
)

// Payable tells whether an order of this status may be paid.
func Payable(status string) bool { return status == StatusActive || status == StatusPartiallyPaid }

// OrderDetailsQuery asks the SP for an order.
type OrderDetailsQuery struct {
	ServiceID string `json:"ServiceID"`
	OrderKey  string `json:"OrderKey"`
	Language  string `json:"Language,omitempty"` // ro, ru, en
}

// DestinationAccount is where a line's money goes.
type DestinationAccount struct {
	BankCode        string `json:"BankCode,omitempty"` // TREZMD2X: the Treasury
	BankFiscalCode  string `json:"BankFiscalCode,omitempty"`
	BankAccount     string `json:"BankAccount,omitempty"` // IBAN
	BeneficiaryName string `json:"BeneficiaryName,omitempty"`
}

// OrderLine is one line of an order; AmountDue in minor units.
type OrderLine struct {
	LineID             string             `json:"LineID"`
	Reason             string             `json:"Reason"`
	AmountDue          int64              `json:"AmountDue"`
	DestinationAccount DestinationAccount `json:"DestinationAccount"`
}

// OrderDetails is the SP's answer to GetOrderDetails. TotalAmountDue is in
// minor units; nil: unknown (the payer types the amount, which needs
// partial or advance payments allowed).
type OrderDetails struct {
	ServiceID            string      `json:"ServiceID"`
	OrderKey             string      `json:"OrderKey"`
	Reason               string      `json:"Reason"`
	Status               string      `json:"Status"`
	IssuedAt             time.Time   `json:"IssuedAt"`
	DueDate              *time.Time  `json:"DueDate,omitempty"`
	TotalAmountDue       *int64      `json:"TotalAmountDue"`
	Currency             string      `json:"Currency"`
	AllowPartialPayments bool        `json:"AllowPartialPayments,omitempty"`
	AllowAdvancePayments bool        `json:"AllowAdvancePayments,omitempty"`
	CustomerType         string      `json:"CustomerType,omitempty"` // Person | Organization
	CustomerID           string      `json:"CustomerID,omitempty"`
	CustomerName         string      `json:"CustomerName,omitempty"`
	Lines                []OrderLine `json:"Lines,omitempty"`

	// CustomerEmail is where MPay tells a payer without an IDNP that the
	// payment is confirmed (through MNotify); optional.
	CustomerEmail string `json:"CustomerEmail,omitempty"`
}

// Currencies MPay takes.
var Currencies = map[string]bool{"MDL": true, "EUR": true, "USD": true}

// Check tells what is wrong with an answer for q (ErrBadMessage).
func (o *OrderDetails) Check(q OrderDetailsQuery) error {
	switch {
	case o.ServiceID != q.ServiceID || o.OrderKey != q.OrderKey:
		return fmt.Errorf("%w: the answer is for order %s/%s, not %s/%s", ErrBadMessage, o.ServiceID, o.OrderKey, q.ServiceID, q.OrderKey)
	case o.Status == "":
		return fmt.Errorf("%w: order %s has no Status", ErrBadMessage, o.OrderKey)
	case !Currencies[o.Currency]:
		return fmt.Errorf("%w: order %s: currency %q (want MDL, EUR or USD)", ErrBadMessage, o.OrderKey, o.Currency)
	case o.TotalAmountDue != nil && *o.TotalAmountDue < 0:
		return fmt.Errorf("%w: order %s: negative TotalAmountDue", ErrBadMessage, o.OrderKey)
	case o.TotalAmountDue == nil && !o.AllowPartialPayments && !o.AllowAdvancePayments:
		return fmt.Errorf("%w: order %s: no TotalAmountDue, and neither partial nor advance payments allowed", ErrBadMessage, o.OrderKey)
	case o.CustomerEmail != "" && !isEmail(o.CustomerEmail):
		return fmt.Errorf("%w: order %s: CustomerEmail %q is not an e-mail address", ErrBadMessage, o.OrderKey, o.CustomerEmail)
	case len([]rune(o.Reason)) > 200:
		return fmt.Errorf("%w: order %s: Reason longer than 200 characters", ErrBadMessage, o.OrderKey)
	}
	for _, l := range o.Lines {
		if l.AmountDue < 0 {
			return fmt.Errorf("%w: order %s: line %s has a negative amount", ErrBadMessage, o.OrderKey, l.LineID)
		}
	}
	return nil
}

// ConfirmedLine is the part of a payment for one order line.
type ConfirmedLine struct {
	LineID string `json:"LineID"`
	Amount int64  `json:"Amount"`
}

// PaymentConfirmation tells the SP that a payment was made. PaymentID is
// the idempotency key: the SP must count a payment once however many
// times it is confirmed.
type PaymentConfirmation struct {
	ServiceID   string            `json:"ServiceID"`
	OrderKey    string            `json:"OrderKey"`
	InvoiceID   string            `json:"InvoiceID"`
	PaymentID   string            `json:"PaymentID"`
	PaidAt      time.Time         `json:"PaidAt"`
	TotalAmount int64             `json:"TotalAmount"`
	Currency    string            `json:"Currency"`
	Lines       []ConfirmedLine   `json:"Lines,omitempty"`
	Properties  map[string]string `json:"Properties,omitempty"` // Bank = "MAIB (Card)", ...
}

// Ack is the SP's acknowledgement of a confirmation.
type Ack struct {
	PaymentID    string `json:"PaymentID"`
	Acknowledged bool   `json:"Acknowledged"`
}

// Fault codes an SP answers with (egov-flows §4.3; UknownPayment is the
// reference's own spelling).
const (
	FaultInternalError        = "InternalError"
	FaultAuthenticationFailed = "AuthenticationFailed"
	FaultInvalidParameter     = "InvalidParameter"
	FaultUnknownService       = "UnknownService"
	FaultUnknownOrder         = "UnknownOrder"
	FaultInvoiceAlreadyPaid   = "InvoiceAlreadyPaid"
	FaultInvoiceExpired       = "InvoiceExpired"
)

// Fault is an SP's refusal: the body of a non-2xx answer, signed too.
type Fault struct {
	Code    string `json:"Fault"`
	Message string `json:"Message,omitempty"`
}

func (f *Fault) Error() string { return "sp fault " + f.Code + ": " + f.Message }

// Is makes errors.Is(err, &Fault{Code: X}) match by code.
func (f *Fault) Is(target error) bool {
	t, ok := target.(*Fault)
	return ok && t.Code == f.Code
}

// Errors callers test with errors.Is.
var (
	// ErrBadSignature: a message's JWS is missing, malformed, or not by
	// the expected key.
	ErrBadSignature = errors.New("mpay client: bad message signature")
	// ErrBadMessage: a well-signed message that does not make sense.
	ErrBadMessage = errors.New("mpay client: bad message")
)

// isEmail tells a bare address (local@domain, no name).
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
