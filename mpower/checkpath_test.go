package mpower

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// queryFirst finds what net/url's parse and Get find (echo's QueryParam).
func TestQueryFirst(t *testing.T) {
	for _, c := range []struct{ raw, name string }{
		{"AuthorizationCode=1000000000000002", "AuthorizationCode"},
		{"a=1&AuthorizationCode=2&AuthorizationCode=3", "AuthorizationCode"},
		{"AuthorizationCode", "AuthorizationCode"},
		{"AuthorizationCode=%zz&AuthorizationCode=4", "AuthorizationCode"},
		{"Authorization%43ode=5", "AuthorizationCode"},
		{"%41=1", "%41"},
		{"%zz=1", "%zz"},
		{"a+b=c+d", "a b"},
		{"x=1;AuthorizationCode=6&AuthorizationCode=7", "AuthorizationCode"},
		{"&&AuthorizationCode=+8+&", "AuthorizationCode"},
		{"", "AuthorizationCode"},
		{strings.Repeat("x=1&", 100) + "AuthorizationCode=9", "AuthorizationCode"},
	} {
		checkQueryFirst(t, c.raw, c.name)
	}
}

func FuzzQueryFirst(f *testing.F) {
	f.Add("AuthorizationCode=1000000000000002", "AuthorizationCode")
	f.Add("a=1&b=%zz&b=2;c&%62=3", "b")
	f.Add("a+b=c%20d&a%20b=e", "a b")
	f.Fuzz(checkQueryFirst)
}

func checkQueryFirst(t *testing.T, raw, name string) {
	t.Helper()
	v, _ := url.ParseQuery(raw) // what it could parse, as echo uses it
	if want, got := v.Get(name), queryFirst(raw, name); got != want {
		t.Fatalf("queryFirst(%q, %q) = %q; url.ParseQuery: %q", raw, name, got, want)
	}
}

// noPower says what the wrapped ErrNotFound said.
func TestNoPower(t *testing.T) {
	err := noPower("1000000000000002")
	if want := fmt.Errorf("%w: no power %s", ErrNotFound, "1000000000000002"); err.Error() != want.Error() || !errors.Is(err, ErrNotFound) {
		t.Errorf("noPower: %q (Is ErrNotFound: %v), want %q", err, errors.Is(err, ErrNotFound), want)
	}
}
