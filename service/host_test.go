package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/problem"
)

type fakeService struct {
	name   string
	closed *[]string
}

func (f *fakeService) Name() string { return f.name }
func (f *fakeService) Close() error {
	*f.closed = append(*f.closed, f.name)
	if f.name == "b" {
		return errors.New("stuck")
	}
	return nil
}
func (f *fakeService) Mount(g *echo.Group) {
	g.GET("/"+f.name+"/problem", func(echo.Context) error {
		return problem.New(http.StatusConflict, "busy-here", "Busy", "try later")
	})
	g.GET("/"+f.name+"/big", func(echo.Context) error { return echo.ErrStatusRequestEntityTooLarge })
	g.GET("/"+f.name+"/secret", func(echo.Context) error { return errors.New("database password is hunter2") })
	g.POST("/"+f.name+"/only-post", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

// TestHost: every error of a mounted service becomes a problem document
// with the request id (an unknown error without its text), readiness
// follows the store, and Close closes the services last first, joining
// their errors.
func TestHost(t *testing.T) {
	var closed []string
	h := NewHost(HostOptions{Ready: pinger{errors.New("down")}})
	h.Mount(&fakeService{name: "a", closed: &closed})
	h.Mount(&fakeService{name: "b", closed: &closed})
	h.Mount(Handler("plain", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("plain " + r.URL.Path)) }), nil, "/plain/*"))
	for path, want := range map[string]struct {
		status int
		typ    string
	}{
		"/a/problem": {409, "busy-here"}, "/b/big": {413, "too-large"}, "/a/secret": {500, "internal"},
		"/nowhere": {404, "not-found"}, "/a/only-post": {405, "method-not-allowed"}, "/readyz": {503, "not-ready"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var p problem.Problem
		if rec.Code != want.status || rec.Header().Get("Content-Type") != problem.MediaType || json.Unmarshal(rec.Body.Bytes(), &p) != nil ||
			p.Type != problem.Prefix+want.typ || p.RequestID == "" {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body.Bytes())
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("%s: the cause of an internal error is shown", path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/plain/x", nil))
	if rec.Body.String() != "plain /plain/x" || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("plain handler: %q", rec.Body.String())
	}
	if err := h.Close(); err == nil || !strings.Contains(err.Error(), "b: stuck") || strings.Join(closed, ",") != "b,a" {
		t.Errorf("close: %v, order %v", err, closed)
	}
}
