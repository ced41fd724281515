package sysauth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// RequestKey finds the key however the client spelled X-API-Key (net/http
// canonicalises the names it reads, as Header.Set does here).
func TestRequestKeySpelling(t *testing.T) {
	for _, h := range []string{"X-API-Key", "x-api-key", "X-Api-Key"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(h, "k1")
		key, err := RequestKey(echo.New().NewContext(r, httptest.NewRecorder()))
		if err != nil || key != "k1" {
			t.Errorf("%s: %q, %v", h, key, err)
		}
	}
}
