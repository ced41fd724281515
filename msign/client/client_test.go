package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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
