package mpower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

func ok[T any](c echo.Context, data T) error {
	return c.JSON(http.StatusOK, client.Envelope[T]{Data: data, Success: true, Messages: []string{}})
}

// okBool is ok(c, v), its two answers encoded once: Code-True-One's
// envelope through reflection was a thirtieth of a check's CPU.
func okBool(c echo.Context, v bool) error {
	b := envFalse
	if v {
		b = envTrue
	}
	// The header's value is one slice shared by every answer, where
	// echo's Header.Set allocated one per answer: net/http only reads it,
	// and its capacity is its length, so an Add elsewhere copies it.
	c.Response().Header()[echo.HeaderContentType] = jsonType[:1:1]
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

var jsonType = []string{echo.MIMEApplicationJSON}

var envTrue, envFalse = envelopeOf(true), envelopeOf(false)

// envelopeOf is data's envelope as ok writes it (encoding/json with a
// newline after it).
func envelopeOf(data bool) []byte {
	b, err := json.Marshal(client.Envelope[bool]{Data: data, Success: true, Messages: []string{}})
	if err != nil {
		panic(err) // a bool's envelope always encodes
	}
	return append(b, '\n')
}

func badParam(format string, args ...any) error {
	return problem.Newf(http.StatusBadRequest, "invalid-parameter", "Invalid parameter", format, args...)
}

func notFound(format string, args ...any) error {
	return problem.Newf(http.StatusNotFound, "authorization-not-found", "Authorization not found", format, args...)
}

// system is the registered system that asked (the handler's context is
// authenticated's).
func system(c echo.Context) *System { return c.(*sysContext).sys }

// audit records a check: which system asked, about what, and the answer.
func (s *Service) audit(c echo.Context, subject string, details map[string]string) error {
	return s.auditUnder(c, subject, details, -1)
}

// auditUnder is audit for an answer given from the power cache under the
// change counter's value gen (Registry.PowerUnder; -1: read now): the
// entry is written only if no power changed since, else the error is a
// *store.GuardError and the check answers again (answerUnder).
func (s *Service) auditUnder(c echo.Context, subject string, details map[string]string, gen int64) error {
	details["endpoint"] = c.Path()
	return s.auditEvent(c, subject, details, gen)
}

// auditEvent is auditUnder with the endpoint in details already.
func (s *Service) auditEvent(c echo.Context, subject string, details map[string]string, gen int64) error {
	e := store.Event{Actor: system(c).Name, Action: "mpower-check", Subject: subject, Details: details}
	var err error
	if gen < 0 {
		_, err = s.cfg.Store.Append(c.Request().Context(), e)
	} else {
		_, err = s.cfg.Store.AppendGuarded(c.Request().Context(), e, guard(gen))
	}
	return err
}

// guardedTries is how many times a check answers from the cache before it
// reads the change counter first (a power changed under each answer).
const guardedTries = 3

// answerUnder runs answer, which reads powers as of a value of the
// change counter and audits under that value, until its audit guard
// holds: from the cache without reading the counter first (fresh false),
// and, after guardedTries answers that a change overtook, with the
// counter read first and no guard (fresh true).
func (s *Service) answerUnder(c echo.Context, answer func(fresh bool) error) error {
	for try := 1; ; try++ {
		err := answer(try > guardedTries)
		var moved *store.GuardError
		if !errors.As(err, &moved) || try > guardedTries {
			return err
		}
		s.reg.cache.moved(moved.Found)
	}
}

// powerGetter reads a power as of a counter value (-1: now).
type powerGetter func(ctx context.Context, code string) (*Power, int64, error)

// getter is PowerUnder, or when fresh PowerNow (the counter read first;
// its answer needs no guard).
func (s *Service) getter(fresh bool) powerGetter {
	if !fresh {
		return s.reg.PowerUnder
	}
	return func(ctx context.Context, code string) (*Power, int64, error) {
		p, err := s.reg.PowerNow(ctx, code)
		return p, -1, err
	}
}

// codeParam reads and checks AuthorizationCode.
func codeParam(c echo.Context) (string, error) {
	code := strings.TrimSpace(queryFirst(c.Request().URL.RawQuery, "AuthorizationCode"))
	if err := idn.CheckAuthCode(code); err != nil {
		return "", badParam("AuthorizationCode: %v", err)
	}
	return code, nil
}

// visible loads the power of code with its type, refusing a system that
// may not see it.
func (s *Service) visible(c echo.Context, code string) (*Power, *AuthType, error) {
	p, t, _, err := s.visibleUnder(c, code, func(ctx context.Context, code string) (*Power, int64, error) {
		p, err := s.reg.PowerNow(ctx, code)
		return p, -1, err
	})
	return p, t, err
}

// visibleUnder is visible reading the power through get, and the counter
// value it was read under.
func (s *Service) visibleUnder(c echo.Context, code string, get powerGetter) (*Power, *AuthType, int64, error) {
	ctx := c.Request().Context()
	p, gen, err := get(ctx, code)
	if err != nil {
		return nil, nil, gen, err
	}
	t, err := s.reg.Type(ctx, p.TypeCode)
	if err != nil {
		return nil, nil, gen, err
	}
	if sys := system(c); !sys.ViewAll && t.System != sys.Name {
		return nil, nil, gen, forbidden("the power %s is of type %s, which is not one of system %s's", code, t.Code, sys.Name)
	}
	return p, t, gen, nil
}

// GET Code-True-One: true only for a power Valid now; false for an unknown
// code.
func (s *Service) codeTrueOne(c echo.Context) error {
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	return s.answerUnder(c, func(fresh bool) error {
		valid := false
		p, _, gen, err := s.visibleUnder(c, code, s.getter(fresh))
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			valid = p.ValidAt(s.reg.Now())
		}
		if err := s.auditEvent(c, code, s.trueOneDetails(c.Path(), valid), gen); err != nil {
			return err
		}
		return okBool(c, valid)
	})
}

// trueOneDetails returns the audit details of a Code-True-One answer at
// the endpoint path: {"endpoint": path, "valid": valid}, built once per
// path and never changed (so shared by every check), where a new map per
// check cost two allocations.
func (s *Service) trueOneDetails(path string, valid bool) map[string]string {
	d := s.trueOne.Load()
	if d == nil || d.path != path {
		d = &checkDetails{path: path}
		for i := range d.valid {
			d.valid[i] = map[string]string{"endpoint": path, "valid": strconv.FormatBool(i == 1)}
		}
		s.trueOne.Store(d)
	}
	if valid {
		return d.valid[1]
	}
	return d.valid[0]
}

// checkDetails are trueOneDetails' maps for one path.
type checkDetails struct {
	path  string
	valid [2]map[string]string // false, true
}

func (s *Service) codeDetailsOne(c echo.Context) error {
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	return s.answerUnder(c, func(fresh bool) error {
		p, t, gen, err := s.visibleUnder(c, code, s.getter(fresh))
		if errors.Is(err, ErrNotFound) {
			return notFound("no power of representation has the code %s", code)
		}
		if err != nil {
			return err
		}
		d, err := s.details(c.Request().Context(), p, t, nil)
		if err != nil {
			return err
		}
		if err := s.auditUnder(c, code, map[string]string{"valid": strconv.FormatBool(d.IsValid)}, gen); err != nil {
			return err
		}
		return ok(c, d)
	})
}

// details is p as the API shows it, its status at this moment; names,
// when not nil, keeps the companies' names read (IDNO → name).
func (s *Service) details(ctx context.Context, p *Power, t *AuthType, names map[string]string) (*client.AuthorizationDetails, error) {
	state, reason := p.StateAt(s.reg.Now())
	d := &client.AuthorizationDetails{AuthorizationCode: p.Code, AuthorizationTypeCode: p.TypeCode,
		AuthorizingPartyType: int(p.AuthorizingBy), AuthorizingIdn: p.AuthorizingID, AuthorizedPartyType: client.PartyNatural,
		AuthorizedIdn: p.RepresentedID, FromDate: p.From, ToDate: p.To, Status: state.Code(), StatusReason: reason,
		IsValid: state == Valid, AuthorizationTypeName: t.Names["ro"], ServiceProviderIdno: t.ProviderIDNO, ServiceProviderName: t.ProviderName}
	if p.AuthorizingBy == Legal {
		name, known := names[p.AuthorizingID]
		if !known {
			e, err := s.reg.Entity(ctx, p.AuthorizingID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			if e != nil {
				name = strings.TrimSpace(e.Name + " " + e.Form)
			}
			if names != nil {
				names[p.AuthorizingID] = name
			}
		}
		d.AuthorizingPartyName = name
	}
	return d, nil
}

// GET TypeCode-Valid-One: the power of the type between the parties that
// is valid now, if any.
func (s *Service) typeCodeValidOne(c echo.Context) error {
	typ := c.QueryParam("AuthorizationTypeCode")
	by, to := c.QueryParam("AuthorizingIdn"), c.QueryParam("AuthorizedIdn")
	switch {
	case !typeCode.MatchString(typ):
		return badParam("AuthorizationTypeCode %q: want AT- and 7 digits", typ)
	case !idn.Valid(by):
		return badParam("AuthorizingIdn %q: want an IDNP or IDNO with its check digit", by)
	case idn.KindOf(to) != idn.Person:
		return badParam("AuthorizedIdn %q: want an IDNP with its check digit", to)
	}
	ctx := c.Request().Context()
	t, err := s.reg.Type(ctx, typ)
	if errors.Is(err, ErrNotFound) {
		return notFound("no authorization type %s", typ)
	}
	if err != nil {
		return err
	}
	if sys := system(c); !sys.ViewAll && t.System != sys.Name {
		return forbidden("the type %s is not one of system %s's", typ, sys.Name)
	}
	return s.answerUnder(c, func(fresh bool) error {
		p, gen, err := s.reg.ValidBetween(ctx, typ, by, to, fresh)
		if err != nil {
			return err
		}
		out := client.TypeCodeValid{}
		if p != nil {
			out = client.TypeCodeValid{AuthorizationCode: p.Code, IsValid: true}
		}
		if err := s.auditUnder(c, typ, map[string]string{"by": by, "to": to, "valid": strconv.FormatBool(out.IsValid), "code": out.AuthorizationCode}, gen); err != nil {
			return err
		}
		return ok(c, out)
	})
}

// GET Idn-Details-List: the powers of a party, filtered and paged; the
// total in X-Total-Count.
func (s *Service) idnDetailsList(c echo.Context) error {
	q := c.QueryParams()
	f, err := listFilter(q)
	if err != nil {
		return err
	}
	if sys := system(c); !sys.ViewAll {
		f.System = sys.Name
	}
	ctx := c.Request().Context()
	list, total, err := s.reg.List(ctx, f)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return badParam("%v", err)
		}
		return err
	}
	types := map[string]*AuthType{}
	names := map[string]string{} // a company's name, read once a page
	out := make([]client.AuthorizationDetails, 0, len(list))
	for i := range list {
		p := &list[i]
		t := types[p.TypeCode]
		if t == nil {
			if t, err = s.reg.Type(ctx, p.TypeCode); err != nil {
				return err
			}
			types[p.TypeCode] = t
		}
		d, err := s.details(ctx, p, t, names)
		if err != nil {
			return err
		}
		out = append(out, *d)
	}
	if err := s.audit(c, f.IDN, map[string]string{"query": q.Encode(), "total": strconv.Itoa(total)}); err != nil {
		return err
	}
	if total >= 0 {
		c.Response().Header().Set(client.HeaderTotalCount, strconv.Itoa(total))
	}
	if next := f.NextCursor(list); next != nil {
		c.Response().Header().Set(client.HeaderNextCursor, next.String())
	}
	return ok(c, out)
}

// listFilter reads Idn-Details-List's parameters.
func listFilter(q url.Values) (Filter, error) {
	f := Filter{IDN: q.Get("IDNx"), GrantedBy: q.Get("GrantedByIdn"), GrantedTo: q.Get("GrantedToIdn"), TypeCode: q.Get("AuthorizationTypeCode")}
	if !idn.Valid(f.IDN) {
		return f, badParam("IDNx %q: want an IDNP or IDNO with its check digit", f.IDN)
	}
	for name, v := range map[string]string{"GrantedByIdn": f.GrantedBy, "GrantedToIdn": f.GrantedTo} {
		if v != "" && !idn.Valid(v) {
			return f, badParam("%s %q: want an IDNP or IDNO with its check digit", name, v)
		}
	}
	if f.TypeCode != "" && !typeCode.MatchString(f.TypeCode) {
		return f, badParam("AuthorizationTypeCode %q: want AT- and 7 digits", f.TypeCode)
	}
	if v := q.Get("Status"); v != "" {
		n, err := strconv.Atoi(v)
		st, known := StateOfCode(n)
		if err != nil || !known {
			return f, badParam("Status %q: want a number from 1 (Draft) to 6 (Canceled)", v)
		}
		f.State = st
	}
	for name, dst := range map[string]*time.Time{"StartDate": &f.Start, "EndDate": &f.End} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := parseDate(v)
		if err != nil {
			return f, badParam("%s %q: want a date (2026-12-05) or a time (RFC 3339)", name, v)
		}
		*dst = t
	}
	for name, dst := range map[string]*int{"Page": &f.Page, "PageSize": &f.PageSize} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || name == "PageSize" && n > MaxPageSize {
			return f, badParam("%s %q: want a number from 1%s", name, v, map[bool]string{true: fmt.Sprintf(" to %d", MaxPageSize)}[name == "PageSize"])
		}
		*dst = n
	}
	if v := q.Get("Cursor"); v != "" {
		cur, err := ParseCursor(v)
		if err != nil {
			return f, badParam("Cursor %q: give the X-Next-Cursor of the page before", v)
		}
		if f.Page > 1 {
			return f, badParam("Cursor and Page: give one of them")
		}
		f.After = cur
	}
	return f, nil
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}

// GET file: the latest signed act (the PDF bearing every signature).
func (s *Service) file(c echo.Context) error {
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	if _, _, err := s.visible(c, code); errors.Is(err, ErrNotFound) {
		return notFound("no power of representation has the code %s", code)
	} else if err != nil {
		return err
	}
	act, err := s.reg.LastAct(c.Request().Context(), code)
	if errors.Is(err, ErrNotFound) {
		return notFound("the power %s has no signed act yet", code)
	}
	if err != nil {
		return err
	}
	if err := s.audit(c, code, map[string]string{"act": string(act.Event)}); err != nil {
		return err
	}
	return ok(c, client.File{Content: act.PDF, ContentType: "application/pdf"})
}
