package mobileid

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestPhonePageLanguages: the virtual phone's page speaks Romanian by
// default, Russian and English on ?lang= or Accept-Language, shows no
// message id, gives its script the words in the same language, and says
// "no such SIM" in the page's language.
func TestPhonePageLanguages(t *testing.T) {
	_, base := sharedSim(t)
	u := GeneratedUser(3)
	get := func(path, accept string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ids := regexp.MustCompile(`\bphone\.[a-z_]+\b`)
	for _, tc := range []struct{ query, accept, lang, idle, script string }{
		{"", "", "ro", "Nicio cerere.", "Semnați? Introduceți PIN2"},
		{"?lang=ru", "", "ru", "Нет запросов.", "Подписать? Введите PIN2"},
		{"", "en-GB,en;q=0.9", "en", "No request.", "Sign? Enter PIN2"},
	} {
		code, page := get("/sim/"+u.MSISDN+tc.query, tc.accept)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", tc.lang, code)
		}
		if !strings.Contains(page, `<html lang="`+tc.lang+`"`) || !strings.Contains(page, tc.idle) || !strings.Contains(page, tc.script) {
			t.Errorf("%s: the page lacks its language's words:\n%.600s", tc.lang, page)
		}
		if m := ids.FindString(page); m != "" {
			t.Errorf("%s: message id %q on the page", tc.lang, m)
		}
	}
	if code, body := get("/sim/+37300000000?lang=ru", ""); code != http.StatusNotFound || !strings.Contains(body, "Такой SIM-карты нет.") {
		t.Errorf("unknown SIM: %d %q", code, body)
	}
}
