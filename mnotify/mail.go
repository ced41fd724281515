package mnotify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/semnat/semnat/mnotify/client"
)

// TLS modes of the relay.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which the relay must offer (port 587, 25)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: only for a relay on loopback (the demo's, a local MTA)
)

// SMTP is the relay e-mail goes through.
type SMTP struct {
	Addr string // host:port
	// From is the sender, in the envelope and the From header: an address
	// ("notificari@example.md").
	From string
	// TLS is TLSStartTLS (the default), TLSImplicit or TLSNone.
	TLS string
	// Username and Password, when Username is set, log in (AUTH PLAIN),
	// only over TLS or to a relay on loopback.
	Username string
	Password string
	// TLSConfig verifies the relay (nil: the system roots, the host of
	// Addr as server name).
	TLSConfig *tls.Config
	// HelloName is sent in EHLO ("localhost" when empty).
	HelloName string
	// Timeout bounds one delivery: connecting, each command, the message
	// (1 minute when 0).
	Timeout time.Duration
}

// ErrSMTPConfig is a relay configuration that cannot work.
var ErrSMTPConfig = errors.New("mnotify: bad SMTP relay settings")

// check tells what is wrong with s.
func (s *SMTP) check() error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("%w: address %q: want host:port", ErrSMTPConfig, s.Addr)
	}
	if err := client.CheckEmail(s.From); err != nil {
		return fmt.Errorf("%w: sender: %v", ErrSMTPConfig, err)
	}
	switch s.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if s.Username != "" && !isLoopback(host) {
			return fmt.Errorf("%w: a password would cross the network in clear to %s: use TLS starttls or tls", ErrSMTPConfig, host)
		}
	default:
		return fmt.Errorf("%w: TLS %q: want starttls, tls or none", ErrSMTPConfig, s.TLS)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// permanentError is a refusal the relay will repeat (5xx): the delivery
// fails without more attempts.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// send delivers one message to one address through the relay.
func (s *SMTP) send(ctx context.Context, to string, msg []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(s.Addr)
	tlsCfg := s.TLSConfig.Clone()
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = host
	}
	d := net.Dialer{}
	var conn net.Conn
	var err error
	if s.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return fmt.Errorf("connecting to the relay %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // cancel: stop waiting for the relay
	defer stop()
	var c *smtp.Client
	if s.TLS == "" || s.TLS == TLSStartTLS {
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			return classify(fmt.Errorf("STARTTLS with the relay %s: %w", s.Addr, err))
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if s.HelloName != "" {
		if err := c.Hello(s.HelloName); err != nil {
			return classify(fmt.Errorf("EHLO: %w", err))
		}
	}
	if s.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return classify(fmt.Errorf("logging in to the relay %s as %s: %w", s.Addr, s.Username, err))
		}
	}
	if err := c.SendMail(s.From, []string{to}, bytes.NewReader(msg)); err != nil {
		return classify(fmt.Errorf("sending to %s through %s: %w", to, s.Addr, err))
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// classify marks the relay's 5xx answers permanent.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code/100 == 5 {
		return &permanentError{err}
	}
	return err
}

// mailMessage is the RFC 5322 message of a delivery: UTF-8, the subject
// RFC 2047-encoded, the body quoted-printable, text/html when it starts
// with '<'. The Message-ID is the delivery's, the same on every attempt, so
// that a receiver can drop a copy sent twice (the relay took it, the
// process died before it noted so).
func mailMessage(from, to, subject, body, msgID, lang string, date time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", to)
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+msgID+">")
	h("Content-Language", lang)
	h("MIME-Version", "1.0")
	ctype := "text/plain"
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		ctype = "text/html"
	}
	h("Content-Type", ctype+"; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	w.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
