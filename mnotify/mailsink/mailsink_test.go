package mailsink

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/semnat/semnat/i18n"
)

func send(t *testing.T, addr, to, msg string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail("mnotify@example.md", []string{to}, strings.NewReader(msg))
}

// TestReceiveAndShow: a message sent over SMTP is kept, decoded, and shown
// on the page in each language, its HTML escaped; refused domains get a
// 550.
func TestReceiveAndShow(t *testing.T) {
	s, err := Start(Options{Keep: 2, Reject: []string{"refused.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := "Subject: =?utf-8?q?Cererea_a_fost_aprobat=C4=83?=\r\nMessage-ID: <1@x>\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<script>alert(1)</script> Certificatul este gat=C4=83.\r\n"
	if err := send(t, s.Addr(), "ion@example.md", msg); err != nil {
		t.Fatal(err)
	}
	err = send(t, s.Addr(), "x@refused.test", msg)
	if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 550 {
		t.Errorf("a refused domain: %v, want 550", err)
	}
	got := s.Messages()
	if len(got) != 1 || got[0].Subject != "Cererea a fost aprobată" || got[0].To[0] != "ion@example.md" ||
		!strings.Contains(got[0].Body, "Certificatul este gată.") || got[0].MessageID != "<1@x>" || got[0].Received.IsZero() {
		t.Fatalf("messages: %+v", got)
	}
	for range 3 {
		send(t, s.Addr(), "b@example.md", "Subject: more\r\n\r\nx\r\n")
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("kept %d messages, want the last 2", n)
	}
	cat, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/mail/?lang="+lang, nil))
		body, _ := io.ReadAll(rec.Body)
		page := string(body)
		if rec.Code != 200 || !strings.Contains(page, "b@example.md") || !strings.Contains(page, `lang="`+lang+`"`) {
			t.Errorf("%s: %d %s", lang, rec.Code, page)
		}
		for _, id := range cat.IDs() {
			if strings.Contains(page, id) {
				t.Errorf("%s: the message id %s is on the page (not translated)", lang, id)
			}
		}
	}
	s2, _ := Start(Options{})
	defer s2.Close()
	send(t, s2.Addr(), "ion@example.md", msg)
	rec := httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/mail/", nil))
	page := rec.Body.String()
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "Poșta primită") {
		t.Errorf("the page does not escape the body, or is not Romanian by default:\n%s", page)
	}
}

// FuzzParse: any bytes give a message, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Subject: =?utf-8?q?a=C4=83?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3D=\r\ny\r\n"))
	f.Add([]byte("Subject: =?utf-8?b?w6I=?=\r\nContent-Transfer-Encoding: base64\r\n\r\nw6LDrg==\r\n"))
	f.Add([]byte("no headers"))
	f.Add([]byte("Subject: =?bad?x?y?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := Parse(b)
		if len(m.Body) > 2*len(b)+16 {
			t.Errorf("a body of %d bytes from %d", len(m.Body), len(b))
		}
	})
}
