// Package client is MNotify's REST API (egov-flows §6) and a small Go
// client of it: a registered system sends a notification (subject, body
// and short body in ro/ru/en, or a template and its variables) to people
// by IDNP or to e-mail addresses, follows its status per recipient and
// channel, and cancels what is not delivered yet; templates are kept by the
// service. A system registered as a cabinet (MCabinet, the portal) also
// reads a person's inbox, marks messages read and keeps the contact
// registry (IDNP → e-mail, language). Errors are RFC 9457 problem
// documents with the types below. The client authenticates with its TLS
// client certificate (in Options.HTTPClient) or an API key.
//
// mnotify imports this package, never the other way round.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/problem"
)

// Paths of the API under the service's base URL ({id}: a notification's
// UUID or a template's id; {idnp}: a person's IDNP; {msg}: an inbox
// message's number).
const (
	PathNotifications = "/api/Notification"            // POST NotificationRequest → 201 "UUID"; GET → []Notification (Page, PageSize; X-Total-Count)
	PathNotification  = "/api/Notification/{id}"       // GET → Notification; DELETE → Notification (cancelled; 409 once delivered)
	PathTemplates     = "/api/Template"                // GET → []Template; POST Template → 201 Template
	PathTemplate      = "/api/Template/{id}"           // GET, PUT Template, DELETE
	PathTemplateCheck = "/api/Template/{id}/check"     // POST {"variables": "{...}"} → Rendered
	PathContact       = "/api/Contact/{idnp}"          // GET, PUT Contact, DELETE (cabinet systems)
	PathInbox         = "/api/Inbox/{idnp}"            // GET → []InboxMessage (cabinet systems)
	PathInboxRead     = "/api/Inbox/{idnp}/{msg}/read" // POST → InboxMessage, its delivery Read
	PathOpenAPI       = "/api/mnotify/openapi.json"    // the API description
	HeaderTotalCount  = "X-Total-Count"                // GET /api/Notification: how many in all
	HeaderIdempotency = "Idempotency-Key"              // POST /api/Notification: a retry with the same key gets the same notification
	PathReceiver      = "/mail/"                       // the demo's SMTP receiver page (not part of the API)
)

// Problem types of the API (RFC 9457 "type"), with their HTTP status.
const (
	ProblemAuthenticationFailed = problem.Prefix + "authentication-failed"  // 401: no registered certificate or API key
	ProblemAuthorizationFailed  = problem.Prefix + "authorization-failed"   // 403: not a cabinet system, or another system's template
	ProblemInvalid              = problem.Prefix + "invalid-notification"   // 400: the detail names the field and what is wrong
	ProblemNotFound             = problem.Prefix + "notification-not-found" // 404: no such notification (of this system), template, contact or message
	ProblemDelivered            = problem.Prefix + "already-delivered"      // 409: nothing left to cancel
	ProblemExists               = problem.Prefix + "template-exists"        // 409: POST of a template id in use
)

// Errors to test with errors.Is on what the client returns.
var (
	ErrAuthenticationFailed = &problem.Error{Type: ProblemAuthenticationFailed}
	ErrAuthorizationFailed  = &problem.Error{Type: ProblemAuthorizationFailed}
	ErrInvalid              = &problem.Error{Type: ProblemInvalid}
	ErrNotFound             = &problem.Error{Type: ProblemNotFound}
	ErrDelivered            = &problem.Error{Type: ProblemDelivered}
	ErrExists               = &problem.Error{Type: ProblemExists}
)

// Langs are the languages of a text, the default first.
var Langs = []string{"ro", "ru", "en"}

// Texts is a text in each language; ro is required where a text is.
type Texts struct {
	Ro string `json:"ro"`
	Ru string `json:"ru,omitempty"`
	En string `json:"en,omitempty"`
}

// In is the text in lang, else in Romanian.
func (t Texts) In(lang string) string {
	switch {
	case lang == "ru" && t.Ru != "":
		return t.Ru
	case lang == "en" && t.En != "":
		return t.En
	}
	return t.Ro
}

// Set makes s the text in lang (ro, ru or en; another is ignored).
func (t *Texts) Set(lang, s string) {
	switch lang {
	case "ro":
		t.Ro = s
	case "ru":
		t.Ru = s
	case "en":
		t.En = s
	}
}

// Each calls f with each language and its text (empty ones too).
func (t Texts) Each(f func(lang, s string)) { f("ro", t.Ro); f("ru", t.Ru); f("en", t.En) }

// IsZero tells a text in no language.
func (t Texts) IsZero() bool { return t == Texts{} }

// Priorities: High goes to every channel the recipient has, whatever
// their preferences.
const (
	PriorityLow    = "Low"
	PriorityMedium = "Medium"
	PriorityHigh   = "High"
)

// Recipient types.
const (
	RecipientIdnp  = "Idnp"  // a person: their MCabinet inbox, and e-mail if the contact registry has one
	RecipientEmail = "Email" // an e-mail address
)

// Channels.
const (
	ChannelEmail = "email"
	ChannelInbox = "inbox" // MCabinet
)

// Statuses of a delivery (one recipient on one channel) and, summed up, of
// a recipient and a notification: Pending → Sending → Sent → Delivered →
// Read; Cancelled; Failed. E-mail ends at Sent (the relay took it); the
// inbox is Delivered when the message is in it and Read when the person
// opened it. A delivery being sent when it is cancelled is Cancelling
// until the attempt ends: Cancelled, or Sent if the relay took it.
const (
	StatusPending    = "Pending"
	StatusSending    = "Sending"
	StatusSent       = "Sent"
	StatusDelivered  = "Delivered"
	StatusRead       = "Read"
	StatusCancelling = "Cancelling"
	StatusCancelled  = "Cancelled"
	StatusFailed     = "Failed"
)

// TemplateRef names a template and its variables: a JSON object as a
// string ({"Name": "Ion"}), as in AGE's API.
type TemplateRef struct {
	ID        string `json:"id"`
	Variables string `json:"variables,omitempty"`
}

// Recipient is a person (Idnp) or an address (Email).
type Recipient struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

// NotificationRequest is POST /api/Notification: either a subject and a
// body (ro required) or a template.
type NotificationRequest struct {
	UserID     string       `json:"userId,omitempty"` // the sender's IDNP, when a person sends it
	Subject    Texts        `json:"subject"`
	Body       Texts        `json:"body"`      // plain text, or HTML when it starts with '<'
	BodyShort  Texts        `json:"bodyShort"` // for short channels (SMS, IM): at most 160 characters
	Priority   string       `json:"priority,omitempty"`
	Template   *TemplateRef `json:"template,omitempty"`
	Recipients []Recipient  `json:"recipients"`
}

// Limits of a request (egov-flows §6; the body is kept far smaller than
// AGE's 15 MB: there are no attachments here).
const (
	MaxRecipients   = 100
	MaxSubject      = 255 // characters
	MaxBodyShort    = 160 // characters
	MaxBody         = 256 << 10
	MaxRequestBytes = 1 << 20
	MaxVariables    = 64 << 10
)

// Check tells what is wrong with r (ErrInvalid), as the server does.
func (r *NotificationRequest) Check() error {
	if r.UserID != "" && idn.KindOf(r.UserID) != idn.Person {
		return Invalid("userId %q: want an IDNP (13 digits with its check digit)", r.UserID)
	}
	switch r.Priority {
	case "", PriorityLow, PriorityMedium, PriorityHigh:
	default:
		return Invalid("priority %q: want Low, Medium or High", r.Priority)
	}
	if r.Template != nil {
		if err := CheckTemplateID(r.Template.ID); err != nil {
			return err
		}
		if !r.Subject.IsZero() || !r.Body.IsZero() || !r.BodyShort.IsZero() {
			return Invalid("give either a template or subject and body, not both")
		}
		if _, err := ParseVariables(r.Template.Variables); err != nil {
			return err
		}
	} else if err := CheckTexts(r.Subject, r.Body, r.BodyShort); err != nil {
		return err
	}
	if len(r.Recipients) == 0 || len(r.Recipients) > MaxRecipients {
		return Invalid("recipients: give 1 to %d (%d given)", MaxRecipients, len(r.Recipients))
	}
	seen := map[Recipient]bool{}
	for i, rc := range r.Recipients {
		if err := rc.Check(); err != nil {
			return Invalid("recipients[%d]: %v", i, err)
		}
		if seen[rc] {
			return Invalid("recipients[%d]: %s %s is listed twice", i, rc.Type, rc.Value)
		}
		seen[rc] = true
	}
	return nil
}

// CheckTexts tells what is wrong with a notification's or a template's
// texts: the subject and body are required in Romanian.
func CheckTexts(subject, body, short Texts) error {
	if strings.TrimSpace(subject.Ro) == "" || strings.TrimSpace(body.Ro) == "" {
		return Invalid("subject.ro and body.ro are required (or give a template)")
	}
	var err error
	subject.Each(func(lang, s string) {
		if err == nil && (utf8.RuneCountInString(s) > MaxSubject || strings.ContainsAny(s, "\r\n") || !utf8.ValidString(s)) {
			err = Invalid("subject.%s: one line of valid UTF-8, at most %d characters", lang, MaxSubject)
		}
	})
	body.Each(func(lang, s string) {
		if err == nil && (len(s) > MaxBody || !utf8.ValidString(s)) {
			err = Invalid("body.%s: valid UTF-8, at most %d bytes", lang, MaxBody)
		}
	})
	short.Each(func(lang, s string) {
		if err == nil && (utf8.RuneCountInString(s) > MaxBodyShort || !utf8.ValidString(s)) {
			err = Invalid("bodyShort.%s: valid UTF-8, at most %d characters", lang, MaxBodyShort)
		}
	})
	return err
}

// Check tells what is wrong with a recipient.
func (rc Recipient) Check() error {
	switch rc.Type {
	case RecipientIdnp:
		if idn.KindOf(rc.Value) != idn.Person {
			return fmt.Errorf("%q is not an IDNP (13 digits with its check digit)", rc.Value)
		}
	case RecipientEmail:
		return CheckEmail(rc.Value)
	default:
		return fmt.Errorf("type %q: want Idnp or Email", rc.Type)
	}
	return nil
}

// CheckEmail accepts a bare address (user@domain), nothing more: no
// display name, no line break, no second address.
func CheckEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return fmt.Errorf("%q is not an e-mail address (user@domain.tld)", s)
	}
	return nil
}

// ParseVariables reads a template's variables: a JSON object of names to
// strings (numbers and booleans are taken as written); "" is none.
func ParseVariables(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	if len(s) > MaxVariables {
		return nil, Invalid("template.variables: at most %d bytes", MaxVariables)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, Invalid("template.variables: want a JSON object of names to values as a string: %v", err)
	}
	for k, v := range raw {
		var str string
		if string(v) == "null" { // Unmarshal into a string leaves it "" for null
			return nil, Invalid("template.variables: %s: want a string, number or boolean, not null", k)
		}
		if err := json.Unmarshal(v, &str); err == nil {
			out[k] = str
			continue
		}
		var any any
		if err := json.Unmarshal(v, &any); err != nil {
			return nil, Invalid("template.variables: %s: %v", k, err)
		}
		switch any.(type) {
		case float64, bool:
			out[k] = string(v)
		default:
			return nil, Invalid("template.variables: %s: want a string, number or boolean", k)
		}
	}
	return out, nil
}

// CheckTemplateID accepts 1 to 64 letters, digits, '.', '_' and '-'.
func CheckTemplateID(id string) error {
	if id == "" || len(id) > 64 {
		return Invalid("template id %q: 1 to 64 letters, digits, '.', '_' or '-'", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return Invalid("template id %q: 1 to 64 letters, digits, '.', '_' or '-'", id)
		}
	}
	return nil
}

// Invalid is a ProblemInvalid error.
func Invalid(format string, args ...any) error {
	return problem.Newf(http.StatusBadRequest, "invalid-notification", "Invalid notification", format, args...)
}

// ChannelStatus is one delivery: a recipient on a channel.
type ChannelStatus struct {
	Channel   string    `json:"channel"`
	Address   string    `json:"address"` // the e-mail address, or the IDNP of the inbox
	Language  string    `json:"language"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	Updated   time.Time `json:"updated"`
}

// RecipientStatus is a recipient with its deliveries; Status sums them up.
type RecipientStatus struct {
	Value    string          `json:"value"`
	Type     string          `json:"type"`
	Status   string          `json:"status"`
	Channels []ChannelStatus `json:"channels"`
}

// Notification is a notification and its statuses.
type Notification struct {
	ID         string            `json:"id"`
	System     string            `json:"system"` // the system that sent it
	UserID     string            `json:"userId,omitempty"`
	Created    time.Time         `json:"created"`
	Priority   string            `json:"priority"`
	TemplateID string            `json:"templateId,omitempty"`
	Subject    Texts             `json:"subject"`
	Body       Texts             `json:"body"`
	BodyShort  Texts             `json:"bodyShort"`
	Status     string            `json:"status"`
	Recipients []RecipientStatus `json:"recipients"`
}

// Template is a notification template: its texts with {{Name}}
// placeholders filled from the variables.
type Template struct {
	ID        string    `json:"id"`
	Subject   Texts     `json:"subject"`
	Body      Texts     `json:"body"`
	BodyShort Texts     `json:"bodyShort"`
	Owner     string    `json:"owner,omitempty"` // the system that made it (set by the server)
	Updated   time.Time `json:"updated,omitempty"`
}

// Rendered is a template filled in (POST .../check).
type Rendered struct {
	Subject   Texts `json:"subject"`
	Body      Texts `json:"body"`
	BodyShort Texts `json:"bodyShort"`
}

// Contact is what the contact registry knows of a person: where e-mail
// goes, in which language, and on which channels they want notifications
// (empty: all; a High priority notification ignores it).
type Contact struct {
	IDNP     string    `json:"idnp"`
	Email    string    `json:"email,omitempty"`
	Language string    `json:"language,omitempty"` // ro (default), ru, en
	Channels []string  `json:"channels,omitempty"`
	Updated  time.Time `json:"updated,omitempty"`
}

// Check tells what is wrong with c.
func (c *Contact) Check() error {
	if idn.KindOf(c.IDNP) != idn.Person {
		return Invalid("idnp %q: want an IDNP (13 digits with its check digit)", c.IDNP)
	}
	if c.Email != "" {
		if err := CheckEmail(c.Email); err != nil {
			return Invalid("email: %v", err)
		}
	}
	switch c.Language {
	case "", "ro", "ru", "en":
	default:
		return Invalid("language %q: want ro, ru or en", c.Language)
	}
	for _, ch := range c.Channels {
		if ch != ChannelEmail && ch != ChannelInbox {
			return Invalid("channels: %q: want email or inbox", ch)
		}
	}
	return nil
}

// InboxMessage is a notification in a person's MCabinet inbox, in their
// language.
type InboxMessage struct {
	ID             int64      `json:"id"`
	NotificationID string     `json:"notificationId"`
	System         string     `json:"system"`
	Subject        string     `json:"subject"`
	Body           string     `json:"body"`
	BodyShort      string     `json:"bodyShort,omitempty"`
	Priority       string     `json:"priority"`
	Status         string     `json:"status"` // Delivered, Read
	Created        time.Time  `json:"created"`
	ReadAt         *time.Time `json:"readAt,omitempty"`
}

// Options configure a Client.
type Options struct {
	// HTTPClient carries the TLS client certificate (default: one with a
	// 30 s timeout and no certificate).
	HTTPClient *http.Client
	// APIKey is sent as X-API-Key when set.
	APIKey string
}

// Client calls one MNotify.
type Client struct {
	base string
	opts Options
}

// New makes a client of the MNotify at baseURL.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("mnotify client: base URL %q: want https://host[:port]", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), opts: opts}, nil
}

// Path fills a path's {name} parameters, in order.
func Path(pattern string, params ...string) string {
	for _, p := range params {
		i := strings.IndexByte(pattern, '{')
		j := strings.IndexByte(pattern, '}')
		if i < 0 || j < i {
			break
		}
		pattern = pattern[:i] + url.PathEscape(p) + pattern[j+1:]
	}
	return pattern
}

// Send posts a notification and returns its id. idempotencyKey, when not
// empty, makes a retry of the same request return the same id.
func (c *Client) Send(ctx context.Context, r NotificationRequest, idempotencyKey string) (string, error) {
	if err := r.Check(); err != nil {
		return "", err
	}
	var id string
	_, err := c.call(ctx, http.MethodPost, PathNotifications, nil, r, &id, func(h http.Header) {
		if idempotencyKey != "" {
			h.Set(HeaderIdempotency, idempotencyKey)
		}
	})
	return id, err
}

// Get returns a notification with its statuses.
func (c *Client) Get(ctx context.Context, id string) (*Notification, error) {
	var out Notification
	_, err := c.call(ctx, http.MethodGet, Path(PathNotification, id), nil, nil, &out, nil)
	return &out, err
}

// List returns a page (from 1; 0: the first, of the default size) of the
// system's notifications, newest first, and how many there are in all.
func (c *Client) List(ctx context.Context, page, pageSize int) ([]Notification, int, error) {
	q := url.Values{}
	if page > 0 {
		q.Set("Page", strconv.Itoa(page))
	}
	if pageSize > 0 {
		q.Set("PageSize", strconv.Itoa(pageSize))
	}
	var out []Notification
	resp, err := c.call(ctx, http.MethodGet, PathNotifications, q, nil, &out, nil)
	if err != nil {
		return nil, 0, err
	}
	total, _ := strconv.Atoi(resp.Header.Get(HeaderTotalCount))
	return out, total, nil
}

// Cancel cancels the deliveries not made yet (ErrDelivered when none is
// left) and returns the notification.
func (c *Client) Cancel(ctx context.Context, id string) (*Notification, error) {
	var out Notification
	_, err := c.call(ctx, http.MethodDelete, Path(PathNotification, id), nil, nil, &out, nil)
	return &out, err
}

// CreateTemplate adds a template (ErrExists when its id is taken).
func (c *Client) CreateTemplate(ctx context.Context, t Template) (*Template, error) {
	var out Template
	_, err := c.call(ctx, http.MethodPost, PathTemplates, nil, t, &out, nil)
	return &out, err
}

// PutTemplate creates or replaces the template t.ID.
func (c *Client) PutTemplate(ctx context.Context, t Template) (*Template, error) {
	var out Template
	_, err := c.call(ctx, http.MethodPut, Path(PathTemplate, t.ID), nil, t, &out, nil)
	return &out, err
}

// Template returns a template.
func (c *Client) Template(ctx context.Context, id string) (*Template, error) {
	var out Template
	_, err := c.call(ctx, http.MethodGet, Path(PathTemplate, id), nil, nil, &out, nil)
	return &out, err
}

// Templates lists the templates.
func (c *Client) Templates(ctx context.Context) ([]Template, error) {
	var out []Template
	_, err := c.call(ctx, http.MethodGet, PathTemplates, nil, nil, &out, nil)
	return out, err
}

// DeleteTemplate removes a template of the system's.
func (c *Client) DeleteTemplate(ctx context.Context, id string) error {
	_, err := c.call(ctx, http.MethodDelete, Path(PathTemplate, id), nil, nil, nil, nil)
	return err
}

// CheckTemplate renders a template with variables (a JSON object string).
func (c *Client) CheckTemplate(ctx context.Context, id, variables string) (*Rendered, error) {
	var out Rendered
	_, err := c.call(ctx, http.MethodPost, Path(PathTemplateCheck, id), nil, map[string]string{"variables": variables}, &out, nil)
	return &out, err
}

// SetContact sets a person's contact (cabinet systems).
func (c *Client) SetContact(ctx context.Context, ct Contact) (*Contact, error) {
	var out Contact
	_, err := c.call(ctx, http.MethodPut, Path(PathContact, ct.IDNP), nil, ct, &out, nil)
	return &out, err
}

// Contact returns a person's contact (cabinet systems).
func (c *Client) Contact(ctx context.Context, idnp string) (*Contact, error) {
	var out Contact
	_, err := c.call(ctx, http.MethodGet, Path(PathContact, idnp), nil, nil, &out, nil)
	return &out, err
}

// DeleteContact forgets a person's contact (cabinet systems).
func (c *Client) DeleteContact(ctx context.Context, idnp string) error {
	_, err := c.call(ctx, http.MethodDelete, Path(PathContact, idnp), nil, nil, nil, nil)
	return err
}

// Inbox lists a person's inbox, newest first (cabinet systems).
func (c *Client) Inbox(ctx context.Context, idnp string) ([]InboxMessage, error) {
	var out []InboxMessage
	_, err := c.call(ctx, http.MethodGet, Path(PathInbox, idnp), nil, nil, &out, nil)
	return out, err
}

// MarkRead marks an inbox message read: its delivery becomes Read.
func (c *Client) MarkRead(ctx context.Context, idnp string, msg int64) (*InboxMessage, error) {
	var out InboxMessage
	_, err := c.call(ctx, http.MethodPost, Path(PathInboxRead, idnp, strconv.FormatInt(msg, 10)), nil, struct{}{}, &out, nil)
	return &out, err
}

// RawPost posts in as JSON to path and decodes the answer into out, without
// the checks of the typed methods (for requests they would refuse).
func (c *Client) RawPost(ctx context.Context, path string, in, out any) (*http.Response, error) {
	return c.call(ctx, http.MethodPost, path, nil, in, out, nil)
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any, header func(http.Header)) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.opts.APIKey != "" {
		req.Header.Set("X-API-Key", c.opts.APIKey)
	}
	if header != nil {
		header(req.Header)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mnotify client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("mnotify client: %s %s: %w", method, path, problem.Read(resp))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return nil, fmt.Errorf("mnotify client: %s %s: unreadable answer: %w", method, path, err)
	}
	return resp, nil
}
