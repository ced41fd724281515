package idn

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// An MPower authorization code is 16 digits: 15 random digits and a Damm
// check digit. Damm's quasigroup catches every single wrong digit and
// every swap of two neighbouring digits (the weighted sum of the IDNP
// misses swaps three places apart, Luhn misses 09↔90), the two typos a
// person copying a code makes.

// AuthCodeLen is the length of an authorization code.
const AuthCodeLen = 16

// damm is the totally anti-symmetric quasigroup of order 10 of H. M. Damm
// (2004).
var damm = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// DammDigit is the Damm check digit of a string of digits.
func DammDigit(digits string) (byte, error) {
	var interim byte
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: character %d is %q, not a digit", ErrInvalid, i+1, c)
		}
		interim = damm[interim][c-'0']
	}
	return '0' + interim, nil
}

// CheckAuthCode reports why s is not a well-formed authorization code (16
// digits, the last the Damm check digit of the others), or nil.
func CheckAuthCode(s string) error {
	if len(s) != AuthCodeLen {
		return fmt.Errorf("%w: authorization code of %d characters, want %d digits", ErrInvalid, len(s), AuthCodeLen)
	}
	want, err := DammDigit(s[:AuthCodeLen-1])
	if err != nil {
		return err
	}
	if s[AuthCodeLen-1] != want {
		return fmt.Errorf("%w: authorization code %s: the check digit does not fit (a digit mistyped?)", ErrInvalid, s)
	}
	return nil
}

// NewAuthCode makes a random authorization code (15 digits from
// crypto/rand, the first not 0, and the check digit).
func NewAuthCode() (string, error) {
	// 10^14 .. 10^15-1: 15 digits without a leading zero.
	lo := new(big.Int).Exp(big.NewInt(10), big.NewInt(14), nil)
	span := new(big.Int).Sub(new(big.Int).Mul(lo, big.NewInt(10)), lo)
	n, err := rand.Int(rand.Reader, span)
	if err != nil {
		return "", fmt.Errorf("idn: random authorization code: %w", err)
	}
	s := n.Add(n, lo).String()
	d, err := DammDigit(s)
	if err != nil {
		return "", err
	}
	return s + string(d), nil
}
