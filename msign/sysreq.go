package msign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

// systemPart is what a registered system's request adds to a sign request.
type systemPart struct {
	Name        string             `json:"name"` // the system that posted it
	ContentType client.ContentType `json:"contentType"`
	Description string             `json:"description,omitempty"`
	Short       string             `json:"short"`
	// Set when the browser arrives (GET|POST /{id}).
	ReturnURL  string `json:"returnUrl,omitempty"`
	RelayState string `json:"relayState,omitempty"`
	Lang       string `json:"lang,omitempty"`
	MSISDN     string `json:"msisdn,omitempty"`     // suggested by the system
	Instrument string `json:"instrument,omitempty"` // suggested by the system
	// Outcome says why a request failed, for GetSignResponse's message.
	Outcome string `json:"outcome,omitempty"`
}

// Outcomes of failed system requests.
const (
	outcomeSignerMismatch = "signer-mismatch"
	outcomeCancelled      = "cancelled"
	outcomeNotDelegated   = "not-delegated"
)

// The problems of the system API (types in msign/client).
func errAuthorization() error {
	return &problem.Error{Status: http.StatusForbidden, Type: client.ProblemAuthorizationFailed, Title: "Authorization failed",
		Detail: "this request was posted by another system; a system reads only its own requests"}
}

var errRequestNotFound = &problem.Error{Status: http.StatusNotFound, Type: client.ProblemRequestNotFound, Title: "Request not found",
	Detail: "no request has this id: it is wrong, or it was purged after its time"}

func errInvalid(detail string) error {
	return &problem.Error{Status: http.StatusBadRequest, Type: client.ProblemInvalidParameter, Title: "Invalid parameter", Detail: detail}
}

// postSignRequest answers POST /api/v1/signature-requests (PostSignRequest).
func (s *Service) postSignRequest(c echo.Context) error {
	sys, err := s.authenticate(c)
	if err != nil {
		return err
	}
	var req client.SignRequest
	ctx, release, err := s.readSystemJSON(c, &req, "SignRequest")
	if err != nil {
		return err
	}
	defer release()
	id, err := s.newSystemRequest(ctx, sys, &req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, client.PostResponse{RequestID: id})
}

// readSystemJSON reads a registered system's JSON body into v (what
// names its type in errors): the body comes whole first (readSystemBody),
// then a large one is decoded holding a worker place, which the returned
// context carries for the rest of the work and release frees.
func (s *Service) readSystemJSON(c echo.Context, v any, what string) (context.Context, func(), error) {
	b, err := s.readSystemBody(c)
	if err != nil {
		return nil, nil, err
	}
	defer b.close()
	ctx, release := c.Request().Context(), func() {}
	if b.large() {
		if ctx, release, err = s.acquireCtx(ctx); err != nil {
			return nil, nil, err
		}
	}
	// encoding/json's semantics (names matched without regard to case),
	// unknown members refused, nothing after the value. Unmarshal reads
	// the body once; a json.Decoder would scan it twice and copy it.
	opts := jsonv2.JoinOptions(json.DefaultOptionsV1(), jsonv2.RejectUnknownMembers(true))
	if b.mem != nil {
		err = jsonv2.Unmarshal(b.mem, v, opts)
	} else {
		err = jsonv2.UnmarshalRead(b, v, opts)
	}
	if err != nil {
		release()
		return nil, nil, errInvalid("the body is not a " + what + " in JSON: " + err.Error())
	}
	return ctx, release, nil
}

// newSystemRequest checks and stores a system's request (PostSignRequest
// of the REST and SOAP faces) and returns its id.
func (s *Service) newSystemRequest(ctx context.Context, sys *System, req *client.SignRequest) (string, error) {
	if len(req.Contents) > maxDocuments {
		return "", errInvalid(fmt.Sprintf("Contents: %d contents, at most %d in one request", len(req.Contents), maxDocuments))
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	// Every fault at once: the fields, then whether each PDF is one.
	var faults []string
	var pe *problem.Error
	if err := req.Validate(); errors.As(err, &pe) {
		faults = append(faults, pe.Detail)
	} else if err != nil {
		return "", err
	}
	if err := s.checkDelegator(req.ExpectedSigner); errors.As(err, &pe) {
		faults = append(faults, pe.Detail)
	}
	now := time.Now()
	level := pades.LevelBT
	if s.cfg.Timestamper == nil {
		level = pades.LevelBB
	}
	r := &signRequest{ID: newID(), Status: statusCreated, Created: now.UTC(), Expires: now.Add(s.cfg.SignTTL).UTC(),
		Keep: now.Add(s.cfg.ResultTTL).UTC(), Level: level.String(), Reason: req.SignatureReason,
		Message: "Waiting for the person to choose how to sign.",
		System:  &systemPart{Name: sys.Name, ContentType: req.ContentType, Description: req.ContentDescription, Short: req.ShortContentDescription}}
	if req.ExpectedSigner != nil {
		r.IDNP = req.ExpectedSigner.ID
		r.Delegator = delegationOf(req.ExpectedSigner)
	}
	for i, ct := range req.Contents {
		name := safeName(ct.Name)
		if ct.Name == "" {
			name = safeName(ct.CorrelationID)
		}
		if req.ContentType == client.ContentPdf && len(ct.Content) > 0 {
			if _, err := checkPDF(name, ct.Content, 1); errors.As(err, &pe) {
				faults = append(faults, fmt.Sprintf("Contents[%d].Content: %s", i, pe.Detail))
			} else if err != nil {
				return "", err
			}
		}
		sum := sha256.Sum256(ct.Content)
		r.Docs = append(r.Docs, signDoc{Name: name, CorrelationID: ct.CorrelationID, Size: int64(len(ct.Content)), SHA256: hex.EncodeToString(sum[:])})
	}
	if faults != nil {
		return "", errInvalid(strings.Join(faults, "; "))
	}
	// The files and the request in one transaction: a request in the
	// store has its files.
	docs := make([]store.ItemPut, len(req.Contents))
	for i, ct := range req.Contents {
		docs[i] = store.ItemPut{Kind: kindSignIn, ID: docKey(r.ID, i+1), Value: ct.Content, TTL: s.cfg.ResultTTL}
	}
	it, err := requestItem(r)
	if err != nil {
		return "", err
	}
	if err := s.docs.putWith(ctx, docs, it); err != nil {
		return "", err
	}
	return r.ID, nil
}

// systemRequest loads request id for the browser or the API: only a
// registered system's requests exist here.
func (s *Service) systemRequest(ctx context.Context, id string) (*signRequest, error) {
	if !isID(id) {
		return nil, errRequestNotFound
	}
	r, err := s.current(ctx, id)
	if errors.Is(err, errUnknownRequest) || errors.Is(err, errExpiredRequest) {
		return nil, errRequestNotFound
	}
	if err != nil {
		return nil, err
	}
	if r.System == nil {
		return nil, errRequestNotFound
	}
	return r, nil
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func isID(id string) bool { return idPattern.MatchString(id) }

// getSignResponse answers GET /api/v1/signature-requests/{id}
// (GetSignResponse): the status, a message in ?language= (ro, ru, en) and,
// once signed, one result per content.
func (s *Service) getSignResponse(c echo.Context) error {
	sys, err := s.authenticate(c)
	if err != nil {
		return err
	}
	resp, err := s.signResponse(c.Request().Context(), sys, c.Param("id"), c.QueryParam("language"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, resp)
}

// signResponse is GetSignResponse of the REST and SOAP faces.
func (s *Service) signResponse(ctx context.Context, sys *System, id, lang string) (*client.SignResponse, error) {
	if lang == "" {
		lang = "ro"
	}
	if !slices.Contains(i18n.Langs, lang) {
		return nil, errInvalid(fmt.Sprintf("language: %q: want ro, ru or en", lang))
	}
	r, err := s.systemRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.System.Name != sys.Name {
		return nil, errAuthorization()
	}
	st := systemStatus(r)
	resp := client.SignResponse{Status: st, Message: s.resultWords(lang, st, r.System.Outcome)}
	if st == client.StatusSuccess {
		for i, d := range r.Docs {
			sig, err := s.docs.get(ctx, kindSignOut, docKey(r.ID, i+1))
			if err != nil {
				if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
					return nil, errRequestNotFound
				}
				return nil, err
			}
			resp.Results = append(resp.Results, client.SignResult{CorrelationID: d.CorrelationID, Certificate: r.Cert, Signature: sig})
		}
	}
	return &resp, nil
}

// systemStatus maps a request's state to MSign's four.
func systemStatus(r *signRequest) client.Status {
	switch r.Status {
	case statusSigned:
		return client.StatusSuccess
	case statusRefused, statusFailed:
		return client.StatusFailure
	case statusExpired:
		return client.StatusExpired
	}
	if time.Now().After(r.Expires) {
		return client.StatusExpired
	}
	return client.StatusPending
}

// resultWords is GetSignResponse's message (≤ 100 characters) in lang:
// result.<status>, or result.<outcome> for a failure with a known cause.
func (s *Service) resultWords(lang string, st client.Status, outcome string) string {
	l := s.web.cat.Localizer(lang)
	if st == client.StatusFailure && outcome != "" && l.Has("result."+outcome) {
		return l.T("result." + outcome)
	}
	return l.T("result." + string(st))
}

// normalizeMSISDN turns a Moldovan number written as +373 69 123 456,
// 0037369123456, 069123456 or 0 69 123 456 into +37369123456; "" when it
// is not one.
func normalizeMSISDN(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "+373"):
		s = s[4:]
	case strings.HasPrefix(s, "00373"):
		s = s[5:]
	case strings.HasPrefix(s, "373") && len(s) == 11:
		s = s[3:]
	case strings.HasPrefix(s, "0") && len(s) == 9:
		s = s[1:]
	default:
		return ""
	}
	if len(s) != 8 || strings.Trim(s, "0123456789") != "" {
		return ""
	}
	return "+373" + s
}

// sysPage is what the pages of a system's request show.
type sysPage struct {
	ID, System, Description, ExpectedSigner string
	Status                                  string // created, pending, ...
	Message, Code                           string
	Current, Total                          int
	Docs                                    []sysDoc
	MSISDN, Instrument                      string
	Previews                                bool // the page draws the PDFs' pages
	Lang                                    string
	Left                                    time.Duration // pending: the time left
	// The POST back: set once the request has ended.
	ReturnURL, RelayState string
	Result                client.Status
}

type sysDoc struct{ Name, Kind, SHA256, Preview string }

// sysLang is the language of a system request's pages: ?lang= on the
// page, else the one the system asked for.
func sysLang(c echo.Context, r *signRequest) string {
	if l := i18n.FromQuery(c.Request()); l != "" {
		return i18n.Choose(c.Response(), c.Request())
	}
	if slices.Contains(i18n.Langs, r.System.Lang) {
		return r.System.Lang
	}
	return i18n.Default
}

func (s *Service) sysPageOf(lang string, r *signRequest) *sysPage {
	l := s.web.cat.Localizer(lang)
	p := &sysPage{ID: r.ID, System: r.System.Name, Lang: lang, Description: r.System.Description, ExpectedSigner: r.IDNP, Status: r.Status,
		Message: statusWords(l, r), Code: r.Code, Current: r.Current, Total: len(r.Docs), MSISDN: r.System.MSISDN, Instrument: r.System.Instrument}
	if p.Description == "" {
		p.Description = r.System.Short
	}
	if r.Status == statusPending {
		p.Left = time.Until(r.Expires).Round(time.Second)
	}
	for i, d := range r.Docs {
		sd := sysDoc{Name: d.Name, Kind: l.T("sys.hash_kind"), SHA256: d.SHA256}
		if r.System.ContentType == client.ContentPdf {
			sd.Kind = "PDF"
			if !d.Signed && (r.Status == statusCreated || r.Status == statusPending || r.Status == statusAwaiting) {
				sd.Preview, p.Previews = fmt.Sprintf("/%s/documents/%d", r.ID, i+1), true
			}
		}
		p.Docs = append(p.Docs, sd)
	}
	if st := systemStatus(r); st != client.StatusPending {
		p.Result, p.ReturnURL, p.RelayState = st, r.System.ReturnURL, r.System.RelayState
		p.Message = s.resultWords(lang, st, r.System.Outcome)
	}
	return p
}

// requestPage shows a system's request: what is signed and how to sign
// it; once it has ended, the form that takes the browser back to the
// system (sent by the page's script, or by the person without one).
func (s *Service) requestPage(c echo.Context, status int, r *signRequest, msg string) error {
	lang := sysLang(c, r)
	c.Set(langKey, lang)
	p := s.sysPageOf(lang, r)
	s.signCSP(c) // the page may talk to the local token agent
	if p.Result != "" && p.ReturnURL != "" {
		return s.render(c, http.StatusOK, "return", pageData{Title: "MSign", Sys: p, Lang: lang})
	}
	return s.render(c, status, "request", pageData{Title: "MSign: " + r.System.Name, Sys: p, Error: msg, Lang: lang,
		Refresh: r.Status == statusPending})
}

// sysWords is a message in the language of a system request's pages.
func (s *Service) sysWords(c echo.Context, r *signRequest, id string) string {
	return s.web.cat.Localizer(sysLang(c, r)).T(id)
}

// documentToSign answers GET /{id}/documents/{n}: the PDF to be signed,
// for the page's preview, while the request has not ended.
func (s *Service) documentToSign(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.openedRequest(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 || n > len(r.Docs) || r.System.ContentType != client.ContentPdf || systemStatus(r) != client.StatusPending {
		return echo.ErrNotFound
	}
	data, err := s.docs.get(ctx, kindSignIn, docKey(r.ID, n))
	if err != nil {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return sizedBlob(c, "application/pdf", data)
}

// arrive answers GET|POST /{id}: the browser sent by a system, with its
// ReturnUrl, RelayState, lang, Instrument and MSISDN (query or form). The
// first arrival fixes them; a POST is answered with a redirect to the GET,
// whose page carries the form token.
func (s *Service) arrive(c echo.Context) error {
	id := c.Param("id")
	if !isID(id) {
		return echo.ErrNotFound
	}
	ctx := c.Request().Context()
	r, err := s.systemRequest(ctx, id)
	if err != nil {
		return err
	}
	val := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	returnURL, relay := val(client.ParamReturnURL), c.FormValue(client.ParamRelayState)
	if r.System.ReturnURL == "" {
		if returnURL == "" {
			return errInvalid("ReturnUrl is required: the address MSign sends the browser back to")
		}
		rec, err := s.cfg.Store.System(ctx, storeService, r.System.Name)
		if errors.Is(err, store.ErrNotFound) {
			return errRequestNotFound // the system was removed
		}
		if err != nil {
			return err
		}
		sys, err := systemOf(rec)
		if err != nil {
			return err
		}
		if !sys.allowsReturn(returnURL) {
			return errInvalid(fmt.Sprintf("ReturnUrl: %s is not an address registered for %s; the browser is not sent there", returnURL, sys.Name))
		}
		if len(relay) > client.MaxRelayState {
			return errInvalid(fmt.Sprintf("RelayState: %d bytes, at most %d", len(relay), client.MaxRelayState))
		}
		lang := val(client.ParamLang)
		if !slices.Contains(i18n.Langs, lang) {
			lang = i18n.Default
		}
		instrument := val(client.ParamInstrument)
		switch instrument {
		case "", "mobile", "token":
		default:
			return errInvalid("Instrument: want mobile or token")
		}
		msisdn := normalizeMSISDN(val(client.ParamMSISDN))
		if r, err = s.update(ctx, id, func(r *signRequest) error {
			if r.System.ReturnURL != "" && r.System.ReturnURL != returnURL {
				return errInvalid("ReturnUrl: this request was opened with another ReturnUrl")
			}
			r.System.ReturnURL, r.System.RelayState, r.System.Lang, r.System.MSISDN, r.System.Instrument = returnURL, relay, lang, msisdn, instrument
			return nil
		}); err != nil {
			return err
		}
	} else if returnURL != "" && returnURL != r.System.ReturnURL {
		return errInvalid("ReturnUrl: this request was opened with another ReturnUrl")
	}
	if c.Request().Method == http.MethodPost {
		return c.Redirect(http.StatusSeeOther, "/"+id)
	}
	return s.requestPage(c, http.StatusOK, r, "")
}

// errAlreadyStarted: the request is being signed or has ended.
var errAlreadyStarted = problem.New(http.StatusConflict, "already-started", "Already started",
	"this request is being signed or has ended; each request is signed once, and only a request not yet started can be cancelled")

// errNotOpened: the sign form of a request whose link was not followed.
var errNotOpened = errInvalid("open this request through the link of the service that asked for the signature")

// openedRequest is the request of a page's form: one whose link the
// browser followed (its ReturnUrl is known).
func (s *Service) openedRequest(c echo.Context) (*signRequest, error) {
	r, err := s.systemRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		return nil, err
	}
	if r.System.ReturnURL == "" {
		return nil, errNotOpened
	}
	return r, nil
}

// startableRequest is openedRequest not yet started (nor expired).
func (s *Service) startableRequest(c echo.Context) (*signRequest, error) {
	r, err := s.openedRequest(c)
	if err != nil {
		return nil, err
	}
	if r.Status != statusCreated || systemStatus(r) != client.StatusPending {
		return nil, errAlreadyStarted
	}
	return r, nil
}

// systemSign answers POST /{id}/sign, the request page's form: the person
// chose the mobile signature and gave a phone number.
func (s *Service) systemSign(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.startableRequest(c)
	if err != nil {
		return err
	}
	if c.FormValue(client.ParamInstrument) != "mobile" {
		return s.requestPage(c, http.StatusBadRequest, r, s.sysWords(c, r, "sys.use_js"))
	}
	phone := normalizeMSISDN(c.FormValue(client.ParamMSISDN))
	if phone == "" {
		r.System.MSISDN = c.FormValue(client.ParamMSISDN) // shown again, to be corrected
		return s.requestPage(c, http.StatusBadRequest, r, s.sysWords(c, r, "problem.bad-phone"))
	}
	if s.cfg.Mobile == nil {
		return s.requestPage(c, http.StatusServiceUnavailable, r, s.sysWords(c, r, "problem.method-unavailable"))
	}
	r.Phone = phone
	if err := s.lockPhone(ctx, r); err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			_, words, _ := s.errorWords(s.web.cat.Localizer(sysLang(c, r)), err)
			return s.requestPage(c, pe.Status, r, words)
		}
		return err
	}
	r, err = s.update(ctx, r.ID, func(x *signRequest) error {
		if x.Status != statusCreated {
			return errAlreadyStarted
		}
		x.Method, x.Phone, x.Status, x.Instance, x.Heartbeat = "mobile", phone, statusPending, s.instance, time.Now().UTC()
		x.Message = "Starting the mobile signature…"
		return nil
	})
	if err != nil {
		s.unlockPhone(ctx, &signRequest{ID: c.Param("id"), Phone: phone})
		return err
	}
	s.startMobile(ctx, r)
	return c.Redirect(http.StatusSeeOther, "/"+r.ID)
}

// systemCancel answers POST /{id}/cancel: the person does not sign; the
// request fails and the browser goes back.
func (s *Service) systemCancel(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.openedRequest(c)
	if err != nil {
		return err
	}
	// While the phone is asked too: its answer is then thrown away.
	if r, err = s.update(ctx, r.ID, func(x *signRequest) error {
		if x.Status != statusCreated && x.Status != statusAwaiting && x.Status != statusPending {
			return errAlreadyStarted
		}
		x.Status, x.Failure, x.Message, x.System.Outcome = statusFailed, "cancelled", "Cancelled: nothing was signed.", outcomeCancelled
		x.Code, x.Current = "", 0
		for i := range x.Docs {
			x.Docs[i].Prepared, x.Docs[i].CMS, x.Docs[i].Mobile = nil, nil, nil
		}
		return nil
	}); err != nil {
		return err
	}
	s.unlockPhone(ctx, r)
	s.dropFiles(ctx, r.ID, len(r.Docs))
	return c.Redirect(http.StatusSeeOther, "/"+r.ID)
}

// systemToken answers POST /{id}/token (the request page's script, with
// its form token in X-CSRF-Token): the person chose a USB token and the
// agent gave its certificate; every content is prepared for that key and
// the answer, as for a citizen's token request, carries per document the
// digest to sign and a one-time nonce. The page has the agent sign them
// and completes at /api/v1/sign-requests/{id}/complete.
func (s *Service) systemToken(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.startableRequest(c)
	if err != nil {
		return err
	}
	var body struct {
		Certificate string   `json:"certificate"`
		Chain       []string `json:"chain"`
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return problem.New(http.StatusBadRequest, "bad-json", "Unreadable request", `send {"certificate":…,"chain":[…]} with DER in base64`)
	}
	cert, chain, err := parseTokenCert(body.Certificate, body.Chain)
	if err != nil {
		return err
	}
	data := make([][]byte, len(r.Docs))
	for i := range r.Docs {
		if data[i], err = s.docs.get(ctx, kindSignIn, docKey(r.ID, i+1)); err != nil {
			return errRequestNotFound
		}
	}
	prepared := *r
	prepared.Docs = append([]signDoc(nil), r.Docs...)
	nonces, err := s.prepareToken(ctx, &prepared, cert, chain, data, make([]*pdf.Rect, len(r.Docs)))
	if err != nil {
		return err
	}
	nb, _ := json.Marshal(nonces)
	if err := s.cfg.Store.Put(ctx, kindNonces, r.ID, nb, time.Until(r.Expires)); err != nil {
		return err
	}
	r, err = s.update(ctx, r.ID, func(x *signRequest) error {
		if x.Status != statusCreated {
			return errAlreadyStarted
		}
		x.Method, x.Status, x.Cert, x.Chain, x.Signer, x.Docs = "token", prepared.Status, prepared.Cert, prepared.Chain, prepared.Signer, prepared.Docs
		x.Message = "Confirm on the agent and enter the token's PIN."
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.view(r, nonces))
}
