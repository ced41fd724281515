// Package shortcode makes and reads the short codes printed on the
// documents the portal issues: ten random characters of Crockford's base
// 32 and a check character (Luhn mod 32), shown in groups as
// "ABCD-EFGH-JK7". A code read back from paper or typed by a person is
// forgiving as Crockford asks (lower case, I and L for 1, O for 0, dashes
// and spaces ignored) and the check character finds every single mistyped
// character and every swap of two neighbours but 0 and Z (Luhn's blind
// spot, as 09/90 for card numbers).
package shortcode

import (
	"crypto/rand"
	"errors"
	"strings"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Len is the number of characters of a code, its check character
// included; Random the number of random characters (50 bits).
const (
	Random = 10
	Len    = Random + 1
)

// ErrInvalid: not a code (wrong length or character, or its check
// character does not match: a typing mistake).
var ErrInvalid = errors.New("shortcode: not a document code")

// New is a new code, canonical (no dashes).
func New() string {
	var b [Random]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	out := make([]byte, 0, Len)
	for _, x := range b {
		out = append(out, alphabet[x&31])
	}
	return string(append(out, check(out)))
}

// check is the Luhn mod 32 check character of s (characters of alphabet).
func check(s []byte) byte {
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		add := factor * strings.IndexByte(alphabet, s[i])
		factor = 3 - factor
		sum += add/32 + add%32
	}
	return alphabet[(32-sum%32)%32]
}

// Parse reads a code as a person may give it and returns it canonical.
func Parse(s string) (string, error) {
	out := make([]byte, 0, Len)
	for _, r := range s {
		switch {
		case r == '-' || r == ' ':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		switch r {
		case 'I', 'L':
			r = '1'
		case 'O':
			r = '0'
		}
		if r > 127 || strings.IndexByte(alphabet, byte(r)) < 0 || len(out) == Len {
			return "", ErrInvalid
		}
		out = append(out, byte(r))
	}
	if len(out) != Len || check(out[:Random]) != out[Random] {
		return "", ErrInvalid
	}
	return string(out), nil
}

// Format groups a canonical code for people: "ABCD-EFGH-JK7".
func Format(code string) string {
	if len(code) != Len {
		return code
	}
	return code[:4] + "-" + code[4:8] + "-" + code[8:]
}
