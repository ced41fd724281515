package ocsp

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
)

type net0 struct{}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func (net0) freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

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
