package mpower

import (
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// okBool answers byte for byte as ok does (status, headers, body).
func TestOkBoolAsOk(t *testing.T) {
	e := echo.New()
	for _, v := range []bool{true, false} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := ok(e.NewContext(httptest.NewRequest("GET", "/", nil), want), v); err != nil {
			t.Fatal(err)
		}
		if err := okBool(e.NewContext(httptest.NewRequest("GET", "/", nil), got), v); err != nil {
			t.Fatal(err)
		}
		if got.Code != want.Code || got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("okBool(%v): %d %q %q; ok: %d %q %q", v, got.Code, got.Header().Get("Content-Type"), got.Body,
				want.Code, want.Header().Get("Content-Type"), want.Body)
		}
	}
}
