package mobileid

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
)

// PendingState is what a Pending needs to be waited on again by another
// Client or process (a server restarted while the phone was asked):
// serialisable as JSON, holding no secret.
type PendingState struct {
	Face          Face     `json:"face"`
	ID            string   `json:"id"` // session id (Mobile-ID) or MSSP_TransID (ETSI)
	APTransID     string   `json:"apTransId,omitempty"`
	Code          string   `json:"code"`
	Auth          bool     `json:"auth,omitempty"`
	MSISDN        string   `json:"msisdn"`
	Hash          string   `json:"hash"` // SHA-256, SHA-384, SHA-512
	Digest        []byte   `json:"digest"`
	Certificate   []byte   `json:"certificate,omitempty"` // Mobile-ID signing: fetched before asking
	Chain         [][]byte `json:"chain,omitempty"`
	AlreadyPolled bool     `json:"polled,omitempty"`
}

// State returns the state to Resume p from.
func (p *Pending) State() PendingState {
	st := PendingState{Face: p.c.opts.Face, ID: p.id, APTransID: p.apTID, Code: p.vc, Auth: p.auth, MSISDN: p.msisdn,
		Hash: p.hash.String(), Digest: append([]byte(nil), p.digest...), AlreadyPolled: p.polled}
	if p.cert != nil {
		st.Certificate = p.cert.Raw
	}
	for _, c := range p.chain {
		st.Chain = append(st.Chain, c.Raw)
	}
	return st
}

// Resume rebuilds a Pending from its state, to Wait for the phone's answer
// again; the answer is verified exactly as the first Client would have.
func (c *Client) Resume(st PendingState) (*Pending, error) {
	if st.Face != c.opts.Face {
		return nil, fmt.Errorf("mobileid: the pending request was sent through the %v face, this client speaks %v", st.Face, c.opts.Face)
	}
	if st.ID == "" || st.MSISDN == "" {
		return nil, errors.New("mobileid: the pending state has no transaction id or phone number")
	}
	var h crypto.Hash
	for _, cand := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if cand.String() == st.Hash {
			h = cand
		}
	}
	if h == 0 || len(st.Digest) != h.Size() {
		return nil, fmt.Errorf("mobileid: the pending state's hash %q and digest do not fit", st.Hash)
	}
	if VerificationCode(st.Digest) != st.Code {
		return nil, errors.New("mobileid: the pending state's verification code does not match its digest")
	}
	p := &Pending{c: c, id: st.ID, vc: st.Code, auth: st.Auth, msisdn: normalizeMSISDN(st.MSISDN), hash: h,
		digest: append([]byte(nil), st.Digest...), apTID: st.APTransID, polled: st.AlreadyPolled}
	if len(st.Certificate) > 0 {
		cert, err := x509.ParseCertificate(st.Certificate)
		if err != nil {
			return nil, fmt.Errorf("mobileid: the pending state's certificate: %w", err)
		}
		p.cert = cert
		for _, der := range st.Chain {
			cc, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("mobileid: the pending state's chain: %w", err)
			}
			p.chain = append(p.chain, cc)
		}
	}
	return p, nil
}
