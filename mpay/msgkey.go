package mpay

// MPay's message key: the key its REST/JWS messages are signed with (the
// order pull and the confirmation to an SP, its signed API answers),
// apart from its seal (Config.Key), which keeps the receipts' PAdES seal
// and the SOAP face's WS-Security RSA-SHA256 signatures (existing
// Moldovan integrations expect RSA there). RFC 7515/7518 let the signer
// choose the algorithm of a JWS and name it in the header ("alg"), and
// the SP pins the certificate it checks against, so an EC P-256 key
// (ES256) is as standard as MPay's RSA key (RS256), at a small part of
// its cost (about 1 ms of CPU per RSA-2048 signature, two per payment).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	mpayclient "github.com/semnat/semnat/mpay/client"
)

// MessageKeyValidity is how long a certificate made by NewMessageKey is
// valid (SPs pin it; a new one must be handed to them before it ends).
const MessageKeyValidity = 5 * 365 * 24 * time.Hour

// NewMessageKey makes an EC P-256 message key (ES256) and a self-signed
// certificate for it, named after name: SPs pin the certificate they are
// given (HandlerConfig.MPayMessages in mpay/client), it need not chain to
// a CA.
func NewMessageKey(name string) (crypto.Signer, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("mpay: making the message key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("mpay: making the message key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name + " (MPay messages)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(MessageKeyValidity), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("mpay: the message key's certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("mpay: the message key's certificate: %w", err)
	}
	return key, cert, nil
}

// messageSigner is the signer of MPay's REST/JWS messages: the message
// key when one is configured, else MPay's own key (seal).
func messageSigner(cfg Config, seal *mpayclient.Signer) (*mpayclient.Signer, error) {
	if cfg.MessageKey == nil && cfg.MessageCert == nil {
		return seal, nil
	}
	if cfg.MessageKey == nil || cfg.MessageCert == nil {
		return nil, fmt.Errorf("mpay: a message key needs both the key and its certificate (MessageKey, MessageCert)")
	}
	s, err := mpayclient.NewSigner(cfg.MessageKey, cfg.MessageCert)
	if err != nil {
		return nil, fmt.Errorf("mpay: the message key: %w", err)
	}
	return s, nil
}

// MessageCert is the certificate SPs check MPay's REST/JWS messages
// against (HandlerConfig.MPayMessages in mpay/client): the message key's,
// or MPay's own when it has none. The SOAP face's messages are checked
// against MPay's certificate (Config.Cert).
func (s *Service) MessageCert() *x509.Certificate { return s.caller.Signer.Certificate() }
