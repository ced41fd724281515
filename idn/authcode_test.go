package idn

import (
	"errors"
	"testing"
)

func TestDammKnownValue(t *testing.T) {
	// The worked example of Damm's algorithm: 572 → 4.
	if d, err := DammDigit("572"); err != nil || d != '4' {
		t.Fatalf("DammDigit(572) = %c, %v; want 4", d, err)
	}
	if _, err := DammDigit("57a"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-digit: %v", err)
	}
}

func TestAuthCodeCatchesTypos(t *testing.T) {
	for i := 0; i < 50; i++ {
		code, err := NewAuthCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != AuthCodeLen || code[0] == '0' {
			t.Fatalf("code %q", code)
		}
		if err := CheckAuthCode(code); err != nil {
			t.Fatalf("fresh code %s: %v", code, err)
		}
		b := []byte(code)
		for p := 0; p < AuthCodeLen; p++ { // every single wrong digit
			orig := b[p]
			for d := byte('0'); d <= '9'; d++ {
				if d == orig {
					continue
				}
				b[p] = d
				if CheckAuthCode(string(b)) == nil {
					t.Fatalf("%s: changing digit %d to %c not caught", code, p, d)
				}
			}
			b[p] = orig
		}
		for p := 0; p+1 < AuthCodeLen; p++ { // every neighbour swap
			if b[p] == b[p+1] {
				continue
			}
			b[p], b[p+1] = b[p+1], b[p]
			if CheckAuthCode(string(b)) == nil {
				t.Fatalf("%s: swapping %d,%d not caught", code, p, p+1)
			}
			b[p], b[p+1] = b[p+1], b[p]
		}
	}
	for _, bad := range []string{"", "123", "12345678901234567", "123456789012345x"} {
		if err := CheckAuthCode(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzCheckAuthCode(f *testing.F) {
	f.Add("1234567890123456")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckAuthCode(s) == nil {
			d, _ := DammDigit(s[:15])
			if len(s) != 16 || s[15] != d {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
