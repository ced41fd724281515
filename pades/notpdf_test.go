package pades

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// TestNotPDFSaidOnce: signing, verifying or repairing something that is
// not a PDF says so once, plainly, and errors.Is finds both sentinels.
func TestNotPDFSaidOnce(t *testing.T) {
	data := []byte("hello, this is text")
	e := testcerts.New(t).MustGet("seal")
	_, signErr := Sign(context.Background(), bytes.NewReader(data), int64(len(data)), &bytes.Buffer{}, NewKeySigner(e.Key, e.Cert, e.Chain), nil)
	_, verifyErr := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	_, repairErr := Repair(bytes.NewReader(data), int64(len(data)), &bytes.Buffer{}, nil)
	for name, err := range map[string]error{"sign": signErr, "verify": verifyErr, "repair": repairErr} {
		if !errors.Is(err, ErrNotPDF) || !errors.Is(err, pdf.ErrNotPDF) {
			t.Errorf("%s: %v is not ErrNotPDF", name, err)
			continue
		}
		if msg := err.Error(); strings.Count(msg, "not a PDF") != 1 || strings.Contains(msg, "pdf:") || strings.Contains(msg, "pades:") {
			t.Errorf("%s: %q", name, msg)
		}
	}
}
