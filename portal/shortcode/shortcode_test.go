package shortcode

import (
	"errors"
	"strings"
	"testing"
)

// TestRoundTrip: new codes parse back, in every form a person may type
// them.
func TestRoundTrip(t *testing.T) {
	for range 200 {
		c := New()
		if len(c) != Len {
			t.Fatalf("%q: length %d", c, len(c))
		}
		for _, in := range []string{c, Format(c), strings.ToLower(Format(c)), " " + c[:5] + " " + c[5:]} {
			if got, err := Parse(in); err != nil || got != c {
				t.Fatalf("Parse(%q) = %q, %v; want %q", in, got, err, c)
			}
		}
	}
	if got, err := Parse("oI2L-0000-000"); err != nil && !errors.Is(err, ErrInvalid) || err == nil && got[:4] != "0121" {
		t.Fatalf("Crockford's look-alikes: %q %v", got, err)
	}
}

// TestCheckCharacter: every single substitution and every swap of two
// different neighbours (but 0 and Z) is found.
func TestCheckCharacter(t *testing.T) {
	for range 50 {
		c := New()
		for i := 0; i < Len; i++ {
			for _, r := range alphabet {
				if byte(r) == c[i] {
					continue
				}
				bad := c[:i] + string(r) + c[i+1:]
				if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s → %s (position %d) accepted", c, bad, i)
				}
			}
			if i+1 < Len && c[i] != c[i+1] && !strings.Contains("0Z Z0", c[i:i+2]) {
				bad := c[:i] + string(c[i+1]) + string(c[i]) + c[i+2:]
				if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s → %s (swap at %d) accepted", c, bad, i)
				}
			}
		}
	}
	for _, bad := range []string{"", "ABC", "ABCD-EFGH-JK7X", "ABCD-EFGH-JKU", "ÂBCD-EFGH-JK7", "../etc/passwd"} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(New())
	f.Add("abcd-efgh-jk7")
	f.Add("ÿ\x00-")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		if again, err := Parse(c); err != nil || again != c || len(c) != Len {
			t.Fatalf("Parse(%q) = %q, not canonical: %q %v", s, c, again, err)
		}
	})
}
