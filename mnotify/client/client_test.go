package client

import (
	"errors"
	"testing"
)

func TestHelpers(t *testing.T) {
	tx := Texts{Ro: "ro", En: "en"}
	for lang, want := range map[string]string{"ro": "ro", "ru": "ro", "en": "en", "fr": "ro"} {
		if got := tx.In(lang); got != want {
			t.Errorf("In(%s) = %s, want %s", lang, got, want)
		}
	}
	if p := Path(PathInboxRead, "2006022048426", "7"); p != "/api/Inbox/2006022048426/7/read" {
		t.Errorf("Path: %s", p)
	}
	if p := Path(PathTemplate, "a/b?c"); p != "/api/Template/a%2Fb%3Fc" {
		t.Errorf("Path escapes: %s", p)
	}
	for _, ok := range []string{"ion@example.md", "a.b+c@sub.example.md"} {
		if err := CheckEmail(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ion", "Ion <ion@example.md>", "a@b.md, c@d.md", "a@localhost", "a@b.md\r\nBcc: c@d.md", " a@b.md"} {
		if CheckEmail(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	vars, err := ParseVariables(`{"a": "x", "n": 4.5, "b": true}`)
	if err != nil || vars["a"] != "x" || vars["n"] != "4.5" || vars["b"] != "true" {
		t.Errorf("ParseVariables: %v %v", vars, err)
	}
	for _, bad := range []string{`[1]`, `{"a": {"b": 1}}`, `{"a": null}`, `{`} {
		if _, err := ParseVariables(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseVariables(%s): %v", bad, err)
		}
	}
}
