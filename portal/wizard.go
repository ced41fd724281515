package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/idn"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
)

// ErrNoPower: the applicant may not act for the beneficiary (no valid
// power of the service's authorization type, not the company's
// administrator).
var ErrNoPower = errors.New("portal: no power to act for the beneficiary")

// ErrUnavailable: a service the portal needs (MPower, MSign, MPay) is not
// configured or does not answer.
var ErrUnavailable = errors.New("portal: a service the portal relies on is unavailable")

// Basis values of an application.
const (
	BasisSelf          = "self"
	BasisAdministrator = "administrator"
	BasisPower         = "power:" // and the authorization code
)

// basisFor says why applicant may act for beneficiary on svc: "self", the
// company's administrator (MPass says so), or a valid MPower power of the
// service's authorization type (asked now: a power is valid at the
// moment of the question). ErrNoPower when none holds; ErrUnavailable
// when MPower cannot be asked.
func (s *Service) basisFor(ctx context.Context, svc *catalog.Service, u *user, ob application.OnBehalf, beneficiary string) (string, string, error) {
	switch ob {
	case application.Self:
		return BasisSelf, u.Name(), nil
	case application.Company:
		if name, ok := u.Administers(beneficiary); ok {
			return BasisAdministrator, name, nil
		}
	}
	if svc.Authorization == "" {
		return "", "", fmt.Errorf("%w: service %s names no authorization type", ErrNoPower, svc.Code)
	}
	if s.cfg.MPower == nil {
		return "", "", fmt.Errorf("%w: no MPower is configured", ErrUnavailable)
	}
	res, err := s.cfg.MPower.TypeCodeValid(ctx, svc.Authorization, beneficiary, u.IDNP)
	if errors.Is(err, mpowerclient.ErrNotFound) { // the type is unknown to MPower: no power of it
		return "", "", fmt.Errorf("%w: MPower knows no type %s", ErrNoPower, svc.Authorization)
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: MPower: %v", ErrUnavailable, err)
	}
	if res == nil || !res.IsValid {
		return "", "", fmt.Errorf("%w: MPower has no valid power %s from %s to %s", ErrNoPower, svc.Authorization, beneficiary, u.IDNP)
	}
	return BasisPower + res.AuthorizationCode, "", nil
}

// serviceOf is the service of the path's :code.
func (s *Service) serviceOf(c echo.Context) (*catalog.Service, error) {
	svc, err := s.cfg.Catalog.Service(c.Param("code"))
	if err != nil {
		return nil, echo.ErrNotFound
	}
	return svc, nil
}

// behalfPage is step 1: for whom.
func (s *Service) behalfPage(c echo.Context) error {
	svc, err := s.serviceOf(c)
	if err != nil {
		return err
	}
	return s.renderBehalf(c, http.StatusOK, svc, "", "", "", "")
}

func (s *Service) renderBehalf(c echo.Context, status int, svc *catalog.Service, chosen, idnValue, name, msg string) error {
	p := s.newPage(c, "")
	p.Service, p.Title, p.Step, p.Error = svc, svc.Title.In(p.Lang), 1, msg
	p.PaymentsUnavailable = !svc.Free() && s.cfg.Payments == nil
	if chosen == "" {
		chosen = string(catalog.Self)
	}
	for _, ob := range svc.OnBehalf {
		p.Choices = append(p.Choices, choice{Value: string(ob), Label: p.T[string(ob)], Selected: string(ob) == chosen})
	}
	p.Fields = []formField{{Name: "beneficiary", Label: p.T["BeneficiaryIDN"], Input: "text", Value: idnValue},
		{Name: "beneficiary_name", Label: p.T["BeneficiaryName"], Input: "text", Value: name}}
	return s.render(c, status, "behalf", p)
}

// behalfPost checks for whom, makes the draft (prefilled from MPass when
// for oneself) and goes to the form.
func (s *Service) behalfPost(c echo.Context) error {
	svc, err := s.serviceOf(c)
	if err != nil {
		return err
	}
	u := s.currentUser(c.Request())
	w := wording(langOf(c))
	ob := catalog.OnBehalf(c.FormValue("on_behalf"))
	benef, name := strings.TrimSpace(c.FormValue("beneficiary")), strings.TrimSpace(c.FormValue("beneficiary_name"))
	again := func(status int, key string) error {
		return s.renderBehalf(c, status, svc, string(ob), benef, name, w[key])
	}
	if !svc.Free() && s.cfg.Payments == nil {
		return again(http.StatusConflict, "e-paid")
	}
	if !svc.Allows(ob) {
		return again(http.StatusBadRequest, "e-not-allowed")
	}
	if n, err := s.apps.Drafts(c.Request().Context(), u.IDNP); err != nil {
		return err
	} else if n >= s.cfg.MaxDrafts {
		return again(http.StatusTooManyRequests, "e-drafts")
	}
	a := &application.Application{Service: svc.Code, Cost: svc.Cost, Lang: langOf(c), Applicant: u.IDNP, ApplicantName: u.Name(),
		OnBehalf: application.OnBehalf(ob), Fields: map[string]string{}}
	switch ob {
	case catalog.Self:
		benef = u.IDNP
	case catalog.Person:
		if idn.KindOf(benef) != idn.Person {
			return again(http.StatusBadRequest, "e-bad-idnp")
		}
		if benef == u.IDNP {
			return again(http.StatusBadRequest, "e-self")
		}
	case catalog.Company:
		if idn.KindOf(benef) != idn.Entity {
			return again(http.StatusBadRequest, "e-bad-idno")
		}
	}
	basis, known, err := s.basisFor(c.Request().Context(), svc, u, a.OnBehalf, benef)
	switch {
	case errors.Is(err, ErrNoPower):
		s.cfg.Log.Info("portal: acting for another refused", "service", svc.Code, "applicant", u.IDNP, "beneficiary", benef, "err", err)
		return again(http.StatusForbidden, "e-no-power")
	case errors.Is(err, ErrUnavailable):
		s.cfg.Log.Warn("portal: power check unavailable", "err", err)
		return again(http.StatusServiceUnavailable, "e-no-mpower")
	case err != nil:
		return err
	}
	if known != "" {
		name = known
	}
	if name == "" {
		return again(http.StatusBadRequest, "e-name")
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	a.Beneficiary, a.BeneficiaryName, a.Basis = benef, name, basis
	for _, f := range svc.Fields {
		switch {
		case ob == catalog.Self && f.Prefill != "":
			a.Fields[f.Name] = u.prefill(f.Prefill)
		case ob == catalog.Person && f.Prefill == "NameIdentifier":
			a.Fields[f.Name] = benef
		case ob == catalog.Company && f.Type == catalog.TypeIDNO:
			a.Fields[f.Name] = benef
		}
	}
	if len(svc.Delivery) == 1 {
		a.Delivery = string(svc.Delivery[0])
	}
	if err := s.apps.Create(c.Request().Context(), u.IDNP, a); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, "formular"))
}

func appPath(id, step string) string {
	p := PathPrefix + "/cereri/" + url.PathEscape(id)
	if step != "" {
		p += "/" + step
	}
	return p
}

// owned is the application of the path's :id if the logged-in person made
// it (anyone else: not found), with its service.
func (s *Service) owned(c echo.Context) (*application.Application, *catalog.Service, error) {
	u := s.currentUser(c.Request())
	a, err := s.apps.Get(c.Request().Context(), c.Param("id"))
	if err != nil || u == nil || a.Applicant != u.IDNP {
		return nil, nil, echo.ErrNotFound
	}
	svc, err := s.cfg.Catalog.Service(a.Service)
	if err != nil {
		return nil, nil, fmt.Errorf("portal: application %s is for service %s, no longer in the catalogue: %w", a.ID, a.Service, err)
	}
	return a, svc, nil
}

// draftOf is owned, for the wizard's steps: an application that is no
// longer a draft goes to its status page (ok false: answered).
func (s *Service) draftOf(c echo.Context) (*application.Application, *catalog.Service, bool, error) {
	a, svc, err := s.owned(c)
	if err != nil {
		return nil, nil, false, err
	}
	if a.State != application.Draft {
		return nil, nil, false, c.Redirect(http.StatusSeeOther, appPath(a.ID, ""))
	}
	return a, svc, true, nil
}

// formFields is svc's form as the page shows it, with values and problems.
func formFields(svc *catalog.Service, lang string, values map[string]string, errs []catalog.FieldError) []formField {
	var out []formField
	for _, f := range svc.Fields {
		ff := formField{Name: f.Name, Label: f.Label.In(lang), Help: f.Help.In(lang), Value: values[f.Name], Required: f.Required, Input: "text"}
		switch f.Type {
		case catalog.TypeTextarea:
			ff.Textarea = true
		case catalog.TypeSelect:
			ff.Select = true
			for _, o := range f.Options {
				ff.Options = append(ff.Options, choice{Value: o.Value, Label: o.Label.In(lang), Selected: o.Value == values[f.Name]})
			}
		case catalog.TypeCheckbox:
			ff.Checkbox = true
		case catalog.TypeDate:
			ff.Input = "date"
		case catalog.TypeNumber:
			ff.Input = "number"
		case catalog.TypeEmail:
			ff.Input = "email"
		case catalog.TypePhone:
			ff.Input = "tel"
		}
		for _, e := range errs {
			if e.Field == f.Name {
				ff.Error = problemText(lang, e)
				break
			}
		}
		out = append(out, ff)
	}
	return out
}

func (s *Service) formPage(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	return s.renderForm(c, http.StatusOK, a, svc, a.Fields, nil)
}

func (s *Service) renderForm(c echo.Context, status int, a *application.Application, svc *catalog.Service, values map[string]string, errs []catalog.FieldError) error {
	p := s.newPage(c, "")
	p.App, p.Service, p.Title, p.Step = a, svc, svc.Title.In(p.Lang), 2
	p.Fields = formFields(svc, p.Lang, values, errs)
	if len(errs) > 0 {
		p.Error = p.T["FormErrors"]
	}
	return s.render(c, status, "form", p)
}

// formPost keeps the form (as typed, so that it is shown again) and goes
// on when it is valid.
func (s *Service) formPost(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	values := map[string]string{}
	for _, f := range svc.Fields {
		values[f.Name] = c.FormValue(f.Name)
	}
	clean, errs := svc.Validate(values, s.today())
	if _, err := s.apps.EditDraft(c.Request().Context(), a.ID, func(a *application.Application) error { a.Fields = clean; return nil }); err != nil {
		return err
	}
	if len(errs) > 0 {
		return s.renderForm(c, http.StatusUnprocessableEntity, a, svc, clean, errs)
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, "documente"))
}

func (s *Service) deliveryPage(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	return s.renderDelivery(c, http.StatusOK, a, svc, a.Delivery, a.Address, "")
}

func (s *Service) renderDelivery(c echo.Context, status int, a *application.Application, svc *catalog.Service, chosen, address, msg string) error {
	p := s.newPage(c, "")
	p.App, p.Service, p.Title, p.Step, p.Error = a, svc, svc.Title.In(p.Lang), 4, msg
	for _, d := range svc.Delivery {
		p.Choices = append(p.Choices, choice{Value: string(d), Label: p.T[string(d)], Selected: string(d) == chosen})
	}
	p.Fields = []formField{{Name: "address", Label: p.T["Address"], Input: "text", Value: address}}
	return s.render(c, status, "delivery", p)
}

func (s *Service) deliveryPost(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	w := wording(langOf(c))
	d, addr := c.FormValue("delivery"), strings.TrimSpace(c.FormValue("address"))
	switch {
	case !svc.Offers(catalog.Delivery(d)):
		return s.renderDelivery(c, http.StatusBadRequest, a, svc, d, addr, w["e-delivery"])
	case d == string(catalog.Courier) && (addr == "" || utf8.RuneCountInString(addr) > 200 || strings.ContainsFunc(addr, func(r rune) bool { return r < 0x20 })):
		return s.renderDelivery(c, http.StatusBadRequest, a, svc, d, addr, w["e-address"])
	case d != string(catalog.Courier):
		addr = ""
	}
	if _, err := s.apps.EditDraft(c.Request().Context(), a.ID, func(a *application.Application) error {
		a.Delivery, a.Address = d, addr
		return nil
	}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, "confirmare"))
}

// summary is the application as the confirmation page and the PDF show it.
func (s *Service) summary(a *application.Application, svc *catalog.Service, lang string) []labelValue {
	w := wording(lang)
	out := []labelValue{{w["Service"], svc.Code + " — " + svc.Title.In(lang)}, {w["Provider"], svc.Provider.Name.In(lang)},
		{w["Applicant"], a.ApplicantName + ", IDNP " + a.Applicant}}
	if a.OnBehalf != application.Self {
		out = append(out, labelValue{w["Beneficiary"], a.BeneficiaryName + ", " + a.Beneficiary}, labelValue{w["Basis"], basisText(w, a.Basis)})
	}
	for _, f := range svc.Fields {
		v := a.Fields[f.Name]
		if f.Type == catalog.TypeSelect {
			for _, o := range f.Options {
				if o.Value == v {
					v = o.Label.In(lang)
				}
			}
		}
		if f.Type == catalog.TypeCheckbox && v == "true" {
			v = "✓"
		}
		out = append(out, labelValue{f.Label.In(lang), v})
	}
	d := w[a.Delivery]
	if a.Address != "" {
		d += " " + a.Address
	}
	out = append(out, labelValue{w["Delivery"], d}, labelValue{w["Cost"], money(w, a.Cost)})
	return out
}

func basisText(w map[string]string, basis string) string {
	if code, ok := strings.CutPrefix(basis, BasisPower); ok {
		return w["basis-power"] + " " + code
	}
	return w["basis-"+basis]
}

// ready checks that a draft can be signed: the form valid, a delivery
// chosen; the step to go back to when not.
func (s *Service) ready(a *application.Application, svc *catalog.Service) (string, bool) {
	if _, errs := svc.Validate(a.Fields, s.today()); len(errs) > 0 {
		return "formular", false
	}
	if !svc.Offers(catalog.Delivery(a.Delivery)) {
		return "livrare", false
	}
	return "", true
}

func (s *Service) confirmPage(c echo.Context) error {
	a, svc, ok, err := s.draftOf(c)
	if !ok {
		return err
	}
	if step, ok := s.ready(a, svc); !ok {
		return c.Redirect(http.StatusSeeOther, appPath(a.ID, step))
	}
	p := s.newPage(c, "")
	p.App, p.Service, p.Title, p.Step = a, svc, svc.Title.In(p.Lang), 5
	p.Summary = s.summary(a, svc, p.Lang)
	p.Docs = docSlots(a, svc, p.Lang, p.T)
	if msg := c.QueryParam("semnare"); msg != "" {
		p.Error = p.T["e-not-signed"] + " " + msg
	}
	return s.render(c, http.StatusOK, "confirm", p)
}

// cancel withdraws a draft or a submitted application.
func (s *Service) cancel(c echo.Context) error {
	a, _, err := s.owned(c)
	if err != nil {
		return err
	}
	var te *application.TransitionError
	if _, err := s.apps.Transition(c.Request().Context(), a.Applicant, a.ID, application.EvCancel, application.ReasonByApplicant, nil); err != nil && !errors.As(err, &te) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appPath(a.ID, ""))
}

// appPage is an application's status page (the receipt once submitted);
// a draft's goes on with the wizard.
func (s *Service) appPage(c echo.Context) error {
	a, svc, err := s.owned(c)
	if err != nil {
		return err
	}
	p := s.newPage(c, "")
	p.App, p.Service, p.Title = a, svc, svc.Title.In(p.Lang)
	if p.History, err = s.apps.History(c.Request().Context(), a.ID); err != nil {
		return err
	}
	p.Summary = s.summary(a, svc, p.Lang)
	p.Docs = docSlots(a, svc, p.Lang, p.T)
	_, canFetch := s.cfg.Payments.(Receipts)
	p.Receipt = a.PaymentID != "" && canFetch
	if a.State == application.Submitted && a.Cost > 0 && s.cfg.Payments != nil {
		action, fields := s.cfg.Payments.PayForm(a.ID, s.url(appPath(a.ID, "")))
		p.Pay = &payForm{Action: action}
		for k, vs := range fields {
			for _, v := range vs {
				p.Pay.Fields = append(p.Pay.Fields, labelValue{k, v})
			}
		}
		sort.Slice(p.Pay.Fields, func(i, j int) bool { return p.Pay.Fields[i].Label < p.Pay.Fields[j].Label })
	}
	return s.render(c, http.StatusOK, "app", p)
}

func (s *Service) myApps(c echo.Context) error {
	u := s.currentUser(c.Request())
	list, err := s.apps.ByApplicant(c.Request().Context(), u.IDNP, 200)
	if err != nil {
		return err
	}
	p := s.newPage(c, "")
	p.Title = p.T["MyApps"]
	for _, a := range list {
		if svc, err := s.cfg.Catalog.Service(a.Service); err == nil {
			a.Service = svc.Code + " — " + svc.Title.In(p.Lang)
		}
		p.Summary = append(p.Summary, labelValue{a.ID, a.Service})
	}
	p.Apps = list
	return s.render(c, http.StatusOK, "apps", p)
}
