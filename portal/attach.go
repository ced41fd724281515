package portal

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
)

// ErrFileType: a file is not a PDF, PNG or JPEG, or not what its name and
// declared type say it is.
var ErrFileType = errors.New("portal: the file is not what it claims to be (PDF, PNG or JPEG)")

// Kinds of attachment the portal takes, by their media type.
var attachKinds = map[string][]string{ // media type → file name extensions
	"application/pdf": {".pdf"},
	"image/png":       {".png"},
	"image/jpeg":      {".jpg", ".jpeg"},
}

// sniff tells what data is by its content, and checks that it is whole
// enough to be read: a PDF opens (header, cross-reference table, trailer),
// an image's header decodes with its size. claimedName and claimedType
// (the browser's Content-Type of the part; "" or
// application/octet-stream say nothing) must agree with what it is.
func sniff(data []byte, claimedName, claimedType string) (string, error) {
	var kind string
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			return "", fmt.Errorf("%w: it starts as a PDF but does not open: %v", ErrFileType, err)
		}
		if n, err := r.NumPages(); err != nil || n < 1 {
			return "", fmt.Errorf("%w: a PDF whose pages cannot be read (%d pages, %v)", ErrFileType, n, err)
		}
		if !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")) {
			return "", fmt.Errorf("%w: the PDF is cut short (no %%%%EOF at its end)", ErrFileType)
		}
		kind = "application/pdf"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width == 0 || cfg.Height == 0 {
			return "", fmt.Errorf("%w: it starts as a PNG image but does not decode", ErrFileType)
		}
		kind = "image/png"
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width == 0 || cfg.Height == 0 {
			return "", fmt.Errorf("%w: it starts as a JPEG image but does not decode", ErrFileType)
		}
		kind = "image/jpeg"
	default:
		return "", fmt.Errorf("%w: its content is %s", ErrFileType, http.DetectContentType(data))
	}
	ext := strings.ToLower(filepath.Ext(claimedName))
	okExt := false
	for _, e := range attachKinds[kind] {
		okExt = okExt || e == ext
	}
	if !okExt {
		return "", fmt.Errorf("%w: the name says %q, the content is %s", ErrFileType, ext, kind)
	}
	if mt, _, err := mime.ParseMediaType(claimedType); err == nil && mt != "application/octet-stream" && mt != kind &&
		!(kind == "image/jpeg" && mt == "image/pjpeg") {
		return "", fmt.Errorf("%w: declared %s, the content is %s", ErrFileType, mt, kind)
	}
	return kind, nil
}

// docSlots groups an application's attachments by the service's documents
// (and "other").
func docSlots(a *application.Application, svc *catalog.Service, lang string, w map[string]string) []docSlot {
	var out []docSlot
	for i, d := range svc.Documents {
		out = append(out, docSlot{Index: i, Label: d.In(lang)})
	}
	out = append(out, docSlot{Index: -1, Label: w["OtherDocument"]})
	for _, at := range a.Attachments {
		for i := range out {
			if out[i].Index == at.Document {
				out[i].Files = append(out[i].Files, at)
			}
		}
	}
	return out
}

func (s *Service) attachPage(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	return s.renderAttach(c, http.StatusOK, a, svc, "")
}

func (s *Service) renderAttach(c echo.Context, status int, a *application.Application, svc *catalog.Service, msg string) error {
	p := s.newPage(c, "")
	p.App, p.Service, p.Title, p.Step, p.Error = a, svc, svc.Title.In(p.Lang), 3, msg
	p.Docs = docSlots(a, svc, p.Lang, p.T)
	p.Max = strconv.FormatInt(s.cfg.MaxAttachment>>20, 10) + " MB"
	return s.render(c, status, "attach", p)
}

// attachPost takes one file for one of the service's documents.
func (s *Service) attachPost(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	w := wording(langOf(c))
	doc, err := strconv.Atoi(c.FormValue("document"))
	if err != nil || doc < -1 || doc >= len(svc.Documents) {
		doc = -1
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return s.renderAttach(c, http.StatusBadRequest, a, svc, w["e-file-empty"])
	}
	if fh.Size > s.cfg.MaxAttachment {
		return s.renderAttach(c, http.StatusRequestEntityTooLarge, a, svc, w["e-file-size"])
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, s.cfg.MaxAttachment+1))
	f.Close()
	if err != nil {
		return err
	}
	if int64(len(data)) > s.cfg.MaxAttachment {
		return s.renderAttach(c, http.StatusRequestEntityTooLarge, a, svc, w["e-file-size"])
	}
	if len(data) == 0 {
		return s.renderAttach(c, http.StatusBadRequest, a, svc, w["e-file-empty"])
	}
	kind, err := sniff(data, fh.Filename, fh.Header.Get("Content-Type"))
	if err != nil {
		s.cfg.Log.Info("portal: attachment refused", "application", a.ID, "err", err)
		return s.renderAttach(c, http.StatusUnsupportedMediaType, a, svc, w["e-file-type"])
	}
	name := cleanName(fh.Filename)
	at := application.Attachment{ID: application.NewID()[1:], Document: doc, Name: name, ContentType: kind, Size: int64(len(data)),
		SHA256: application.Digest(data)}
	ctx := c.Request().Context()
	tooMany := errors.New("too many files")
	if _, err := s.apps.EditDraft(ctx, a.ID, func(d *application.Application) error {
		if len(d.Attachments) >= s.cfg.MaxFiles {
			return tooMany
		}
		d.Attachments = append(d.Attachments, at)
		return nil
	}); errors.Is(err, tooMany) {
		return s.renderAttach(c, http.StatusConflict, a, svc, w["e-file-count"])
	} else if err != nil {
		return err
	}
	if err := s.apps.PutFile(ctx, a.ID, "att-"+at.ID, kind, data); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, "documente"))
}

// cleanName keeps a file name readable and harmless: the base name,
// without control characters, at most 100 characters.
func cleanName(n string) string {
	n = filepath.Base(strings.ReplaceAll(n, "\\", "/"))
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, n)
	if utf8.RuneCountInString(n) > 100 {
		ext := filepath.Ext(n)
		n = string([]rune(n)[:90]) + ext
	}
	if n == "" || n == "." || n == "/" {
		n = "document"
	}
	return n
}

func (s *Service) attachDelete(c echo.Context) error {
	a, _, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	id := c.Param("att")
	ctx := c.Request().Context()
	if _, err := s.apps.EditDraft(ctx, a.ID, func(d *application.Application) error {
		for i, at := range d.Attachments {
			if at.ID == id {
				d.Attachments = append(d.Attachments[:i], d.Attachments[i+1:]...)
				return nil
			}
		}
		return echo.ErrNotFound
	}); err != nil {
		return err
	}
	if err := s.apps.DeleteFile(ctx, a.ID, "att-"+id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, "documente"))
}

// attachment lets the applicant download a file they attached.
func (s *Service) attachment(c echo.Context) error {
	a, _, err := s.owned(c)
	if err != nil {
		return err
	}
	return s.sendAttachment(c, a)
}
