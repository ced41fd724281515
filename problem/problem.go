// Package problem holds the RFC 9457 problem documents that semnat's HTTP
// services answer with, and the error that becomes one. It is shared by the
// services, the host that serves them and their clients; it imports no web
// framework.
//
// The Type of a problem is stable ("urn:semnat:problem:SLUG"): programs
// test it, people read Title and Detail.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Prefix starts every semnat problem type.
const Prefix = "urn:semnat:problem:"

// MediaType is the Content-Type of a problem document.
const MediaType = "application/problem+json"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// Error is an error that the host answers as a problem document. Two
// Errors are the same for errors.Is when their Types are.
type Error struct {
	Status int
	Type   string
	Title  string
	Detail string
	Err    error // the cause, for logs; never sent to the client
}

// New returns the problem Prefix+slug with its HTTP status, title and a
// detail saying what was wrong and what to do.
func New(status int, slug, title, detail string) *Error {
	return &Error{Status: status, Type: Prefix + slug, Title: title, Detail: detail}
}

// Newf is New with a formatted detail.
func Newf(status int, slug, title, format string, args ...any) *Error {
	return New(status, slug, title, fmt.Sprintf(format, args...))
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Title
	}
	return e.Title + ": " + e.Detail
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a problem of the same type.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Type == e.Type
}

// Wrap returns a copy of e with err as its cause.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// Problem is the document of e.
func (e *Error) Problem() Problem {
	return Problem{Type: e.Type, Title: e.Title, Status: e.Status, Detail: e.Detail}
}

// Write sends p as application/problem+json.
func Write(w http.ResponseWriter, p Problem) error {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(p.Status)
	return json.NewEncoder(w).Encode(p)
}

// Read turns a non-2xx answer into an *Error: its problem document when it
// has one, else an error naming the status. The body is read, not closed.
func Read(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var p Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Type == "" {
		return &Error{Status: resp.StatusCode, Type: Prefix + "http", Title: http.StatusText(resp.StatusCode),
			Detail: fmt.Sprintf("the server answered %s without a problem document", resp.Status)}
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	return &Error{Status: p.Status, Type: p.Type, Title: p.Title, Detail: p.Detail}
}

// Of is err as a problem document: the problem an *Error carries, else
// an internal error (whose cause is not shown). internal tells which.
func Of(err error) (p Problem, internal bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Problem(), false
	}
	return Problem{Type: Prefix + "internal", Title: "Internal error", Status: http.StatusInternalServerError}, true
}
