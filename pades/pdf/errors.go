package pdf

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) when the condition applies.
var (
	// ErrNotPDF: no %PDF- header in the first kilobyte.
	ErrNotPDF = errors.New("pdf: not a PDF file")
	// ErrSyntax: malformed PDF syntax.
	ErrSyntax = errors.New("pdf: syntax error")
	// ErrDamaged: the cross-reference structure is broken and repair was
	// disabled (Options.NoRepair) or impossible.
	ErrDamaged = errors.New("pdf: damaged cross-reference structure")
	// ErrLimit: a configured limit (Limits) was exceeded.
	ErrLimit = errors.New("pdf: limit exceeded")
	// ErrEncrypted: the operation needs decrypted data and the file uses a
	// security handler or algorithm this package does not implement.
	ErrEncrypted = errors.New("pdf: file is encrypted")
	// ErrPasswordRequired: the file is encrypted with a user password and
	// none was given (Options.Password).
	ErrPasswordRequired = errors.New("pdf: password required")
	// ErrWrongPassword: the password given opens neither as the user nor
	// as the owner password.
	ErrWrongPassword = errors.New("pdf: wrong password")
	// ErrUnsupportedFilter: a stream filter this package does not decode
	// (DCTDecode, JPXDecode, CCITTFaxDecode, JBIG2Decode, Crypt ...).
	ErrUnsupportedFilter = errors.New("pdf: unsupported stream filter")
	// ErrNoSuchPage: page index out of range.
	ErrNoSuchPage = errors.New("pdf: no such page")
	// ErrPageTree: the page tree is malformed (loop, too deep, wrong types).
	ErrPageTree = errors.New("pdf: malformed page tree")
	// ErrRepaired: the operation is refused on a repaired file
	// (an incremental update cannot point /Prev at a broken xref).
	ErrRepaired = errors.New("pdf: file needed xref repair")
	// ErrPlaceholderTooSmall: data does not fit a placeholder.
	ErrPlaceholderTooSmall = errors.New("pdf: placeholder too small")
	// ErrNoRevision: a revision index is out of range.
	ErrNoRevision = errors.New("pdf: no such revision")
)

// SyntaxError describes malformed input at a byte offset.
type SyntaxError struct {
	Offset int64  // absolute offset in the file (or in the decoded object stream, see Where)
	Where  string // context, e.g. "object 12 0" or "xref table"
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("pdf: syntax error at offset %d (%s): %s", e.Offset, e.Where, e.Msg)
	}
	return fmt.Sprintf("pdf: syntax error at offset %d: %s", e.Offset, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func limitErr(what string, limit int64) error {
	return fmt.Errorf("%w: %s (limit %d)", ErrLimit, what, limit)
}

var sprintf = fmt.Sprintf
