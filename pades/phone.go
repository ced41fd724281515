//go:build !(js && wasm)

// The mobile SIM signer: left out of the in-browser verifier (GOOS=js),
// which signs nothing.

package pades

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io"

	"github.com/semnat/semnat/mobileid"
)

// PhoneSigner signs with a mobile SIM signature: the digest goes to the
// MSSP, the phone shows a verification code and asks its user for the PIN.
// It is a remote signer: the /Contents space is reserved generously so the
// phone is asked once.
type PhoneSigner struct {
	Client      *mobileid.Client
	MSISDN      string
	IDNP        string
	DisplayText string
	// OnCode is called with the verification code as soon as the phone has
	// the request, so that a CLI or page can show it to the user.
	OnCode func(code string)

	cert  *x509.Certificate
	chain []*x509.Certificate
}

// NewPhoneSigner looks up the signing certificate of msisdn (checked by the
// client against its trust anchors) and returns a Signer for it.
func NewPhoneSigner(ctx context.Context, c *mobileid.Client, msisdn, idnp, displayText string, onCode func(string)) (*PhoneSigner, error) {
	cert, chain, err := c.GetCertificate(ctx, msisdn, idnp)
	if err != nil {
		return nil, err
	}
	return &PhoneSigner{Client: c, MSISDN: msisdn, IDNP: idnp, DisplayText: displayText, OnCode: onCode, cert: cert, chain: chain}, nil
}

func (p *PhoneSigner) Public() crypto.PublicKey       { return p.cert.PublicKey }
func (p *PhoneSigner) Certificate() *x509.Certificate { return p.cert }
func (p *PhoneSigner) Chain() []*x509.Certificate     { return p.chain }
func (p *PhoneSigner) Remote() bool                   { return true }
func (p *PhoneSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return p.SignContext(context.Background(), digest, opts)
}

// SignContext asks the phone to sign digest and waits for the answer.
func (p *PhoneSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return nil, errors.New("pades: a SIM signs PKCS#1 v1.5 or ECDSA, not RSA-PSS")
	}
	pend, err := p.Client.Start(ctx, mobileid.SignRequest{MSISDN: p.MSISDN, IDNP: p.IDNP, Digest: digest, Hash: opts.HashFunc(), DisplayText: p.DisplayText})
	if err != nil {
		return nil, err
	}
	if p.OnCode != nil {
		p.OnCode(pend.VerificationCode())
	}
	res, err := pend.Wait(ctx)
	if err != nil {
		return nil, err
	}
	if len(res.Signature) == 0 {
		return nil, errors.New("pades: the mobile signature service returned no raw signature (use the PKCS1 format)")
	}
	return res.Signature, nil
}
