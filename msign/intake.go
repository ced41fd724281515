package msign

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/problem"
)

// Request intake, ordered from cheap to dear so that a hostile client
// costs little: the rate limit, then the declared size, then the form
// token (from a header, or the first part of a multipart form: never by
// parsing the whole form), then the body, spooled at a minimum rate, and
// only then a place among the signing and verification workers.

// csrfPrefix is how much of a multipart body is read to find the form
// token in its first part.
const csrfPrefix = 8 << 10

// maxSmallBody bounds the bodies of the pages' posts that carry no file
// (a system's sign and cancel buttons, the token page's JSON).
const maxSmallBody = 256 << 10

// maxCompleteBody bounds a token completion's JSON: a signature and a
// binding per document, far below the upload limit.
const maxCompleteBody = 256 << 10

// unsafeOnly applies mw to requests that change something (not GET, HEAD
// or OPTIONS).
func unsafeOnly(mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		guarded := mw(next)
		return func(c echo.Context) error {
			switch c.Request().Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(c)
			}
			return guarded(c)
		}
	}
}

// errCSRF is the problem of a post without a valid form token.
var errCSRF = problem.New(http.StatusForbidden, "csrf", "Form expired", "the form's security token is missing or stale; reload the page and try again")

// csrfHeader finds the form token of a post before Echo's CSRF check sees
// it: in X-CSRF-Token, or in the first part of a multipart body (where the
// pages put it), which it copies into X-CSRF-Token; the body is given back
// whole to the handler. A multipart post without a token in its first
// csrfPrefix bytes is refused at once, without reading the rest. Other
// bodies (url-encoded forms, JSON) are bounded by maxSmallBody.
func csrfHeader(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		mt, params, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if mt != echo.MIMEMultipartForm {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, maxSmallBody)
			return next(c)
		}
		if r.Header.Get(csrfHeaderName) != "" {
			return next(c)
		}
		prefix := make([]byte, csrfPrefix)
		n, err := io.ReadFull(r.Body, prefix)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return bodyError(err)
		}
		prefix = prefix[:n]
		tok := firstPartToken(prefix, params["boundary"])
		if tok == "" {
			return errCSRF
		}
		r.Header.Set(csrfHeaderName, tok)
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(prefix), r.Body), r.Body}
		return next(c)
	}
}

const csrfHeaderName = "X-CSRF-Token"

// firstPartToken is the value of the multipart body's first part when that
// part is the field _csrf and wholly within prefix.
func firstPartToken(prefix []byte, boundary string) string {
	if boundary == "" {
		return ""
	}
	mr := multipart.NewReader(bytes.NewReader(prefix), boundary)
	p, err := mr.NextPart()
	if err != nil || p.FormName() != "_csrf" || p.FileName() != "" {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(p, 256))
	if err != nil || len(b) == 0 || len(b) >= 256 {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// errBodyTimeout is the problem of a body that came too slowly.
var errBodyTimeout = problem.New(http.StatusRequestTimeout, "body-timeout", "Request body too slow",
	"the body did not arrive at the minimum rate this service accepts; send it again on a faster connection")

// errTruncated is the problem of a body that ended before it was whole.
var errTruncated = problem.New(http.StatusBadRequest, "truncated", "Request body cut short", "the body ended before it was complete; send it again")

// bodyError is the problem of a failed body read: too slow, cut short, or
// the error itself.
func bodyError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errBodyTimeout), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errBodyTimeout
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errTruncated
	}
	return err
}

// rateBody makes the request body fail with errBodyTimeout when it comes
// slower than MinUploadRate bytes a second after UploadGrace; the
// connection's read deadline follows the bytes received, so a trickle is
// cut even while a read waits. done clears the deadline once the body is
// in (the server's background read must not time out while we work).
func (s *Service) rateBody(c echo.Context) (done func()) {
	r := c.Request()
	rb := &rateReader{r: r.Body, rc: http.NewResponseController(c.Response()), hdr: c.Response().Header(), start: time.Now(),
		rate: float64(s.cfg.MinUploadRate), grace: s.cfg.UploadGrace}
	r.Body = rb
	return rb.clear
}

type rateReader struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	hdr   http.Header
	start time.Time
	n     int64
	rate  float64
	grace time.Duration
	err   error
	set   bool
}

func (b *rateReader) deadline() time.Time {
	return b.start.Add(b.grace + time.Duration(float64(b.n)/b.rate*float64(time.Second)))
}

func (b *rateReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	d := b.deadline()
	if time.Now().After(d) {
		return 0, b.cut()
	}
	if b.rc.SetReadDeadline(d) == nil {
		b.set = true
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	if err != nil && !errors.Is(err, io.EOF) && bodyError(err) == errBodyTimeout {
		return k, b.cut()
	}
	if errors.Is(err, io.EOF) {
		b.clear()
	}
	return k, err
}

func (b *rateReader) Close() error { return b.r.Close() }

// cut gives up on the body: the connection is closed after the answer (not
// kept alive to discard the rest of a trickle first), and the read deadline
// stays in the past.
func (b *rateReader) cut() error {
	b.err = errBodyTimeout
	b.hdr.Set(echo.HeaderConnection, "close")
	_ = b.rc.SetReadDeadline(time.Now())
	b.set = false
	return b.err
}

func (b *rateReader) clear() {
	if b.set {
		_ = b.rc.SetReadDeadline(time.Time{})
		b.set = false
	}
}

// spooled is an upload on disk.
type spooled struct {
	f    *os.File
	n    int64
	name string // the client's file name, if it gave one
}

func (u *spooled) remove() {
	u.f.Close()
	os.Remove(u.f.Name())
}

// spool copies the request's PDF (a raw application/pdf body, or the
// multipart field "file") into the spool directory, at the minimum rate.
func (s *Service) spool(c echo.Context) (*spooled, error) {
	if strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		form, err := s.spoolForm(c, 1)
		if err != nil {
			return nil, err
		}
		if len(form.files) == 0 {
			return nil, errNoFile
		}
		return form.files[0], nil
	}
	done := s.rateBody(c)
	defer done()
	return s.spoolFile(c.Request().Body, "")
}

// spoolFile copies one file into the spool directory.
func (s *Service) spoolFile(src io.Reader, name string) (*spooled, error) {
	f, err := os.CreateTemp(s.spoolDir, "upload-*.pdf")
	if err != nil {
		return nil, err
	}
	u := &spooled{f: f, name: name}
	w := bufio.NewWriterSize(f, 64<<10)
	n, err := io.Copy(w, io.LimitReader(src, s.cfg.MaxUpload+1))
	if err == nil {
		err = w.Flush()
	}
	u.n = n
	switch {
	case err != nil && isTooLarge(err), n > s.cfg.MaxUpload:
		u.remove()
		return nil, s.tooLarge()
	case err != nil:
		u.remove()
		return nil, bodyError(err)
	case n == 0:
		u.remove()
		return nil, problem.New(http.StatusBadRequest, "empty", "Empty upload", "the request carries no document")
	}
	return u, nil
}

// spooledForm is a multipart form read part by part: its fields in
// memory (at most maxSmallBody in all), its files "file" in the spool
// directory.
type spooledForm struct {
	values map[string][]string
	files  []*spooled
}

func (f *spooledForm) value(k string) string {
	if v := f.values[k]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

func (f *spooledForm) remove() {
	for _, u := range f.files {
		u.remove()
	}
}

// spoolForm reads a multipart form, never whole in memory, at the
// minimum rate; at most maxFiles files "file" (more: a problem); other
// files are refused.
func (s *Service) spoolForm(c echo.Context, maxFiles int) (form *spooledForm, err error) {
	done := s.rateBody(c)
	defer done()
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return nil, problem.New(http.StatusBadRequest, "bad-form", "Unreadable form", err.Error())
	}
	f := &spooledForm{values: map[string][]string{}}
	form = f
	defer func() {
		if err != nil {
			f.remove() // form itself is nil by then
		}
	}()
	left := int64(maxSmallBody)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return form, nil
		}
		if err != nil {
			if isTooLarge(err) {
				return nil, s.tooLarge()
			}
			if e := bodyError(err); e == errBodyTimeout {
				return nil, e
			}
			return nil, problem.New(http.StatusBadRequest, "bad-form", "Unreadable form", err.Error())
		}
		if p.FileName() != "" || p.FormName() == "file" {
			if p.FormName() != "file" {
				return nil, problem.New(http.StatusBadRequest, "bad-form", "Unexpected file", "files go in the multipart field \"file\"")
			}
			if len(form.files) == maxFiles {
				return nil, problem.New(http.StatusBadRequest, "too-many-files", "Too many files", fmt.Sprintf("send at most %d documents at once", maxFiles))
			}
			u, err := s.spoolFile(p, p.FileName())
			if err != nil {
				return nil, err
			}
			form.files = append(form.files, u)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, left+1))
		if err != nil {
			if isTooLarge(err) {
				return nil, s.tooLarge()
			}
			return nil, bodyError(err)
		}
		if left -= int64(len(b)); left < 0 {
			return nil, problem.New(http.StatusBadRequest, "bad-form", "Fields too large", fmt.Sprintf("the form's fields hold at most %d bytes", maxSmallBody))
		}
		form.values[p.FormName()] = append(form.values[p.FormName()], string(b))
	}
}

var errNoFile = problem.New(http.StatusBadRequest, "no-file", "No file", "send the PDF as the multipart field \"file\" or as an application/pdf body")

// openSpool makes the spool directory (0700) and empties it: files there
// are uploads of a process that was killed. Without a directory given, it
// makes one of its own (own is then true).
func openSpool(dir string) (path string, own bool, err error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "semnat-spool-")
		if err != nil {
			return "", false, fmt.Errorf("msign: spool directory: %w", err)
		}
		return d, true, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("msign: spool directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // uploads are people's documents
		return "", false, fmt.Errorf("msign: spool directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false, fmt.Errorf("msign: spool directory: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return "", false, fmt.Errorf("msign: sweeping the spool directory: %w", err)
		}
	}
	return dir, false, nil
}

// decodeSmallJSON decodes a JSON body of at most limit bytes, read at the
// minimum rate: a larger one is errTooLarge before it is read whole.
func (s *Service) decodeSmallJSON(c echo.Context, v any, limit int64) error {
	done := s.rateBody(c)
	defer done()
	r := c.Request()
	if r.ContentLength > limit {
		return problem.Newf(errTooLarge.Status, "too-large", errTooLarge.Title, "the body exceeds %d bytes", limit)
	}
	if err := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, limit)).Decode(v); err != nil {
		if isTooLarge(err) {
			return problem.Newf(errTooLarge.Status, "too-large", errTooLarge.Title, "the body exceeds %d bytes", limit)
		}
		if e := bodyError(err); e == errBodyTimeout {
			return e
		}
		return err
	}
	return nil
}

// sizedBlob answers 200 with data and its Content-Length (net/http would
// send a large one chunked): a body cut short is visible to any client.
func sizedBlob(c echo.Context, ctype string, data []byte) error {
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(data)))
	return c.Blob(http.StatusOK, ctype, data)
}

// systemBody is a registered system's request body, read whole at the
// minimum rate before any work: up to maxSmallBody in memory, a larger one
// in the spool directory, so that a large or slow body holds neither
// memory nor a worker place while it comes.
type systemBody struct {
	io.Reader
	size int64
	mem  []byte   // the whole body when in memory
	buf  *[]byte  // mem's buffer, from smallBodies
	file *spooled // nil when in memory
}

// smallBodies holds the buffers of bodies read into memory (maxSmallBody
// and a byte each): a PostSignRequest with a 100 KB PDF read its 133 KB
// into a new buffer, half of what the request allocated.
var smallBodies = sync.Pool{New: func() any { b := make([]byte, maxSmallBody+1); return &b }}

// close frees the body: what was read from it (mem) must not be used
// after (decoders copy what they keep).
func (b *systemBody) close() {
	if b.file != nil {
		b.file.remove()
	}
	if b.buf != nil {
		b.mem = nil
		smallBodies.Put(b.buf)
		b.buf = nil
	}
}

// large tells whether the body is worth a worker place to decode.
func (b *systemBody) large() bool { return b.file != nil }

// readSystemBody reads the request body as systemBody says.
func (s *Service) readSystemBody(c echo.Context) (*systemBody, error) {
	done := s.rateBody(c)
	defer done()
	body := c.Request().Body
	var head []byte
	var buf *[]byte
	switch n := c.Request().ContentLength; {
	case n > maxSmallBody: // straight to the spool
	case n >= 0:
		buf = smallBodies.Get().(*[]byte)
		head = (*buf)[:n+1] // the size declared, and a byte to see the end
	default:
		buf = smallBodies.Get().(*[]byte)
		head = *buf
	}
	n, err := io.ReadFull(body, head)
	if buf != nil && !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// Not a body in memory: the buffer goes back (after the spool
		// below has copied head).
		defer smallBodies.Put(buf)
	}
	switch {
	case len(head) == 0: // the spool
	case err == nil: // more than maxSmallBody: the rest goes to the spool
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &systemBody{Reader: bytes.NewReader(head[:n]), size: int64(n), mem: head[:n], buf: buf}, nil
	case isTooLarge(err):
		return nil, s.tooLarge()
	default:
		return nil, bodyError(err)
	}
	u, err := s.spoolFile(io.MultiReader(bytes.NewReader(head), body), "")
	if err != nil {
		return nil, err
	}
	if _, err := u.f.Seek(0, io.SeekStart); err != nil {
		u.remove()
		return nil, err
	}
	return &systemBody{Reader: bufio.NewReaderSize(u.f, 64<<10), size: u.n, file: u}, nil
}
