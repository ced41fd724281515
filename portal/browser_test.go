package portal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpower"
	"github.com/semnat/semnat/portal/application"
)

// step is one chromedp action of a test.
type step = chromedp.Action[chromedp.Void]

// Companies of the browser tests: the first is administered by the
// applicant (MPower's register, MPass's AdministeredLegalEntity), the
// second by nobody the tests know.
const (
	adminIDNO = "1010600034203"
	otherIDNO = "1003600011118"
)

// administers puts adminIDNO in MPower's register of legal entities, with
// u as its administrator.
func (e *env) administers(u mobileid.User) {
	e.t.Helper()
	err := e.mpowerReg.PutEntity(context.Background(), "test", mpower.Entity{IDNO: adminIDNO, Name: "Alfa Construct SRL", Form: "SRL",
		Administrators: []mpower.Administrator{{IDNP: u.IDNP, From: time.Now().AddDate(-1, 0, 0)}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// do runs the steps, each wait at most 2 minutes; on a failure it
// shows where the browser is and the page's text.
func do(t *testing.T, ctx context.Context, steps ...step) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	defer func() { t.Logf("steps done in %v", time.Since(t0).Round(time.Millisecond)) }()
	if err := chromedp.Do(sctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("%v\nat %s:\n%s", err, loc, text)
	}
}

// text is the trimmed text of the element sel selects (at most 2 minutes).
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("text of %s: %v at %s", sel, err, loc)
	}
	return strings.TrimSpace(s)
}

// phoneApproves approves, on the virtual phone of u in a tab of its own
// (the simulator's /sim/ page), the request the phone shows, with pin;
// code, when not empty, must be the one the phone shows.
func phoneApproves(t *testing.T, ctx context.Context, e *env, u mobileid.User, pin, code string) {
	t.Helper()
	phone, cancel := chromedp.NewContext(ctx)
	defer cancel()
	// The tab's first action is run on its own context: one derived from it
	// (do's time-out) would close the tab when done.
	browsertest.Do(t, phone, chromedp.Navigate(e.simURL+"/sim/"+u.MSISDN))
	do(t, phone, chromedp.WaitVisible(chromedp.ID("req")))
	if code != "" {
		onPhone, err := chromedp.Run(phone, chromedp.Evaluate[string](`document.getElementById("code").textContent.trim()`))
		if err != nil || onPhone != code {
			t.Fatalf("the page shows %q, the phone %q (%v)", code, onPhone, err)
		}
	}
	do(t, phone, chromedp.SendKeys(chromedp.ID("pin"), pin), chromedp.Click(chromedp.ID("ok")))
}

// browserLogin: on MPass's login page (ctx shows it), the person types
// their phone number and approves on the virtual phone.
func browserLogin(t *testing.T, ctx context.Context, e *env, u mobileid.User) {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("login-form")))
	browsertest.Axe(t, ctx, "MPass login", "ro")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("phone"), "0"+strings.TrimPrefix(u.MSISDN, "+373")),
		chromedp.Click(chromedp.ID("login-button")), chromedp.WaitVisible(chromedp.ID("code")))
	phoneApproves(t, ctx, e, u, mobileid.DefaultPIN1, text(t, ctx, "#code"))
}

// browserSign: on MSign's page for the portal's request (ctx shows it),
// the person signs with their phone and is taken back to the portal's
// status page.
func browserSign(t *testing.T, ctx context.Context, e *env, u mobileid.User) {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("msign-form")))
	browsertest.Axe(t, ctx, "MSign's signing page", "ro")
	do(t, ctx, chromedp.SetValue(chromedp.ID("msisdn"), u.MSISDN), chromedp.Click(chromedp.ID("msign-sign")))
	phoneApproves(t, ctx, e, u, mobileid.DefaultPIN2, "")
	// MSign's page follows the phone and takes the browser back by itself.
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS(`#state[data-state]`)))
}

// payByCard: from the portal's status page, to MPay, the card number
// typed on MPay's page; it waits for MPay's outcome (data-state).
func payByCard(t *testing.T, ctx context.Context, card, outcome string) {
	t.Helper()
	do(t, ctx, chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("card-form")))
	browsertest.Axe(t, ctx, "MPay's checkout", "ro")
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="number"]`), card),
		chromedp.SendKeys(chromedp.CSS(`input[name="holder"]`), "Test User"),
		chromedp.SendKeys(chromedp.CSS(`input[name="expiry"]`), "12/35"),
		chromedp.SendKeys(chromedp.CSS(`input[name="cvc"]`), "123"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="`+outcome+`"]`)))
	browsertest.Axe(t, ctx, "MPay's outcome ("+outcome+")", "ro")
}

// waitState reloads the status page until the application is in state.
func waitState(t *testing.T, ctx context.Context, url string, state application.State) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		// A navigation the page before started (a return page that
		// submits itself) may abort this one (net::ERR_ABORTED): try
		// again until the deadline.
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(sctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("state")))
		var got string
		if err == nil {
			v, verr := chromedp.Run(sctx, chromedp.AttributeValue(chromedp.ID("state"), "data-state"))
			got, err = v.Value, verr
		}
		cancel()
		if err == nil && got == string(state) {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("state"))) // fails, showing where the browser is
			}
			t.Fatalf("the status page says %q after 60 s, want %q", got, state)
		}
	}
}

// TestBrowserCitizenJourney: in Chromium, with axe-core run on every page
// on the way (no serious or critical violation; <html lang> the page's
// language): the catalogue in ro, ru and en, a search, a service's card;
// applying needs a login, by phone through MPass (the virtual phone in a
// second tab); acting for a company the person neither administers nor
// holds a power of is refused on the page; for the company they
// administer (MPower's register → MPass's AdministeredLegalEntity) the
// wizard goes on: the form (first with its errors), a PDF attached, the
// delivery, the confirmation, signing at MSign on the virtual phone, the
// receipt; the payment at MPay with a declined card fails (the application
// stays Submitted and can be paid again), then the test card pays it;
// MCabinet's pages (applications, payments, documents, notifications), an
// error page and the public page verifying an issued document. Then the
// Public Services Agency's clerk, in a browser context of their own, logs
// in with the USB token (the real `semnat agent --yes`), approves the
// application and signs the result with the token (office helpers in
// browser_office_test.go); the citizen gets the e-mail (Debian's aiosmtpd
// as MNotify's relay), downloads the sealed document, which `semnat
// verify` and pdfsig pass, and follows its QR code to the public page.
func TestBrowserCitizenJourney(t *testing.T) {
	var mpayURL string
	e, o := officeEnv(t, "clerk-asp", withMPay(t, &mpayURL))
	user := mobileid.GeneratedUser(2)
	e.administers(user)
	o.hasMailbox(t, user)
	ctx := browsertest.New(t, 20*time.Minute)
	dl := browsertest.Downloads(t, ctx)
	axe := func(name string) { t.Helper(); browsertest.Axe(t, ctx, name, "ro") }

	// The catalogue, in the three languages.
	for _, lang := range []string{"ru", "en", "ro"} { // ro last: remembered
		do(t, ctx, chromedp.Navigate(e.url+"/?lang="+lang), chromedp.WaitVisible(chromedp.ID("q")))
		browsertest.Axe(t, ctx, "home ("+lang+")", lang)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("q"), "extras registrul persoanelor juridice"),
		chromedp.Click(chromedp.CSS(`form[role="search"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/servicii/000102"]`)))
	axe("search")
	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/portal/servicii/000102"]`)), chromedp.WaitVisible(chromedp.ID("apply")))
	if cost := text(t, ctx, "#cost"); cost != "176,00 lei" {
		t.Fatalf("the card's cost: %q", cost)
	}
	axe("service card")

	// Applying: log in by phone, then for whom.
	do(t, ctx, chromedp.Click(chromedp.ID("apply")))
	browserLogin(t, ctx, e, user)
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("ob-company")))
	axe("step 1: for whom")
	// A company the person has no power for: refused, nothing made.
	do(t, ctx, chromedp.Click(chromedp.ID("ob-company")),
		chromedp.SendKeys(chromedp.ID("beneficiary"), otherIDNO), chromedp.SendKeys(chromedp.ID("beneficiary_name"), "Beta SRL"),
		chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("error")))
	if msg := text(t, ctx, "#error"); !strings.Contains(msg, "MPower") {
		t.Fatalf("refused company: %q", msg)
	}
	axe("step 1: refused")
	if apps, err := e.portal.Applications().ByApplicant(context.Background(), user.IDNP, 10); err != nil || len(apps) != 0 {
		t.Fatalf("a refused company left applications: %v %v", apps, err)
	}
	// The company the person administers.
	do(t, ctx, chromedp.Click(chromedp.ID("ob-company")),
		chromedp.SetValue(chromedp.ID("beneficiary"), adminIDNO),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("beneficiary_name").value = ""`),
		chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("app-id")))
	id := text(t, ctx, "#app-id")
	a, err := e.portal.Applications().Get(context.Background(), id)
	if err != nil || a.Beneficiary != adminIDNO || a.Basis != BasisAdministrator || a.BeneficiaryName != "Alfa Construct SRL" {
		t.Fatalf("the draft: %+v %v", a, err)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("f-idno"))); v != adminIDNO {
		t.Fatalf("the company's IDNO is not prefilled: %q", v)
	}
	axe("step 2: form")
	do(t, ctx, chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.CSS(".field-error")))
	axe("step 2: form with errors")
	do(t, ctx, chromedp.SetValue(chromedp.ID("f-kind"), "complet"), chromedp.SetValue(chromedp.ID("f-language"), "ro"),
		chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("file-0")))
	axe("step 3: documents")
	pdf := filepath.Join(t.TempDir(), "procura.pdf")
	if err := os.WriteFile(pdf, samplepdf.Document("Procura", []string{"Alfa Construct SRL"}, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-0"), []string{pdf}),
		chromedp.Click(chromedp.CSS(`#file-0 + button`)), chromedp.WaitVisible(chromedp.CSS(`a[href$="/documente/1"], .doc li a`)))
	axe("step 3: a document attached")
	do(t, ctx, chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("d-mcabinet")))
	axe("step 4: delivery")
	do(t, ctx, chromedp.Click(chromedp.ID("d-mcabinet")), chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("sign")))
	axe("step 5: confirmation")

	// Signing at MSign on the phone, back to the receipt.
	do(t, ctx, chromedp.Click(chromedp.ID("sign")))
	browserSign(t, ctx, e, user)
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("receipt")), chromedp.WaitVisible(chromedp.ID("pay-form")))
	axe("receipt (submitted, to pay)")
	status := e.url + appPath(id, "")

	// A declined card: MPay says so, the application waits to be paid.
	payByCard(t, ctx, cardsim.CardDecline, "declined")
	do(t, ctx, chromedp.Navigate(status), chromedp.WaitVisible(chromedp.ID("pay-form")))
	if a, _ := e.portal.Applications().Get(context.Background(), id); a.State != application.Submitted || a.PaymentID != "" {
		t.Fatalf("after a declined card: %+v", a)
	}
	// The test card pays it.
	payByCard(t, ctx, cardsim.CardApprove, "approved")
	do(t, ctx, chromedp.Click(chromedp.ID("back")))
	waitState(t, ctx, status, application.Paid)
	axe("status (paid)")

	// MCabinet: my applications; and a page that does not exist.
	do(t, ctx, chromedp.Navigate(e.url+"/portal/cereri"), chromedp.WaitVisible(chromedp.ID("apps")))
	if list := text(t, ctx, "#apps"); !strings.Contains(list, id) {
		t.Fatalf("MCabinet does not list %s:\n%s", id, list)
	}
	axe("MCabinet: my applications")
	do(t, ctx, chromedp.Navigate(e.url+"/portal/servicii/999999"), chromedp.WaitVisible(chromedp.CSS("main")))
	axe("error page")
	// MCabinet's other pages and the public page that verifies an issued
	// document (its form, and an unknown code).
	for _, p := range []struct{ name, path string }{{"MCabinet: payments", "/portal/plati"}, {"MCabinet: documents", "/portal/documente"},
		{"MCabinet: notifications", "/portal/notificari"}, {"public verification form", "/portal/verificare"},
		{"public verification, unknown code", "/portal/verificare/ABCD2345"}} {
		do(t, ctx, chromedp.Navigate(e.url+p.path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		axe(p.name)
	}

	// The clerk, with cookies of their own: approves and signs with the
	// token; the citizen is told by e-mail, downloads the document, checks
	// it and its QR code.
	clerk, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	browsertest.Do(t, clerk, chromedp.Navigate("about:blank")) // the tab's first action on its own context (see phoneApproves)
	clerkLogin(t, clerk, e, o)
	clerkApproves(t, clerk, id)
	o.mailed(t, e, id, application.Completed)
	do(t, ctx, chromedp.Navigate(e.url+appPath(id, "rezultat")))
	citizenGetsDocument(t, ctx, e, o, dl, id, "Agenția Servicii Publice")
}
