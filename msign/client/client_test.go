package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/semnat/semnat/problem"
)

// TestValidate: a good request passes; a bad one gets one InvalidParameter
// naming every field at fault.
func TestValidate(t *testing.T) {
	good := SignRequest{ShortContentDescription: "Cerere", ContentType: ContentHash,
		Contents: []SignContent{{CorrelationID: "a", Content: make([]byte, 32)}}, ExpectedSigner: &ExpectedSigner{ID: "2006022048426"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good request: %v", err)
	}
	bad := SignRequest{ContentType: "Xml", ContentDescription: strings.Repeat("d", 513),
		Contents:       []SignContent{{CorrelationID: "a", Content: []byte{1}}, {CorrelationID: "a"}},
		ExpectedSigner: &ExpectedSigner{ID: "2006022048427", DelegatorType: "Robot"}}
	err := bad.Validate()
	var pe *problem.Error
	if !errors.Is(err, ErrInvalidParameter) || !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
		t.Fatalf("bad request: %v", err)
	}
	for _, field := range []string{"ContentDescription", "ShortContentDescription", "ContentType", "Contents[1].CorrelationID",
		"Contents[1].Content", "ExpectedSigner.ID", "ExpectedSigner.DelegatorType"} {
		if !strings.Contains(pe.Detail, field+":") {
			t.Errorf("the detail does not name %s: %s", field, pe.Detail)
		}
	}
}

// TestClientProblems: the server's problem documents come back as errors
// that errors.Is tells apart; an answer without one names the status.
func TestClientProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("X-API-Key") != "k":
			problem.Write(w, problem.Problem{Type: ProblemAuthenticationFailed, Title: "Authentication failed", Status: 401})
		case strings.HasSuffix(r.URL.Path, "/gone"):
			problem.Write(w, problem.Problem{Type: ProblemRequestNotFound, Title: "Request not found", Status: 404})
		default:
			http.Error(w, "proxy trouble", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSignResponse(context.Background(), "gone", "en"); !errors.Is(err, ErrRequestNotFound) || errors.Is(err, ErrAuthorizationFailed) {
		t.Errorf("gone: %v", err)
	}
	if _, err := c.PostSignRequest(context.Background(), SignRequest{}); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("502: %v", err)
	}
	anon, _ := New(srv.URL, Options{})
	if _, err := anon.GetSignResponse(context.Background(), "x", ""); !errors.Is(err, ErrAuthenticationFailed) {
		t.Errorf("no key: %v", err)
	}
	if _, err := New("ftp://msign.example", Options{}); err == nil {
		t.Error("an ftp base URL was accepted")
	}
}

// A call refused by MSign's rate limit (429, rate-limited: not carried
// out) is made again, a few times, and its answer is the one that counts;
// a 429 of another type (a busy phone, the upload quota) is returned at
// once with its detail.
func TestClientBusy(t *testing.T) {
	var calls, busy atomic.Int32
	var refusal atomic.Value
	refusal.Store(`{"type":"urn:semnat:problem:rate-limited","title":"Too many requests","status":429,"detail":"slow down and try again"}`)
	busy.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if busy.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(refusal.Load().(string)))
			return
		}
		_, _ = w.Write([]byte(`{"requestID":"r1","status":"Pending"}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSignResponse(context.Background(), "r1", ""); err != nil || calls.Load() != 3 {
		t.Fatalf("after two 429s: %v, %d calls; want the third call's answer", err, calls.Load())
	}
	busy.Store(100)
	calls.Store(0)
	if _, err := c.GetSignResponse(context.Background(), "r1", ""); !errors.Is(err, ErrRateLimited) || calls.Load() != busyTries {
		t.Fatalf("always 429: %v after %d calls; want the refusal after %d", err, calls.Load(), busyTries)
	}
	for _, other := range []string{
		`{"type":"urn:semnat:problem:phone-busy","title":"The phone is busy","status":429,"detail":"finish the signature already on the phone"}`,
		`{"title":"Too many requests","status":429}`, // no type: not known to be the rate limit
	} {
		refusal.Store(other)
		busy.Store(1)
		calls.Store(0)
		_, err := c.PostSignRequest(context.Background(), SignRequest{})
		if err == nil || errors.Is(err, ErrRateLimited) || calls.Load() != 1 {
			t.Fatalf("429 %s: %v after %d calls; want the refusal at once", other, err, calls.Load())
		}
		if strings.Contains(other, "phone-busy") && !strings.Contains(err.Error(), "finish the signature already on the phone") {
			t.Errorf("phone-busy refusal without its detail: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetSignResponse(ctx, "r1", ""); err == nil {
		t.Fatal("an ended context: no error")
	}
}
