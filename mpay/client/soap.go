package client

// The SOAP face of the SP protocol (egov-flows §4.2): IServiceProvider's
// GetOrderDetails and ConfirmOrderPayment, document/literal over SOAP 1.1
// at the SP's endpoint URL, every message (MPay's requests, the SP's
// answers and faults) signed with WS-Security (wssec.go). SOAPHandler is
// the SP's side, SOAPCaller MPay's. The WSDL and XSD MPay expects SPs to
// implement are in wsdl/ (WSDL, XSD).

import (
	"bytes"
	"context"
	"crypto/x509"
	"embed"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"
)

//go:embed wsdl/IServiceProvider.wsdl wsdl/IServiceProvider.xsd
var wsdlFS embed.FS

// WSDL is the WSDL of IServiceProvider (it imports XSD as
// IServiceProvider.xsd from the same place); its soap:address is a
// placeholder the SP replaces with its endpoint URL.
var WSDL, XSD = mustRead("wsdl/IServiceProvider.wsdl"), mustRead("wsdl/IServiceProvider.xsd")

func mustRead(name string) []byte {
	b, err := wsdlFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// WithClock is a copy of the signer that takes the signing time (the
// Timestamp's Created) from now.
func (s *Signer) WithClock(now func() time.Time) *Signer {
	c := *s
	c.now = now
	return &c
}

// SOAPHandler serves IServiceProvider at the SP's endpoint: POST of a
// signed SOAP request (checked against cfg.MPay; the answer, or the
// fault, signed with cfg.Signer, whose key must be RSA), and GET ?wsdl
// (?xsd) for the WSDL (XSD).
func SOAPHandler(cfg HandlerConfig) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			serveWSDL(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "POST a SOAP request, or GET ?wsdl", http.StatusMethodNotAllowed)
			return
		}
		op, answer, err := cfg.serveSOAP(r)
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError // SOAP 1.1 faults travel with 500
			var f *Fault
			if !errors.As(err, &f) {
				f = &Fault{Code: FaultInternalError, Message: "the service provider failed"}
			}
			op, answer = op+".fault", faultElement(f)
		}
		msg, err := cfg.Signer.SignEnvelope(answer)
		if err != nil {
			http.Error(w, "internal error: the answer cannot be signed", http.StatusInternalServerError)
			return
		}
		if cfg.Evidence != nil {
			cfg.Evidence(Message{Op: op, Body: msg, At: cfg.Now()})
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(msg)
	})
}

// serveWSDL answers GET ?wsdl with the WSDL and ?xsd with its schema.
func serveWSDL(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(r.URL.RawQuery)
	switch {
	case q == "wsdl":
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(WSDL)
	case q == "xsd":
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(XSD)
	default:
		http.Error(w, "GET ?wsdl for the WSDL, ?xsd for its schema", http.StatusNotFound)
	}
}

// serveSOAP handles one request: the operation's answer op and content,
// or a *Fault.
func (cfg *HandlerConfig) serveSOAP(r *http.Request) (string, []byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMessage+1))
	if err != nil || len(body) > maxMessage {
		return "request", nil, &Fault{Code: FaultInvalidParameter, Message: "the body is unreadable or over 1 MiB"}
	}
	env, err := VerifyEnvelope(body, cfg.MPay, cfg.Now())
	if err != nil {
		return "request", nil, &Fault{Code: FaultAuthenticationFailed, Message: err.Error()}
	}
	c := env.Content
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	if c.NamespaceURI() != NSMPay || action != "" && action != NSMPay+"IServiceProvider/"+c.Tag {
		return "request", nil, &Fault{Code: FaultInvalidParameter, Message: fmt.Sprintf("no operation %s (SOAPAction %q) here", c.Tag, action)}
	}
	switch c.Tag {
	case "GetOrderDetails":
		cfg.keep(OpOrderQuery, body)
		var in xGetOrderDetails
		if err := decodeContent(c, &in); err != nil {
			return OpOrderAnswer, nil, &Fault{Code: FaultInvalidParameter, Message: err.Error()}
		}
		o, err := cfg.Orders.OrderDetails(r.Context(), OrderDetailsQuery(in.Query))
		if err != nil {
			return OpOrderAnswer, nil, err
		}
		out, err := xml.Marshal(xGetOrderDetailsResponse{Orders: []xOrderDetails{toXOrder(o)}})
		return OpOrderAnswer, out, err
	case "ConfirmOrderPayment":
		cfg.keep(OpConfirm, body)
		var in xConfirmOrderPayment
		if err := decodeContent(c, &in); err != nil {
			return OpConfirmAck, nil, &Fault{Code: FaultInvalidParameter, Message: err.Error()}
		}
		if in.Confirmation.PaymentID == "" {
			return OpConfirmAck, nil, &Fault{Code: FaultInvalidParameter, Message: "no PaymentID"}
		}
		if err := cfg.Orders.ConfirmPayment(r.Context(), in.Confirmation.confirmation()); err != nil {
			return OpConfirmAck, nil, err
		}
		out, err := xml.Marshal(xConfirmOrderPaymentResponse{})
		return OpConfirmAck, out, err
	}
	return "request", nil, &Fault{Code: FaultInvalidParameter, Message: "no operation " + c.Tag + " here"}
}

func (cfg *HandlerConfig) keep(op string, msg []byte) {
	if cfg.Evidence != nil {
		cfg.Evidence(Message{Op: op, Body: msg, At: cfg.Now()})
	}
}

// SOAPCaller is MPay's side of the SOAP face: it calls an SP's endpoint
// with signed requests and checks the SP's signed answers. Its methods
// are Caller's.
type SOAPCaller struct {
	Signer *Signer // MPay's key (RSA)
	HTTP   *http.Client
	Now    func() time.Time
}

// GetOrderDetails asks the SP at endpoint, whose certificate is spCert;
// of the orders answered, the one asked for is taken.
func (c *SOAPCaller) GetOrderDetails(ctx context.Context, endpoint string, spCert *x509.Certificate, q OrderDetailsQuery) (*OrderDetails, *Exchange, error) {
	req, err := xml.Marshal(xGetOrderDetails{Query: xQuery(q)})
	if err != nil {
		return nil, nil, err
	}
	content, ex, err := c.call(ctx, endpoint, ActionGetOrderDetails, OpOrderQuery, OpOrderAnswer, req, spCert)
	if err != nil {
		return nil, ex, err
	}
	var out xGetOrderDetailsResponse
	if err := decodeContent(content, &out); err != nil {
		return nil, ex, fmt.Errorf("the answer of %s: %w", endpoint, err)
	}
	var found *OrderDetails
	for i := range out.Orders {
		if out.Orders[i].ServiceID == q.ServiceID && out.Orders[i].OrderKey == q.OrderKey {
			if found != nil {
				return nil, ex, fmt.Errorf("%w: the SP answered order %s/%s twice", ErrBadMessage, q.ServiceID, q.OrderKey)
			}
			found = out.Orders[i].order()
		}
	}
	if found == nil {
		return nil, ex, fmt.Errorf("%w: the SP's answer (%d orders) does not hold order %s/%s", ErrBadMessage, len(out.Orders), q.ServiceID, q.OrderKey)
	}
	if err := found.Check(q); err != nil {
		return nil, ex, err
	}
	return found, ex, nil
}

// ConfirmOrderPayment pushes a confirmation; nil error: acknowledged (a
// signed ConfirmOrderPaymentResponse, "no fault means accepted").
func (c *SOAPCaller) ConfirmOrderPayment(ctx context.Context, endpoint string, spCert *x509.Certificate, p PaymentConfirmation) (*Exchange, error) {
	req, err := xml.Marshal(xConfirmOrderPayment{Confirmation: toXConfirmation(p)})
	if err != nil {
		return nil, err
	}
	content, ex, err := c.call(ctx, endpoint, ActionConfirmOrderPayment, OpConfirm, OpConfirmAck, req, spCert)
	if err != nil {
		return ex, err
	}
	if content.NamespaceURI() != NSMPay || content.Tag != "ConfirmOrderPaymentResponse" {
		return ex, fmt.Errorf("%w: %s answered %s, not ConfirmOrderPaymentResponse", ErrBadMessage, endpoint, content.Tag)
	}
	return ex, nil
}

func (c *SOAPCaller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// call signs and posts one request; the verified answer's content, or
// ErrUnreachable (no answer, unsigned or wrongly signed: try again) or
// the SP's *Fault.
func (c *SOAPCaller) call(ctx context.Context, endpoint, action, op, answerOp string, content []byte, spCert *x509.Certificate) (*etree.Element, *Exchange, error) {
	msg, err := c.Signer.SignEnvelope(content)
	if err != nil {
		return nil, nil, err
	}
	ex := &Exchange{Request: Message{Op: op, Body: msg, At: c.now()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(msg))
	if err != nil {
		return nil, ex, fmt.Errorf("mpay client: endpoint %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+action+`"`)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, ex, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage+1))
	if err != nil || len(rb) > maxMessage {
		return nil, ex, fmt.Errorf("%w: the answer from %s is unreadable or over 1 MiB", ErrUnreachable, endpoint)
	}
	env, err := VerifyEnvelope(rb, spCert, c.now())
	if err != nil {
		return nil, ex, fmt.Errorf("%w: %s answered %d: %w", ErrUnreachable, endpoint, resp.StatusCode, err)
	}
	ex.Response = Message{Op: answerOp, Body: rb, At: c.now()}
	if env.Content.NamespaceURI() == NSSoap && env.Content.Tag == "Fault" {
		ex.Response.Op = answerOp + ".fault"
		f := parseFault(env.Content)
		if f.Code == FaultInternalError {
			return nil, ex, fmt.Errorf("%w: %w", ErrUnreachable, f)
		}
		return nil, ex, f
	}
	if resp.StatusCode/100 != 2 {
		return nil, ex, fmt.Errorf("%w: %s answered %d without a fault", ErrUnreachable, endpoint, resp.StatusCode)
	}
	return env.Content, ex, nil
}
