package msign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

// Store kinds of the sign-request state.
const (
	kindSignReq = "signreq"       // id → signRequest (JSON)
	kindSignIn  = "signreq-in"    // id/n → the uploaded PDF
	kindSignOut = "signreq-out"   // id/n → the signed PDF
	kindNonces  = "signreq-nonce" // id → the token request's one-time nonces (taken once)
	kindPhone   = "signreq-phone" // phone → the id of the request asking it (one pending prompt per phone)
)

// Sign-request statuses.
const (
	statusCreated  = "created"            // a system's request: the person has not chosen how to sign yet
	statusPending  = "pending"            // mobile: waiting for the phone
	statusAwaiting = "awaiting-signature" // token: waiting for the page's signatures
	statusSigned   = "signed"
	statusRefused  = "refused"
	statusExpired  = "expired"
	statusFailed   = "failed"
)

// maxDocuments bounds the files of one sign request.
const maxDocuments = 10

// signRequest is the state of one sign request, kept in the store.
type signRequest struct {
	ID      string `json:"id"`
	Method  string `json:"method"` // mobile | token
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Failure names why a request failed, for the page's words
	// (outcome.<Failure> in locales); Message keeps the technical detail.
	Failure  string    `json:"failure,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Level    string    `json:"level"`
	Reason   string    `json:"reason,omitempty"`
	Visible  *visible  `json:"visible,omitempty"`
	Phone    string    `json:"phone,omitempty"`
	IDNP     string    `json:"idnp,omitempty"`
	Instance string    `json:"instance,omitempty"` // the server running a mobile request
	// Heartbeat is refreshed by the server running a mobile request; a
	// pending request whose heartbeat is stale lost its server.
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	Code      string    `json:"code,omitempty"`    // mobile verification code being shown
	Current   int       `json:"current,omitempty"` // mobile: the document the phone is asked about (1-based)
	Cert      []byte    `json:"cert,omitempty"`    // signer certificate (DER): the token's, or the phone's once looked up
	Chain     [][]byte  `json:"chain,omitempty"`
	Signer    string    `json:"signer,omitempty"` // subject of the signer certificate
	Docs      []signDoc `json:"docs"`
	// System is set on the requests of registered systems; the store then
	// keeps the request and its results until Keep (Expires is the end of
	// the time to sign).
	System *systemPart `json:"system,omitempty"`
	Keep   time.Time   `json:"keep,omitzero"`
	// Delegator is the party a system's request asks the signer to sign
	// for (checked with MPower once the signer is known).
	Delegator *delegation `json:"delegator,omitempty"`
}

// keepUntil is how long the store keeps a request and its files.
func (r *signRequest) keepUntil() time.Time {
	if r.Keep.After(r.Expires) {
		return r.Keep
	}
	return r.Expires
}

// digestToSign is what the key signs for d while it awaits its signature
// (nil when it does not).
func (d *signDoc) digestToSign() []byte {
	switch {
	case d.Prepared != nil:
		return d.Prepared.DigestToSign()
	case d.CMS != nil:
		return d.CMS.Digest()
	}
	return nil
}

type visible struct {
	Page   int    `json:"page"`
	Corner string `json:"corner"`
	// At places the stamp's lower-left corner at x, y points from the
	// lower-left corner of the page's crop box (the sign page's preview,
	// dragged); nil: in Corner.
	At *[2]float64 `json:"at,omitempty"`
}

type signDoc struct {
	Name string `json:"name"`
	// CorrelationID is the system's name for it; CMS, instead of Prepared,
	// is the signature of a hash (a system's Hash content).
	CorrelationID string          `json:"correlationID,omitempty"`
	CMS           *cms.Pending    `json:"cms,omitempty"`
	Size          int64           `json:"size"`
	SHA256        string          `json:"sha256"`
	Prepared      *pades.Prepared `json:"prepared,omitempty"` // until completed (token, mobile)
	// Mobile is the phone transaction of this document while the phone is
	// asked: with Prepared, any server on the store can wait for it.
	Mobile     *mobileid.PendingState `json:"mobile,omitempty"`
	Hash       string                 `json:"hash,omitempty"`
	Scheme     string                 `json:"scheme,omitempty"`
	Signed     bool                   `json:"signed,omitempty"`
	SignedHash string                 `json:"signedSha256,omitempty"`
	SignedSize int64                  `json:"signedSize,omitempty"`
	Downloaded bool                   `json:"downloaded,omitempty"` // sent whole at least once
	Deleted    bool                   `json:"deleted,omitempty"`    // the signed file was deleted ("done")
}

// signRequestView is the JSON answer about a sign request.
type signRequestView struct {
	ID               string    `json:"id"`
	Method           string    `json:"method"`
	Status           string    `json:"status"`
	Message          string    `json:"message,omitempty"`
	Expires          time.Time `json:"expires"`
	Level            string    `json:"level"`
	VerificationCode string    `json:"verificationCode,omitempty"`
	Signer           string    `json:"signer,omitempty"`
	Documents        []docView `json:"documents"`
}

type docView struct {
	N          int    `json:"n"`
	Name       string `json:"name"`
	SHA256     string `json:"sha256"`
	Current    bool   `json:"current,omitempty"` // mobile: the phone is asked about this one
	Digest     []byte `json:"digest,omitempty"`  // token: what the key signs (base64)
	Hash       string `json:"hash,omitempty"`
	Scheme     string `json:"scheme,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	Download   string `json:"download,omitempty"` // signed, not yet downloaded
	Downloaded bool   `json:"downloaded,omitempty"`
}

func (s *Service) view(r *signRequest, nonces []string) signRequestView {
	v := signRequestView{ID: r.ID, Method: r.Method, Status: r.Status, Message: r.Message, Expires: r.Expires, Level: r.Level}
	if r.Status == statusSigned || r.Method == "token" {
		// Who holds a phone is told only once they signed: a number
		// alone reveals no name, IDNP or certificate. (The token's
		// certificate came from the page itself.)
		v.Signer = r.Signer
	}
	if r.Status == statusPending {
		v.VerificationCode = r.Code
	}
	for i, d := range r.Docs {
		dv := docView{N: i + 1, Name: d.Name, SHA256: d.SHA256, Downloaded: d.Downloaded}
		if r.Status == statusPending && r.Current == i+1 {
			dv.Current = true
		}
		if r.Status == statusAwaiting && d.digestToSign() != nil {
			dv.Digest, dv.Hash, dv.Scheme = d.digestToSign(), d.Hash, d.Scheme
			if i < len(nonces) {
				dv.Nonce = nonces[i]
			}
		}
		if d.Signed && !d.Deleted {
			dv.Download = fmt.Sprintf("/api/v1/sign-requests/%s/documents/%d", r.ID, i+1)
		}
		v.Documents = append(v.Documents, dv)
	}
	return v
}

// newID returns 128 random bits, hex.
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}

func docKey(id string, n int) string { return id + "/" + strconv.Itoa(n) }

var errUnknownRequest = problem.New(http.StatusNotFound, "unknown-request", "Unknown sign request", "no sign request has this id; it may have been completed and downloaded, or never existed")
var errExpiredRequest = problem.New(http.StatusGone, "expired", "Sign request expired", "the sign request has expired; upload the documents again")

// load reads a sign request.
func (s *Service) load(ctx context.Context, id string) (*signRequest, error) {
	if len(id) != 32 {
		return nil, errUnknownRequest
	}
	b, err := s.cfg.Store.Get(ctx, kindSignReq, id)
	if err != nil {
		return nil, s.requestError(ctx, id, err)
	}
	var r signRequest
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("server: sign request %s: %w", id, err)
	}
	return &r, nil
}

// save writes a sign request for the rest of its time to live.
func (s *Service) save(ctx context.Context, r *signRequest) error {
	it, err := requestItem(r)
	if err != nil {
		return err
	}
	return s.cfg.Store.Put(ctx, it.Kind, it.ID, it.Value, it.TTL)
}

// requestItem is r as the store keeps it.
func requestItem(r *signRequest) (store.ItemPut, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return store.ItemPut{}, err
	}
	ttl := time.Until(r.keepUntil())
	if ttl <= 0 {
		ttl = time.Second
	}
	return store.ItemPut{Kind: kindSignReq, ID: r.ID, Value: b, TTL: ttl}, nil
}

// update changes a stored sign request atomically in the store, so that
// instances sharing one store never lose each other's changes.
func (s *Service) update(ctx context.Context, id string, f func(r *signRequest) error) (*signRequest, error) {
	if len(id) != 32 {
		return nil, errUnknownRequest
	}
	var out *signRequest
	err := s.cfg.Store.Update(ctx, kindSignReq, id, func(old []byte) ([]byte, error) {
		var r signRequest
		if err := json.Unmarshal(old, &r); err != nil {
			return nil, fmt.Errorf("server: sign request %s: %w", id, err)
		}
		if err := f(&r); err != nil {
			return nil, err
		}
		out = &r
		return json.Marshal(&r)
	})
	if err != nil {
		return nil, s.requestError(ctx, id, err)
	}
	return out, nil
}

// requestError maps the store's answer about a sign request to a problem;
// an expired request's files are removed at once.
func (s *Service) requestError(ctx context.Context, id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUnknownRequest
	case errors.Is(err, store.ErrExpired):
		s.dropFiles(ctx, id, maxDocuments)
		return errExpiredRequest
	}
	return err
}

// dropFiles removes the uploaded and signed files of a request.
func (s *Service) dropFiles(ctx context.Context, id string, n int) {
	s.quota.release(id)
	for i := 1; i <= n; i++ {
		_ = s.docs.delete(ctx, kindSignIn, docKey(id, i))
		_ = s.docs.delete(ctx, kindSignOut, docKey(id, i))
	}
	_ = s.cfg.Store.Delete(ctx, kindNonces, id)
}

// upload is one uploaded document.
type uploaded struct {
	name string
	data []byte
	page pdf.Rect
}

// checkPDF refuses what cannot be signed before anything is stored or a
// phone is asked, and returns the crop box of page (1-based).
func checkPDF(name string, data []byte, page int) (pdf.Rect, error) {
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), &pdf.Options{NoRepair: true})
	if err != nil {
		if errors.Is(err, pdf.ErrNotPDF) {
			return pdf.Rect{}, problem.New(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", fmt.Sprintf("%s is not a PDF file", name))
		}
		if errors.Is(err, pdf.ErrPasswordRequired) {
			return pdf.Rect{}, problem.New(http.StatusUnprocessableEntity, "encrypted-pdf", "Encrypted PDF", fmt.Sprintf("%s is protected by a password; remove the protection first", name))
		}
		return pdf.Rect{}, brokenPDF(fmt.Sprintf("%s is damaged and cannot be signed (%v); save it again from its application", name, err))
	}
	if r.Encrypted() != nil {
		return pdf.Rect{}, problem.New(http.StatusUnprocessableEntity, "encrypted-pdf", "Encrypted PDF", fmt.Sprintf("%s is encrypted (password protected); remove the protection first", name))
	}
	if r.Repaired() {
		return pdf.Rect{}, brokenPDF(fmt.Sprintf("%s is damaged and cannot be signed; save it again from its application", name))
	}
	if _, err := r.Catalog(); err != nil {
		return pdf.Rect{}, brokenPDF(fmt.Sprintf("%s is damaged and cannot be signed (%v)", name, err))
	}
	n, err := r.NumPages()
	if err != nil || n == 0 {
		return pdf.Rect{}, brokenPDF(fmt.Sprintf("%s has no readable pages", name))
	}
	if page < 1 {
		page = 1
	}
	if page > n {
		return pdf.Rect{}, problem.New(http.StatusUnprocessableEntity, "bad-page", "No such page", fmt.Sprintf("%s has %d page(s); the visible signature cannot go on page %d", name, n, page))
	}
	p, err := r.Page(page - 1)
	if err != nil {
		return pdf.Rect{}, brokenPDF(fmt.Sprintf("%s: page %d cannot be read", name, page))
	}
	return p.CropBox, nil
}

// brokenPDF is the problem of a PDF that cannot be read well enough to sign.
func brokenPDF(detail string) error {
	return problem.New(http.StatusUnprocessableEntity, "broken-pdf", "Broken PDF", detail)
}

// Size of the visible stamp, and its margin from the page's edge when it
// goes in a corner.
const stampW, stampH, stampMargin = 200.0, 60.0, 30.0

// errStampOutside: the stamp would not lie within the page's crop box.
var errStampOutside = errors.New("the visible signature does not fit within the page")

// stampRect places the 200×60 pt stamp in a corner of the page's crop box,
// or where v.At says; it must lie within the box.
func stampRect(box pdf.Rect, v *visible) ([4]float64, error) {
	x, y := box.LLX+stampMargin, box.LLY+stampMargin
	if strings.HasSuffix(v.Corner, "right") {
		x = box.URX - stampMargin - stampW
	}
	if strings.HasPrefix(v.Corner, "top") {
		y = box.URY - stampMargin - stampH
	}
	if v.At != nil {
		x, y = box.LLX+v.At[0], box.LLY+v.At[1]
	}
	r := [4]float64{x, y, x + stampW, y + stampH}
	const eps = 0.01 // rounding in the page's script
	if r[0] < box.LLX-eps || r[1] < box.LLY-eps || r[2] > box.URX+eps || r[3] > box.URY+eps {
		return r, fmt.Errorf("%w: a %.0f×%.0f pt stamp at %.0f, %.0f on a %.0f×%.0f pt page; choose a corner, or place it inside the page",
			errStampOutside, stampW, stampH, x-box.LLX, y-box.LLY, box.URX-box.LLX, box.URY-box.LLY)
	}
	return r, nil
}

// safeName keeps a file name readable and harmless in a header or a page.
func safeName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_' || r == ' ':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	out := strings.TrimSpace(b.String())
	if out == "" || out == "." || out == ".." {
		out = "document.pdf"
	}
	if len(out) > 120 {
		out = out[len(out)-120:]
	}
	return out
}

// signParams are the options of a new sign request (form fields).
type signParams struct {
	method, reason, phone, idnp string
	level                       pades.Level
	vis                         *visible
	cert                        *x509.Certificate
	chain                       []*x509.Certificate
	docs                        []uploaded
}

func formValue(f *spooledForm, k string) string { return f.value(k) }

const formKey = "msign.form"

// readSignForm spools a multipart sign request (its files to the spool
// directory); the caller removes them.
func (s *Service) readSignForm(c echo.Context) (*spooledForm, error) {
	if !strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		return nil, problem.New(http.StatusUnsupportedMediaType, "not-multipart", "Send a form", "send the PDFs as multipart/form-data fields \"file\"")
	}
	return s.spoolForm(c, maxDocuments)
}

// parseSignForm checks a spooled sign request.
func (s *Service) parseSignForm(form *spooledForm) (*signParams, error) {
	var err error
	p := &signParams{method: formValue(form, "method"), reason: formValue(form, "reason"),
		phone: formValue(form, "phone"), idnp: formValue(form, "idnp"), level: pades.LevelBT}
	if len(p.reason) > 255 {
		return nil, problem.New(http.StatusBadRequest, "bad-reason", "Reason too long", "the reason holds at most 255 characters")
	}
	if lv := formValue(form, "level"); lv != "" {
		if p.level, err = pades.ParseLevel(lv); err != nil {
			return nil, problem.New(http.StatusBadRequest, "bad-level", "Unknown level", "level is one of B-B, B-T, B-LT, B-LTA")
		}
	}
	if p.level >= pades.LevelBT && s.cfg.Timestamper == nil || p.level >= pades.LevelBLT && s.cfg.Revocation == nil {
		return nil, problem.New(http.StatusUnprocessableEntity, "level-unavailable", "Level unavailable", fmt.Sprintf("this server cannot sign at %v (no timestamp or revocation service configured)", p.level))
	}
	if v := formValue(form, "visible"); v == "on" || v == "true" || v == "1" {
		p.vis = &visible{Page: 1, Corner: "bottom-right"}
		if pg := formValue(form, "page"); pg != "" {
			n, err := strconv.Atoi(pg)
			if err != nil || n < 1 {
				return nil, problem.New(http.StatusBadRequest, "bad-page", "Bad page number", "page is a page number counted from 1")
			}
			p.vis.Page = n
		}
		if cr := formValue(form, "corner"); cr != "" {
			switch cr {
			case "bottom-left", "bottom-right", "top-left", "top-right":
				p.vis.Corner = cr
			default:
				return nil, problem.New(http.StatusBadRequest, "bad-corner", "Bad corner", "corner is bottom-left, bottom-right, top-left or top-right")
			}
		}
		if xs, ys := formValue(form, "x"), formValue(form, "y"); xs != "" || ys != "" {
			x, errX := strconv.ParseFloat(xs, 64)
			y, errY := strconv.ParseFloat(ys, 64)
			if errX != nil || errY != nil || math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				return nil, problem.New(http.StatusBadRequest, "bad-place", "Bad stamp place", "x and y are the stamp's lower-left corner in points from the page's lower-left corner")
			}
			p.vis.At = &[2]float64{x, y}
		}
	}
	switch p.method {
	case "mobile":
		if s.cfg.Mobile == nil {
			return nil, problem.New(http.StatusUnprocessableEntity, "method-unavailable", "Mobile signature unavailable", "this server has no mobile signature service configured")
		}
		// The local forms too: 069 123 456, 0 69 12 34 56, +373 69 123 456.
		if p.phone = normalizeMSISDN(p.phone); p.phone == "" {
			return nil, problem.New(http.StatusBadRequest, "bad-phone", "Bad phone number", "not a Moldovan mobile number: write it as 069 123 456, 0 69 12 34 56 or +373 69 123 456")
		}
		if p.idnp != "" {
			if err := idn.Check(p.idnp); err != nil {
				return nil, problem.New(http.StatusBadRequest, "bad-idnp", "Bad IDNP", "the IDNP is 13 digits ending in its check digit: "+err.Error())
			}
		}
	case "token":
		if p.cert, p.chain, err = parseTokenCert(formValue(form, "certificate"), form.values["chain"]); err != nil {
			return nil, err
		}
	default:
		return nil, problem.New(http.StatusBadRequest, "bad-method", "Unknown method", "method is mobile or token")
	}
	files := form.files
	if len(files) == 0 {
		return nil, problem.New(http.StatusBadRequest, "no-file", "No file", "send one or several PDFs as the multipart field \"file\"")
	}
	if len(files) > maxDocuments {
		return nil, problem.New(http.StatusBadRequest, "too-many-files", "Too many files", fmt.Sprintf("send at most %d documents at once", maxDocuments))
	}
	page := 1
	if p.vis != nil {
		page = p.vis.Page
	}
	for _, fh := range files {
		if _, err := fh.f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(fh.f, s.cfg.MaxUpload+1))
		if err != nil {
			return nil, err
		}
		name := safeName(fh.name)
		if len(data) == 0 {
			return nil, problem.New(http.StatusBadRequest, "empty", "Empty upload", name+" is empty")
		}
		if int64(len(data)) > s.cfg.MaxUpload {
			return nil, s.tooLarge()
		}
		box, err := checkPDF(name, data, page)
		if err != nil {
			return nil, err
		}
		if p.vis != nil {
			if _, err := stampRect(box, p.vis); err != nil {
				return nil, problem.New(http.StatusUnprocessableEntity, "stamp-outside", "Stamp outside the page", name+": "+err.Error())
			}
		}
		p.docs = append(p.docs, uploaded{name: name, data: data, page: box})
	}
	return p, nil
}

// parseTokenCert reads the token's certificate and its chain (DER in
// base64; chain values may be comma-separated lists) as the page sends
// them from the agent.
func parseTokenCert(certB64 string, chainB64 []string) (*x509.Certificate, []*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil || len(der) == 0 {
		return nil, nil, problem.New(http.StatusBadRequest, "bad-certificate", "Bad certificate", "certificate is the signer's certificate, DER in base64")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, problem.New(http.StatusBadRequest, "bad-certificate", "Bad certificate", "certificate does not parse: "+err.Error())
	}
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, nil, problem.New(http.StatusBadRequest, "bad-certificate", "Bad certificate", "the certificate's key must be RSA or ECDSA")
	}
	if wire.IsAuthentication(cert) { // key separation: that key only logs in (MPass)
		return nil, nil, problem.New(http.StatusBadRequest, "bad-certificate", "Authentication certificate",
			"this is the token's authentication certificate, which logs in and never signs documents: choose its signing certificate")
	}
	var chain []*x509.Certificate
	for _, v := range chainB64 {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			der, err := base64.StdEncoding.DecodeString(part)
			if err != nil {
				return nil, nil, problem.New(http.StatusBadRequest, "bad-certificate", "Bad chain", "chain holds CA certificates, DER in base64")
			}
			ca, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, nil, problem.New(http.StatusBadRequest, "bad-certificate", "Bad chain", "a chain certificate does not parse: "+err.Error())
			}
			chain = append(chain, ca)
		}
	}
	return cert, chain, nil
}

// prepareToken readies every document of r for cert's key, to be signed
// on the page through the agent: a system's hash in CMS, a PDF with pades
// (its stamp, when boxes[i] is given, in that box). It sets the request's
// certificate and returns the one-time nonces of the page's signatures.
func (s *Service) prepareToken(ctx context.Context, r *signRequest, cert *x509.Certificate, chain []*x509.Certificate, data [][]byte, boxes []*pdf.Rect) ([]string, error) {
	r.Status = statusAwaiting
	r.Cert, r.Signer, r.Chain = cert.Raw, cert.Subject.String(), nil
	for _, ca := range chain {
		r.Chain = append(r.Chain, ca.Raw)
	}
	var nonces []string
	for i := range r.Docs {
		d := &r.Docs[i]
		if r.System != nil && r.System.ContentType == client.ContentHash {
			p, err := cms.Prepare(cms.Params{ContentDigest: data[i], Hash: crypto.SHA256, Certificate: cert, Chain: chain})
			if err != nil {
				return nil, problem.New(http.StatusUnprocessableEntity, "cannot-sign", "Cannot sign", err.Error())
			}
			d.CMS, d.Hash = p, wire.HashName(p.Hash)
		} else {
			opts, err := s.options(r, boxes[i])
			if err != nil {
				return nil, err
			}
			prep, err := pades.Prepare(ctx, bytes.NewReader(data[i]), int64(len(data[i])), cert, chain, opts)
			if err != nil {
				return nil, signError(d.Name, err)
			}
			d.Prepared, d.Hash = prep, wire.HashName(prep.SignerOpts().HashFunc())
		}
		if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			d.Scheme = "pkcs1v15"
		}
		nonces = append(nonces, newID())
	}
	return nonces, nil
}

// options are the pades options of a request's signature.
func (s *Service) options(r *signRequest, box *pdf.Rect) (*pades.Options, error) {
	lv, err := pades.ParseLevel(r.Level)
	if err != nil {
		return nil, err
	}
	o := &pades.Options{Level: lv, Reason: r.Reason, Timestamper: s.cfg.Timestamper, Revocation: s.cfg.Revocation, ExtraCerts: s.cfg.ExtraCerts}
	if r.Visible != nil && box != nil {
		rect, err := stampRect(*box, r.Visible)
		if err != nil {
			return nil, problem.New(http.StatusUnprocessableEntity, "stamp-outside", "Stamp outside the page", err.Error())
		}
		o.Visible = &pades.Visible{Page: r.Visible.Page, Rect: rect}
	}
	return o, nil
}

// signError turns an error of pades into a problem.
func signError(name string, err error) error {
	switch {
	case errors.Is(err, pades.ErrNotPDF):
		return problem.New(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", name+": "+err.Error())
	case errors.Is(err, pades.ErrEncrypted):
		return problem.New(http.StatusUnprocessableEntity, "encrypted-pdf", "Encrypted PDF", name+": "+err.Error())
	case errors.Is(err, pades.ErrDamaged):
		return brokenPDF(name + ": " + err.Error())
	}
	return problem.New(http.StatusUnprocessableEntity, "cannot-sign", "This PDF cannot be signed", name+": "+err.Error())
}

// createSignRequest answers POST /api/v1/sign-requests.
func (s *Service) createSignRequest(c echo.Context) error {
	r, nonces, err := s.startSignRequest(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/sign-requests/"+r.ID)
	return c.JSON(http.StatusCreated, s.view(r, nonces))
}

// startSignRequest checks the form, stores the request and starts it.
func (s *Service) startSignRequest(c echo.Context) (*signRequest, []string, error) {
	// A client over its quota is refused before its body is read.
	if err := s.quota.check(c.RealIP(), c.Request().ContentLength); err != nil {
		return nil, nil, err
	}
	form, err := s.readSignForm(c) // the body first: a slow one holds no place
	if err != nil {
		return nil, nil, err
	}
	defer form.remove()
	c.Set(formKey, form) // for the page's answer
	release, err := s.acquire(c.Request().Context())
	if err != nil {
		return nil, nil, err
	}
	defer release()
	p, err := s.parseSignForm(form)
	if err != nil {
		return nil, nil, err
	}
	ctx := c.Request().Context()
	now := time.Now()
	r := &signRequest{ID: newID(), Method: p.method, Created: now.UTC(), Expires: now.Add(s.cfg.SignTTL).UTC(),
		Level: p.level.String(), Reason: p.reason, Visible: p.vis}
	var size int64
	for _, d := range p.docs {
		sum := sha256.Sum256(d.data)
		r.Docs = append(r.Docs, signDoc{Name: d.name, Size: int64(len(d.data)), SHA256: hex.EncodeToString(sum[:])})
		size += int64(len(d.data))
	}
	if err := s.quota.reserve(c.RealIP(), r.ID, size, r.Expires); err != nil {
		return nil, nil, err
	}
	started := false
	defer func() {
		if !started {
			s.quota.release(r.ID)
		}
	}()
	var nonces []string
	switch p.method {
	case "token":
		var data [][]byte
		var boxes []*pdf.Rect
		for i := range p.docs {
			data, boxes = append(data, p.docs[i].data), append(boxes, &p.docs[i].page)
		}
		if nonces, err = s.prepareToken(ctx, r, p.cert, p.chain, data, boxes); err != nil {
			return nil, nil, err
		}
	case "mobile":
		r.Status, r.Phone, r.IDNP, r.Instance, r.Heartbeat = statusPending, p.phone, p.idnp, s.instance, now.UTC()
		r.Message = "Starting the mobile signature…"
		if ok, _ := s.prompts.Allow(c.RealIP()); !ok {
			return nil, nil, errTooManyPrompts
		}
		if err := s.lockPhone(ctx, r); err != nil {
			return nil, nil, err
		}
	}
	// Files first, the request last: a request in the store has its files.
	for i, d := range p.docs {
		if err := s.docs.put(ctx, kindSignIn, docKey(r.ID, i+1), d.data, s.cfg.SignTTL); err != nil {
			s.dropFiles(ctx, r.ID, len(p.docs))
			return nil, nil, err
		}
	}
	if nonces != nil {
		b, _ := json.Marshal(nonces)
		if err := s.cfg.Store.Put(ctx, kindNonces, r.ID, b, s.cfg.SignTTL); err != nil {
			s.dropFiles(ctx, r.ID, len(p.docs))
			return nil, nil, err
		}
	}
	if err := s.save(ctx, r); err != nil {
		s.dropFiles(ctx, r.ID, len(p.docs))
		s.unlockPhone(ctx, r)
		return nil, nil, err
	}
	started = true
	if r.Method == "mobile" {
		r = s.startMobile(ctx, r)
	}
	return r, nonces, nil
}

// startMobile runs a saved mobile request in the background and returns
// it with the first verification code when the phone has it quickly (the
// status tells it otherwise).
func (s *Service) startMobile(ctx context.Context, r *signRequest) *signRequest {
	started := make(chan struct{})
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		s.runMobile(r.ID, started)
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	if cur, err := s.load(ctx, r.ID); err == nil {
		return cur
	}
	return r
}

// errPhoneBusy: the phone is being asked for another signature.
var errPhoneBusy = problem.New(http.StatusTooManyRequests, "phone-busy", "The phone is busy",
	"a signature is already being asked on this phone; answer or refuse it there first, or wait until it expires")

// errTooManyPrompts: one client started too many phone prompts.
var errTooManyPrompts = problem.New(http.StatusTooManyRequests, "too-many-prompts", "Too many phone prompts",
	"this client asked too many phones for a signature in a short time; wait a minute")

// lockPhone makes r the one request asking its phone until it ends or
// expires: a phone gets at most one pending prompt.
func (s *Service) lockPhone(ctx context.Context, r *signRequest) error {
	err := s.cfg.Store.PutNew(ctx, kindPhone, r.Phone, []byte(r.ID), time.Until(r.Expires))
	if errors.Is(err, store.ErrExists) {
		return errPhoneBusy
	}
	return err
}

// unlockPhone frees r's phone, if r holds it.
func (s *Service) unlockPhone(ctx context.Context, r *signRequest) {
	if r.Phone == "" {
		return
	}
	if b, err := s.cfg.Store.Get(ctx, kindPhone, r.Phone); err == nil && string(b) == r.ID {
		_ = s.cfg.Store.Delete(ctx, kindPhone, r.Phone)
	}
}

// errIDNPMismatch: the phone's certificate names another person than the
// IDNP the signer gave.
var errIDNPMismatch = errors.New("idnp mismatch")

// errSignerMismatch: the token's certificate names another person than
// the signer expected.
var errSignerMismatch = problem.New(http.StatusUnprocessableEntity, "signer-mismatch", "Not the expected signer",
	"the certificate is another person's than the one this request is for")

// mobileOutcome maps a mobile signature failure to a status, the failure's
// name (outcome.<name> in locales: the page's words) and the API's words.
func mobileOutcome(err error) (status, failure, msg string) {
	switch {
	case errors.Is(err, errIDNPMismatch):
		return statusFailed, "idnp_mismatch", "The mobile signature on this phone belongs to another person (the IDNP does not match). Nothing was signed."
	case isNotDelegated(err):
		return statusFailed, "not_delegated", "The signer holds no valid power of representation from the party this request is for (MPower). Nothing was signed."
	case errors.Is(err, mobileid.ErrUserCancelled), errors.Is(err, mobileid.ErrWrongPIN):
		return statusRefused, "refused", "The signature was refused on the phone. Nothing was signed."
	case errors.Is(err, mobileid.ErrTimeout):
		return statusExpired, "timeout", "The phone was not answered in time. Nothing was signed; start again."
	case errors.Is(err, context.DeadlineExceeded):
		return statusExpired, "expired", "The sign request expired before the phone answered. Nothing was signed; start again."
	case errors.Is(err, store.ErrNotFound):
		return statusFailed, "gone", "The uploaded document is no longer on the server. Nothing more was signed; start again."
	}
	var me *mobileid.Error
	if errors.As(err, &me) {
		return statusFailed, "mobile_failed", "The mobile signature failed: " + me.Err.Error() + "."
	}
	return statusFailed, "failed", "Signing failed: " + err.Error()
}

// runMobile signs the documents of a mobile request one after the other,
// in the background; started is closed once the first code is known (or
// the request has ended). Each document is prepared (pades.Prepare) and its
// phone transaction recorded in the store before the phone is waited on, so
// that if this server stops, another one (or this one restarted) resumes
// the request where it was: see current.
func (s *Service) runMobile(id string, started chan struct{}) {
	var once bool
	signal := func() {
		if !once {
			once = true
			close(started)
		}
	}
	defer signal()
	ctx := s.bg
	r, err := s.load(ctx, id)
	if err != nil {
		return
	}
	ctx, cancel := context.WithDeadline(ctx, r.Expires)
	defer cancel()
	go func() { // the heartbeat says a server still waits for the phone
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, err := s.update(ctx, id, func(r *signRequest) error {
					if r.Status != statusPending || r.Instance != s.instance {
						return errRequestEnded
					}
					r.Heartbeat = time.Now().UTC()
					return nil
				})
				if errors.Is(err, errRequestEnded) {
					cancel() // cancelled on its page, or taken over: stop waiting
					return
				}
			}
		}
	}()
	fail := func(err error) {
		if s.bg.Err() != nil {
			// This server is stopping: hand the request over at once (no
			// heartbeat to wait out); the next look at it resumes it.
			_, _ = s.update(context.WithoutCancel(ctx), id, func(r *signRequest) error {
				if r.Status == statusPending && r.Instance == s.instance {
					r.Instance, r.Heartbeat = "", time.Time{}
				}
				return nil
			})
			return
		}
		st, failure, msg := mobileOutcome(err)
		s.cfg.Log.Info("mobile signature ended", "request", id, "status", st, "err", err)
		s.unlockPhone(context.WithoutCancel(ctx), r)
		_, _ = s.update(context.WithoutCancel(ctx), id, func(r *signRequest) error {
			if r.Status != statusPending {
				return errRequestEnded // cancelled on its page: it says so already
			}
			r.Status, r.Failure, r.Message, r.Code, r.Current = st, failure, msg, "", 0
			if r.System != nil && errors.Is(err, errIDNPMismatch) {
				r.System.Outcome = outcomeSignerMismatch
			}
			if r.System != nil && isNotDelegated(err) {
				r.System.Outcome = outcomeNotDelegated
			}
			for i := range r.Docs {
				r.Docs[i].Prepared, r.Docs[i].CMS, r.Docs[i].Mobile = nil, nil, nil
			}
			return nil
		})
		s.dropFiles(context.WithoutCancel(ctx), id, len(r.Docs))
	}
	for i := range r.Docs {
		if r.Docs[i].Signed {
			continue // signed before a restart
		}
		if err := s.mobileDoc(ctx, r, i+1, signal); err != nil {
			fail(err)
			return
		}
	}
	s.unlockPhone(context.WithoutCancel(ctx), r)
}

// mobileDoc signs document n of a mobile request: prepare, ask the phone
// (or resume waiting for it), complete.
func (s *Service) mobileDoc(ctx context.Context, r *signRequest, n int, asked func()) error {
	id := r.ID
	data, err := s.docs.get(ctx, kindSignIn, docKey(id, n))
	if err != nil {
		return err
	}
	cert, chain, err := s.mobileCert(ctx, r)
	if err != nil {
		return err
	}
	// A system's hash is signed in CMS (CAdES); everything else is a PDF.
	isHash := r.System != nil && r.System.ContentType == client.ContentHash
	prep, cmsPrep, state := r.Docs[n-1].Prepared, r.Docs[n-1].CMS, r.Docs[n-1].Mobile
	resume := (prep != nil || cmsPrep != nil) && state != nil
	var box *pdf.Rect // where Prepare draws the stamp: not needed to resume
	if r.Visible != nil && !resume && !isHash {
		b, err := checkPDF(r.Docs[n-1].Name, data, r.Visible.Page)
		if err != nil {
			return err
		}
		box = &b
	}
	opts, err := s.options(r, box)
	if err != nil {
		return err
	}
	var pend *mobileid.Pending
	if resume {
		if pend, err = s.cfg.Mobile.Resume(*state); err != nil {
			return err
		}
	} else {
		var digest []byte
		var h crypto.Hash
		if isHash {
			if cmsPrep, err = cms.Prepare(cms.Params{ContentDigest: data, Hash: crypto.SHA256, Certificate: cert, Chain: chain}); err != nil {
				return err
			}
			digest, h = cmsPrep.Digest(), cmsPrep.Hash
		} else {
			if prep, err = pades.Prepare(ctx, bytes.NewReader(data), int64(len(data)), cert, chain, opts); err != nil {
				return err
			}
			digest, h = prep.DigestToSign(), prep.SignerOpts().HashFunc()
		}
		disp := fmt.Sprintf("Semnați documentul? (%d/%d) %s", n, len(r.Docs), r.Docs[n-1].Name)
		if r.System != nil {
			disp = fmt.Sprintf("(%d/%d) %s", n, len(r.Docs), r.System.Short)
		}
		pend, err = s.cfg.Mobile.Start(ctx, mobileid.SignRequest{MSISDN: r.Phone, IDNP: r.IDNP, DisplayText: disp, Digest: digest, Hash: h})
		if err != nil {
			return err
		}
		st := pend.State()
		code := pend.VerificationCode()
		if _, err = s.update(ctx, id, func(r *signRequest) error {
			r.Docs[n-1].Prepared, r.Docs[n-1].CMS, r.Docs[n-1].Mobile = prep, cmsPrep, &st
			r.Code, r.Current = code, n
			r.Message = fmt.Sprintf("Check that your phone shows the code %s, then enter your PIN (document %d of %d).", code, n, len(r.Docs))
			return nil
		}); err != nil {
			return err
		}
	}
	asked()
	res, err := pend.Wait(ctx)
	if err != nil {
		return err
	}
	// An answer that comes after the person cancelled on the page is
	// thrown away: they were told nothing would be signed.
	if now, err := s.load(ctx, id); err != nil || now.Status != statusPending {
		return errRequestEnded
	}
	if len(res.Signature) == 0 {
		return errors.New("the mobile signature service returned no raw signature")
	}
	// The signer is compared with the IDNP expected only now: failing
	// before the phone is asked would tell whoever knows a number whether
	// an IDNP is its holder's.
	got := mobileid.IdentityOf(cert).IDNP
	if r.IDNP != "" && got != r.IDNP {
		return errIDNPMismatch
	}
	if err := s.checkDelegation(ctx, r.Delegator, got); err != nil {
		return err
	}
	if isHash {
		sig, level, err := s.completeHash(ctx, cmsPrep, res.Signature)
		if err != nil {
			return err
		}
		_, err = s.finishDoc(ctx, id, n, sig, cert, "mobile", level)
		return err
	}
	var out bytes.Buffer
	start := time.Now()
	result, err := pades.Complete(ctx, bytes.NewReader(data), int64(len(data)), prep, res.Signature, &out, opts)
	s.observeSigning("mobile", start)
	if err != nil {
		return err
	}
	_, err = s.finishDoc(ctx, id, n, out.Bytes(), cert, "mobile", result.Level)
	return err
}

// completeHash finishes the CAdES signature of a hash: the signature
// value, then (with a timestamp authority) the signature timestamp, B-T.
func (s *Service) completeHash(ctx context.Context, p *cms.Pending, sig []byte) ([]byte, pades.Level, error) {
	sd, err := p.Complete(sig)
	if err != nil {
		return nil, 0, err
	}
	level := pades.LevelBB
	if s.cfg.Timestamper != nil {
		h := p.Hash.New()
		h.Write(sd.Signature)
		token, err := s.cfg.Timestamper.Timestamp(ctx, h.Sum(nil), p.Hash)
		if err != nil {
			return nil, 0, fmt.Errorf("signature timestamp: %w", err)
		}
		sd.AddTimestamp(token)
		level = pades.LevelBT
	}
	der, err := sd.Marshal()
	return der, level, err
}

// mobileCert returns the phone's signing certificate, looked up once per
// request and kept with it.
func (s *Service) mobileCert(ctx context.Context, r *signRequest) (*x509.Certificate, []*x509.Certificate, error) {
	if len(r.Cert) > 0 {
		cert, err := x509.ParseCertificate(r.Cert)
		if err != nil {
			return nil, nil, err
		}
		var chain []*x509.Certificate
		for _, der := range r.Chain {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, nil, err
			}
			chain = append(chain, c)
		}
		return cert, chain, nil
	}
	cert, chain, err := s.cfg.Mobile.GetCertificate(ctx, r.Phone, r.IDNP)
	if err != nil {
		return nil, nil, err
	}
	r.Cert, r.Chain = cert.Raw, nil
	for _, c := range chain {
		r.Chain = append(r.Chain, c.Raw)
	}
	if _, err := s.update(ctx, r.ID, func(x *signRequest) error {
		x.Cert, x.Chain, x.Signer = r.Cert, r.Chain, cert.Subject.String()
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return cert, chain, nil
}

// finishDoc stores a signed document, records it in the audit log and
// updates the request (signed when it was the last one).
func (s *Service) finishDoc(ctx context.Context, id string, n int, signed []byte, cert *x509.Certificate, method string, level pades.Level) (*signRequest, error) {
	sum := sha256.Sum256(signed)
	digest := hex.EncodeToString(sum[:])
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	who := mobileid.IdentityOf(cert).IDNP
	if who == "" {
		who = cert.Subject.String()
	}
	details := map[string]string{"method": method, "level": level.String(), "certSerial": cert.SerialNumber.Text(16),
		"certIssuer": cert.Issuer.String(), "signer": cert.Subject.String(), "document": r.Docs[n-1].Name, "originalSha256": r.Docs[n-1].SHA256}
	if r.Phone != "" {
		details["phone"] = r.Phone
	}
	if r.System != nil {
		details["system"], details["correlationID"] = r.System.Name, r.Docs[n-1].CorrelationID
	}
	if err := s.docs.put(ctx, kindSignOut, docKey(id, n), signed, time.Until(r.keepUntil())); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Store.Append(ctx, store.Event{Actor: who, Action: "sign", Subject: docKey(id, n), Digest: digest, Details: details}); err != nil {
		_ = s.docs.delete(ctx, kindSignOut, docKey(id, n))
		return nil, err // nothing is handed out unless it is in the audit log
	}
	_ = s.docs.delete(ctx, kindSignIn, docKey(id, n))
	return s.update(ctx, id, func(r *signRequest) error {
		d := &r.Docs[n-1]
		d.Signed, d.SignedHash, d.SignedSize, d.Prepared, d.CMS, d.Mobile = true, digest, int64(len(signed)), nil, nil, nil
		r.Signer = cert.Subject.String()
		if n == len(r.Docs) {
			r.Status, r.Code, r.Current = statusSigned, "", 0
			r.Message = "Signed. Download the signed documents below; they are kept until the request expires, or until you delete them."
			if len(r.Docs) == 1 {
				r.Message = "Signed. Download the signed document below; it is kept until the request expires, or until you delete it."
			}
		}
		return nil
	})
}

// getSignRequest answers GET /api/v1/sign-requests/{id}.
func (s *Service) getSignRequest(c echo.Context) error {
	r, err := s.citizenRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	var nonces []string
	if r.Status == statusAwaiting {
		if b, err := s.cfg.Store.Get(c.Request().Context(), kindNonces, r.ID); err == nil {
			_ = json.Unmarshal(b, &nonces)
		}
	}
	return c.JSON(http.StatusOK, s.view(r, nonces))
}

// heartbeatEvery is how often a server running a mobile request says so;
// after staleAfter without it, the request is failed.
const (
	heartbeatEvery = 2 * time.Second
	staleAfter     = 5 * heartbeatEvery
)

// lost tells whether a pending mobile request has lost the server that ran
// it: it stopped (and said so) or crashed (its heartbeat is stale).
func (s *Service) lost(r *signRequest) bool {
	return r.Status == statusPending && time.Since(r.Heartbeat) > staleAfter
}

// current loads a request; a mobile one that no server runs any more (its
// server stopped or crashed while the phone was asked) is taken over by
// this server and resumed where it was.
func (s *Service) current(ctx context.Context, id string) (*signRequest, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.lost(r) && s.cfg.Mobile != nil && s.bg.Err() == nil {
		took := false
		r, err = s.update(ctx, id, func(r *signRequest) error {
			if s.lost(r) { // only one server takes it over
				r.Instance, r.Heartbeat, took = s.instance, time.Now().UTC(), true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if took {
			s.cfg.Log.Info("resuming a mobile sign request", "request", id)
			s.bgWG.Add(1)
			go func() {
				defer s.bgWG.Done()
				s.runMobile(id, make(chan struct{}))
			}()
		}
	}
	return r, nil
}

// citizenRequest is current for the citizen's API and pages: a registered
// system's request is not there (its results are the system's, read with
// GetSignResponse; the browser knows its id).
func (s *Service) citizenRequest(ctx context.Context, id string) (*signRequest, error) {
	r, err := s.current(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.System != nil {
		return nil, errUnknownRequest
	}
	return r, nil
}

// completeBody is the token signatures of POST .../complete.
type completeBody struct {
	Documents []struct {
		Signature []byte `json:"signature"`
		Binding   []byte `json:"binding"`
		Nonce     string `json:"nonce,omitempty"`
	} `json:"documents"`
}

// completeSignRequest answers POST /api/v1/sign-requests/{id}/complete.
func (s *Service) completeSignRequest(c echo.Context) error {
	ctx := c.Request().Context()
	// The id first: an unknown one costs no body.
	r, err := s.load(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	var body completeBody
	if err := s.decodeSmallJSON(c, &body, maxCompleteBody); err != nil {
		if errors.Is(err, errBodyTimeout) || errors.Is(err, errTooLarge) {
			return err
		}
		return problem.New(http.StatusBadRequest, "bad-json", "Unreadable request", "send {\"documents\":[{\"signature\":…,\"binding\":…}]} with base64 values")
	}
	if r.Method != "token" {
		return problem.New(http.StatusConflict, "wrong-method", "Not a token request", "only token sign requests are completed by the page; mobile ones complete by themselves")
	}
	if r.Status != statusAwaiting {
		return problem.New(http.StatusConflict, "not-awaiting", "Already completed", "this sign request is "+r.Status+"; its nonces are single-use")
	}
	if len(body.Documents) != len(r.Docs) {
		return problem.New(http.StatusBadRequest, "bad-count", "Wrong number of signatures", fmt.Sprintf("send one signature and binding per document (%d)", len(r.Docs)))
	}
	// The nonces are single-use: whatever happens next, they are gone.
	nb, err := s.cfg.Store.Take(ctx, kindNonces, r.ID)
	if err != nil {
		return problem.New(http.StatusConflict, "not-awaiting", "Already completed", "this sign request's nonces were used already")
	}
	var nonces []string
	_ = json.Unmarshal(nb, &nonces)
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	abort := func(p error) error {
		s.dropFiles(context.WithoutCancel(ctx), r.ID, len(r.Docs))
		var pe *problem.Error
		msg := "Signing failed."
		if errors.As(p, &pe) {
			msg = pe.Title + ": " + pe.Detail
		}
		_, _ = s.update(context.WithoutCancel(ctx), r.ID, func(r *signRequest) error {
			r.Status, r.Failure, r.Message = statusFailed, "token", msg+" Nothing was signed; start again."
			if r.System != nil && errors.Is(p, errSignerMismatch) {
				r.System.Outcome = outcomeSignerMismatch
			}
			if r.System != nil && isNotDelegated(p) {
				r.System.Outcome = outcomeNotDelegated
			}
			for i := range r.Docs {
				r.Docs[i].Prepared, r.Docs[i].CMS = nil, nil
			}
			return nil
		})
		return p
	}
	cert, err := x509.ParseCertificate(r.Cert)
	if err != nil {
		return abort(err)
	}
	origin := s.origin(c)
	for i, d := range body.Documents {
		if len(nonces) != len(r.Docs) || d.Nonce != "" && d.Nonce != nonces[i] {
			return abort(problem.New(http.StatusUnprocessableEntity, "wrong-nonce", "Wrong nonce", fmt.Sprintf("document %d: the nonce is not the one issued for this sign request", i+1)))
		}
		digest := r.Docs[i].digestToSign()
		h, err := wire.HashByName(r.Docs[i].Hash)
		if err != nil || digest == nil {
			return abort(problem.New(http.StatusConflict, "not-awaiting", "Nothing to complete", "the request holds no prepared signature"))
		}
		if err := wire.VerifyBinding(cert.PublicKey, h, r.Docs[i].Scheme, origin, nonces[i], digest, d.Binding); err != nil {
			return abort(problem.New(http.StatusUnprocessableEntity, "bad-binding", "Binding does not verify",
				fmt.Sprintf("document %d: the agent's binding does not match this site and sign request (was the signature made for another page?)", i+1)))
		}
		alg, err := cms.AlgorithmFor(cert.PublicKey, r.Docs[i].Scheme == "pss")
		if err == nil {
			err = cms.VerifyDigest(cert.PublicKey, alg, h, digest, d.Signature)
		}
		if err != nil {
			return abort(problem.New(http.StatusUnprocessableEntity, "bad-signature", "Signature does not verify", fmt.Sprintf("document %d: the signature is not the certificate's signature over the digest", i+1)))
		}
	}
	// The expected signer (a system's ExpectedSigner.ID) must hold the key.
	got := mobileid.IdentityOf(cert).IDNP
	if r.IDNP != "" && got != r.IDNP {
		return abort(errSignerMismatch)
	}
	if err := s.checkDelegation(ctx, r.Delegator, got); isNotDelegated(err) {
		return abort(errNotDelegated)
	} else if err != nil {
		return abort(problem.New(http.StatusBadGateway, "mpower-unavailable", "MPower did not answer", "the power of representation could not be checked: "+err.Error()))
	}
	for i, d := range body.Documents {
		n := i + 1
		if cp := r.Docs[i].CMS; cp != nil {
			sig, level, err := s.completeHash(ctx, cp, d.Signature)
			if err != nil {
				return abort(problem.New(http.StatusUnprocessableEntity, "signing-failed", "Signing failed", fmt.Sprintf("document %d: %v", n, err)))
			}
			if r, err = s.finishDoc(ctx, r.ID, n, sig, cert, "token", level); err != nil {
				return abort(err)
			}
			continue
		}
		data, err := s.docs.get(ctx, kindSignIn, docKey(r.ID, n))
		if err != nil {
			return abort(errExpiredRequest)
		}
		opts, err := s.options(r, nil) // the stamp was drawn by Prepare
		if err != nil {
			return abort(err)
		}
		var out bytes.Buffer
		start := time.Now()
		res, err := pades.Complete(ctx, bytes.NewReader(data), int64(len(data)), r.Docs[i].Prepared, d.Signature, &out, opts)
		s.observeSigning("token", start)
		if err != nil {
			return abort(problem.New(http.StatusUnprocessableEntity, "signing-failed", "Signing failed", fmt.Sprintf("document %d: %v", n, err)))
		}
		if r, err = s.finishDoc(ctx, r.ID, n, out.Bytes(), cert, "token", res.Level); err != nil {
			return abort(err)
		}
	}
	return c.JSON(http.StatusOK, s.view(r, nil))
}

// cancelSignRequest answers DELETE /api/v1/sign-requests/{id}: the page
// gives up (the agent refused, the person left): the files go at once.
func (s *Service) cancelSignRequest(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.citizenRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if r.Status == statusPending {
		return problem.New(http.StatusConflict, "pending-on-phone", "The phone is being asked", "a mobile signature cannot be withdrawn by the page; refuse it on the phone")
	}
	s.dropFiles(ctx, r.ID, len(r.Docs))
	if err := s.cfg.Store.Delete(ctx, kindSignReq, r.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// origin is the server's public origin: configured, or the request's own.
func (s *Service) origin(c echo.Context) string {
	if s.cfg.PublicOrigin != "" {
		return strings.TrimRight(s.cfg.PublicOrigin, "/")
	}
	return c.Scheme() + "://" + c.Request().Host
}

// downloadDocument answers GET /api/v1/sign-requests/{id}/documents/{n}:
// the signed PDF. It stays downloadable until the request expires or the
// person deletes it ("done"), so an interrupted download can be retried or
// resumed: Range and If-Range with the file's ETag (its SHA-256) are
// honoured. It is marked downloaded only once its last byte was sent.
func (s *Service) downloadDocument(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.citizenRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 || n > len(r.Docs) {
		return problem.New(http.StatusNotFound, "unknown-document", "Unknown document", fmt.Sprintf("this sign request has documents 1 to %d", len(r.Docs)))
	}
	d := r.Docs[n-1]
	if !d.Signed {
		return problem.New(http.StatusConflict, "not-signed", "Not signed yet", "the document is not signed (status "+r.Status+")")
	}
	errGone := problem.New(http.StatusGone, "downloaded", "No longer kept",
		"the signed document was deleted from the server (the person pressed done, or the request expired)")
	if d.Deleted {
		return errGone
	}
	data, err := s.docs.get(ctx, kindSignOut, docKey(r.ID, n))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return errGone
	}
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(d.Name, path.Ext(d.Name)) + "-signed.pdf"
	ascii := strings.Map(func(r rune) rune {
		if r > 127 || r == '"' {
			return '_'
		}
		return r
	}, name)
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, urlPathEscape(name)))
	h.Set(echo.HeaderContentType, "application/pdf")
	h.Set("X-Document-SHA256", d.SignedHash)
	h.Set("ETag", `"`+d.SignedHash+`"`)
	h.Set("Cache-Control", "private, no-store")
	w := &httpserve.StatusWriter{ResponseWriter: c.Response()}
	http.ServeContent(w, c.Request(), "", time.Time{}, bytes.NewReader(data))
	if c.Request().Method == http.MethodGet && reachedEnd(w, int64(len(data))) && !d.Downloaded {
		_, _ = s.update(context.WithoutCancel(ctx), r.ID, func(r *signRequest) error { r.Docs[n-1].Downloaded = true; return nil })
	}
	return nil
}

// reachedEnd: w sent the whole file of size bytes (200), or a range up to
// its last byte whole (206: a resumed download that completed).
func reachedEnd(w *httpserve.StatusWriter, size int64) bool {
	switch w.Status {
	case http.StatusOK:
		return w.Bytes == size
	case http.StatusPartialContent:
		var first, last, total int64
		if _, err := fmt.Sscanf(w.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil {
			return false // several ranges: a reader, not a download
		}
		return total == size && last == size-1 && w.Bytes == last-first+1
	}
	return false
}

// cancelPage answers POST /sign/{id}/cancel, the waiting page's button:
// nothing is signed, and an answer the phone gives later is thrown away.
func (s *Service) cancelPage(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.citizenRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	r, err = s.update(ctx, r.ID, func(x *signRequest) error {
		if x.Status != statusPending && x.Status != statusAwaiting {
			return errRequestEnded
		}
		x.Status, x.Failure, x.Message, x.Code, x.Current = statusFailed, "cancelled", "Cancelled on the page: nothing was signed.", "", 0
		for i := range x.Docs {
			x.Docs[i].Prepared, x.Docs[i].CMS, x.Docs[i].Mobile = nil, nil, nil
		}
		return nil
	})
	if err == nil {
		s.unlockPhone(ctx, r)
		s.dropFiles(ctx, r.ID, len(r.Docs))
	} else if !errors.Is(err, errRequestEnded) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/sign/"+c.Param("id"))
}

// donePage answers POST /sign/{id}/done: the person has the signed files
// and has them deleted from the server now.
func (s *Service) donePage(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.citizenRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if r.Status == statusSigned {
		s.dropFiles(ctx, r.ID, len(r.Docs))
		if _, err := s.update(ctx, r.ID, func(x *signRequest) error {
			for i := range x.Docs {
				x.Docs[i].Deleted = true
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/sign/"+r.ID)
}

// errRequestEnded: the request was no longer waiting (cancelled, signed or
// failed meanwhile).
var errRequestEnded = errors.New("msign: the sign request has ended")

func urlPathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 128 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("-._~", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
