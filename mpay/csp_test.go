package mpay_test

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
)

// mpayCSP is the policy every MPay page must send: no script, no inline
// style, forms only to MPay.
const mpayCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// machineRoute: the routes of MPay that are no page for people (the SPs'
// API and SOAP face, counter terminals, the style sheet, SAML).
func machineRoute(path string) bool {
	for _, p := range []string{"/mpay/api/", "/PosTerminal/", "/mpay/soap/", "/mpay/static/", "/mpay/saml/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// inlineCode finds what a strict CSP blocks in a page: script elements,
// style elements and attributes, event-handler attributes, javascript: URLs.
var inlineCode = regexp.MustCompile(`(?i)<script|<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:`)

// TestPagesSendCSP visits every page route of MPay (each route of Mount
// that is not a machine's, so a new page fails here until it is listed)
// over HTTP: each answer, page, redirect or error page, carries the strict
// policy, and no page has inline code the policy would block.
func TestPagesSendCSP(t *testing.T) {
	e := newEnv(t, nil)
	for _, k := range []string{"C-1", "C-2", "C-3", "C-4"} {
		e.sp.Put(demosp.Order{Key: k, Reason: "Taxă", Amount: amount(2000)})
	}
	inv := e.checkout(t, "C-1")
	tok := inv[strings.LastIndex(inv, "/")+1:]
	_, approved, _ := e.payCard(t, inv, cardsim.CardApprove, "20.00")
	waitFor(t, "the approval", func() bool { s, _ := pageState(t, approved, stateAttr); return s == "approved" })
	inv3ds := e.checkout(t, "C-2")
	_, challenged, _ := e.payCard(t, inv3ds, cardsim.Card3DS, "20.00")
	invBank := e.checkout(t, "C-3")
	resp, _ := do(t, "POST", invBank+"/ebanking", url.Values{"amount": {"20.00"}})
	bank := e.url + resp.Header.Get("Location")
	invCash := e.checkout(t, "C-4")
	resp, _ = do(t, "POST", invCash+"/cash", url.Values{"amount": {"20.00"}})
	cash := e.url + resp.Header.Get("Location")
	if !strings.Contains(bank, "/mpay/bank/") || !strings.Contains(cash, "/payment/") {
		t.Fatalf("e-banking sent to %q, cash to %q", bank, cash)
	}

	type visit struct {
		route, method, url string
		form               url.Values
	}
	visits := []visit{
		{"/mpay", "GET", e.url + "/mpay", nil},
		{"/mpay/start", "POST", e.url + "/mpay/start", url.Values{"ServiceID": {serviceID}, "OrderKey": {"C-1"}}},
		{mpay.PathPay, "POST", e.url + mpay.PathPay, url.Values{"ServiceID": {serviceID}, "OrderKey": {"no such order"}}},
		{"/mpay/invoice/:token", "GET", inv, nil},
		{"/mpay/invoice/:token/card", "POST", inv + "/card", url.Values{"amount": {"20.00"}, "number": {"1"}}},
		{"/mpay/invoice/:token/ebanking", "POST", inv + "/ebanking", url.Values{"amount": {"x"}}},
		{"/mpay/invoice/:token/cash", "POST", inv + "/cash", url.Values{"amount": {"x"}}},
		{"/mpay/invoice/:token/payment/:pid", "GET", approved, nil},
		{"/mpay/invoice/:token/payment/:pid", "GET", challenged, nil},
		{"/mpay/invoice/:token/payment/:pid", "GET", cash, nil},
		{"/mpay/invoice/:token/payment/:pid/receipt.pdf", "GET", approved + "/receipt.pdf", nil},
		{"/mpay/invoice/:token/payment/:pid/3ds", "POST", challenged + "/3ds", url.Values{"code": {cardsim.ChallengeCode}, "action": {"confirm"}}},
		{"/mpay/bank/:token/:pid", "GET", bank, nil},
		{"/mpay/bank/:token/:pid", "POST", bank, url.Values{"action": {"refuse"}}},
		{"/mpay/invoice/:token/payment/:pid/cancel", "POST", cash + "/cancel", url.Values{}},
		{mpay.PathTerminal, "GET", e.url + mpay.PathTerminal, nil},
		{mpay.PathTerminal, "POST", e.url + mpay.PathTerminal, url.Values{"code": {"000"}, "cash": {"1.00"}}},
		{"/mpay/invoice/:token", "GET", e.url + "/mpay/invoice/" + tok + "x", nil}, // not found
	}
	visited := map[string]bool{}
	for _, v := range visits {
		visited[v.method+" "+v.route] = true
		resp, body := do(t, v.method, v.url, v.form)
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d %s", v.method, v.url, resp.StatusCode, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != mpayCSP {
			t.Errorf("%s %s (%d): Content-Security-Policy %q, want %q", v.method, v.route, resp.StatusCode, csp, mpayCSP)
		}
		if rp := resp.Header.Get("Referrer-Policy"); rp != "same-origin" {
			t.Errorf("%s %s: Referrer-Policy %q", v.method, v.route, rp)
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			if m := inlineCode.FindString(body); m != "" {
				t.Errorf("%s %s: inline code %q the policy blocks:\n%s", v.method, v.route, m, body)
			}
		}
	}

	// Every page route of MPay was visited.
	routes := echo.New()
	e.svc.Mount(routes.Group(""))
	var missed []string
	for _, r := range routes.Routes() {
		if k := r.Method + " " + r.Path; !machineRoute(r.Path) && !visited[k] {
			missed = append(missed, k)
		}
	}
	sort.Strings(missed)
	if len(missed) > 0 {
		t.Errorf("page routes not checked for the policy: %v", missed)
	}
	if resp, _ := do(t, "GET", e.url+"/mpay/static/mpay.css", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the style sheet: %d", resp.StatusCode)
	}
}
