// Package mailsink is the demo's SMTP receiver: an SMTP server
// (github.com/emersion/go-smtp) on loopback that keeps the last messages
// it receives in memory, and a web page listing them (subject, sender,
// recipients, body), so that `semnat serve --demo` shows MNotify's e-mail
// without sending anything out. It can require STARTTLS and a login, and
// refuse some domains, for tests of the relay settings.
package mailsink

import (
	"bytes"
	"crypto/tls"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/semnat/semnat/i18n"
)

// Options configure a Sink. The zero value listens on a free loopback port
// and keeps 200 messages.
type Options struct {
	Addr     string // 127.0.0.1:0 when empty
	Keep     int    // messages kept, the oldest dropped (200 when 0)
	MaxBytes int64  // largest message accepted (1 MiB when 0)
	// TLS, when set, is offered with STARTTLS and required before MAIL.
	TLS *tls.Config
	// Username and Password, when set, must log in (AUTH PLAIN).
	Username, Password string
	// Reject lists domains whose recipients are refused for good (550).
	Reject []string
}

// Message is a message received.
type Message struct {
	Received  time.Time
	From      string   // the envelope sender
	To        []string // the envelope recipients
	Subject   string   // decoded
	Body      string   // decoded (quoted-printable, base64), as text
	MessageID string
	TLS       bool // it came over TLS
}

// Sink is a running receiver. Close stops it.
type Sink struct {
	opts  Options
	srv   *smtp.Server
	ln    net.Listener
	done  chan struct{}
	pages *i18n.Templates

	mu   sync.Mutex
	msgs []Message // oldest first
}

//go:embed locales/*.toml
var localesFS embed.FS

//go:embed web
var webFS embed.FS

// Start listens and serves until Close.
func Start(opts Options) (*Sink, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Keep <= 0 {
		opts.Keep = 200
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 20
	}
	cat, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		return nil, fmt.Errorf("mailsink: %w", err)
	}
	pages, err := cat.Templates(webFS, template.FuncMap{}, map[string][]string{"mail": {"web/mail.html"}})
	if err != nil {
		return nil, fmt.Errorf("mailsink: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("mailsink: listening on %s: %w", opts.Addr, err)
	}
	s := &Sink{opts: opts, ln: ln, done: make(chan struct{}), pages: pages}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil }))
	s.srv.Domain = "mailsink.localhost"
	s.srv.MaxMessageBytes = opts.MaxBytes
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.TLSConfig = opts.TLS
	s.srv.AllowInsecureAuth = opts.TLS == nil // no TLS to offer: the demo's loopback
	s.srv.ErrorLog = discard{}
	go func() { s.srv.Serve(ln); close(s.done) }()
	return s, nil
}

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

// Addr is the host:port it listens on.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Sink) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Messages returns the messages kept, newest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.msgs)
	slices.Reverse(out)
	return out
}

func (s *Sink) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	if len(s.msgs) > s.opts.Keep {
		s.msgs = slices.Delete(s.msgs, 0, len(s.msgs)-s.opts.Keep)
	}
}

// session is one SMTP connection's transaction.
type session struct {
	s        *Sink
	c        *smtp.Conn
	loggedIn bool
	from     string
	to       []string
}

var (
	errTLSFirst  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errAuthFirst = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errBadLogin  = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		o := ss.s.opts
		if (identity != "" && identity != username) || username != o.Username || password != o.Password {
			return errBadLogin
		}
		ss.loggedIn = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.TLS != nil {
		if _, ok := ss.c.TLSConnectionState(); !ok {
			return errTLSFirst
		}
	}
	if ss.s.opts.Username != "" && !ss.loggedIn {
		return errAuthFirst
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	domain := to[strings.LastIndexByte(to, '@')+1:]
	if slices.Contains(ss.s.opts.Reject, strings.ToLower(domain)) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Parse(b)
	m.Received, m.From, m.To = time.Now(), ss.from, slices.Clone(ss.to)
	_, m.TLS = ss.c.TLSConnectionState()
	ss.s.add(m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// Parse reads what the page shows of a message: its subject and Message-ID
// and its text, decoded. What cannot be read is shown as it came (a
// receiver keeps what it got); it never fails.
func Parse(raw []byte) Message {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{Body: string(raw)}
	}
	var out Message
	dec := new(mime.WordDecoder)
	if out.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		out.Subject = m.Header.Get("Subject")
	}
	out.MessageID = m.Header.Get("Message-ID")
	body, _ := io.ReadAll(io.LimitReader(m.Body, int64(len(raw))))
	switch strings.ToLower(strings.TrimSpace(m.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		if d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil {
			body = d
		}
	case "base64":
		if d, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(body))); err == nil {
			body = d
		}
	}
	out.Body = strings.ReplaceAll(string(body), "\r\n", "\n")
	return out
}

// Handler serves the page listing the messages (any path; the demo mounts
// it at /mail/) and its style sheet (…/mail.css).
func (s *Sink) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/mail.css") {
			css, _ := webFS.ReadFile("web/mail.css")
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Write(css)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusFound)
			return
		}
		lang := i18n.Choose(w, r)
		var b bytes.Buffer
		err := s.pages.Execute(&b, lang, "mail", struct {
			Langs    []i18n.LangLink
			Addr     string
			Keep     int
			Messages []Message
		}{i18n.Links(r, lang), s.Addr(), s.opts.Keep, s.Messages()})
		if err != nil {
			http.Error(w, errors.New("the page could not be made").Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b.Bytes())
	})
}
