package ocsp

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// hexSerial formats a serial the way openssl index files do: upper-case hex,
// an even number of digits.
func hexSerial(n *big.Int) string {
	s := fmt.Sprintf("%X", n)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// newLoopback serves h on 127.0.0.1 for the test and returns its URL.
func newLoopback(tb testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}

// base64URL encodes a request for the GET form (RFC 6960 Appendix A).
func base64URL(der []byte) string {
	return url.PathEscape(base64.StdEncoding.EncodeToString(der))
}
