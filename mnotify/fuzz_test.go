package mnotify

import (
	"strings"
	"testing"

	"github.com/semnat/semnat/mnotify/client"
)

func TestRender(t *testing.T) {
	vars := map[string]string{"Nume": "Ion & <Maria>", "a.b": "x"}
	for in, want := range map[string]string{
		"Salut {{Nume}}!":       "Salut Ion & <Maria>!",
		"{{ a.b }}{{a.b}}":      "xx",
		"fără":                  "fără",
		"{ {Nume} } {{Nume}}}}": "{ {Nume} } Ion & <Maria>}}",
	} {
		if got, err := render(in, vars, false); err != nil || got != want {
			t.Errorf("render(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, _ := render("<b>{{Nume}}</b>", vars, true); got != "<b>Ion &amp; &lt;Maria&gt;</b>" {
		t.Errorf("HTML: %q", got)
	}
	for _, bad := range []string{"{{Lipsă}}", "{{Nume", "{{}}", "{{a b}}", "{{Nume}} {{"} {
		if _, err := render(bad, vars, false); err == nil {
			t.Errorf("render(%q): no error", bad)
		}
	}
}

// FuzzRender: never a panic; with every placeholder filled no "{{" of a
// placeholder is left (only those in the values).
func FuzzRender(f *testing.F) {
	for _, s := range []string{"Salut {{Nume}}", "{{", "}}{{x}}", "{{ a.b }}", "{{{{x}}}}", "ș{{ț}}"} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, text, value string) {
		vars := map[string]string{"Nume": value, "x": value, "a.b": value}
		out, err := render(text, vars, true)
		if err != nil {
			return
		}
		if !strings.Contains(value, "{{") && strings.Count(out, "{{") > strings.Count(text, "{{") {
			t.Errorf("render(%q) = %q: more {{ than in", text, out)
		}
		if err := checkPlaceholders(text); err != nil {
			t.Errorf("render accepts %q but checkPlaceholders does not: %v", text, err)
		}
	})
}

// FuzzDecodeNotification: any body gets a decoded, checked request or a
// ProblemInvalid, never a panic.
func FuzzDecodeNotification(f *testing.F) {
	f.Add([]byte(`{"subject":{"ro":"s"},"body":{"ro":"b"},"recipients":[{"value":"2006022048426","type":"Idnp"}]}`))
	f.Add([]byte(`{"template":{"id":"t","variables":"{\"a\":1,\"b\":[1]}"},"recipients":[{"value":"a@b.md","type":"Email"}],"priority":"High"}`))
	f.Add([]byte(`{"recipients":[]} {}`))
	f.Add([]byte(`{"subject":{"ro":"a\r\nb"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req client.NotificationRequest
		if err := decodeJSON(b, &req); err != nil {
			if !strings.Contains(err.Error(), "Invalid notification") {
				t.Errorf("decode error %v is not a ProblemInvalid", err)
			}
			return
		}
		if err := req.Check(); err != nil {
			return
		}
		for _, r := range req.Recipients {
			if strings.ContainsAny(r.Value, "\r\n") {
				t.Errorf("a recipient with a line break passed: %q", r.Value)
			}
		}
		for _, s := range []string{req.Subject.Ro, req.Subject.Ru, req.Subject.En} {
			if strings.ContainsAny(s, "\r\n") {
				t.Errorf("a subject with a line break passed: %q", s)
			}
		}
	})
}
