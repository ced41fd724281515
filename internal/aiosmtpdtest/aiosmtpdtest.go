// Package aiosmtpdtest runs Debian's python3-aiosmtpd, an SMTP server
// independent of semnat's code, for the tests of what sends e-mail
// (MNotify, and the services notifying through it): it stores what it
// receives in a Maildir, which the test reads.
package aiosmtpdtest

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
)

// Python is Debian's python3, which has the aiosmtpd module (not a pyenv
// python3 that may come first on PATH).
const Python = "/usr/bin/python3"

// Server is a running aiosmtpd.
type Server struct {
	Addr string // host:port it listens on
	dir  string // its Maildir
	cmd  *exec.Cmd
}

// Start runs aiosmtpd on addr (a free loopback address: FreeAddr), its
// Maildir in dir; it is stopped when the test ends. Without
// python3-aiosmtpd the test is skipped (a failure under CI).
func Start(t testing.TB, addr, dir string) *Server {
	t.Helper()
	if err := exec.Command(Python, "-c", "import aiosmtpd").Run(); err != nil {
		testtool.Unavailable(t, "python3-aiosmtpd (Debian's "+Python+") is not installed", "apt-get install python3-aiosmtpd")
	}
	dir = filepath.Join(dir, "maildir") // created by the handler with its tmp/, new/, cur/
	cmd := exec.Command(Python, "-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &Server{Addr: addr, dir: dir, cmd: cmd}
	t.Cleanup(a.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("aiosmtpd does not listen on %s after 30 s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreeAddr is a loopback address nothing listens on (yet).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (a *Server) stop() {
	if a.cmd.Process != nil {
		a.cmd.Process.Kill()
		a.cmd.Wait()
	}
}

// Message is a message as the server stored it (the subject decoded, the
// body undone of quoted-printable, with \n line ends).
type Message struct {
	To, Subject, Body, MessageID, RcptTo, ContentType string
}

// Messages reads the Maildir: every message received so far.
func (a *Server) Messages(t testing.TB) []Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(a.dir, "new", "*"))
	var out []Message
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("%s: subject: %v", f, err)
		}
		var body io.Reader = m.Body
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		bb, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: body: %v", f, err)
		}
		out = append(out, Message{To: m.Header.Get("To"), Subject: subj, Body: strings.TrimRight(strings.ReplaceAll(string(bb), "\r\n", "\n"), "\n"),
			MessageID: m.Header.Get("Message-ID"), RcptTo: m.Header.Get("X-RcptTo"), ContentType: m.Header.Get("Content-Type")})
	}
	return out
}

// Wait waits (at most timeout) until the server holds a message to
// address (its To header) whose subject contains subject, and returns it.
func (a *Server) Wait(t testing.TB, to, subject string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := a.Messages(t)
		for _, m := range got {
			if strings.Contains(m.To, to) && strings.Contains(m.Subject, subject) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("aiosmtpd received no message to %s about %q in %v; it holds %+v", to, subject, timeout, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
