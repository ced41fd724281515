package mpower

import (
	"net/url"
	"strings"
)

// Small pieces of the check API's path that each check runs, written so
// that they allocate little: a busy service answers tens of thousands of
// checks a second, and each allocation is paid again by the collector.

// noPowerError is ErrNotFound for the power of a code: the text
// fmt.Errorf("%w: no power %s", ErrNotFound, code) gives, made when read.
type noPowerError struct{ code string }

func noPower(code string) error { return noPowerError{code} }

func (e noPowerError) Error() string { return ErrNotFound.Error() + ": no power " + e.code }

func (e noPowerError) Unwrap() error { return ErrNotFound }

// maxScannedParams: a query with more parameters than this is parsed by
// net/url (queryFirst), whose own limit on their number then applies.
const maxScannedParams = 64

// queryFirst is url.ParseQuery(raw).Get(name), the first value of name
// (echo's QueryParam), found without building the map of every
// parameter: the pairs are read in order under net/url's rules (a pair
// with a semicolon, or whose name or value does not unescape, is
// skipped).
func queryFirst(raw, name string) string {
	if strings.Count(raw, "&") >= maxScannedParams {
		v, _ := url.ParseQuery(raw)
		return v.Get(name)
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") { // an escaped name: compared unescaped
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		} else if k != name {
			continue
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		return uv
	}
	return ""
}
