package portal

import (
	"bytes"
	"context"
	"errors"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mnotify/mnotifytest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/store"
)

// TestJourneySelfFree: a citizen logs in to the portal through a real
// MPass with the virtual phone, applies for the free criminal record
// certificate for themselves (the form prefilled from MPass), attaches a
// PDF (a PNG named .pdf is refused), chooses the delivery, signs the
// application on the phone through a real MSign, and comes back to the
// status page: Submitted, with the signed PDF (signed by their IDNP), its
// history and its audit entries.
func TestJourneySelfFree(t *testing.T) {
	e := newEnv(t, nil)
	user := mobileid.GeneratedUser(0)
	b := newBrowser(t)
	ctx := context.Background()

	// The catalogue is public.
	resp, page := b.get(e.url + "/")
	if resp.StatusCode != 200 || !strings.Contains(page, "Certificat de cazier judiciar") || strings.Contains(page, `id="user"`) {
		t.Fatalf("home: %d\n%s", resp.StatusCode, page)
	}
	if _, page = b.get(e.url + "/portal/servicii?q=cazier"); !strings.Contains(page, "/portal/servicii/000101") || strings.Contains(page, "000104") {
		t.Fatalf("search:\n%s", page)
	}

	// Step 1: applying needs a login (MPass, phone), then for whom.
	resp, page = e.login(b, e.url+"/portal/servicii/000101/aplica", user)
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, "/portal/servicii/000101/aplica") || !strings.Contains(page, `name="on_behalf"`) {
		t.Fatalf("after login: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if !strings.Contains(page, "Test User00000") {
		t.Fatalf("the page does not name the person:\n%s", page)
	}
	resp, page = b.post(e.url+"/portal/servicii/000101/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}})
	m := reAppID.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !strings.HasSuffix(resp.Request.URL.Path, "/formular") {
		t.Fatalf("step 1: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	id := m[1]
	// Step 2: prefilled from MPass; the check digits and the dates are checked.
	for _, want := range []string{`value="` + user.IDNP + `"`, `value="User00000"`, `value="Test"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the form is not prefilled (%s):\n%s", want, page)
		}
	}
	form := url.Values{"_csrf": {csrfOf(t, page)}, "idnp": {user.IDNP[:12] + "0"}, "last_name": {"User00000"}, "first_name": {"Test"},
		"birth_date": {"2999-01-01"}, "purpose": {"angajare"}}
	if user.IDNP[12] == '0' {
		form.Set("idnp", user.IDNP[:12]+"1")
	}
	resp, page = b.post(e.url+appPath(id, "formular"), form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "IDNP nevalid") || !strings.Contains(page, "Data nu poate fi în viitor") {
		t.Fatalf("a bad form: %d\n%s", resp.StatusCode, page)
	}
	form.Set("idnp", user.IDNP)
	form.Set("birth_date", "1990-05-17")
	form.Set("_csrf", csrfOf(t, page))
	resp, page = b.post(e.url+appPath(id, "formular"), form)
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, "/documente") {
		t.Fatalf("step 2: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	// Step 3: a PDF is taken; a PNG that calls itself a PDF is not.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
	resp, page = b.upload(e.url+appPath(id, "documente"), csrfOf(t, page), "-1", "scan.pdf", "application/pdf", png)
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(page, "conținutul nu corespunde") {
		t.Fatalf("a PNG named .pdf: %d\n%s", resp.StatusCode, page)
	}
	big := samplepdf.Document("Mare", nil, 1<<20+10)
	resp, page = b.upload(e.url+appPath(id, "documente"), csrfOf(t, page), "-1", "mare.pdf", "application/pdf", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "depășește limita") {
		t.Fatalf("a file over the limit: %d\n%s", resp.StatusCode, page)
	}
	doc := samplepdf.Document("Adeverinta", []string{"de la locul de munca"}, 0)
	resp, page = b.upload(e.url+appPath(id, "documente"), csrfOf(t, page), "-1", "adeverință.pdf", "application/pdf", doc)
	if resp.StatusCode != 200 || !strings.Contains(page, "adeverință.pdf") {
		t.Fatalf("a PDF: %d\n%s", resp.StatusCode, page)
	}
	// Step 4: the delivery (MCabinet only for this service).
	_, page = b.get(e.url + appPath(id, "livrare"))
	resp, page = b.post(e.url+appPath(id, "livrare"), url.Values{"_csrf": {csrfOf(t, page)}, "delivery": {"courier"}, "address": {"str. Ștefan cel Mare 1"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a delivery the service does not offer: %d", resp.StatusCode)
	}
	resp, page = b.post(e.url+appPath(id, "livrare"), url.Values{"_csrf": {csrfOf(t, page)}, "delivery": {"mcabinet"}})
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, "/confirmare") || !strings.Contains(page, "Electronic, în MCabinet") ||
		!strings.Contains(page, "Angajare în câmpul muncii") {
		t.Fatalf("step 4: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	// Step 5: sign through MSign (the browser goes there), on the phone.
	resp, page = b.post(e.url+appPath(id, "semneaza"), url.Values{"_csrf": {csrfOf(t, page)}})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), e.msignURL+"/") {
		t.Fatalf("not sent to MSign: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	signPage := resp.Request.URL
	reqID := strings.TrimPrefix(signPage.Path, "/")
	if a, err := e.portal.Applications().Get(ctx, id); err != nil || a.SignRequest != reqID || a.State != application.Draft {
		t.Fatalf("while signing: %+v %v", a, err)
	}
	resp, _ = b.post(e.msignURL+"/"+reqID+"/sign", url.Values{"_csrf": {csrfOf(t, page)}, "Instrument": {"mobile"}, "MSISDN": {user.MSISDN}})
	if resp.StatusCode != 200 {
		t.Fatalf("MSign's sign: %d", resp.StatusCode)
	}
	confirmOnPhone(t, user.MSISDN, mobileid.DefaultPIN2, "")
	for i := 0; i < 500 && !strings.Contains(page, `id="return-form"`); i++ {
		_, page = b.get(signPage.String())
	}
	resp, page = b.postForm(page, PathSigned)
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, appPath(id, "")) || !strings.Contains(page, `data-state="submitted"`) ||
		!strings.Contains(page, `id="receipt"`) {
		t.Fatalf("back from MSign: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	a, err := e.portal.Applications().Get(ctx, id)
	if err != nil || a.State != application.Submitted || a.SignedBy != user.IDNP || a.Fields["purpose"] != "angajare" || len(a.Attachments) != 1 {
		t.Fatalf("stored: %+v %v", a, err)
	}
	h, err := e.portal.Applications().History(ctx, id)
	if err != nil || len(h) != 1 || h[0].From != application.Draft || h[0].To != application.Submitted || h[0].Actor != user.IDNP {
		t.Fatalf("history: %+v %v", h, err)
	}
	var actions []string
	e.portalStore.WalkAudit(ctx, func(en *store.Entry) error {
		if en.Subject == id {
			actions = append(actions, en.Action)
		}
		return nil
	})
	if !slices.Equal(actions, []string{"portal.create", "portal.submit"}) {
		t.Fatalf("audit: %v", actions)
	}
	// The signed application: the applicant's signature, over the
	// application with its form and attachment list.
	resp, signed := b.get(e.url + appPath(id, "cerere.pdf"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || application.Digest([]byte(signed)) != a.SignedSHA {
		t.Fatalf("signed PDF: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rep, err := pades.Verify(ctx, bytes.NewReader([]byte(signed)), int64(len(signed)), &pades.VerifyOptions{Roots: shared.pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Signer.IDNP != user.IDNP || rep.Signatures[0].Indication != pades.TotalPassed {
		t.Fatalf("the signature: %v %+v", err, rep)
	}
	// Rendered from the form (the select's label, not its value) and the
	// list of attachments with their SHA-256 (poppler reads it back).
	path := filepath.Join(t.TempDir(), "signed.pdf")
	os.WriteFile(path, []byte(signed), 0o600)
	text, err := exec.Command(testtool.Require(t, "pdftotext"), path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CERERE " + id, "Certificat de cazier judiciar", "Angajare în câmpul muncii", "1990-05-17", user.IDNP,
		"adeverință.pdf", a.Attachments[0].SHA256, "Electronic, în MCabinet", "Gratuit"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the application PDF lacks %q:\n%s", want, text)
		}
	}
	// My applications list it; another person sees nothing of it.
	if _, page = b.get(e.url + "/portal/cereri"); !strings.Contains(page, id) || !strings.Contains(page, "Depusă") {
		t.Fatalf("my applications:\n%s", page)
	}
	other := newBrowser(t)
	e.login(other, e.url+"/portal/cereri", mobileid.GeneratedUser(1))
	if resp, _ := other.get(e.url + appPath(id, "")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another person's application: %d", resp.StatusCode)
	}
	if resp, _ := other.get(e.url + appPath(id, "cerere.pdf")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another person's PDF: %d", resp.StatusCode)
	}
	// Coming back from MSign again changes nothing.
	if resp, _ := b.post(e.url+PathSigned, url.Values{"RequestID": {reqID}, "RelayState": {id}}); resp.StatusCode != 200 {
		t.Fatalf("back twice: %d", resp.StatusCode)
	}
	if h, _ := e.portal.Applications().History(ctx, id); len(h) != 1 {
		t.Fatalf("history after coming back twice: %d", len(h))
	}
}

// TestActingForOthers: acting for a company or a person needs a valid
// MPower power of the service's type (the company's administrator, as
// MPass says, needs none); without one it is refused and no application
// is made. A paid service cannot be applied for without a payment
// provider.
func TestActingForOthers(t *testing.T) {
	e := newEnv(t, nil)
	user := mobileid.GeneratedUser(2)
	b := newBrowser(t)
	ctx := context.Background()
	_, page := e.login(b, e.url+"/portal/servicii/000105/aplica", user)
	for _, tc := range []struct {
		ob, idn, name string
		status        int
		says          string
	}{
		{"company", "1003600096694", "STISC", http.StatusForbidden, "Nu aveți o procură valabilă"},
		{"person", "2006022048426", "Ion Popescu", http.StatusForbidden, "Nu aveți o procură valabilă"},
		{"company", "1003600096695", "", http.StatusBadRequest, "IDNO-ul companiei nu este valid"},
		{"person", user.IDNP, "Eu", http.StatusBadRequest, "Pentru mine"},
	} {
		resp, p := b.post(e.url+"/portal/servicii/000105/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {tc.ob},
			"beneficiary": {tc.idn}, "beneficiary_name": {tc.name}})
		if resp.StatusCode != tc.status || !strings.Contains(p, tc.says) {
			t.Errorf("%s %s: %d\n%s", tc.ob, tc.idn, resp.StatusCode, p)
		}
		page = p
	}
	if list, err := e.portal.Applications().ByApplicant(ctx, user.IDNP, 10); err != nil || len(list) != 0 {
		t.Fatalf("refusals made applications: %v %v", list, err)
	}
	// MPower was asked (its audit log has the checks).
	asked := 0
	e.mpowerStore.WalkAudit(ctx, func(en *store.Entry) error {
		if en.Subject == "AT-0000004" && en.Details["to"] == user.IDNP {
			asked++
		}
		return nil
	})
	if asked != 2 {
		t.Fatalf("MPower was asked %d times, want 2", asked)
	}
	// The criminal record is for oneself only.
	_, page = b.get(e.url + "/portal/servicii/000101/aplica")
	if resp, _ := b.post(e.url+"/portal/servicii/000101/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"company"},
		"beneficiary": {"1003600096694"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a service for oneself only, for a company: %d", resp.StatusCode)
	}
	// A paid service: not without payments.
	_, page = b.get(e.url + "/portal/servicii/000104")
	if !strings.Contains(page, `id="paid-unavailable"`) || strings.Contains(page, `id="apply"`) {
		t.Fatalf("a paid service's card:\n%s", page)
	}
	_, page = b.get(e.url + "/portal/servicii/000104/aplica")
	if resp, _ := b.post(e.url+"/portal/servicii/000104/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a paid service without payments: %d", resp.StatusCode)
	}
	// A form post without the form token is refused.
	if resp, _ := b.post(e.url+"/portal/servicii/000105/aplica", url.Values{"on_behalf": {"self"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("no form token: %d", resp.StatusCode)
	}
	// Logging out ends the portal's session: my applications need a
	// login again.
	_, page = b.get(e.url + "/portal/cereri")
	resp, _ := b.post(e.url+"/portal/iesire", url.Values{"_csrf": {csrfOf(t, page)}})
	if resp.StatusCode >= 400 {
		t.Fatalf("logout: %d %s", resp.StatusCode, resp.Request.URL)
	}
	if resp, _ := b.get(e.url + "/portal/cereri"); !strings.HasPrefix(resp.Request.URL.String(), e.mpassURL) {
		t.Fatalf("after logout, my applications: %s", resp.Request.URL)
	}
}

// TestActingWithPower: with a valid MPower power of the service's type
// (granted by the beneficiary, signed on their phone through MSign), a
// person applies on the beneficiary's behalf: the draft records the power;
// once the power is revoked, signing is refused (the power is checked
// again at the moment of use).
func TestActingWithPower(t *testing.T) {
	e := newEnv(t, nil)
	grantor, rep := mobileid.GeneratedUser(3), mobileid.GeneratedUser(2)
	code := e.grant("AT-0000004", grantor, rep)
	b := newBrowser(t)
	ctx := context.Background()
	_, page := e.login(b, e.url+"/portal/servicii/000105/aplica", rep)
	resp, page := b.post(e.url+"/portal/servicii/000105/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"person"},
		"beneficiary": {grantor.IDNP}, "beneficiary_name": {"Test User00003"}})
	m := reAppID.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("with a power: %d\n%s", resp.StatusCode, page)
	}
	a, err := e.portal.Applications().Get(ctx, m[1])
	if err != nil || a.Basis != BasisPower+code || a.Beneficiary != grantor.IDNP || a.Applicant != rep.IDNP || a.OnBehalf != application.Person {
		t.Fatalf("the draft: %+v %v", a, err)
	}
	// Revoked (the grantor signs the revocation), the power no longer
	// lets the application be signed.
	start, err := e.mpower.StartAct(ctx, code, "revoke")
	if err != nil {
		t.Fatal(err)
	}
	gb := newBrowser(t)
	q := url.Values{"ReturnUrl": {mpowerBack}, "RelayState": {code}}
	_, mp := gb.get(start.RedirectURL + "?" + q.Encode())
	gb.post(e.msignURL+"/"+start.RequestID+"/sign", url.Values{"_csrf": {csrfOf(t, mp)}, "Instrument": {"mobile"}, "MSISDN": {grantor.MSISDN}})
	confirmOnPhone(t, grantor.MSISDN, mobileid.DefaultPIN2, "")
	for i := 0; i < 600; i++ {
		if d, err := e.mpower.CompleteAct(ctx, start.RequestID); err == nil && !d.IsValid {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, page = b.get(e.url + appPath(a.ID, "formular"))
	resp, page = b.post(e.url+appPath(a.ID, "formular"), url.Values{"_csrf": {csrfOf(t, page)}, "taxpayer": {grantor.IDNP}, "for_whom": {"Banca"}})
	if resp.StatusCode != 200 {
		t.Fatalf("the form: %d\n%s", resp.StatusCode, page)
	}
	_, page = b.get(e.url + appPath(a.ID, "confirmare"))
	resp, page = b.post(e.url+appPath(a.ID, "semneaza"), url.Values{"_csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Nu aveți o procură valabilă") {
		t.Fatalf("signing after the revocation: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if a, _ := e.portal.Applications().Get(ctx, a.ID); a.State != application.Draft || a.SignRequest != "" {
		t.Fatalf("after the refusal: %+v", a)
	}
}

// TestPagesLanguages: the public pages in each language, with no message
// id left on them (a word not found) and the language switcher.
func TestPagesLanguages(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowser(t)
	for lang, want := range map[string]string{"ro": "Portalul serviciilor publice", "ru": "Портал государственных услуг", "en": "Public services portal"} {
		for _, p := range []string{"/", "/portal/servicii/000104", "/portal/servicii?q=xyz", "/portal/servicii/000101"} {
			resp, page := b.get(e.url + p + map[bool]string{true: "&", false: "?"}[strings.Contains(p, "?")] + "lang=" + lang)
			if resp.StatusCode != 200 || !strings.Contains(page, want) || !strings.Contains(page, `<html lang="`+lang+`">`) ||
				!strings.Contains(page, `class="langs"`) {
				t.Fatalf("%s %s: %d\n%s", lang, p, resp.StatusCode, page)
			}
			for _, id := range messages.IDs() {
				if strings.Contains(page, id) {
					t.Errorf("%s %s shows the id %s", lang, p, id)
				}
			}
		}
	}
	// The language chosen is remembered.
	b.get(e.url + "/?lang=ru")
	if _, page := b.get(e.url + "/"); !strings.Contains(page, `<html lang="ru">`) {
		t.Fatalf("the chosen language is forgotten:\n%.300s", page)
	}
}

// signApplication goes through the wizard's last steps for a draft whose
// form is filled: delivery, confirm, sign on the phone through MSign, back
// to the status page.
func (e *env) signApplication(b *browser, id string, user mobileid.User, delivery string) (*http.Response, string) {
	e.t.Helper()
	_, page := b.get(e.url + appPath(id, "livrare"))
	resp, page := b.post(e.url+appPath(id, "livrare"), url.Values{"_csrf": {csrfOf(e.t, page)}, "delivery": {delivery}, "address": {"str. Ștefan cel Mare 1, Chișinău"}})
	if !strings.HasSuffix(resp.Request.URL.Path, "/confirmare") {
		e.t.Fatalf("delivery: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	resp, page = b.post(e.url+appPath(id, "semneaza"), url.Values{"_csrf": {csrfOf(e.t, page)}})
	if !strings.HasPrefix(resp.Request.URL.String(), e.msignURL+"/") {
		e.t.Fatalf("not sent to MSign: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	signPage := resp.Request.URL.String()
	b.post(e.msignURL+resp.Request.URL.Path+"/sign", url.Values{"_csrf": {csrfOf(e.t, page)}, "Instrument": {"mobile"}, "MSISDN": {user.MSISDN}})
	confirmOnPhone(e.t, user.MSISDN, mobileid.DefaultPIN2, "")
	for i := 0; i < 500 && !strings.Contains(page, `id="return-form"`); i++ {
		_, page = b.get(signPage)
	}
	return b.postForm(page, PathSigned)
}

// TestJourneyPaid: a service with a tariff, applied for and signed, is
// paid through a real MPay with the test card: MPay pulls the order from
// the portal's endpoint (the tariff in bani), the card is approved, MPay
// pushes the confirmation, and the application is Paid, with the
// payment's id in its audit entry; a second confirmation of the same
// payment changes nothing.
func TestJourneyPaid(t *testing.T) {
	var mpayURL string
	mn := mnotifytest.Start(t)
	mn.AddSystem("mpay", "mpay-mnotify-key-0123456789", false)
	notified := withMNotify(mn)
	e := newEnv(t, func(cfg *Config) {
		withMPay(t, &mpayURL, func(mc *mpay.Config) { mc.MNotify = mn.Client("mpay-mnotify-key-0123456789") })(cfg)
		notified(cfg)
	})
	user := mobileid.GeneratedUser(1)
	b := newBrowser(t)
	ctx := context.Background()
	_, page := b.get(e.url + "/portal/servicii/000103")
	if !strings.Contains(page, `id="apply"`) || !strings.Contains(page, "75,00 lei") {
		t.Fatalf("a paid service with payments:\n%s", page)
	}
	_, page = e.login(b, e.url+"/portal/servicii/000103/aplica", user)
	resp, page := b.post(e.url+"/portal/servicii/000103/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}})
	id := reAppID.FindStringSubmatch(page)[1]
	resp, page = b.post(e.url+appPath(id, "formular"), url.Values{"_csrf": {csrfOf(t, page)}, "idnp": {user.IDNP}, "full_name": {"Test User00001"},
		"locality": {"mun. Chișinău"}, "kind": {"domiciliu"}})
	if !strings.HasSuffix(resp.Request.URL.Path, "/documente") {
		t.Fatalf("form: %d\n%s", resp.StatusCode, page)
	}
	resp, page = e.signApplication(b, id, user, "courier")
	if !strings.Contains(page, `data-state="submitted"`) || !strings.Contains(page, `id="pay-form"`) || !strings.Contains(page, `action="`+mpayURL+`/service/pay"`) {
		t.Fatalf("submitted, to pay: %d\n%s", resp.StatusCode, page)
	}
	// To MPay with the page's form: the invoice shows the tariff pulled
	// from the portal.
	resp, page = b.postForm(page, "/service/pay")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), mpayURL) || !strings.Contains(page, "75.00 MDL") {
		t.Fatalf("MPay's invoice: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	inv := resp.Request.URL
	resp, page = b.post(mpayURL+inv.Path+"/card", url.Values{"amount": {"75.00"}, "number": {cardsim.CardApprove}, "holder": {"Test User"},
		"expiry": {"12/35"}, "cvc": {"123"}})
	if resp.StatusCode != 200 {
		t.Fatalf("card: %d\n%s", resp.StatusCode, page)
	}
	var a *application.Application
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if a, _ = e.portal.Applications().Get(ctx, id); a.State == application.Paid {
			break
		}
	}
	if a.State != application.Paid || a.PaymentID == "" {
		t.Fatalf("after the payment: %+v", a)
	}
	if _, page = b.get(e.url + appPath(id, "")); !strings.Contains(page, `data-state="paid"`) || strings.Contains(page, `id="pay-form"`) {
		t.Fatalf("status page after the payment:\n%s", page)
	}
	var details map[string]string
	e.portalStore.WalkAudit(ctx, func(en *store.Entry) error {
		if en.Subject == id && en.Action == "portal.pay" {
			details = en.Details
		}
		return nil
	})
	if details["payment"] != a.PaymentID || details["to"] != "paid" {
		t.Fatalf("the payment's audit entry: %v", details)
	}
	// MPay's sealed receipt, through the portal.
	if !strings.Contains(page, `id="receipt-pdf"`) {
		t.Fatalf("no receipt link:\n%s", page)
	}
	resp, receipt := b.get(e.url + appPath(id, "chitanta.pdf"))
	if resp.StatusCode != 200 || !strings.HasPrefix(receipt, "%PDF-") {
		t.Fatalf("receipt: %d %.200s", resp.StatusCode, receipt)
	}
	rep, err := pades.Verify(ctx, strings.NewReader(receipt), int64(len(receipt)), &pades.VerifyOptions{Roots: shared.pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Indication != pades.TotalPassed {
		t.Fatalf("the receipt's seal: %v %+v", err, rep)
	}
	// The cabinet's payments: the payment, its amount and its receipt.
	if _, page := b.get(e.url + "/portal/plati"); !strings.Contains(page, a.PaymentID) || !strings.Contains(page, "75,00") || !strings.Contains(page, appPath(id, "chitanta.pdf")) {
		t.Fatalf("the cabinet's payments:\n%s", page)
	}
	// The same confirmation again: no error, no second change.
	if err := e.portal.PaymentConfirmed(ctx, "mpay", id, a.PaymentID); err != nil {
		t.Fatal(err)
	}
	if h, _ := e.portal.Applications().History(ctx, id); len(h) != 2 || h[1].To != application.Paid || h[1].Actor != "mpay" {
		t.Fatalf("history: %+v", h)
	}
	// MNotify: the portal told the applicant of Submitted and Paid, MPay of
	// the payment (the order's customer is the applicant), each once.
	subjects := map[string]string{}
	for _, m := range mn.Inbox(user.IDNP, 3) {
		subjects[m.System+" "+m.Subject] = m.Body
	}
	ro := wording("ro")
	for _, want := range []string{"portal Cererea " + id + ": " + ro["submitted"], "portal Cererea " + id + ": " + ro["paid"],
		"mpay Plata de 75.00 MDL a fost confirmată"} {
		if _, ok := subjects[want]; !ok {
			t.Errorf("no notification %q: %v", want, subjects)
		}
	}
}

// TestPaymentTimeout: a submitted application not paid within its time is
// Cancelled (payment time-out) by the portal's durable job; MPay's order
// pull then says Cancelled, and a late confirmation is refused.
func TestPaymentTimeout(t *testing.T) {
	var mpayURL string
	withPay := withMPay(t, &mpayURL)
	e := newEnv(t, func(c *Config) {
		withPay(c)
		c.MPaySP.PayWithin, c.MPaySP.Poll = time.Second, 50*time.Millisecond
	})
	user := mobileid.GeneratedUser(3)
	b := newBrowser(t)
	ctx := context.Background()
	_, page := e.login(b, e.url+"/portal/servicii/000103/aplica", user)
	_, page = b.post(e.url+"/portal/servicii/000103/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}})
	id := reAppID.FindStringSubmatch(page)[1]
	b.post(e.url+appPath(id, "formular"), url.Values{"_csrf": {csrfOf(t, page)}, "idnp": {user.IDNP}, "full_name": {"Test User00003"},
		"locality": {"Bălți"}, "kind": {"resedinta"}})
	if _, page = e.signApplication(b, id, user, "pickup"); !strings.Contains(page, `data-state="submitted"`) {
		t.Fatalf("not submitted:\n%s", page)
	}
	var a *application.Application
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if a, _ = e.portal.Applications().Get(ctx, id); a.State != application.Submitted {
			break
		}
	}
	if a.State != application.Cancelled || a.Reason != application.ReasonPaymentTimeout {
		t.Fatalf("after the time to pay: %s %s", a.State, a.Reason)
	}
	orders := mpayOrders{e.portal}
	if d, err := orders.OrderDetails(ctx, mpayclient.OrderDetailsQuery{ServiceID: "PORTAL", OrderKey: id}); err != nil || d.Status != mpayclient.StatusCancelled {
		t.Fatalf("the order after the time-out: %+v %v", d, err)
	}
	err := orders.ConfirmPayment(ctx, mpayclient.PaymentConfirmation{ServiceID: "PORTAL", OrderKey: id, PaymentID: "P1", TotalAmount: 7500, Currency: "MDL"})
	if !errors.Is(err, &mpayclient.Fault{Code: mpayclient.FaultInvoiceExpired}) {
		t.Fatalf("a late confirmation: %v", err)
	}
	if err := orders.ConfirmPayment(ctx, mpayclient.PaymentConfirmation{ServiceID: "OTHER", OrderKey: id, PaymentID: "P1", TotalAmount: 7500, Currency: "MDL"}); !errors.Is(err, &mpayclient.Fault{Code: mpayclient.FaultUnknownService}) {
		t.Fatalf("another service: %v", err)
	}
	if _, err := orders.OrderDetails(ctx, mpayclient.OrderDetailsQuery{ServiceID: "PORTAL", OrderKey: "PNOSUCH"}); !errors.Is(err, &mpayclient.Fault{Code: mpayclient.FaultUnknownOrder}) {
		t.Fatalf("an unknown order: %v", err)
	}
}

// TestSigningCancelled: the applicant cancels on MSign's page; back on the
// portal the application is still a draft, the confirmation page says it
// was not signed, and it can be sent to MSign again; then the applicant
// withdraws it (Cancelled, by the applicant).
func TestSigningCancelled(t *testing.T) {
	e := newEnv(t, nil)
	user := mobileid.GeneratedUser(2)
	b := newBrowser(t)
	ctx := context.Background()
	_, page := e.login(b, e.url+"/portal/servicii/000108/aplica", user)
	_, page = b.post(e.url+"/portal/servicii/000108/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}})
	id := reAppID.FindStringSubmatch(page)[1]
	resp, page := b.post(e.url+appPath(id, "formular"), url.Values{"_csrf": {csrfOf(t, page)}, "idnp": {user.IDNP}, "from_year": {"2005"}})
	if !strings.HasSuffix(resp.Request.URL.Path, "/documente") {
		t.Fatalf("form: %d\n%s", resp.StatusCode, page)
	}
	// One delivery: chosen at the start; straight to the confirmation.
	resp, page = b.get(e.url + appPath(id, "confirmare"))
	if resp.StatusCode != 200 || !strings.Contains(page, `id="sign"`) {
		t.Fatalf("confirm: %d\n%s", resp.StatusCode, page)
	}
	resp, page = b.post(e.url+appPath(id, "semneaza"), url.Values{"_csrf": {csrfOf(t, page)}})
	if !strings.HasPrefix(resp.Request.URL.String(), e.msignURL+"/") {
		t.Fatalf("not at MSign: %s", resp.Request.URL)
	}
	resp, page = b.post(e.msignURL+resp.Request.URL.Path+"/cancel", url.Values{"_csrf": {csrfOf(t, page)}})
	if !strings.Contains(page, `id="return-form"`) {
		t.Fatalf("MSign after the cancel: %d\n%s", resp.StatusCode, page)
	}
	resp, page = b.postForm(page, PathSigned)
	if !strings.HasSuffix(resp.Request.URL.Path, "/confirmare") || !strings.Contains(page, "Cererea nu a fost semnată") {
		t.Fatalf("back after the cancel: %s\n%s", resp.Request.URL, page)
	}
	if a, _ := e.portal.Applications().Get(ctx, id); a.State != application.Draft || a.SignRequest != "" {
		t.Fatalf("after the cancel: %+v", a)
	}
	// Sent again: a new sign request.
	if resp, _ := b.post(e.url+appPath(id, "semneaza"), url.Values{"_csrf": {csrfOf(t, page)}}); !strings.HasPrefix(resp.Request.URL.String(), e.msignURL+"/") {
		t.Fatalf("signing again: %s", resp.Request.URL)
	}
	// Withdrawn by the applicant.
	_, page = b.get(e.url + appPath(id, ""))
	resp, page = b.post(e.url+appPath(id, "anuleaza"), url.Values{"_csrf": {csrfOf(t, page)}})
	if !strings.Contains(page, `data-state="cancelled"`) || !strings.Contains(page, "anulată de solicitant") || strings.Contains(page, `id="cancel"`) {
		t.Fatalf("withdrawn: %d\n%s", resp.StatusCode, page)
	}
	if a, _ := e.portal.Applications().Get(ctx, id); a.State != application.Cancelled || a.Reason != application.ReasonByApplicant {
		t.Fatalf("after the withdrawal: %+v", a)
	}
}

// TestDraftLimit: one person keeps at most MaxDrafts drafts open; a
// withdrawn one frees its place.
func TestDraftLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxDrafts = 2 })
	b := newBrowser(t)
	_, page := e.login(b, e.url+"/portal/servicii/000101/aplica", mobileid.GeneratedUser(1))
	var ids []string
	for i := 0; i < 3; i++ {
		resp, p := b.post(e.url+"/portal/servicii/000101/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}})
		page = p
		if i < 2 {
			ids = append(ids, reAppID.FindStringSubmatch(p)[1])
			continue
		}
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(p, "prea multe cereri") {
			t.Fatalf("a third draft: %d\n%s", resp.StatusCode, p)
		}
	}
	b.post(e.url+appPath(ids[0], "anuleaza"), url.Values{"_csrf": {csrfOf(t, page)}})
	if resp, p := b.post(e.url+"/portal/servicii/000101/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}}); reAppID.FindStringSubmatch(p) == nil {
		t.Fatalf("after a withdrawal: %d\n%s", resp.StatusCode, p)
	}
}
