package mobileid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// Face is the protocol of the service (default FaceMID).
	Face Face
	// Mobile-ID credentials (default: SK's demo relying party).
	RelyingPartyName, RelyingPartyUUID string
	// ETSI credentials (default DefaultAPID / DefaultAPPassword).
	APID, APPassword string
	// Format is the ETSI MSS_Format: FormatPKCS1 (default: the signature
	// over the digest, what a PAdES signer embeds) or FormatPKCS7.
	Format string

	// Roots are the trust anchors the user's certificate must chain to;
	// Intermediates help build the chain. Roots is required unless
	// SkipCertificateVerify is set (debugging only).
	Roots, Intermediates  *x509.CertPool
	SkipCertificateVerify bool
	// FetchIssuer, when set, finds a missing intermediate (a chain that
	// does not reach Roots with Intermediates and what the service sent):
	// typically from the certificate's AIA caIssuers URL
	// (ocsp.FetchIssuer). What it returns must still chain to Roots; a
	// self-signed certificate from it is never trusted.
	FetchIssuer func(*x509.Certificate) (*x509.Certificate, error)
	// Now gives the time certificates are checked at (default time.Now).
	Now func() time.Time

	// TLS to the service: TLSRoots (nil: system roots), a client
	// certificate for mutual TLS, and pins: SHA-256 hashes of the
	// SubjectPublicKeyInfo of which the service's leaf certificate must
	// match one. Ignored when HTTPClient is set.
	TLSRoots          *x509.CertPool
	ClientCertificate *tls.Certificate
	PinnedSPKISHA256  [][32]byte
	HTTPClient        *http.Client

	// LongPoll is the Mobile-ID timeoutMs of each status request (default
	// 30 s; the service clamps it). PollInterval > 0 switches to interval
	// polling: short status requests every PollInterval (ETSI always polls;
	// its default interval is 2 s).
	LongPoll, PollInterval time.Duration
	// Language of the phone prompt on Mobile-ID (default ENG).
	Language string
}

// Client talks to an MSSP through one of its faces. Safe for concurrent use.
type Client struct {
	base   string
	opts   ClientOptions
	http   *http.Client
	chains chainCache // verified chains of the certificates seen
}

// Face is the face of the MSSP the client talks to (FaceMID: requests
// need the person's IDNP beside the phone number).
func (c *Client) Face() Face { return c.opts.Face }

// SignRequest asks a phone to sign a digest.
type SignRequest struct {
	MSISDN string // "+373..."
	IDNP   string // national identity number (required on the Mobile-ID face)
	Digest []byte // the hash to sign (e.g. of the CMS signed attributes)
	Hash   crypto.Hash
	// DisplayText is shown on the phone; it is fitted to the phone's limits
	// (FitDisplayText) before sending.
	DisplayText string
}

// SignResult is a verified answer.
type SignResult struct {
	Face        Face
	Transaction string // session id / MSSP_TransID
	Hash        crypto.Hash
	Digest      []byte
	// Signature over Digest: PKCS#1 v1.5 for RSA, ASN.1 DER for ECDSA (raw
	// r||s answers are converted). Empty with the ETSI PKCS7 format, whose
	// CMS signs the MSSP's own signed attributes: see CMS.
	Signature []byte
	// CMS is the SignedData of the ETSI PKCS7 format.
	CMS         []byte
	Certificate *x509.Certificate
	// Chain holds the intermediates, issuer first, root excluded.
	Chain []*x509.Certificate
}

// NewClient returns a client for the face at baseURL: the Mobile-ID base
// (".../mid-api") or the ETSI service URL (".../rest/service").
func NewClient(baseURL string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mobileid: service URL %q: want http(s)://host/...", baseURL)
	}
	if opts.Face == "" {
		opts.Face = FaceMID
	}
	if opts.Face != FaceMID && opts.Face != FaceETSI {
		return nil, fmt.Errorf("mobileid: unknown face %q (want mid or etsi)", opts.Face)
	}
	if opts.Roots == nil && !opts.SkipCertificateVerify {
		return nil, errors.New("mobileid: ClientOptions.Roots (trust anchors) required")
	}
	if opts.RelyingPartyName == "" {
		opts.RelyingPartyName, opts.RelyingPartyUUID = DefaultRelyingPartyName, DefaultRelyingPartyUUID
	}
	if opts.APID == "" {
		opts.APID, opts.APPassword = DefaultAPID, DefaultAPPassword
	}
	switch opts.Format {
	case "":
		opts.Format = FormatPKCS1
	case FormatPKCS1, FormatKiuruP1, FormatPKCS7, FormatCMS:
	default:
		return nil, fmt.Errorf("mobileid: unknown MSS_Format %q", opts.Format)
	}
	if opts.LongPoll <= 0 {
		opts.LongPoll = 30 * time.Second
	}
	if opts.Language == "" {
		opts.Language = "ENG"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), opts: opts, http: opts.HTTPClient}
	if c.http == nil {
		tc := &tls.Config{RootCAs: opts.TLSRoots, MinVersion: tls.VersionTLS12}
		if opts.ClientCertificate != nil {
			tc.Certificates = []tls.Certificate{*opts.ClientCertificate}
		}
		if pins := opts.PinnedSPKISHA256; len(pins) > 0 {
			tc.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("mobileid: no server certificate")
				}
				got := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
				for _, p := range pins {
					if subtle.ConstantTimeCompare(got[:], p[:]) == 1 {
						return nil
					}
				}
				return errors.New("mobileid: the service's TLS key is not the pinned one (possible man in the middle)")
			}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		c.http = &http.Client{Transport: tr}
	}
	return c, nil
}

// Pending is a request the phone has received; show VerificationCode to the
// user, then Wait.
type Pending struct {
	c      *Client
	id     string
	vc     string
	auth   bool
	msisdn string
	hash   crypto.Hash
	digest []byte
	cert   *x509.Certificate // Mobile-ID signing: fetched before asking
	chain  []*x509.Certificate
	apTID  string
	polled bool
}

// VerificationCode is the 4-digit code the phone shows.
func (p *Pending) VerificationCode() string { return p.vc }

// ID is the session id (Mobile-ID) or MSSP_TransID (ETSI).
func (p *Pending) ID() string { return p.id }

// Sign asks the phone to sign req.Digest and waits for the answer.
func (c *Client) Sign(ctx context.Context, req SignRequest) (*SignResult, error) {
	p, err := c.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Start sends the signature request and returns at once; the verification
// code is known before the phone rings.
func (c *Client) Start(ctx context.Context, req SignRequest) (*Pending, error) {
	return c.start(ctx, req, false)
}

// AuthRequest asks a phone to authenticate its user.
type AuthRequest struct {
	MSISDN, IDNP, DisplayText string
}

// StartAuthentication sends an authentication request over a fresh random
// SHA-256 hash. Wait returns the authentication certificate and the
// signature over that hash; IdentityOf reads the person from the certificate.
func (c *Client) StartAuthentication(ctx context.Context, req AuthRequest) (*Pending, error) {
	h := make([]byte, 32)
	if _, err := rand.Read(h); err != nil {
		return nil, err
	}
	return c.start(ctx, SignRequest{MSISDN: req.MSISDN, IDNP: req.IDNP, DisplayText: req.DisplayText, Digest: h, Hash: crypto.SHA256}, true)
}

func (c *Client) start(ctx context.Context, req SignRequest, auth bool) (*Pending, error) {
	if normalizeMSISDN(req.MSISDN) == "" || !strings.HasPrefix(strings.TrimSpace(req.MSISDN), "+") {
		return nil, fmt.Errorf("mobileid: phone number %q: want the international form, e.g. +37369123456", req.MSISDN)
	}
	switch req.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, fmt.Errorf("mobileid: hash %v not supported (SHA-256, SHA-384 or SHA-512)", req.Hash)
	}
	if len(req.Digest) != req.Hash.Size() {
		return nil, fmt.Errorf("mobileid: digest is %d bytes, %v needs %d", len(req.Digest), req.Hash, req.Hash.Size())
	}
	p := &Pending{c: c, vc: VerificationCode(req.Digest), auth: auth, msisdn: normalizeMSISDN(req.MSISDN),
		hash: req.Hash, digest: append([]byte(nil), req.Digest...)}
	if c.opts.Face == FaceMID {
		return p, c.midStart(ctx, p, req)
	}
	return p, c.etsiStart(ctx, p, req)
}

// Wait waits for the phone's answer and verifies it.
func (p *Pending) Wait(ctx context.Context) (*SignResult, error) {
	if p.c.opts.Face == FaceMID {
		return p.c.midWait(ctx, p)
	}
	return p.c.etsiWait(ctx, p)
}

// GetCertificate returns the signing certificate of a phone number and its
// chain, checked against the trust anchors: what a signer needs to build
// signed attributes before asking the phone to sign.
func (c *Client) GetCertificate(ctx context.Context, msisdn, idnp string) (*x509.Certificate, []*x509.Certificate, error) {
	if c.opts.Face == FaceMID {
		return c.midCertificate(ctx, msisdn, idnp)
	}
	return c.etsiCertificate(ctx, msisdn)
}

// post sends JSON and decodes the JSON answer into out; it returns the HTTP
// status and raw body.
func (c *Client) do(ctx context.Context, method, u string, in, out any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("mobileid: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("mobileid: reading the answer: %w", err)
	}
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, &Error{Face: c.opts.Face, Code: "HTTP 200", Detail: "answer is not the expected JSON", Err: ErrProtocol}
		}
	}
	return resp.StatusCode, raw, nil
}

// checkCertificate verifies cert against the trust anchors and returns the
// chain (intermediates, issuer first). sign asks for non-repudiation.
func (c *Client) checkCertificate(cert *x509.Certificate, extra []*x509.Certificate, sign bool) ([]*x509.Certificate, error) {
	ku := x509.KeyUsageDigitalSignature
	if sign {
		ku = x509.KeyUsageContentCommitment
	}
	if cert.KeyUsage&ku == 0 {
		what := "authentication"
		if sign {
			what = "signing (non-repudiation)"
		}
		return nil, &Error{Face: c.opts.Face, Code: "certificate", Detail: "not a " + what + " certificate", Err: ErrNoCertificate}
	}
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, &Error{Face: c.opts.Face, Code: "certificate", Detail: "unsupported key type", Err: ErrNoCertificate}
	}
	if c.opts.SkipCertificateVerify {
		return extra, nil
	}
	if chain, ok := c.chains.get(cert, c.opts.Now()); ok {
		return chain, nil
	}
	inter := x509.NewCertPool()
	if c.opts.Intermediates != nil {
		inter = c.opts.Intermediates.Clone()
	}
	for _, x := range extra {
		inter.AddCert(x)
	}
	verify := func() ([][]*x509.Certificate, error) {
		return cert.Verify(x509.VerifyOptions{Roots: c.opts.Roots, Intermediates: inter, CurrentTime: c.opts.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	}
	chains, err := verify()
	// Intermediates neither given nor sent: from the issuer's URL, up to
	// a few levels.
	for cur, i := cert, 0; err != nil && c.opts.FetchIssuer != nil && i < 4; i++ {
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			break
		}
		issuer, ferr := c.opts.FetchIssuer(cur)
		if ferr != nil || issuer == nil || string(issuer.RawSubject) == string(issuer.RawIssuer) {
			break
		}
		inter.AddCert(issuer)
		chains, err = verify()
		cur = issuer
	}
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, &Error{Face: c.opts.Face, Code: "certificate", Detail: err.Error(), Err: ErrCertificateExpired}
		}
		return nil, &Error{Face: c.opts.Face, Code: "certificate", Detail: err.Error(), Err: ErrUntrusted}
	}
	ch := chains[0]
	c.chains.put(ch)
	return ch[1 : len(ch)-1], nil
}

// verifyDigestSignature checks sig (PKCS#1 v1.5, or ECDSA in DER or raw
// r||s) over digest with cert's key, and returns it in DER form for ECDSA.
func verifyDigestSignature(cert *x509.Certificate, h crypto.Hash, digest, sig []byte) ([]byte, error) {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, h, digest, sig); err != nil {
			return nil, ErrInvalidSignature
		}
		return sig, nil
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		der := sig
		if len(sig) == 2*n && (sig[0] != 0x30 || !ecdsa.VerifyASN1(k, digest, sig)) {
			var err error
			if der, err = ecdsaDER(sig); err != nil {
				return nil, ErrInvalidSignature
			}
		}
		if !ecdsa.VerifyASN1(k, digest, der) {
			return nil, ErrInvalidSignature
		}
		return der, nil
	}
	return nil, ErrInvalidSignature
}

// Identity is the person a mobile certificate names.
type Identity struct {
	GivenName, Surname, IDNP, Country string
	Organization                      string // professional signatures
}

// IdentityOf reads the person from a certificate subject (serialNumber
// without a "PNOxx-" prefix).
func IdentityOf(cert *x509.Certificate) Identity {
	id := Identity{IDNP: cert.Subject.SerialNumber}
	if i := strings.Index(id.IDNP, "-"); strings.HasPrefix(id.IDNP, "PNO") && i > 0 {
		id.IDNP = id.IDNP[i+1:]
	}
	if len(cert.Subject.Country) > 0 {
		id.Country = cert.Subject.Country[0]
	}
	if len(cert.Subject.Organization) > 0 {
		id.Organization = cert.Subject.Organization[0]
	}
	for _, a := range cert.Subject.Names {
		v, _ := a.Value.(string)
		switch {
		case a.Type.Equal([]int{2, 5, 4, 42}):
			id.GivenName = v
		case a.Type.Equal([]int{2, 5, 4, 4}):
			id.Surname = v
		}
	}
	return id
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
