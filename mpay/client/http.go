package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxMessage bounds a message body.
const maxMessage = 1 << 20

// Orders is what an SP implements: its orders, and the confirmations of
// their payments. A refusal is a *Fault; ConfirmPayment must count a
// PaymentID once however many times it is called (idempotency).
type Orders interface {
	OrderDetails(ctx context.Context, q OrderDetailsQuery) (*OrderDetails, error)
	ConfirmPayment(ctx context.Context, c PaymentConfirmation) error
}

// Message is one signed message, kept as evidence.
type Message struct {
	Op        string    `json:"op"`
	Body      []byte    `json:"body"`
	Signature string    `json:"signature"`
	At        time.Time `json:"at"`
}

// HandlerConfig configures an SP's endpoint.
type HandlerConfig struct {
	Orders Orders
	// MPay is the certificate of MPay's message key (mpay.Service's
	// MessageCert; `semnat mpay serve` writes it to DATA/mpay-message.crt,
	// EC P-256 by default: ES256): requests must be signed by its key. On
	// the SOAP face (SOAPHandler) it is MPay's own certificate (RSA), which
	// signs the WS-Security.
	MPay *x509.Certificate
	// Signer signs the answers with the SP's key (its certificate is the
	// one registered with MPay).
	Signer *Signer
	// Evidence, when set, is given every signed message in and out.
	Evidence func(Message)
	Now      func() time.Time
}

// Handler serves POST PathGetOrderDetails and PathConfirmOrderPayment
// (mount it at the endpoint URL registered with MPay).
func Handler(cfg HandlerConfig) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathGetOrderDetails, func(w http.ResponseWriter, r *http.Request) {
		var q OrderDetailsQuery
		if !cfg.read(w, r, OpOrderQuery, OpOrderAnswer, &q) {
			return
		}
		o, err := cfg.Orders.OrderDetails(r.Context(), q)
		if err != nil {
			cfg.fail(w, OpOrderAnswer, err)
			return
		}
		cfg.answer(w, http.StatusOK, OpOrderAnswer, o)
	})
	mux.HandleFunc("POST "+PathConfirmOrderPayment, func(w http.ResponseWriter, r *http.Request) {
		var c PaymentConfirmation
		if !cfg.read(w, r, OpConfirm, OpConfirmAck, &c) {
			return
		}
		if c.PaymentID == "" {
			cfg.fail(w, OpConfirmAck, &Fault{Code: FaultInvalidParameter, Message: "no PaymentID"})
			return
		}
		if err := cfg.Orders.ConfirmPayment(r.Context(), c); err != nil {
			cfg.fail(w, OpConfirmAck, err)
			return
		}
		cfg.answer(w, http.StatusOK, OpConfirmAck, Ack{PaymentID: c.PaymentID, Acknowledged: true})
	})
	return mux
}

func (cfg *HandlerConfig) read(w http.ResponseWriter, r *http.Request, op, answerOp string, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMessage+1))
	if err != nil || len(body) > maxMessage {
		cfg.fail(w, answerOp, &Fault{Code: FaultInvalidParameter, Message: "the body is unreadable or over 1 MiB"})
		return false
	}
	sig := r.Header.Get(HeaderSignature)
	if _, err := Verify(sig, body, op, cfg.MPay, cfg.Now()); err != nil {
		cfg.fail(w, answerOp, &Fault{Code: FaultAuthenticationFailed, Message: err.Error()})
		return false
	}
	if cfg.Evidence != nil {
		cfg.Evidence(Message{Op: op, Body: body, Signature: sig, At: cfg.Now()})
	}
	if err := json.Unmarshal(body, v); err != nil {
		cfg.fail(w, answerOp, &Fault{Code: FaultInvalidParameter, Message: "the body is not the JSON of " + op + ": " + err.Error()})
		return false
	}
	return true
}

func (cfg *HandlerConfig) fail(w http.ResponseWriter, op string, err error) {
	var f *Fault
	if !errors.As(err, &f) {
		f = &Fault{Code: FaultInternalError, Message: "the service provider failed"}
	}
	status := http.StatusBadRequest
	switch f.Code {
	case FaultInternalError:
		status = http.StatusInternalServerError
	case FaultAuthenticationFailed:
		status = http.StatusUnauthorized
	case FaultUnknownOrder, FaultUnknownService:
		status = http.StatusNotFound
	case FaultInvoiceAlreadyPaid, FaultInvoiceExpired:
		status = http.StatusConflict
	}
	cfg.answer(w, status, op, f)
}

func (cfg *HandlerConfig) answer(w http.ResponseWriter, status int, op string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	sig, err := cfg.Signer.Sign(op, body)
	if err != nil {
		http.Error(w, "internal error: the answer cannot be signed", http.StatusInternalServerError)
		return
	}
	if cfg.Evidence != nil {
		cfg.Evidence(Message{Op: op, Body: body, Signature: sig, At: cfg.Now()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderSignature, sig)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Caller is MPay's side: it calls an SP's endpoint with signed requests
// and checks the SP's signed answers.
type Caller struct {
	Signer *Signer // MPay's key
	HTTP   *http.Client
	Now    func() time.Time
}

// Exchange is one call: the signed request and the signed answer.
type Exchange struct {
	Request, Response Message
}

// ErrUnreachable: the SP did not answer (network, time-out) or answered
// without a valid signature; try again later.
var ErrUnreachable = errors.New("mpay client: the service provider did not answer")

// GetOrderDetails asks the SP at endpoint, whose certificate is spCert.
func (c *Caller) GetOrderDetails(ctx context.Context, endpoint string, spCert *x509.Certificate, q OrderDetailsQuery) (*OrderDetails, *Exchange, error) {
	var o OrderDetails
	ex, err := c.call(ctx, endpoint+PathGetOrderDetails, spCert, OpOrderQuery, OpOrderAnswer, q, &o)
	if err != nil {
		return nil, ex, err
	}
	if err := o.Check(q); err != nil {
		return nil, ex, err
	}
	return &o, ex, nil
}

// ConfirmOrderPayment pushes a confirmation; nil error: acknowledged.
func (c *Caller) ConfirmOrderPayment(ctx context.Context, endpoint string, spCert *x509.Certificate, p PaymentConfirmation) (*Exchange, error) {
	var ack Ack
	ex, err := c.call(ctx, endpoint+PathConfirmOrderPayment, spCert, OpConfirm, OpConfirmAck, p, &ack)
	if err != nil {
		return ex, err
	}
	if !ack.Acknowledged || ack.PaymentID != p.PaymentID {
		return ex, fmt.Errorf("%w: the acknowledgement is for payment %q (acknowledged %v), not %q", ErrBadMessage, ack.PaymentID, ack.Acknowledged, p.PaymentID)
	}
	return ex, nil
}

func (c *Caller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Caller) call(ctx context.Context, url string, spCert *x509.Certificate, op, answerOp string, in, out any) (*Exchange, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	sig, err := c.Signer.Sign(op, body)
	if err != nil {
		return nil, err
	}
	ex := &Exchange{Request: Message{Op: op, Body: body, Signature: sig, At: c.now()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("mpay client: endpoint %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderSignature, sig)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ex, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage+1))
	if err != nil || len(rb) > maxMessage {
		return ex, fmt.Errorf("%w: the answer from %s is unreadable or over 1 MiB", ErrUnreachable, url)
	}
	rsig := resp.Header.Get(HeaderSignature)
	if _, err := Verify(rsig, rb, answerOp, spCert, c.now()); err != nil {
		return ex, fmt.Errorf("%w: %s answered %d: %w", ErrUnreachable, url, resp.StatusCode, err)
	}
	ex.Response = Message{Op: answerOp, Body: rb, Signature: rsig, At: c.now()}
	if resp.StatusCode/100 != 2 {
		var f Fault
		if err := json.Unmarshal(rb, &f); err != nil || f.Code == "" {
			return ex, fmt.Errorf("%w: %s answered %d without a fault", ErrUnreachable, url, resp.StatusCode)
		}
		if f.Code == FaultInternalError {
			return ex, fmt.Errorf("%w: %w", ErrUnreachable, &f)
		}
		return ex, &f
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return ex, fmt.Errorf("%w: %s answered %s, not JSON", ErrBadMessage, url, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return ex, fmt.Errorf("%w: the answer of %s: %v", ErrBadMessage, url, err)
	}
	return ex, nil
}
