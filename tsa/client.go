package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"

	"github.com/digitorus/timestamp"
)

// Client requests time-stamp tokens from a TSA and checks them.
type Client struct {
	// URL of the TSA (required).
	URL string
	// HTTPClient sends the requests (default http.DefaultClient); set a
	// timeout on it or on the context.
	HTTPClient *http.Client
	// Hash used by TimestampData (default SHA-256).
	Hash crypto.Hash
	// Policy, if set, is requested.
	Policy asn1.ObjectIdentifier
	// NoCertReq asks the TSA not to include its certificate (smaller tokens;
	// the verifier must then have the TSA certificate).
	NoCertReq bool
	// Username and Password, if set, are sent with HTTP basic authentication
	// (commercial TSAs). They are never logged.
	Username, Password string
	// Roots, if set, makes the client verify the TSA's chain (Verify);
	// otherwise the token is checked (signature, ESS binding, timeStamping
	// EKU, imprint, nonce) but the TSA certificate is not validated.
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	// MaxResponseBytes bounds a response (default 1 MiB).
	MaxResponseBytes int64
}

// Token is a time-stamp token and what it says.
type Token struct {
	// DER is the TimeStampToken (a CMS ContentInfo), ready to embed as the
	// signature-time-stamp unsigned attribute or a PDF document time-stamp.
	DER []byte
	// Response is the whole DER TimeStampResp the TSA sent (status and
	// token), what `openssl ts -reply` writes as a .tsr file.
	Response []byte
	Info     *Info
}

// TimestampData hashes data with c.Hash and time-stamps the digest.
func (c *Client) TimestampData(ctx context.Context, data io.Reader) (*Token, error) {
	h := c.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	if !h.Available() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
	}
	hh := h.New()
	if _, err := io.Copy(hh, data); err != nil {
		return nil, fmt.Errorf("tsa: reading the data to time-stamp: %w", err)
	}
	return c.Timestamp(ctx, h, hh.Sum(nil))
}

// Timestamp asks the TSA to time-stamp digest (computed with h) and checks
// the token it returns.
func (c *Client) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) (*Token, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("%w: no TSA URL", ErrTransport)
	}
	if _, ok := hashOID(h); !ok || len(digest) != h.Size() {
		return nil, fmt.Errorf("%w: %v digest of %d bytes", ErrUnsupportedHash, h, len(digest))
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	req := timestamp.Request{HashAlgorithm: h, HashedMessage: digest, Certificates: !c.NoCertReq, Nonce: nonce, TSAPolicyOID: c.Policy}
	der, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding request: %w", err)
	}
	raw, err := c.exchange(ctx, der)
	if err != nil {
		return nil, err
	}
	tok, err := ParseResponse(raw)
	if err != nil {
		return nil, err
	}
	opts := VerifyOptions{Roots: c.Roots, Intermediates: c.Intermediates, Nonce: nonce}
	info, err := verify(tok, h, digest, opts, true)
	if err != nil {
		return nil, err
	}
	if c.Policy != nil && !info.Policy.Equal(c.Policy) {
		return nil, fmt.Errorf("%w: token policy %v, asked %v", ErrMalformed, info.Policy, c.Policy)
	}
	return &Token{DER: tok, Response: raw, Info: info}, nil
}

func (c *Client) exchange(ctx context.Context, der []byte) ([]byte, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(der))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	hreq.Header.Set("Content-Type", timeStampReqContentType)
	hreq.Header.Set("Accept", timeStampRespContentType)
	if c.Username != "" || c.Password != "" {
		hreq.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered HTTP %s", ErrTransport, c.URL, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, timeStampRespContentType) {
		return nil, fmt.Errorf("%w: %s answered %s, not %s", ErrTransport, c.URL, ct, timeStampRespContentType)
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = defaultMaxResponseBytes
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading response: %w", ErrTransport, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrTransport, limit)
	}
	return raw, nil
}
