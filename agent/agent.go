// Package agent is the local token agent behind `semnat agent`: a small HTTP
// server on the citizen's own machine through which a web page of `semnat
// serve` gets a digest signed with the citizen's USB token (PKCS#11).
//
// The protocol is in package agent/wire. The page does prepare (server) →
// sign digest (agent, POST /v1/sign) → complete (server). For every sign
// request the agent asks the person, through the Consent hook, whether to
// sign (showing the web origin, the document name, the digest and the
// certificate) and for the token PIN; it then logs in, signs the digest and
// the binding digest wire.BindingDigest(hash, origin, nonce, digest) with
// the same key and scheme, and closes its sessions again (the token logs
// out). The server accepts the signature only with a binding that verifies
// for its own origin and nonce, so a page on another origin, or a replay of
// an earlier answer, gets nothing it can use.
//
// Security model:
//
//   - The agent listens on loopback only (Serve refuses anything else) and
//     answers only requests whose Host is 127.0.0.1, localhost or [::1] on
//     its own port: a DNS-rebinding page (Host: evil.example) gets 421.
//   - Every request must carry an Origin on the allow-list (exact match of
//     scheme, host and port); anything else gets 403 and nothing is shown
//     or signed. CORS headers name that exact origin only, and a Private
//     Network Access preflight is answered for it.
//   - POST bodies must be application/json (so browsers always preflight),
//     at most 16 KiB, with no unknown fields; the digest must have the size
//     of the hash.
//   - Requests are served one consent at a time; the PIN is asked for each
//     signature (no login is kept between requests), passed to the token
//     once, never retried, never logged, and zeroed after use.
//
// In-process use (a browser test, another program):
//
//	a, err := agent.New(agent.Options{Module: mod, Origins: []string{"http://127.0.0.1:8480"}, Consent: ask})
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")
//	go a.Serve(ctx, ln)            // or httptest.NewServer(a.Handler())
package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/pkcs11"
)

// MaxBody bounds the body of a request.
const MaxBody = 16 << 10

// Limits of the SignRequest text fields.
const (
	MaxDocumentLen = 256 // characters
	MaxNonceLen    = 512 // bytes
)

// ErrRefused is what a Consent hook returns (wrapped or not) when the
// person declines to sign. The page gets wire.ProblemRefused.
var ErrRefused = errors.New("agent: the signature was refused")

// Prompt is what the person is shown before a signature.
// BatchItem is one document of a batch prompt.
type BatchItem struct {
	Document     string
	Hash, Digest string // as in Prompt
}

type Prompt struct {
	// Origin is the web origin asking (the browser's Origin header; it is
	// on the allow-list).
	Origin string
	// Document is what the page says is being signed (e.g. a file name);
	// it has no control or formatting characters.
	Document string
	// Hash names the digest algorithm ("SHA-256", ...); Digest is the
	// digest to sign, in lower-case hex.
	Hash, Digest string
	// CertificateID is the CKA_ID (hex) of the key; Certificate its
	// certificate; Subject the certificate's subject, for display.
	CertificateID string
	Certificate   *x509.Certificate
	Subject       string
	// Batch, for POST /v1/sign-batch, lists every document and digest the
	// one consent and PIN are for (Document then names how many; Hash and
	// Digest are the first's).
	Batch []BatchItem
	// Token is the token holding the key (label, serial, PIN state flags).
	Token pkcs11.TokenInfo
	// Login: the page asks to log the person in to Origin with this
	// certificate (POST /v1/authenticate), not to sign a document. The
	// agent signs only its own login challenge for Origin and the server's
	// nonce; Document, Hash and Digest are empty, and the person should be
	// asked "log in to <Origin> as <Subject>?".
	Login bool
}

// ConsentFunc asks the person whether to sign what p describes. It returns
// the token PIN on consent (the agent zeroes the slice after use), an error
// wrapping ErrRefused when the person says no, and any other error when it
// could not ask. ctx ends when the page goes away; an answer after that is
// not used.
type ConsentFunc func(ctx context.Context, p Prompt) (pin []byte, err error)

// Options configure an Agent.
type Options struct {
	// Module is the open PKCS#11 module (required). The Agent does not
	// close it.
	Module *pkcs11.Module
	// Token selects the token; the zero value picks the only one present.
	Token pkcs11.TokenSelector
	// Origins is the allow-list of web origins, such as
	// "https://msign.gov.md" or "http://127.0.0.1:8480" (required). An
	// origin is scheme://host[:port], without path; a default port (80,
	// 443) is dropped, as browsers do.
	Origins []string
	// Port is the port the agent is reached on, for the Host check; 0
	// means the local port of each request's connection.
	Port int
	// Consent asks the person and returns the PIN (required).
	Consent ConsentFunc
	// Version is reported by /v1/info (default "dev").
	Version string
	// Log receives one line per signature request and its outcome (never a
	// PIN); nil discards.
	Log *slog.Logger
}

// Agent is the local token agent. Its Handler is safe for concurrent use;
// sign requests are served one at a time.
type Agent struct {
	mod     *pkcs11.Module
	sel     pkcs11.TokenSelector
	origins map[string]bool
	port    int
	consent ConsentFunc
	version string
	log     *slog.Logger

	turn    chan struct{} // one sign request (consent + signature) at a time
	onBusy  func()        // tests: called when a sign request must wait its turn
	tokenMu sync.RWMutex  // sessions for listing (R) vs the signing login (W)
}

// New checks the options and returns an Agent.
func New(opts Options) (*Agent, error) {
	if opts.Module == nil {
		return nil, errors.New("agent: no PKCS#11 module")
	}
	if opts.Consent == nil {
		return nil, errors.New("agent: no consent hook: the agent must ask before signing")
	}
	if len(opts.Origins) == 0 {
		return nil, errors.New("agent: no allowed origin: name the web origin of the signing page (e.g. https://msign.example)")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("agent: port %d out of range", opts.Port)
	}
	a := &Agent{mod: opts.Module, sel: opts.Token, origins: map[string]bool{}, port: opts.Port,
		consent: opts.Consent, version: opts.Version, log: opts.Log, turn: make(chan struct{}, 1)}
	for _, o := range opts.Origins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			return nil, err
		}
		a.origins[c] = true
	}
	if a.version == "" {
		a.version = "dev"
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return a, nil
}

// CanonicalOrigin checks an allow-list entry and returns it the way a
// browser serialises an Origin header: lower-case scheme and host, no
// default port, no path.
func CanonicalOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("agent: origin %q: %s (want scheme://host[:port], e.g. https://msign.example or http://127.0.0.1:8480)", s, why)
	}
	if err != nil {
		return bad(err.Error())
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return bad("scheme must be http or https")
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" {
		return bad("no host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "*") {
		return bad("an origin has no path, query, fragment or wildcard")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return bad("no host")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("bad port")
		}
		port = strconv.Itoa(n)
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

// IsLoopback tells whether addr (host:port) is a loopback address the agent
// may listen on: an IP in 127.0.0.0/8, ::1, or "localhost".
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve serves the agent on ln until ctx ends, then shuts down gracefully.
// It refuses a listener that is not on a loopback address.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	if !IsLoopback(ln.Addr().String()) {
		return fmt.Errorf("agent: refusing to serve on %s: the agent listens on loopback (127.0.0.1) only", ln.Addr())
	}
	return httpserve.ServeListener(ctx, ln, "http://"+ln.Addr().String(), a.Handler(), httpserve.Options{})
}

// Handler is the agent's HTTP handler: GET /v1/info, GET /v1/certificates,
// POST /v1/sign and their OPTIONS preflights.
func (a *Agent) Handler() http.Handler { return http.HandlerFunc(a.serveHTTP) }

// problem is an answer other than success.
type problem struct {
	status      int
	typ, title  string
	detail      string
	internalErr error // logged, not sent
}

func (p *problem) Error() string { return p.title + ": " + p.detail }

func newProblem(status int, typ, title, detail string) *problem {
	return &problem{status: status, typ: typ, title: title, detail: detail}
}

func writeProblem(w http.ResponseWriter, p *problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.status)
	_ = json.NewEncoder(w).Encode(wire.Problem{Type: p.typ, Title: p.title, Status: p.status, Detail: p.detail})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(v)
}

// hostAllowed is the DNS-rebinding defence: the Host header must name the
// loopback interface on the agent's port.
func (a *Agent) hostAllowed(r *http.Request) bool {
	port := a.port
	if port == 0 {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if _, p, err := net.SplitHostPort(la.String()); err == nil {
				port, _ = strconv.Atoi(p)
			}
		}
	}
	if port == 0 {
		return false
	}
	host, p, err := net.SplitHostPort(r.Host)
	if err != nil || p != strconv.Itoa(port) {
		return false
	}
	switch strings.ToLower(host) {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

func (a *Agent) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if !a.hostAllowed(r) {
		writeProblem(w, newProblem(http.StatusMisdirectedRequest, wire.ProblemBadHost, "Wrong Host",
			"the agent answers only requests for 127.0.0.1, localhost or [::1] on its own port"))
		return
	}
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if len(r.Header.Values("Origin")) != 1 || !a.origins[origin] {
		detail := "the request has no Origin header; the agent answers web pages of allowed sites only"
		if origin != "" {
			detail = fmt.Sprintf("the site %s is not on the agent's allow-list (start the agent with --origin %s to allow it)", sanitize(origin, 200), sanitize(origin, 200))
		}
		if (r.URL.Path == "/v1/sign" || r.URL.Path == "/v1/sign-batch" || r.URL.Path == "/v1/authenticate") && r.Method == http.MethodPost {
			a.log.Warn("sign request from a site not allowed refused", "origin", sanitize(origin, 200))
		}
		writeProblem(w, newProblem(http.StatusForbidden, wire.ProblemOriginNotAllowed, "Origin not allowed", detail))
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	var methods string
	switch r.URL.Path {
	case "/v1/info", "/v1/certificates":
		methods = "GET"
	case "/v1/sign", "/v1/sign-batch", "/v1/authenticate":
		methods = "POST"
	default:
		writeProblem(w, newProblem(http.StatusNotFound, wire.ProblemNotFound, "Not found", "the agent serves /v1/info, /v1/certificates, /v1/sign, /v1/sign-batch and /v1/authenticate"))
		return
	}
	if r.Method == http.MethodOptions {
		a.preflight(w, r, methods)
		return
	}
	if r.Method != methods {
		h.Set("Allow", methods+", OPTIONS")
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, wire.ProblemMethod, "Method not allowed", r.URL.Path+" takes "+methods))
		return
	}
	switch r.URL.Path {
	case "/v1/info":
		writeJSON(w, a.info())
	case "/v1/certificates":
		a.token(func() {
			certs, err := a.certificates(r.Context())
			if err != nil {
				a.fail(w, tokenProblem(err))
				return
			}
			out := make([]wire.Certificate, 0, len(certs))
			for _, c := range certs {
				out = append(out, c.wire)
			}
			writeJSON(w, out)
		})
	case "/v1/sign":
		resps, p := a.handleSign(w, r, origin, false)
		if p != nil {
			a.fail(w, p)
			return
		}
		writeJSON(w, resps[0])
	case "/v1/sign-batch":
		resps, p := a.handleSign(w, r, origin, true)
		if p != nil {
			a.fail(w, p)
			return
		}
		writeJSON(w, wire.SignBatchResponse{Signatures: resps})
	case "/v1/authenticate":
		p, prob := parseAuth(w, r, origin)
		if prob == nil {
			var resps []wire.SignResponse
			if resps, prob = a.inTurn(r.Context(), w, origin, p); prob == nil {
				writeJSON(w, wire.AuthResponse{Signature: resps[0].Signature, Origin: origin, Hash: wire.HashName(p.hash),
					Scheme: p.req.Scheme})
				return
			}
		}
		a.fail(w, prob)
	}
}

// preflight answers a CORS preflight of an allowed origin, with the
// Private Network Access opt-in when the browser asks for it.
func (a *Agent) preflight(w http.ResponseWriter, r *http.Request, methods string) {
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Add("Vary", "Access-Control-Request-Private-Network")
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Agent) fail(w http.ResponseWriter, p *problem) {
	if p.internalErr != nil {
		a.log.Error("agent request failed", "type", p.typ, "err", p.internalErr)
	}
	writeProblem(w, p)
}

// token runs f holding the listing side of the token lock.
func (a *Agent) token(f func()) {
	a.tokenMu.RLock()
	defer a.tokenMu.RUnlock()
	f()
}

func (a *Agent) info() wire.Info {
	in := wire.Info{Name: "semnat-agent", Version: a.version, Protocol: wire.Protocol}
	if s, err := a.mod.FindToken(a.sel); err == nil && s.Token != nil {
		in.Token = s.Token.Label
	}
	return in
}

// signingCert is a certificate on the token usable for signing.
type signingCert struct {
	id    pkcs11.KeyID
	cert  *x509.Certificate
	wire  wire.Certificate
	token pkcs11.TokenInfo
	// loginKey: a signing certificate whose key another certificate on
	// the token certifies for logging in (sharedKeys).
	loginKey bool
}

// canSign tells whether a certificate is an end-entity signing certificate.
func canSign(c *x509.Certificate) bool {
	if c.IsCA {
		return false
	}
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return false
	}
	switch c.PublicKey.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return true
	}
	return false
}

// certificates lists the token's signing certificates (public objects: no
// login needed), each with the CA certificates of the token that chain it.
// The caller holds tokenMu.
func (a *Agent) certificates(ctx context.Context) ([]signingCert, error) {
	tc, err := a.mod.Contents(ctx, a.sel, nil)
	if err != nil {
		return nil, err
	}
	var cas []*x509.Certificate
	authKeys := map[string]bool{} // the keys of the token's authentication certificates
	for _, o := range tc.Objects {
		switch c := o.Certificate; {
		case c == nil:
		case c.IsCA:
			cas = append(cas, c)
		case wire.IsAuthentication(c):
			authKeys[string(c.RawSubjectPublicKeyInfo)] = true
		}
	}
	var out []signingCert
	for _, e := range pkcs11.Pair(tc.Objects) {
		if len(e.ID) == 0 || e.Certificate == nil || e.Certificate.Certificate == nil || !canSign(e.Certificate.Certificate) {
			continue
		}
		c := e.Certificate.Certificate
		wc := wire.Certificate{
			ID:             e.ID.String(),
			Label:          e.Certificate.Label,
			Subject:        c.Subject.String(),
			Issuer:         c.Issuer.String(),
			NotAfter:       c.NotAfter.UTC().Format(time.RFC3339),
			Certificate:    c.Raw,
			Authentication: wire.IsAuthentication(c),
		}
		for _, ca := range pkcs11.BuildChain(c, cas, nil) {
			wc.Chain = append(wc.Chain, ca.Raw)
		}
		out = append(out, signingCert{id: e.ID, cert: c, wire: wc, token: tc.Token,
			loginKey: !wc.Authentication && authKeys[string(c.RawSubjectPublicKeyInfo)]})
	}
	return out, nil
}

// tokenProblem maps a pkcs11 error to the page's problem.
func tokenProblem(err error) *problem {
	var p *problem
	switch {
	case errors.Is(err, pkcs11.ErrPINLocked):
		p = newProblem(http.StatusLocked, wire.ProblemPINLocked, "PIN locked", err.Error())
	case errors.Is(err, pkcs11.ErrPINIncorrect):
		p = newProblem(http.StatusForbidden, wire.ProblemPINIncorrect, "PIN incorrect", err.Error())
	case errors.Is(err, pkcs11.ErrPINLength), errors.Is(err, pkcs11.ErrNoPIN):
		p = newProblem(http.StatusUnprocessableEntity, wire.ProblemPINLength, "PIN not accepted", err.Error())
	case errors.Is(err, pkcs11.ErrKeyNotFound), errors.Is(err, pkcs11.ErrCertificateNotFound):
		p = newProblem(http.StatusNotFound, wire.ProblemUnknownCert, "No such signing key", err.Error())
	case errors.Is(err, pkcs11.ErrUnsupported):
		p = newProblem(http.StatusBadRequest, wire.ProblemBadRequest, "Not supported by the token", err.Error())
	case errors.Is(err, pkcs11.ErrTokenNotFound), errors.Is(err, pkcs11.ErrTokenNotPresent),
		errors.Is(err, pkcs11.ErrDeviceRemoved), errors.Is(err, pkcs11.ErrAmbiguous),
		errors.Is(err, pkcs11.ErrModuleLoad), errors.Is(err, pkcs11.ErrClosed), errors.Is(err, pkcs11.ErrSessionClosed):
		p = newProblem(http.StatusServiceUnavailable, wire.ProblemToken, "Token unavailable", err.Error()+"; insert the token and try again")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		p = newProblem(http.StatusServiceUnavailable, wire.ProblemToken, "Request abandoned", err.Error())
	default:
		p = newProblem(http.StatusInternalServerError, wire.ProblemSign, "Token failure", err.Error())
		p.internalErr = err
	}
	return p
}

func badRequest(format string, args ...any) *problem {
	return newProblem(http.StatusBadRequest, wire.ProblemBadRequest, "Bad request", fmt.Sprintf(format, args...))
}

// signParams is a checked SignRequest.
type signParams struct {
	login bool // an authentication (POST /v1/authenticate): no binding
	req   wire.SignRequest
	id    pkcs11.KeyID
	hash  crypto.Hash
	opts  crypto.SignerOpts
}

// jsonBody reads a POST body of JSON (at most MaxBody) into a strict decoder.
func jsonBody(w http.ResponseWriter, r *http.Request) (*json.Decoder, *problem) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return nil, newProblem(http.StatusUnsupportedMediaType, wire.ProblemMediaType, "Unsupported media type",
			"the body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newProblem(http.StatusRequestEntityTooLarge, wire.ProblemTooLarge, "Request too large",
				fmt.Sprintf("the body exceeds %d bytes", MaxBody))
		}
		return nil, badRequest("reading the body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec, nil
}

// parseAuth reads and checks the body of POST /v1/authenticate: the
// login challenge to sign is the agent's own, for origin and the nonce.
func parseAuth(w http.ResponseWriter, r *http.Request, origin string) (*signParams, *problem) {
	dec, prob := jsonBody(w, r)
	if prob != nil {
		return nil, prob
	}
	var q wire.AuthRequest
	if err := dec.Decode(&q); err != nil {
		return nil, badRequest("the body is not an authentication request: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("the body has data after the authentication request")
	}
	if q.Hash == "" {
		q.Hash = "SHA-256"
	}
	h, err := wire.HashByName(q.Hash)
	if err != nil {
		return nil, badRequest("hash: %v", err)
	}
	p, prob := checkSign(wire.SignRequest{CertificateID: q.CertificateID, Hash: q.Hash, Scheme: q.Scheme,
		Digest: wire.AuthDigest(h, origin, q.Nonce), Nonce: q.Nonce, Document: "login"})
	if prob != nil {
		return nil, prob
	}
	p.login = true
	return p, nil
}

// parseSign reads and checks the body of POST /v1/sign, or with batch of
// POST /v1/sign-batch: one signParams per document, all for one key.
func parseSign(w http.ResponseWriter, r *http.Request, batch bool) ([]*signParams, *problem) {
	dec, prob := jsonBody(w, r)
	if prob != nil {
		return nil, prob
	}
	var reqs []wire.SignRequest
	if batch {
		var b wire.SignBatchRequest
		if err := dec.Decode(&b); err != nil {
			return nil, badRequest("the body is not a batch sign request: %v", err)
		}
		if len(b.Documents) == 0 || len(b.Documents) > wire.MaxBatch {
			return nil, badRequest("documents: send 1 to %d documents", wire.MaxBatch)
		}
		for i, q := range b.Documents {
			if q.CertificateID != "" && q.CertificateID != b.CertificateID {
				return nil, badRequest("documents[%d]: certificateId differs from the batch's: one batch, one key", i)
			}
			q.CertificateID = b.CertificateID
			reqs = append(reqs, q)
		}
	} else {
		var q wire.SignRequest
		if err := dec.Decode(&q); err != nil {
			return nil, badRequest("the body is not a sign request: %v", err)
		}
		reqs = append(reqs, q)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("the body has data after the sign request")
	}
	var out []*signParams
	for i, q := range reqs {
		p, prob := checkSign(q)
		if prob != nil {
			if batch {
				prob.detail = fmt.Sprintf("documents[%d]: %s", i, prob.detail)
			}
			return nil, prob
		}
		out = append(out, p)
	}
	return out, nil
}

// checkSign checks one sign request.
func checkSign(req wire.SignRequest) (*signParams, *problem) {
	p := signParams{req: req}
	var err error
	q := &p.req
	if q.CertificateID == "" {
		return nil, badRequest("certificateId is missing (take it from GET /v1/certificates)")
	}
	if p.id, err = pkcs11.ParseKeyID(q.CertificateID); err != nil {
		return nil, badRequest("certificateId: %v", err)
	}
	if p.hash, err = wire.HashByName(q.Hash); err != nil {
		return nil, badRequest("hash: %v", err)
	}
	if p.opts, err = wire.SignerOpts(p.hash, q.Scheme); err != nil {
		return nil, badRequest("scheme: %v", err)
	}
	if len(q.Digest) != p.hash.Size() {
		return nil, badRequest("digest: %d bytes, but a %s digest has %d", len(q.Digest), wire.HashName(p.hash), p.hash.Size())
	}
	if q.Nonce == "" || len(q.Nonce) > MaxNonceLen {
		return nil, badRequest("nonce: want the server's nonce, 1 to %d characters", MaxNonceLen)
	}
	for i := 0; i < len(q.Nonce); i++ {
		if c := q.Nonce[i]; c <= 0x20 || c >= 0x7f {
			return nil, badRequest("nonce: only printable ASCII without spaces")
		}
	}
	if q.Document == "" {
		return nil, badRequest("document is missing: name what is being signed, it is shown to the person")
	}
	if !utf8.ValidString(q.Document) || utf8.RuneCountInString(q.Document) > MaxDocumentLen {
		return nil, badRequest("document: want UTF-8 text of at most %d characters", MaxDocumentLen)
	}
	for _, c := range q.Document {
		if !displayable(c) {
			return nil, badRequest("document: control and formatting characters (%U) are not allowed", c)
		}
	}
	return &p, nil
}

// displayable refuses control and formatting characters (terminal escapes,
// bidi overrides that could disguise a name).
func displayable(c rune) bool {
	return !(unicode.Is(unicode.Cc, c) || unicode.Is(unicode.Cf, c) || unicode.Is(unicode.Zl, c) || unicode.Is(unicode.Zp, c) || c == utf8.RuneError)
}

// sanitize makes text from outside safe to show or log: control and
// formatting characters become U+FFFD, and it is cut at max characters.
func sanitize(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, c := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if !displayable(c) {
			c = '\uFFFD'
		}
		b.WriteRune(c)
		n++
	}
	return b.String()
}

// Sanitize is sanitize for callers that display Prompt fields from the
// certificate (subject names are not checked by the agent).
func Sanitize(s string) string { return sanitize(s, 1000) }

// handleSign serves POST /v1/sign, or with batch POST /v1/sign-batch.
func (a *Agent) handleSign(w http.ResponseWriter, r *http.Request, origin string, batch bool) ([]wire.SignResponse, *problem) {
	// The body is read and checked before waiting for our turn.
	p, prob := parseSign(w, r, batch)
	if prob != nil {
		return nil, prob
	}
	return a.inTurn(r.Context(), w, origin, p...)
}

// inTurn waits for the agent's turn (one consent at a time) and signs ps.
func (a *Agent) inTurn(ctx context.Context, w http.ResponseWriter, origin string, p ...*signParams) ([]wire.SignResponse, *problem) {
	// The person may take minutes to answer (and requests queue): the
	// server's write timeout must not drop the answer. A page that goes
	// away ends r.Context() instead.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	select {
	case a.turn <- struct{}{}:
	default:
		a.log.Info("sign request waits for the one before it", "origin", origin)
		if a.onBusy != nil {
			a.onBusy()
		}
		select {
		case a.turn <- struct{}{}:
		case <-ctx.Done():
			return nil, tokenProblem(ctx.Err())
		}
	}
	defer func() { <-a.turn }()
	return a.sign(ctx, origin, p)
}

// sign asks consent once for ps (one document, or a batch for one key)
// and signs them all with the one PIN.
func (a *Agent) sign(ctx context.Context, origin string, ps []*signParams) ([]wire.SignResponse, *problem) {
	p, q := ps[0], &ps[0].req
	log := a.log.With("origin", origin, "document", q.Document, "documents", len(ps), "certificate", q.CertificateID)
	var cert *signingCert
	var err error
	a.token(func() {
		var certs []signingCert
		certs, err = a.certificates(ctx)
		for i := range certs {
			if bytes.Equal(certs[i].id, p.id) {
				cert = &certs[i]
			}
		}
	})
	if err != nil {
		return nil, tokenProblem(err)
	}
	if cert == nil {
		return nil, newProblem(http.StatusNotFound, wire.ProblemUnknownCert, "Unknown certificate",
			fmt.Sprintf("the token has no signing certificate with id %s (see GET /v1/certificates)", p.id))
	}
	// Key separation: login challenges only with an authentication key,
	// documents never with one (wire.IsAuthentication).
	switch auth := cert.wire.Authentication; {
	case p.login && !auth:
		log.Warn("login refused: not an authentication certificate")
		return nil, newProblem(http.StatusConflict, wire.ProblemWrongKey, "Not an authentication key",
			fmt.Sprintf("certificate %s is a signing certificate: log in with the token's authentication certificate (the one marked authentication in GET /v1/certificates)", p.id))
	case !p.login && auth:
		log.Warn("document signature refused: an authentication certificate")
		return nil, newProblem(http.StatusConflict, wire.ProblemWrongKey, "Not a signing key",
			fmt.Sprintf("certificate %s is for logging in only and never signs documents: choose the token's signing certificate", p.id))
	case !p.login && cert.loginKey:
		// One key certified for both: any signature it makes for a
		// "document" is also a login signature (a site could ask for the
		// digest of a login challenge). Logins stay possible: their
		// challenge, bound to the origin and a nonce, is no document.
		log.Warn("document signature refused: the key is also certified for logging in")
		return nil, newProblem(http.StatusConflict, wire.ProblemSharedKey, "Signing key shared with logins",
			fmt.Sprintf("certificate %s has the same key as the token's authentication certificate, so a document signature could log someone in as its owner: the agent signs no document with it; ask the issuer for a token with separate signing and authentication keys", p.id))
	}
	for _, x := range ps {
		if _, isEC := cert.cert.PublicKey.(*ecdsa.PublicKey); isEC && x.req.Scheme != "" {
			return nil, badRequest("scheme %q is for RSA keys; leave it empty for this ECDSA key", x.req.Scheme)
		}
	}
	pr := Prompt{
		Origin: origin, Document: q.Document, Hash: wire.HashName(p.hash), Digest: hex.EncodeToString(q.Digest),
		CertificateID: p.id.String(), Certificate: cert.cert, Subject: cert.wire.Subject, Token: cert.token,
	}
	if p.login {
		pr.Login, pr.Document, pr.Hash, pr.Digest = true, "", "", ""
		log = log.With("document", "login")
	}
	if len(ps) > 1 {
		pr.Document = fmt.Sprintf("%d documents", len(ps))
		for _, x := range ps {
			pr.Batch = append(pr.Batch, BatchItem{Document: x.req.Document, Hash: wire.HashName(x.hash), Digest: hex.EncodeToString(x.req.Digest)})
		}
	}
	log.Info("asking consent")
	pin, err := a.consent(ctx, pr)
	defer clear(pin)
	switch {
	case errors.Is(err, ErrRefused) && p.login:
		log.Info("login refused by the person")
		return nil, newProblem(http.StatusForbidden, wire.ProblemRefused, "Refused", "the person declined to log in")
	case errors.Is(err, ErrRefused):
		log.Info("signature refused by the person")
		return nil, newProblem(http.StatusForbidden, wire.ProblemRefused, "Refused", "the person declined to sign")
	case err != nil:
		pb := newProblem(http.StatusServiceUnavailable, wire.ProblemConsent, "Could not ask for consent", err.Error())
		pb.internalErr = err
		return nil, pb
	}
	if err := ctx.Err(); err != nil {
		log.Info("the page went away before the answer; nothing signed")
		return nil, tokenProblem(err)
	}
	resp, err := a.signWithToken(ctx, origin, ps, pin)
	if err != nil {
		log.Warn("signature failed", "err", err)
		return nil, tokenProblem(err)
	}
	log.Info("signed")
	return resp, nil
}

// signWithToken logs in with pin once, signs each digest and its binding
// digest, and closes the sessions (the token logs out with its last
// session). All params are for one key.
func (a *Agent) signWithToken(ctx context.Context, origin string, ps []*signParams, pin []byte) ([]wire.SignResponse, error) {
	a.tokenMu.Lock()
	defer a.tokenMu.Unlock()
	src := pkcs11.PINFunc(func(context.Context, pkcs11.TokenInfo) ([]byte, error) {
		return bytes.Clone(pin), nil // login zeroes its copy
	})
	s, err := a.mod.NewSigner(ctx, pkcs11.SignerOptions{Token: a.sel, KeyID: ps[0].id, PIN: src, MaxSessions: 1})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []wire.SignResponse
	for _, p := range ps {
		sig, err := s.SignContext(ctx, p.req.Digest, p.opts)
		if err != nil {
			return nil, err
		}
		if p.login { // the login challenge is bound by construction
			out = append(out, wire.SignResponse{Signature: sig, Origin: origin})
			continue
		}
		binding, err := s.SignContext(ctx, wire.BindingDigest(p.hash, origin, p.req.Nonce, p.req.Digest), p.opts)
		if err != nil {
			return nil, err
		}
		out = append(out, wire.SignResponse{Signature: sig, Binding: binding, Origin: origin})
	}
	return out, nil
}
