package mobileid

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

func (c *Client) midHTTPError(status int, raw []byte) error {
	var body struct {
		Error string `json:"error"`
	}
	json.Unmarshal(raw, &body)
	e := &Error{Face: FaceMID, Code: fmt.Sprintf("HTTP %d", status), Detail: body.Error, Err: ErrService}
	switch status {
	case http.StatusBadRequest:
		e.Err = ErrBadRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Err = ErrUnauthorized
	case http.StatusNotFound:
		e.Err = ErrSessionNotFound
	case http.StatusMethodNotAllowed:
		e.Err = ErrProtocol
	}
	return e
}

func (c *Client) midBody(msisdn, idnp string) midRequest {
	return midRequest{RelyingPartyUUID: c.opts.RelyingPartyUUID, RelyingPartyName: c.opts.RelyingPartyName,
		PhoneNumber: normalizeMSISDN(msisdn), NationalIdentityNumber: idnp}
}

func (c *Client) midCertificate(ctx context.Context, msisdn, idnp string) (*x509.Certificate, []*x509.Certificate, error) {
	var out struct {
		Result string `json:"result"`
		Cert   string `json:"cert"`
	}
	st, raw, err := c.do(ctx, "POST", c.base+"/certificate", c.midBody(msisdn, idnp), &out)
	if err != nil {
		return nil, nil, err
	}
	if st != 200 {
		return nil, nil, c.midHTTPError(st, raw)
	}
	if out.Result != "OK" {
		return nil, nil, &Error{Face: FaceMID, Code: out.Result, Err: midSentinel(Result(out.Result))}
	}
	der, err := base64.StdEncoding.DecodeString(out.Cert)
	if err != nil {
		return nil, nil, &Error{Face: FaceMID, Code: "OK", Detail: "cert is not base64", Err: ErrProtocol}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, &Error{Face: FaceMID, Code: "OK", Detail: "cert: " + err.Error(), Err: ErrProtocol}
	}
	chain, err := c.checkCertificate(cert, nil, true)
	if err != nil {
		return nil, nil, err
	}
	return cert, chain, nil
}

func (c *Client) midStart(ctx context.Context, p *Pending, req SignRequest) error {
	if req.IDNP == "" {
		return &Error{Face: FaceMID, Code: "request", Detail: "the Mobile-ID face needs the IDNP (nationalIdentityNumber)", Err: ErrBadRequest}
	}
	path := "/authentication"
	if !p.auth {
		// Signing returns no certificate: fetch and check it first.
		cert, chain, err := c.midCertificate(ctx, req.MSISDN, req.IDNP)
		if err != nil {
			return err
		}
		p.cert, p.chain, path = cert, chain, "/signature"
	}
	text, format := FitDisplayText(req.DisplayText)
	body := struct {
		midRequest
	}{c.midBody(req.MSISDN, req.IDNP)}
	body.Hash = base64.StdEncoding.EncodeToString(p.digest)
	body.HashType = strings.ReplaceAll(p.hash.String(), "-", "")
	body.Language, body.DisplayText, body.DisplayTextFormat = c.opts.Language, text, string(format)
	var out struct {
		SessionID string `json:"sessionID"`
		Legacy    string `json:"sessionId"`
	}
	st, raw, err := c.do(ctx, "POST", c.base+path, body, &out)
	if err != nil {
		return err
	}
	if st != 200 {
		return c.midHTTPError(st, raw)
	}
	p.id = out.SessionID
	if p.id == "" {
		p.id = out.Legacy
	}
	if p.id == "" || strings.ContainsAny(p.id, "/?#") {
		return &Error{Face: FaceMID, Code: "HTTP 200", Detail: "no usable sessionID", Err: ErrProtocol}
	}
	return nil
}

func (c *Client) midWait(ctx context.Context, p *Pending) (*SignResult, error) {
	kind := "signature"
	if p.auth {
		kind = "authentication"
	}
	for {
		timeout := c.opts.LongPoll
		if c.opts.PollInterval > 0 {
			if p.polled {
				if err := sleep(ctx, c.opts.PollInterval); err != nil {
					return nil, err
				}
			}
			timeout = time.Second
		}
		p.polled = true
		var st midStatus
		code, raw, err := c.do(ctx, "GET", fmt.Sprintf("%s/%s/session/%s?timeoutMs=%d", c.base, kind, p.id, timeout.Milliseconds()), nil, &st)
		if err != nil {
			return nil, err
		}
		if code != 200 {
			return nil, c.midHTTPError(code, raw)
		}
		switch st.State {
		case "RUNNING":
			continue
		case "COMPLETE":
		default:
			return nil, &Error{Face: FaceMID, Code: st.State, Detail: "unknown session state", Err: ErrProtocol}
		}
		if st.Result != string(ResultOK) {
			return nil, &Error{Face: FaceMID, Code: st.Result, Err: midSentinel(Result(st.Result))}
		}
		if st.Signature == nil {
			return nil, &Error{Face: FaceMID, Code: "OK", Detail: "no signature in the answer", Err: ErrProtocol}
		}
		sig, err := base64.StdEncoding.DecodeString(st.Signature.Value)
		if err != nil {
			return nil, &Error{Face: FaceMID, Code: "OK", Detail: "signature is not base64", Err: ErrProtocol}
		}
		cert, chain := p.cert, p.chain
		if p.auth {
			der, err := base64.StdEncoding.DecodeString(st.Cert)
			if err == nil {
				cert, err = x509.ParseCertificate(der)
			}
			if err != nil {
				return nil, &Error{Face: FaceMID, Code: "OK", Detail: "authentication answer without a valid cert", Err: ErrProtocol}
			}
			if chain, err = c.checkCertificate(cert, nil, false); err != nil {
				return nil, err
			}
		}
		der, err := verifyDigestSignature(cert, p.hash, p.digest, sig)
		if err != nil {
			return nil, &Error{Face: FaceMID, Code: "OK", Detail: "signature does not verify over the hash we sent with the user's key", Err: ErrInvalidSignature}
		}
		return &SignResult{Face: FaceMID, Transaction: p.id, Hash: p.hash, Digest: p.digest, Signature: der, Certificate: cert, Chain: chain}, nil
	}
}
