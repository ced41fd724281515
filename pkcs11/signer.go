package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"slices"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/semnat/semnat/internal/certuse"
)

// SignerOptions selects a key on a token and says how to log in.
type SignerOptions struct {
	// Token selects the token; empty picks the only initialised one.
	Token TokenSelector
	// KeyLabel and KeyID select the private key (CKA_LABEL of the key or of
	// its certificate; CKA_ID). Both empty: the only key that has a
	// non-CA certificate with the same CKA_ID.
	KeyLabel string
	KeyID    KeyID
	// PIN supplies the user PIN; it is asked once at open and again only if
	// the Signer must log in again after the token was re-inserted.
	PIN PINSource
	// Certificate is used when the token holds no certificate for the key.
	Certificate *x509.Certificate
	// Chain adds intermediate certificates to those found on the token.
	Chain []*x509.Certificate
	// MaxSessions bounds the pool of sessions (default 2×GOMAXPROCS, at
	// most 32): that many signatures run in parallel.
	MaxSessions int
}

// Options adds the module to SignerOptions for OpenSigner.
type Options struct {
	// Module is the module path; empty: $SEMNAT_PKCS11_MODULE, then the
	// usual SoftHSM2/OpenSC paths.
	Module string
	SignerOptions
}

// Signer is a crypto.Signer backed by a private key on a token, with its
// certificate and chain. It is safe for concurrent use: it logs in once and
// signs on a pool of sessions. When the module reports a closed session or a
// removed token it re-opens sessions, finds the token and key again, and
// logs in again (asking the PIN source again) once per Sign call; a PIN
// failure during that stops the Signer for good instead of trying again.
type Signer struct {
	mod        *Module
	ownsModule bool
	pin        PINSource
	token      TokenInfo
	keyID      KeyID
	keyLabel   string
	cert       *x509.Certificate
	chain      []*x509.Certificate
	pub        crypto.PublicKey
	rsaBytes   int // modulus length, RSA keys
	ecBytes    int // field length, EC keys

	sem       chan struct{}
	recoverMu sync.Mutex

	mu     sync.Mutex
	slot   uint
	key    p11.ObjectHandle
	idle   []p11.SessionHandle
	gen    uint64
	closed bool
	broken error // a failed re-login: the Signer no longer tries
}

// OpenSigner loads the module and opens a Signer on it. Closing the Signer
// closes the module.
func OpenSigner(ctx context.Context, opts Options) (*Signer, error) {
	m, err := Open(opts.Module)
	if err != nil {
		return nil, err
	}
	s, err := m.NewSigner(ctx, opts.SignerOptions)
	if err != nil {
		m.Close()
		return nil, err
	}
	s.ownsModule = true
	return s, nil
}

// NewSigner finds the token and key, logs in and returns a Signer.
func (m *Module) NewSigner(ctx context.Context, opts SignerOptions) (*Signer, error) {
	c, err := m.ctx()
	if err != nil {
		return nil, err
	}
	slot, err := m.FindToken(opts.Token)
	if err != nil {
		return nil, err
	}
	max := opts.MaxSessions
	if max <= 0 {
		max = min(2*runtime.GOMAXPROCS(0), 32)
	}
	s := &Signer{mod: m, pin: opts.PIN, token: *slot.Token, slot: slot.ID, sem: make(chan struct{}, max)}
	sh, err := c.OpenSession(slot.ID, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %s: %w", s.token, wrap("C_OpenSession", err))
	}
	ok := false
	defer func() {
		if !ok {
			c.CloseSession(sh)
		}
	}()
	if err := login(ctx, c, sh, slot.ID, opts.PIN); err != nil {
		return nil, err
	}
	objs, err := listObjects(c, sh, nil)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %s: %w", s.token, err)
	}
	key, cert, err := pickKey(objs, opts, s.token)
	if err != nil {
		return nil, err
	}
	if opts.Certificate != nil {
		cert = opts.Certificate
	}
	if cert == nil {
		return nil, fmt.Errorf("pkcs11: token %s, key %s (id %s): %w: pass the certificate", s.token, key.Label, key.ID, ErrCertificateNotFound)
	}
	if err := checkKeyMatches(c, sh, key, cert); err != nil {
		return nil, fmt.Errorf("pkcs11: token %s, key %q (id %s): %w", s.token, key.Label, key.ID, err)
	}
	s.key, s.keyID, s.keyLabel, s.cert, s.pub = key.handle, key.ID, key.Label, cert, cert.PublicKey
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		s.rsaBytes = (pub.N.BitLen() + 7) / 8
	case *ecdsa.PublicKey:
		s.ecBytes = (pub.Curve.Params().BitSize + 7) / 8
	}
	var pool []*x509.Certificate
	for _, o := range objs {
		if o.Certificate != nil && o.Certificate.IsCA {
			pool = append(pool, o.Certificate)
		}
	}
	s.chain = BuildChain(cert, append(pool, opts.Chain...), opts.Chain)
	s.idle = append(s.idle, sh)
	ok = true
	return s, nil
}

// pickKey applies the selection rules of SignerOptions.
func pickKey(objs []Object, opts SignerOptions, tok TokenInfo) (*Object, *x509.Certificate, error) {
	entries := Pair(objs)
	var cands []Entry
	for _, e := range entries {
		if e.PrivateKey == nil || !e.PrivateKey.CanSign {
			continue
		}
		if len(opts.KeyID) > 0 && !bytes.Equal(e.ID, opts.KeyID) {
			continue
		}
		if opts.KeyLabel != "" && e.PrivateKey.Label != opts.KeyLabel &&
			(e.Certificate == nil || e.Certificate.Label != opts.KeyLabel) {
			continue
		}
		if len(opts.KeyID) == 0 && opts.KeyLabel == "" &&
			(e.Certificate == nil || e.Certificate.Certificate == nil || e.Certificate.Certificate.IsCA) {
			continue
		}
		cands = append(cands, e)
	}
	describe := func(es []Entry) string {
		var parts []string
		for _, e := range es {
			if e.PrivateKey != nil {
				parts = append(parts, fmt.Sprintf("%q (id %s)", e.PrivateKey.Label, e.ID))
			}
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	}
	want := "a signing key with a certificate"
	if len(opts.KeyID) > 0 || opts.KeyLabel != "" {
		want = fmt.Sprintf("key label %q id %s", opts.KeyLabel, opts.KeyID)
	}
	if len(cands) > 1 && len(opts.KeyID) == 0 && opts.KeyLabel == "" {
		// A token with a signing and an authentication certificate (as eID
		// cards have): a document is signed with the signing key, never
		// with the authentication key, which is for logins only.
		signing := slices.DeleteFunc(slices.Clone(cands), func(e Entry) bool {
			return e.Certificate != nil && certuse.IsAuthentication(e.Certificate.Certificate)
		})
		if len(signing) > 0 {
			cands = signing
		}
	}
	switch len(cands) {
	case 0:
		var keys []Entry
		for _, e := range entries {
			if e.PrivateKey != nil {
				keys = append(keys, e)
			}
		}
		return nil, nil, fmt.Errorf("pkcs11: token %s: %w: no %s (private keys: %s)", tok, ErrKeyNotFound, want, describe(keys))
	case 1:
		var cert *x509.Certificate
		if cands[0].Certificate != nil {
			cert = cands[0].Certificate.Certificate
		}
		return cands[0].PrivateKey, cert, nil
	}
	return nil, nil, fmt.Errorf("pkcs11: token %s: %w: %d keys match (%s); pass --key-label or --key-id", tok, ErrAmbiguous, len(cands), describe(cands))
}

// checkKeyMatches makes sure the certificate belongs to the private key.
func checkKeyMatches(c *p11.Ctx, sh p11.SessionHandle, key *Object, cert *x509.Certificate) error {
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if key.KeyType != "RSA" {
			return fmt.Errorf("%w: the certificate has an RSA key, the token key is %s", ErrKeyNotFound, key.KeyType)
		}
		a, err := attrs(c, sh, key.handle, p11.CKA_MODULUS)
		if err != nil {
			return err
		}
		if n := a[p11.CKA_MODULUS]; n != nil && new(big.Int).SetBytes(n).Cmp(pub.N) != 0 {
			return fmt.Errorf("%w: the certificate's public key does not match the private key", ErrKeyNotFound)
		}
	case *ecdsa.PublicKey:
		if key.KeyType != "EC" || key.Curve != pub.Curve.Params().Name {
			return fmt.Errorf("%w: the certificate has a %s key, the token key is %s %s", ErrKeyNotFound, pub.Curve.Params().Name, key.KeyType, key.Curve)
		}
	default:
		return fmt.Errorf("%w: certificate key type %T", ErrUnsupported, cert.PublicKey)
	}
	return nil
}

// BuildChain returns the intermediate certificates from leaf towards its
// root, taken from pool (the token's CA certificates and the caller's),
// immediate issuer first, the self-signed root left out. Certificates of
// extra that do not link are appended at the end, as the caller asked for
// them.
func BuildChain(leaf *x509.Certificate, pool, extra []*x509.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	seen := map[string]bool{string(leaf.Raw): true}
	cur := leaf
	for len(chain) < 10 {
		var next *x509.Certificate
		for _, c := range pool {
			if c == nil || seen[string(c.Raw)] || !bytes.Equal(c.RawSubject, cur.RawIssuer) {
				continue
			}
			if cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil || bytes.Equal(next.RawSubject, next.RawIssuer) {
			break
		}
		seen[string(next.Raw)] = true
		chain = append(chain, next)
		cur = next
	}
	for _, c := range extra {
		if c != nil && !seen[string(c.Raw)] {
			seen[string(c.Raw)] = true
			chain = append(chain, c)
		}
	}
	return chain
}

// Public returns the certificate's public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Certificate is the signer's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Chain is the chain above the certificate, immediate issuer first (root
// excluded), as found on the token plus what the caller gave.
func (s *Signer) Chain() []*x509.Certificate { return append([]*x509.Certificate(nil), s.chain...) }

// Token describes the token the key is on.
func (s *Signer) Token() TokenInfo { return s.token }

// KeyID is the CKA_ID of the key.
func (s *Signer) KeyID() KeyID { return append(KeyID(nil), s.keyID...) }

// KeyLabel is the CKA_LABEL of the key.
func (s *Signer) KeyLabel() string { return s.keyLabel }

// Sign signs digest (crypto.Signer). opts selects the algorithm: an
// *rsa.PSSOptions for RSA-PSS, otherwise PKCS#1 v1.5 for RSA keys and ECDSA
// (ASN.1 DER signature) for EC keys.
// The token makes its own randomness: rand is not used.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(context.Background(), digest, opts)
}

type session struct {
	h   p11.SessionHandle
	gen uint64
}

// SignContext is Sign with a context that bounds the wait for a free
// session and any PIN prompt of a re-login (the pades.ContextSigner shape).
func (s *Signer) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		opts = crypto.Hash(0)
	}
	mech, input, err := s.mechanism(digest, opts)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		sess, key, err := s.acquire(ctx)
		var sig []byte
		if err == nil {
			sig, err = s.signOn(sess.h, key, mech, input)
			if err == nil || !recoverable(err) {
				s.release(sess)
			} else {
				s.discard(sess)
			}
			if err == nil {
				if s.ecBytes > 0 {
					return ecdsaDER(sig, s.ecBytes)
				}
				return sig, nil
			}
		}
		if !recoverable(err) || attempt > 0 {
			return nil, fmt.Errorf("pkcs11: token %s, key %q: %w", s.token, s.keyLabel, err)
		}
		if rerr := s.recover(ctx, sess.gen); rerr != nil {
			return nil, rerr
		}
	}
}

func (s *Signer) signOn(h p11.SessionHandle, key p11.ObjectHandle, mech []*p11.Mechanism, input []byte) ([]byte, error) {
	c, err := s.mod.ctx()
	if err != nil {
		return nil, err
	}
	if err := c.SignInit(h, mech, key); err != nil {
		return nil, wrap("C_SignInit", err)
	}
	sig, err := c.Sign(h, input)
	if err != nil {
		return nil, wrap("C_Sign", err)
	}
	return sig, nil
}

// acquire takes a session from the pool, opening one if none is idle.
func (s *Signer) acquire(ctx context.Context) (session, p11.ObjectHandle, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return session{}, 0, ctx.Err()
	}
	s.mu.Lock()
	if s.closed || s.broken != nil {
		err := s.broken
		if s.closed {
			err = fmt.Errorf("pkcs11: signer: %w", ErrClosed)
		}
		s.mu.Unlock()
		<-s.sem
		return session{}, 0, err
	}
	gen, key, slot := s.gen, s.key, s.slot
	if n := len(s.idle); n > 0 {
		h := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return session{h, gen}, key, nil
	}
	s.mu.Unlock()
	c, err := s.mod.ctx()
	if err != nil {
		<-s.sem
		return session{gen: gen}, 0, err
	}
	h, err := c.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		<-s.sem
		return session{gen: gen}, 0, wrap("C_OpenSession", err)
	}
	return session{h, gen}, key, nil
}

// release returns a healthy session to the pool.
func (s *Signer) release(sess session) {
	s.mu.Lock()
	if !s.closed && sess.gen == s.gen && len(s.idle) < cap(s.sem) {
		s.idle = append(s.idle, sess.h)
		s.mu.Unlock()
	} else {
		s.mu.Unlock()
		if c, err := s.mod.ctx(); err == nil {
			c.CloseSession(sess.h)
		}
	}
	<-s.sem
}

// discard drops a session that failed.
func (s *Signer) discard(sess session) {
	if c, err := s.mod.ctx(); err == nil {
		c.CloseSession(sess.h)
	}
	<-s.sem
}

// recover re-opens the token after a closed session or a removal: the pool
// is emptied, the token found again (by label and serial: its slot may have
// changed), the user logged in again if needed and the key found again by
// CKA_ID. Concurrent callers that saw the same failure recover once.
func (s *Signer) recover(ctx context.Context, failedGen uint64) error {
	s.recoverMu.Lock()
	defer s.recoverMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("pkcs11: signer: %w", ErrClosed)
	}
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		return err
	}
	if s.gen != failedGen {
		s.mu.Unlock()
		return nil // someone else recovered meanwhile
	}
	curSlot, curKey := s.slot, s.key
	s.mu.Unlock()
	c, err := s.mod.ctx()
	if err != nil {
		return err
	}
	// The failure may come from a session opened while another goroutine
	// was logging in again: if a fresh session is logged in and still sees
	// the key, nothing needs recovering.
	if h, err := c.OpenSession(curSlot, p11.CKF_SERIAL_SESSION); err == nil {
		si, err := c.GetSessionInfo(h)
		if err == nil && (si.State == p11.CKS_RO_USER_FUNCTIONS || si.State == p11.CKS_RW_USER_FUNCTIONS) {
			if a, err := attrs(c, h, curKey, p11.CKA_ID); err == nil && bytes.Equal(a[p11.CKA_ID], s.keyID) {
				s.mu.Lock()
				s.idle = append(s.idle, h)
				s.mu.Unlock()
				return nil
			}
		}
		c.CloseSession(h)
	}
	s.mu.Lock()
	s.gen++
	old := s.idle
	s.idle = nil
	s.mu.Unlock()
	// The old sessions are closed only after the new one is open: closing
	// an application's last session on a token logs it out.
	defer func() {
		for _, h := range old {
			c.CloseSession(h)
		}
	}()
	slot, err := s.mod.FindToken(TokenSelector{Label: s.token.Label, Serial: s.token.Serial})
	if err != nil {
		if errors.Is(err, ErrTokenNotFound) {
			return fmt.Errorf("pkcs11: token %s: %w: re-insert it (%w)", s.token, ErrTokenNotPresent, err)
		}
		return err
	}
	h, err := c.OpenSession(slot.ID, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return fmt.Errorf("pkcs11: token %s: %w", s.token, wrap("C_OpenSession", err))
	}
	if err := login(ctx, c, h, slot.ID, s.pin); err != nil {
		c.CloseSession(h)
		if errors.Is(err, ErrPINIncorrect) || errors.Is(err, ErrPINLocked) || errors.Is(err, ErrPINLength) {
			s.mu.Lock()
			s.broken = fmt.Errorf("pkcs11: signer stopped after a failed re-login: %w", err)
			s.mu.Unlock()
		}
		return err
	}
	hs, err := findObjects(c, h, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_ID, []byte(s.keyID)),
	})
	if err == nil && len(hs) != 1 {
		err = fmt.Errorf("%w: %d private keys with id %s after re-opening the token", ErrKeyNotFound, len(hs), s.keyID)
	}
	if err != nil {
		c.CloseSession(h)
		return fmt.Errorf("pkcs11: token %s: %w", s.token, err)
	}
	s.mu.Lock()
	s.slot, s.key = slot.ID, hs[0]
	s.idle = append(s.idle, h)
	s.mu.Unlock()
	return nil
}

// Close closes the sessions (the token logs out when its last session
// closes) and, for a Signer from OpenSigner, the module.
func (s *Signer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	if c, err := s.mod.ctx(); err == nil {
		for _, h := range idle {
			c.CloseSession(h)
		}
	}
	if s.ownsModule {
		return s.mod.Close()
	}
	return nil
}

// DigestInfo prefixes for PKCS#1 v1.5 (RFC 8017 §9.2 note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// PSS hash and MGF1 mechanisms.
var pssMech = map[crypto.Hash][2]uint{
	crypto.SHA1:   {p11.CKM_SHA_1, p11.CKG_MGF1_SHA1},
	crypto.SHA224: {p11.CKM_SHA224, p11.CKG_MGF1_SHA224},
	crypto.SHA256: {p11.CKM_SHA256, p11.CKG_MGF1_SHA256},
	crypto.SHA384: {p11.CKM_SHA384, p11.CKG_MGF1_SHA384},
	crypto.SHA512: {p11.CKM_SHA512, p11.CKG_MGF1_SHA512},
}

// mechanism picks the PKCS#11 mechanism and the bytes to sign.
func (s *Signer) mechanism(digest []byte, opts crypto.SignerOpts) ([]*p11.Mechanism, []byte, error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return nil, nil, fmt.Errorf("pkcs11: %w: digest of %d bytes for %v (want %d)", ErrUnsupported, len(digest), h, h.Size())
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		if s.rsaBytes == 0 {
			return nil, nil, fmt.Errorf("pkcs11: %w: RSA-PSS with a non-RSA key", ErrUnsupported)
		}
		m, ok := pssMech[h]
		if !ok {
			return nil, nil, fmt.Errorf("pkcs11: %w: RSA-PSS with hash %v", ErrUnsupported, h)
		}
		bits := s.pub.(*rsa.PublicKey).N.BitLen()
		maxSalt := (bits-1+7)/8 - h.Size() - 2
		salt := pss.SaltLength
		switch salt {
		case rsa.PSSSaltLengthAuto:
			salt = maxSalt
		case rsa.PSSSaltLengthEqualsHash:
			salt = h.Size()
		}
		if salt < 0 || salt > maxSalt {
			return nil, nil, fmt.Errorf("pkcs11: %w: PSS salt length %d (at most %d for this key)", ErrUnsupported, pss.SaltLength, maxSalt)
		}
		return []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_PSS, p11.NewPSSParams(m[0], m[1], uint(salt)))}, digest, nil
	}
	switch {
	case s.rsaBytes > 0:
		var in []byte
		if h == 0 {
			in = digest
		} else {
			prefix, ok := digestInfoPrefix[h]
			if !ok {
				return nil, nil, fmt.Errorf("pkcs11: %w: RSA PKCS#1 v1.5 with hash %v", ErrUnsupported, h)
			}
			in = append(append(make([]byte, 0, len(prefix)+len(digest)), prefix...), digest...)
		}
		if len(in) > s.rsaBytes-11 {
			return nil, nil, fmt.Errorf("pkcs11: %w: %d bytes to sign is too long for this RSA key", ErrUnsupported, len(in))
		}
		return []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS, nil)}, in, nil
	case s.ecBytes > 0:
		if len(digest) == 0 {
			return nil, nil, fmt.Errorf("pkcs11: %w: empty digest", ErrUnsupported)
		}
		in := digest
		if len(in) > s.ecBytes && s.ecBytes*8 == s.pub.(*ecdsa.PublicKey).Curve.Params().BitSize {
			in = in[:s.ecBytes] // as ECDSA truncates a longer hash (FIPS 186-5 §6.4.1)
		}
		return []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, in, nil
	}
	return nil, nil, fmt.Errorf("pkcs11: %w: key type %T", ErrUnsupported, s.pub)
}
