// Package idn validates and builds Moldovan state identification numbers:
// IDNP (natural persons) and IDNO (legal entities, also the fiscal code).
//
// Both are 13 digits whose last digit is a check digit: the first twelve
// digits are weighted 7, 3, 1, 7, 3, 1, ... and the sum modulo 10 is the
// thirteenth digit.
package idn

import (
	"errors"
	"fmt"
)

// Kind tells which register a number belongs to, from its first digit.
type Kind int

const (
	Unknown Kind = iota
	Person       // IDNP: first digit 2 (or 0 for some older numbers)
	Entity       // IDNO: first digit 1
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("idn: invalid identification number")

var weights = [3]int{7, 3, 1}

// CheckDigit computes the check digit for the first twelve digits of an
// IDNP or IDNO.
func CheckDigit(first12 string) (byte, error) {
	if len(first12) != 12 {
		return 0, fmt.Errorf("%w: need 12 digits to compute a check digit, got %d characters", ErrInvalid, len(first12))
	}
	sum := 0
	for i := 0; i < 12; i++ {
		c := first12[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: character %d is %q, not a digit", ErrInvalid, i+1, c)
		}
		sum += int(c-'0') * weights[i%3]
	}
	return byte('0' + sum%10), nil
}

// Check reports why s is not a valid IDNP/IDNO, or nil when it is.
func Check(s string) error {
	if len(s) != 13 {
		return fmt.Errorf("%w: %d characters, want 13 digits", ErrInvalid, len(s))
	}
	want, err := CheckDigit(s[:12])
	if err != nil {
		return err
	}
	if s[12] != want {
		return fmt.Errorf("%w: check digit is %c, want %c", ErrInvalid, s[12], want)
	}
	return nil
}

// Valid reports whether s is a 13-digit IDNP or IDNO with a correct check digit.
func Valid(s string) bool { return Check(s) == nil }

// KindOf tells whether a valid number is an IDNP or an IDNO.
func KindOf(s string) Kind {
	if !Valid(s) {
		return Unknown
	}
	switch s[0] {
	case '2', '0':
		return Person
	case '1':
		return Entity
	}
	return Unknown
}

// Complete appends the check digit to twelve digits.
func Complete(first12 string) (string, error) {
	d, err := CheckDigit(first12)
	if err != nil {
		return "", err
	}
	return first12 + string(d), nil
}
