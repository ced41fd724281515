package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/pdf"
)

// jsonError is the error object of the commands' JSON output: what went
// wrong and the exit code it gives (the table in `semnat --help`).
type jsonError struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
}

func newJSONError(err error, code int) *jsonError {
	return &jsonError{Message: err.Error(), ExitCode: code}
}

// inputCode is the exit code of a file that could not be processed: 3 when
// the input itself is at fault (missing, unreadable, not a PDF), else 1.
func inputCode(err error) int {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, pades.ErrNotPDF) ||
		errors.Is(err, errNotRegular) || errors.Is(err, pdf.ErrPasswordRequired) || errors.Is(err, pdf.ErrWrongPassword) {
		return exitUsage
	}
	return exitFailed
}

// inFile names the file an error is about once: "X: no such file or
// directory", not "X: open X: no such file or directory".
func inFile(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// errNotRegular: an input is a directory or a device.
var errNotRegular = errors.New("not a regular file (a directory?)")

// checkPDFInput refuses, before any key or PIN is asked for, an input that
// does not exist, is not a regular file, or is not a PDF.
func checkPDFInput(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return inFile(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return inFile(path, err)
	}
	if !st.Mode().IsRegular() {
		return inFile(path, errNotRegular)
	}
	// Only the header matters here: no repair, no password (an encrypted
	// file is opened later with its password).
	if _, err := pdf.Open(f, st.Size(), &pdf.Options{NoRepair: true}); errors.Is(err, pdf.ErrNotPDF) {
		return inFile(path, pades.NotPDF(err))
	}
	return nil
}

// signReport is one input's result in `sign --json` (schema semnat-sign/1):
// snake_case, the level as its name, times only when there are some.
type signReport struct {
	Version          string     `json:"version,omitempty"` // the one-file shape only
	Input            string     `json:"input"`
	Output           string     `json:"output,omitempty"`
	Level            string     `json:"level,omitempty"`
	Field            string     `json:"field,omitempty"`
	Size             int64      `json:"size,omitempty"`
	ByteRange        []int64    `json:"byte_range,omitempty"`
	ContentsSize     int        `json:"contents_size,omitempty"`
	SignatureSize    int        `json:"signature_size,omitempty"`
	TimestampTime    *time.Time `json:"timestamp_time,omitempty"`
	DocTimestampTime *time.Time `json:"doc_timestamp_time,omitempty"`
	Repaired         []string   `json:"repaired,omitempty"`
	Seconds          float64    `json:"seconds"`
	Error            *jsonError `json:"error,omitempty"`
}

// signReportVersion names the shape of `sign --json`.
const signReportVersion = "semnat-sign/1"

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (o *signOutcome) report() signReport {
	r := signReport{Input: o.In, Output: o.Out, Repaired: o.Repaired, Seconds: o.Took}
	if o.err != nil {
		r.Output, r.Error = "", newJSONError(o.err, inputCode(o.err))
		return r
	}
	if res := o.Result; res != nil {
		r.Level, r.Field, r.Size = res.Level.String(), res.Field, res.Size
		r.ByteRange = res.ByteRange[:]
		r.ContentsSize, r.SignatureSize = res.ContentsSize, res.SignatureSize
		r.TimestampTime, r.DocTimestampTime = timePtr(res.TimestampTime), timePtr(res.DocTimestampTime)
	}
	return r
}

// printSignJSON prints one report for one input, else
// {version, signed, failed, results: [report...]}.
func (a *app) printSignJSON(outcomes []signOutcome) error {
	if len(outcomes) == 1 {
		r := outcomes[0].report()
		r.Version = signReportVersion
		return a.printJSON(r)
	}
	batch := struct {
		Version string       `json:"version"`
		Signed  int          `json:"signed"`
		Failed  int          `json:"failed"`
		Results []signReport `json:"results"`
	}{Version: signReportVersion, Results: []signReport{}}
	for i := range outcomes {
		r := outcomes[i].report()
		if r.Error != nil {
			batch.Failed++
		} else {
			batch.Signed++
		}
		batch.Results = append(batch.Results, r)
	}
	return a.printJSON(batch)
}
