package mnotify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/problem"
)

// route turns a client path ({name}) into an Echo route (:name).
func route(p string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		j := strings.IndexByte(p[i:], '}') + i
		b.WriteString(p[:i] + ":" + p[i+1:j])
		p = p[j+1:]
	}
}

// decode reads a JSON request body of at most client.MaxRequestBytes into
// v: one value, no unknown field (a field this MNotify does not implement,
// such as attachments, is refused rather than ignored).
func decode(c echo.Context, v any) error {
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return problem.Newf(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", "send application/json, not %s", ct)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, client.MaxRequestBytes+1))
	if err != nil {
		return client.Invalid("reading the request: %v", err)
	}
	if len(b) > client.MaxRequestBytes {
		return problem.Newf(http.StatusRequestEntityTooLarge, "too-large", "Request too large", "at most %d bytes", client.MaxRequestBytes)
	}
	return decodeJSON(b, v)
}

// decodeJSON is decode's parsing, apart for the fuzzer.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return client.Invalid("the JSON body: %v", err)
	}
	if d.More() {
		return client.Invalid("the JSON body: one value expected, more follow")
	}
	return nil
}

// apiError maps the service's errors to problems.
func apiError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return problem.Newf(http.StatusNotFound, "notification-not-found", "Not found", "%v", err)
	case errors.Is(err, ErrNothingToCancel):
		return problem.Newf(http.StatusConflict, "already-delivered", "Nothing to cancel", "%v: every delivery is made, failed or cancelled", err)
	case errors.Is(err, ErrExists):
		return problem.Newf(http.StatusConflict, "template-exists", "Template exists", "%v: change it with PUT", err)
	case errors.Is(err, ErrNotYours):
		return forbidden("%v", err)
	case errors.Is(err, ErrNoChannel):
		return client.Invalid("%v", err)
	}
	return err
}

func (s *Service) postNotification(c echo.Context) error {
	var req client.NotificationRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	id, err := s.Send(c.Request().Context(), system(c).Name, req, c.Request().Header.Get(client.HeaderIdempotency))
	if err != nil {
		return apiError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, client.Path(client.PathNotification, id))
	return c.JSON(http.StatusCreated, id)
}

// pageParams reads Page (from 1) and PageSize (1 to 100, 20 by default).
func pageParams(c echo.Context) (int, int, error) {
	page, size := 1, 20
	for name, dst := range map[string]*int{"Page": &page, "PageSize": &size} {
		if v := c.QueryParam(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || name == "PageSize" && n > 100 || n > 1e6 {
				return 0, 0, client.Invalid("%s %q: want a number from 1 (PageSize: to 100)", name, v)
			}
			*dst = n
		}
	}
	return page, size, nil
}

func (s *Service) listNotifications(c echo.Context) error {
	page, size, err := pageParams(c)
	if err != nil {
		return err
	}
	list, total, err := s.Notifications(c.Request().Context(), system(c).Name, page, size)
	if err != nil {
		return err
	}
	c.Response().Header().Set(client.HeaderTotalCount, strconv.Itoa(total))
	return c.JSON(http.StatusOK, list)
}

func (s *Service) getNotification(c echo.Context) error {
	n, err := s.Notification(c.Request().Context(), system(c).Name, c.Param("id"))
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, n)
}

func (s *Service) cancelNotification(c echo.Context) error {
	n, err := s.Cancel(c.Request().Context(), system(c).Name, c.Param("id"))
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, n)
}

func (s *Service) listTemplates(c echo.Context) error {
	list, err := listTemplates(c.Request().Context(), s.st)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Service) createTemplate(c echo.Context) error {
	var t client.Template
	if err := decode(c, &t); err != nil {
		return err
	}
	out, err := PutTemplate(c.Request().Context(), s.st, system(c).Name, t, true)
	if err != nil {
		return apiError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, client.Path(client.PathTemplate, out.ID))
	return c.JSON(http.StatusCreated, out)
}

func (s *Service) putTemplate(c echo.Context) error {
	var t client.Template
	if err := decode(c, &t); err != nil {
		return err
	}
	if t.ID == "" {
		t.ID = c.Param("id")
	}
	if t.ID != c.Param("id") {
		return client.Invalid("the body's id %q is not the path's %q", t.ID, c.Param("id"))
	}
	out, err := PutTemplate(c.Request().Context(), s.st, system(c).Name, t, false)
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Service) getTemplate(c echo.Context) error {
	t, err := getTemplate(c.Request().Context(), s.st, c.Param("id"))
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Service) deleteTemplate(c echo.Context) error {
	if err := DeleteTemplate(c.Request().Context(), s.st, system(c).Name, c.Param("id")); err != nil {
		return apiError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Service) checkTemplate(c echo.Context) error {
	var in struct {
		Variables string `json:"variables"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	t, err := getTemplate(c.Request().Context(), s.st, c.Param("id"))
	if err != nil {
		return apiError(err)
	}
	vars, err := client.ParseVariables(in.Variables)
	if err != nil {
		return err
	}
	r, err := renderTemplate(t, vars)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// idnpParam reads the {idnp} of the path.
func idnpParam(c echo.Context) (string, error) {
	v := c.Param("idnp")
	if idn.KindOf(v) != idn.Person {
		return "", client.Invalid("%q is not an IDNP (13 digits with its check digit)", v)
	}
	return v, nil
}

func (s *Service) getContact(c echo.Context) error {
	idnp, err := idnpParam(c)
	if err != nil {
		return err
	}
	ct, err := Contact(c.Request().Context(), s.st, idnp)
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, ct)
}

func (s *Service) putContact(c echo.Context) error {
	idnp, err := idnpParam(c)
	if err != nil {
		return err
	}
	var ct client.Contact
	if err := decode(c, &ct); err != nil {
		return err
	}
	if ct.IDNP == "" {
		ct.IDNP = idnp
	}
	if ct.IDNP != idnp {
		return client.Invalid("the body's idnp %q is not the path's %q", ct.IDNP, idnp)
	}
	out, err := SetContact(c.Request().Context(), s.st, system(c).Name, ct)
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Service) deleteContact(c echo.Context) error {
	idnp, err := idnpParam(c)
	if err != nil {
		return err
	}
	if err := DeleteContact(c.Request().Context(), s.st, system(c).Name, idnp); err != nil {
		return apiError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Service) inbox(c echo.Context) error {
	idnp, err := idnpParam(c)
	if err != nil {
		return err
	}
	list, err := s.Inbox(c.Request().Context(), idnp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Service) markRead(c echo.Context) error {
	idnp, err := idnpParam(c)
	if err != nil {
		return err
	}
	msg, err := strconv.ParseInt(c.Param("msg"), 10, 64)
	if err != nil || msg < 1 {
		return client.Invalid("message %q: want its number", c.Param("msg"))
	}
	m, err := s.MarkRead(c.Request().Context(), system(c).Name, idnp, msg)
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, m)
}
