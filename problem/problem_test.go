package problem

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestErrorIsWriteRead(t *testing.T) {
	notFound := New(http.StatusNotFound, "request-not-found", "Request not found", "no such request")
	err := fmt.Errorf("looking up: %w", Newf(http.StatusNotFound, "request-not-found", "Request not found", "id %s", "x").Wrap(errors.ErrUnsupported))
	if !errors.Is(err, notFound) || errors.Is(err, New(404, "other", "", "")) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatal("Is compares types and unwraps to the cause")
	}
	rec := httptest.NewRecorder()
	p, internal := Of(err)
	if internal || p.Type != Prefix+"request-not-found" || p.Detail != "id x" {
		t.Fatalf("Of: %+v %v", p, internal)
	}
	if err := Write(rec, p); err != nil {
		t.Fatal(err)
	}
	back := Read(rec.Result())
	if !errors.Is(back, notFound) || rec.Header().Get("Content-Type") != MediaType {
		t.Fatalf("Read: %v", back)
	}
	// Not a problem document: the status is named; another error is internal.
	rec = httptest.NewRecorder()
	rec.WriteHeader(http.StatusBadGateway)
	var pe *Error
	if back := Read(rec.Result()); !errors.As(back, &pe) || pe.Status != 502 || pe.Type != Prefix+"http" {
		t.Fatalf("Read of a bare 502: %v", back)
	}
	if p, internal := Of(errors.New("disk full")); !internal || p.Status != 500 || p.Detail != "" {
		t.Fatalf("Of an unknown error: %+v", p)
	}
}
