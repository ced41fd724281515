package msign

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
)

// browserClient keeps cookies and does not follow redirects.
func browserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, method, u, ctype string, body []byte) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(string(body)))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func TestWebPages(t *testing.T) {
	e := newSignEnv(t, "", func(c *Config) { c.AgentURL = "http://127.0.0.1:8421" })
	c := browserClient()
	inlineScript := regexp.MustCompile(`<script(\s[^>]*)?>`)
	for _, p := range []string{"/", "/sign", "/verify"} {
		resp, body := fetch(t, c, "GET", e.url+p, "", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		want := "default-src 'self'"
		switch p {
		case "/sign":
			want = "default-src 'self'; connect-src 'self' http://127.0.0.1:8421"
		case "/verify": // the in-browser verifier compiles WebAssembly
			want = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"
		}
		if csp != want {
			t.Errorf("%s: CSP %q, want %q", p, csp, want)
		}
		// Nothing inline: the strict CSP would block it.
		for _, m := range inlineScript.FindAllString(body, -1) {
			if !strings.Contains(m, "src=") {
				t.Errorf("%s: inline script %s", p, m)
			}
		}
		if strings.Contains(body, "<style") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
			t.Errorf("%s: inline style or handler", p)
		}
	}
	for _, p := range []string{"/static/app.js", "/static/app.css"} {
		if resp, _ := fetch(t, c, "GET", e.url+p, "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}

	// CSRF: a form POST without the token is refused; with it, it works.
	doc := samplepdf.Document("Web", nil, 0)
	ct, body := form(nil, "a.pdf", doc)
	resp, b := fetch(t, browserClient(), "POST", e.url+"/verify", ct, body)
	if resp.StatusCode != 403 || !strings.Contains(b, "urn:semnat:problem:csrf") {
		t.Fatalf("verify without CSRF token: %d %s", resp.StatusCode, b)
	}
	_, page := fetch(t, c, "GET", e.url+"/verify", "", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF field on /verify")
	}
	token := m[1]
	ct, body = form(map[string]string{"_csrf": token}, "a.pdf", doc)
	resp, b = fetch(t, c, "POST", e.url+"/verify", ct, body)
	if resp.StatusCode != 200 || !strings.Contains(b, "Acest document nu are semnături") {
		t.Fatalf("verify with CSRF token: %d %s", resp.StatusCode, b)
	}
	ct, body = form(map[string]string{"_csrf": token}, "a.pdf", []byte("not a pdf"))
	resp, b = fetch(t, c, "POST", e.url+"/verify", ct, body)
	if resp.StatusCode != 422 || !strings.Contains(b, "Acesta nu este un fișier PDF.") {
		t.Fatalf("verify a non-PDF: %d %s", resp.StatusCode, b)
	}

	// The sign form without JavaScript: a bad phone is shown on the form,
	// a good request leads to its status page.
	ct, body = form(map[string]string{"_csrf": token, "method": "mobile", "phone": "12", "reason": "Test"}, "a.pdf", doc)
	resp, b = fetch(t, c, "POST", e.url+"/sign", ct, body)
	if resp.StatusCode != 400 || !strings.Contains(b, "nu este un număr de mobil din Moldova") || !strings.Contains(b, `value="Test"`) {
		t.Fatalf("sign form, bad phone: %d %s", resp.StatusCode, b)
	}
	// A phone number in its local form is understood.
	ct, body = form(map[string]string{"_csrf": token, "method": "mobile", "phone": "0 00 00 00 01", "level": "B-B"}, "a.pdf", doc)
	resp, _ = fetch(t, c, "POST", e.url+"/sign", ct, body)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/sign/") {
		t.Fatalf("sign form: %d %q", resp.StatusCode, loc)
	}
	v := waitStatus(t, e, strings.TrimPrefix(loc, "/sign/"))
	resp, b = fetch(t, c, "GET", e.url+loc, "", nil)
	if v.Status != statusSigned || resp.StatusCode != 200 || !strings.Contains(b, `class="download"`) {
		t.Fatalf("status page: %d %s", resp.StatusCode, b)
	}
	if resp, _ := fetch(t, c, "GET", e.url+"/sign/"+url.PathEscape("0123456789abcdef0123456789abcdef"), "", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown status page: %d", resp.StatusCode)
	}
	// A browser gets an error page, not JSON, for a stale form.
	req, _ := http.NewRequest("POST", e.url+"/verify", strings.NewReader("x"))
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := browserClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b2), "Reîncărcați pagina") {
		t.Fatalf("CSRF error page: %d %s", resp.StatusCode, b2)
	}
}
