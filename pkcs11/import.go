package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	p11 "github.com/miekg/pkcs11"
)

// ErrExists: the token already holds a key with the ID to import.
var ErrExists = errors.New("already on the token")

// ImportOptions says what to write on a token.
type ImportOptions struct {
	Token TokenSelector
	PIN   PINSource
	// Key is an *rsa.PrivateKey (two primes) or an *ecdsa.PrivateKey
	// (P-256, P-384, P-521).
	Key crypto.PrivateKey
	// Certificate of Key.
	Certificate *x509.Certificate
	// Chain: CA certificates stored with the key (skipped when the token
	// already has them).
	Chain []*x509.Certificate
	// Label of the key pair and certificate; default: the certificate's
	// common name.
	Label string
	// ID (CKA_ID) shared by the private key, public key and certificate;
	// default: the certificate's subject key identifier, else the SHA-1 of
	// its public key.
	ID KeyID
}

// ImportResult reports what Import wrote.
type ImportResult struct {
	Token   TokenInfo `json:"token"`
	ID      KeyID     `json:"id"`
	Label   string    `json:"label"`
	KeyType string    `json:"key_type"`
	CACerts int       `json:"ca_certificates"`
}

// Import writes a private key, its public key, its certificate and the
// chain's CA certificates on a token, as non-extractable sensitive objects
// for the key. It is meant for tests and demos (a real token generates its
// keys inside).
func (m *Module) Import(ctx context.Context, opts ImportOptions) (*ImportResult, error) {
	if opts.Certificate == nil {
		return nil, fmt.Errorf("pkcs11: import: %w: no certificate", ErrCertificateNotFound)
	}
	cert := opts.Certificate
	id := opts.ID
	if len(id) == 0 {
		id = defaultID(cert)
	}
	label := opts.Label
	if label == "" {
		label = cert.Subject.CommonName
	}
	keyAttrs, pubAttrs, kt, err := keyTemplates(opts.Key, cert)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: import %q: %w", label, err)
	}
	c, err := m.ctx()
	if err != nil {
		return nil, err
	}
	slot, err := m.FindToken(opts.Token)
	if err != nil {
		return nil, err
	}
	sh, err := c.OpenSession(slot.ID, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %s: %w", slot.Token, wrap("C_OpenSession", err))
	}
	defer c.CloseSession(sh)
	if err := login(ctx, c, sh, slot.ID, opts.PIN); err != nil {
		return nil, err
	}
	existing, err := findObjects(c, sh, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_ID, []byte(id))})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %s: %w", slot.Token, err)
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("pkcs11: token %s: %w: a private key with id %s; choose another id", slot.Token, ErrExists, id)
	}
	common := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_ID, []byte(id)),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_SUBJECT, cert.RawSubject),
	}
	var created []p11.ObjectHandle
	create := func(what string, tmpl []*p11.Attribute) error {
		h, err := c.CreateObject(sh, tmpl)
		if err != nil {
			return fmt.Errorf("pkcs11: token %s: writing the %s: %w", slot.Token, what, wrap("C_CreateObject", err))
		}
		created = append(created, h)
		return nil
	}
	undo := func() {
		for _, h := range created {
			c.DestroyObject(sh, h)
		}
	}
	if err := create("private key", append(append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true),
	}, common...), keyAttrs...)); err != nil {
		return nil, err
	}
	if err := create("public key", append(append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
		p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_VERIFY, true),
	}, common...), pubAttrs...)); err != nil {
		undo()
		return nil, err
	}
	if err := create("certificate", certTemplate(cert, id, label, 1)); err != nil {
		undo()
		return nil, err
	}
	res := &ImportResult{Token: *slot.Token, ID: id, Label: label, KeyType: kt}
	for _, ca := range opts.Chain {
		if ca == nil {
			continue
		}
		have, err := findObjects(c, sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE), p11.NewAttribute(p11.CKA_VALUE, ca.Raw)})
		if err != nil {
			undo()
			return nil, fmt.Errorf("pkcs11: token %s: %w", slot.Token, err)
		}
		if len(have) > 0 {
			continue
		}
		if err := create("CA certificate", certTemplate(ca, defaultID(ca), ca.Subject.CommonName, 2)); err != nil {
			undo()
			return nil, err
		}
		res.CACerts++
	}
	return res, nil
}

// defaultID is the certificate's subject key identifier, or the SHA-1 of its
// public key (as RFC 5280 §4.2.1.2 method 1 would derive it).
func defaultID(cert *x509.Certificate) KeyID {
	if len(cert.SubjectKeyId) > 0 {
		return KeyID(bytes.Clone(cert.SubjectKeyId))
	}
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err == nil {
		sum := sha1.Sum(spki.Key.Bytes)
		return sum[:]
	}
	sum := sha1.Sum(cert.RawSubjectPublicKeyInfo)
	return sum[:]
}

func certTemplate(cert *x509.Certificate, id KeyID, label string, category uint) []*p11.Attribute {
	serial, _ := asn1.Marshal(cert.SerialNumber)
	return []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
		p11.NewAttribute(p11.CKA_CERTIFICATE_CATEGORY, category),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_ID, []byte(id)),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_SUBJECT, cert.RawSubject),
		p11.NewAttribute(p11.CKA_ISSUER, cert.RawIssuer),
		p11.NewAttribute(p11.CKA_SERIAL_NUMBER, serial),
		p11.NewAttribute(p11.CKA_VALUE, cert.Raw),
	}
}

// keyTemplates gives the key-specific attributes of the private and public
// key objects, after checking that the key matches the certificate.
func keyTemplates(key crypto.PrivateKey, cert *x509.Certificate) (priv, pub []*p11.Attribute, kt string, err error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		cp, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || !cp.Equal(&k.PublicKey) {
			return nil, nil, "", fmt.Errorf("%w: the certificate does not match the RSA key", ErrKeyNotFound)
		}
		if len(k.Primes) != 2 {
			return nil, nil, "", fmt.Errorf("%w: RSA key with %d primes", ErrUnsupported, len(k.Primes))
		}
		k.Precompute()
		if k.Precomputed.Dp == nil || k.Precomputed.Dq == nil || k.Precomputed.Qinv == nil {
			return nil, nil, "", fmt.Errorf("%w: RSA key without CRT values", ErrUnsupported)
		}
		e := big.NewInt(int64(k.E)).Bytes()
		pub = []*p11.Attribute{
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
			p11.NewAttribute(p11.CKA_MODULUS, k.N.Bytes()),
			p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, e),
		}
		priv = append(append([]*p11.Attribute(nil), pub...),
			p11.NewAttribute(p11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			p11.NewAttribute(p11.CKA_PRIME_1, k.Primes[0].Bytes()),
			p11.NewAttribute(p11.CKA_PRIME_2, k.Primes[1].Bytes()),
			p11.NewAttribute(p11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			p11.NewAttribute(p11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
			p11.NewAttribute(p11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
		)
		return priv, pub, fmt.Sprintf("RSA-%d", k.N.BitLen()), nil
	case *ecdsa.PrivateKey:
		cp, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || !cp.Equal(&k.PublicKey) {
			return nil, nil, "", fmt.Errorf("%w: the certificate does not match the EC key", ErrKeyNotFound)
		}
		params, err := ECParams(k.Curve)
		if err != nil {
			return nil, nil, "", err
		}
		point, err := ECPoint(&k.PublicKey)
		if err != nil {
			return nil, nil, "", err
		}
		d, err := k.Bytes()
		if err != nil {
			return nil, nil, "", fmt.Errorf("%w: EC key: %v", ErrUnsupported, err)
		}
		priv = []*p11.Attribute{
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_VALUE, d),
		}
		pub = []*p11.Attribute{
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_EC_POINT, point),
		}
		return priv, pub, "EC-" + k.Curve.Params().Name, nil
	}
	return nil, nil, "", fmt.Errorf("%w: private key type %T (want RSA or ECDSA)", ErrUnsupported, key)
}

// InitToken initialises the first token slot that holds no initialised
// token (SoftHSM2 always offers one) with label, sets its SO PIN and user
// PIN, and returns its description. For tests and demos; it erases what
// the slot held.
func (m *Module) InitToken(label string, soPIN, userPIN []byte) (TokenInfo, error) {
	c, err := m.ctx()
	if err != nil {
		return TokenInfo{}, err
	}
	if label == "" || len(label) > 32 {
		return TokenInfo{}, fmt.Errorf("pkcs11: token label %q: want 1 to 32 characters", label)
	}
	if len(soPIN) == 0 || len(userPIN) == 0 {
		return TokenInfo{}, fmt.Errorf("pkcs11: init token: %w: SO PIN and user PIN are both needed", ErrNoPIN)
	}
	slots, err := m.Slots()
	if err != nil {
		return TokenInfo{}, err
	}
	for _, s := range slots {
		if s.Token != nil && s.Token.Initialized && s.Token.Label == label {
			return TokenInfo{}, fmt.Errorf("pkcs11: %w: a token labelled %q", ErrExists, label)
		}
	}
	for _, s := range slots {
		if s.Token == nil || s.Token.Initialized {
			continue
		}
		if err := c.InitToken(s.ID, string(soPIN), label); err != nil {
			return TokenInfo{}, fmt.Errorf("pkcs11: slot %d: %w", s.ID, wrap("C_InitToken", err))
		}
		// SoftHSM2 moves the new token to a new slot ID: find it by label.
		slot, err := m.FindToken(TokenSelector{Label: label})
		if err != nil {
			return TokenInfo{}, err
		}
		sh, err := c.OpenSession(slot.ID, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			return TokenInfo{}, wrap("C_OpenSession", err)
		}
		defer c.CloseSession(sh)
		if err := c.Login(sh, p11.CKU_SO, string(soPIN)); err != nil {
			return TokenInfo{}, fmt.Errorf("pkcs11: token %q: %w", label, wrap("C_Login(SO)", err))
		}
		defer c.Logout(sh)
		if err := c.InitPIN(sh, string(userPIN)); err != nil {
			return TokenInfo{}, fmt.Errorf("pkcs11: token %q: %w", label, wrap("C_InitPIN", err))
		}
		raw, err := c.GetTokenInfo(slot.ID)
		if err != nil {
			return TokenInfo{}, wrap("C_GetTokenInfo", err)
		}
		return tokenInfo(raw), nil
	}
	return TokenInfo{}, fmt.Errorf("pkcs11: %w: no slot with an uninitialised token", ErrTokenNotPresent)
}
