package mpower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"

	msignclient "github.com/semnat/semnat/msign/client"
)

// Acts are signed through MSign's integrator flow, MPower being one of
// MSign's registered systems: StartSigning posts the power's document with
// the expected signer, the person's browser goes to RedirectURL and signs
// (phone or token), and FinishSigning, once MSign sends the browser back
// (or when polled), fetches the signed PDF and applies it.

// ErrNotSigned: the sign request has not ended in a signature (yet).
var ErrNotSigned = errors.New("mpower: the act is not signed")

// signKind names pending sign requests in the store.
const signKind = "mpower-sign"

// signTTL bounds how long a sign request is followed.
const signTTL = 30 * time.Minute

type pendingSign struct {
	Code  string `json:"code"`
	Event Event  `json:"event"`
	Actor string `json:"actor"`
}

// SignStart is a sign request posted to MSign.
type SignStart struct {
	RequestID   string // MSign's
	RedirectURL string // where to send the signer's browser
	Signer      string // the IDNP who must sign
}

// StartSigning posts the document of the power of code to MSign for ev
// (sign, accept, revoke, renounce), naming who must sign: the person who
// signs for the authorizing party, or the representative.
func (s *Service) StartSigning(ctx context.Context, actor, code string, ev Event) (*SignStart, error) {
	if s.cfg.MSign == nil {
		return nil, errors.New("mpower: no MSign is configured to sign acts")
	}
	who, ok := signedEvents[ev]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a signed act", ErrInvalid, ev)
	}
	p, err := s.reg.Power(ctx, code)
	if err != nil {
		return nil, err
	}
	signer := p.SignedBy
	if who == "representative" {
		signer = p.RepresentedID
	}
	doc, err := s.reg.Document(ctx, code)
	if err != nil {
		return nil, err
	}
	id, err := s.cfg.MSign.PostSignRequest(ctx, msignclient.SignRequest{
		ShortContentDescription: "Procură " + code,
		ContentDescription:      fmt.Sprintf("Power of representation %s (%s): %s", code, p.TypeCode, pastTense[ev]),
		SignatureReason:         pastTense[ev],
		ContentType:             msignclient.ContentPdf,
		Contents:                []msignclient.SignContent{{CorrelationID: code, Name: "procura-" + code + ".pdf", MultipleSignatures: true, Content: doc}},
		ExpectedSigner:          &msignclient.ExpectedSigner{ID: signer},
	})
	if err != nil {
		return nil, fmt.Errorf("mpower: asking MSign to sign the act of %s: %w", code, err)
	}
	b, _ := json.Marshal(pendingSign{Code: code, Event: ev, Actor: actor})
	if err := s.cfg.Store.Put(ctx, signKind, id, b, signTTL); err != nil {
		return nil, err
	}
	return &SignStart{RequestID: id, RedirectURL: s.cfg.MSign.RedirectURL(id), Signer: signer}, nil
}

// pendingCode is the power a pending sign request is for.
func (s *Service) pendingCode(c echo.Context, id string) (string, error) {
	b, err := s.cfg.Store.Get(c.Request().Context(), signKind, id)
	if err != nil {
		return "", flowError(fmt.Errorf("mpower: sign request %s: %w", id, err))
	}
	var ps pendingSign
	if err := json.Unmarshal(b, &ps); err != nil {
		return "", err
	}
	return ps.Code, nil
}

// FinishSigning fetches the result of MSign's request id: once signed, the
// act is verified and applied (Registry.Transition) and the request is
// forgotten; ErrNotSigned while it is pending or when it failed.
func (s *Service) FinishSigning(ctx context.Context, id string) (*Power, error) {
	b, err := s.cfg.Store.Get(ctx, signKind, id)
	if err != nil {
		return nil, fmt.Errorf("mpower: sign request %s: %w", id, err)
	}
	var ps pendingSign
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, err
	}
	resp, err := s.cfg.MSign.GetSignResponse(ctx, id, "ro")
	if err != nil {
		return nil, fmt.Errorf("mpower: MSign request %s: %w", id, err)
	}
	switch {
	case resp.Status == msignclient.StatusPending:
		return nil, fmt.Errorf("%w: MSign request %s is still pending", ErrNotSigned, id)
	case resp.Status != msignclient.StatusSuccess || len(resp.Results) != 1:
		_ = s.cfg.Store.Delete(ctx, signKind, id)
		return nil, fmt.Errorf("%w: MSign request %s ended %s: %s", ErrNotSigned, id, resp.Status, resp.Message)
	}
	p, err := s.reg.Transition(ctx, ps.Actor, ps.Code, ps.Event, resp.Results[0].Signature)
	if err != nil {
		return nil, err
	}
	_ = s.cfg.Store.Delete(ctx, signKind, id)
	return p, nil
}
