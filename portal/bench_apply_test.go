package portal

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/portal/application"
)

// walker is one applicant's browser in the benchmark: like browser, but
// its errors are returned (it runs on goroutines of its own).
type walker struct {
	e *env
	c *http.Client
	u mobileid.User
}

func (w *walker) do(method, u string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := w.c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode >= 400 {
		err = fmt.Errorf("%s %s: %d", method, resp.Request.URL, resp.StatusCode)
	}
	return resp, string(b), err
}

func (w *walker) get(u string) (*http.Response, string, error) { return w.do(http.MethodGet, u, nil) }

func (w *walker) post(u string, form url.Values) (*http.Response, string, error) {
	return w.do(http.MethodPost, u, form)
}

// token is the form token of a page.
func token(page string) (string, error) {
	m := reCSRF.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("no form token on the page")
	}
	return html.UnescapeString(m[1]), nil
}

// postFirst submits the form of page whose action contains want.
func (w *walker) postFirst(page, want string) (*http.Response, string, error) {
	for _, m := range reForm.FindAllStringSubmatch(page, -1) {
		if !strings.Contains(m[1], want) {
			continue
		}
		v := url.Values{}
		for _, in := range reInput.FindAllStringSubmatch(m[2], -1) {
			v.Set(in[1], unescape(in[2]))
		}
		return w.post(unescape(m[1]), v)
	}
	return nil, "", fmt.Errorf("no form to %s on the page %.600q", want, stripTags(page))
}

var reTags = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]+>|\s+`)

// stripTags is a page's text, for error messages.
func stripTags(page string) string { return strings.TrimSpace(reTags.ReplaceAllString(page, " ")) }

func unescape(s string) string { return html.UnescapeString(s) }

// approve waits until the phone of the walker's user shows a request and
// approves it at once with pin (the real-time simulator's phone API).
func (w *walker) approve(pin string) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p, _ := shared.phoneSim.PhonePrompt(w.u.MSISDN); p.Pending {
			if res, _, err := shared.phoneSim.PhoneConfirm(w.u.MSISDN, pin); err != nil {
				return fmt.Errorf("%s: approving on the phone: %s %w", w.u.MSISDN, res, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: no request reached the phone in 2 minutes", w.u.MSISDN)
}

// login: MPass by phone, approved at once.
func (w *walker) login() error {
	resp, page, err := w.get(w.e.url + "/portal/intrare")
	if err != nil {
		return err
	}
	m := reTx.FindStringSubmatch(page)
	if m == nil || !strings.HasPrefix(resp.Request.URL.String(), w.e.mpassURL) {
		return fmt.Errorf("login: not at MPass's page (%s)", resp.Request.URL)
	}
	resp, page, err = w.post(w.e.mpassURL+"/login/mobile", url.Values{"tx": {m[1]}, "phone": {w.u.MSISDN}})
	if err != nil {
		return err
	}
	if err := w.approve(mobileid.DefaultPIN1); err != nil {
		return err
	}
	wait := resp.Request.URL.String()
	for deadline := time.Now().Add(2 * time.Minute); reCode.MatchString(page); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("login: the phone did not answer in 2 minutes")
		}
		if _, page, err = w.get(wait); err != nil {
			return err
		}
	}
	_, _, err = w.postFirst(page, PathACS)
	return err
}

// apply makes an application for the 75-lei certificate of residence for
// oneself, up to its confirmation page; it returns its id and that page.
func (w *walker) apply() (string, string, error) {
	_, page, err := w.get(w.e.url + "/portal/servicii/000103/aplica")
	if err != nil {
		return "", "", err
	}
	tok, err := token(page)
	if err != nil {
		return "", "", err
	}
	if _, page, err = w.post(w.e.url+"/portal/servicii/000103/aplica", url.Values{"_csrf": {tok}, "on_behalf": {"self"}}); err != nil {
		return "", "", err
	}
	m := reAppID.FindStringSubmatch(page)
	if m == nil {
		return "", "", errors.New("apply: no application made")
	}
	id := m[1]
	form := url.Values{"_csrf": {tok}, "idnp": {w.u.IDNP}, "full_name": {w.u.GivenName + " " + w.u.Surname}, "locality": {"mun. Chișinău"}, "kind": {"domiciliu"}}
	resp, page, err := w.post(w.e.url+appPath(id, "formular"), form)
	if err != nil {
		return "", "", err
	}
	if !strings.HasSuffix(resp.Request.URL.Path, "/documente") {
		return "", "", fmt.Errorf("form of %s refused (%s)", id, resp.Request.URL)
	}
	resp, page, err = w.post(w.e.url+appPath(id, "livrare"), url.Values{"_csrf": {tok}, "delivery": {"mcabinet"}})
	if err != nil {
		return "", "", err
	}
	if !strings.HasSuffix(resp.Request.URL.Path, "/confirmare") {
		return "", "", fmt.Errorf("delivery of %s refused (%s)", id, resp.Request.URL)
	}
	return id, page, nil
}

// sign: to MSign, signed on the phone (which approves by itself), back
// to the portal: Submitted.
func (w *walker) sign(id, page string) error {
	tok, err := token(page)
	if err != nil {
		return err
	}
	resp, page, err := w.post(w.e.url+appPath(id, "semneaza"), url.Values{"_csrf": {tok}})
	if err != nil {
		return err
	}
	if !strings.HasPrefix(resp.Request.URL.String(), w.e.msignURL+"/") {
		return fmt.Errorf("sign %s: not sent to MSign (%s)", id, resp.Request.URL)
	}
	signPage := resp.Request.URL.String()
	if tok, err = token(page); err != nil {
		return err
	}
	su := resp.Request.URL
	if _, page, err = w.post(su.Scheme+"://"+su.Host+su.Path+"/sign", url.Values{"_csrf": {tok}, "Instrument": {"mobile"}, "MSISDN": {w.u.MSISDN}}); err != nil {
		return err
	}
	if err := w.approve(mobileid.DefaultPIN2); err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(page, `id="return-form"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("sign %s: MSign did not finish in 2 minutes: %.400q", id, stripTags(page))
		}
		if _, page, err = w.get(signPage); err != nil {
			return err
		}
	}
	if _, page, err = w.postFirst(page, PathSigned); err != nil {
		return err
	}
	if !strings.Contains(page, `data-state="submitted"`) {
		return fmt.Errorf("sign %s: not submitted after MSign", id)
	}
	return nil
}

// pay: the status page's form to MPay, the test card, until the portal
// says Paid (MPay's confirmation reached it).
func (w *walker) pay(id string) error {
	_, page, err := w.get(w.e.url + appPath(id, ""))
	if err != nil {
		return err
	}
	resp, _, err := w.postFirst(page, "/service/pay")
	if err != nil {
		return err
	}
	inv := resp.Request.URL
	if _, _, err = w.post(inv.Scheme+"://"+inv.Host+inv.Path+"/card", url.Values{"amount": {"75.00"}, "number": {cardsim.CardApprove},
		"holder": {"Auto User"}, "expiry": {"12/35"}, "cvc": {"123"}}); err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		a, err := w.e.portal.Applications().Get(context.Background(), id)
		if err != nil {
			return err
		}
		if a.State == application.Paid {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pay %s: still %s after 2 minutes", id, a.State)
		}
	}
}

// BenchmarkApplications: SEMNAT_BENCH_APPS applications (default 1,000)
// submitted end to end at once by autoPhones applicants (each logs in by
// phone through MPass once, then applies again and again): the form, the
// signature at MSign on the phone, approved as soon as it shows the
// request (through the simulator's phone API), the payment at
// MPay with the test card that approves at once, until the portal has
// MPay's confirmation (Paid). Any error fails it. It reports applications
// per second, each step's p50/p99 and the CPU time of the process per
// application (every service runs in this process).
func BenchmarkApplications(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("SEMNAT_BENCH_APPS")); err == nil && v > 0 {
		n = v
	}
	var mpayURL string
	e := newEnv(b, func(cfg *Config) {
		withMPay(b, &mpayURL)(cfg)
		cfg.MaxDrafts = n
	}, realTimePhones, oneHostCrowd)
	users := autoUsers()
	walkers := make([]*walker, len(users))
	for i, u := range users {
		jar, _ := cookiejar.New(nil)
		walkers[i] = &walker{e: e, u: u, c: &http.Client{Jar: jar, Timeout: 2 * time.Minute,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	}
	steps := []string{"login", "form", "sign", "pay", "total"}
	for b.Loop() {
		times := make(map[string][]time.Duration)
		var mu sync.Mutex
		record := func(step string, d time.Duration) {
			mu.Lock()
			times[step] = append(times[step], d)
			mu.Unlock()
		}
		var errs []error
		fail := func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		cpu0 := cpuTime()
		start := time.Now()
		next := make(chan int, n)
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		var wg sync.WaitGroup
		for _, w := range walkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if err := w.login(); err != nil {
					fail(fmt.Errorf("%s: %w", w.u.MSISDN, err))
					return
				}
				record("login", time.Since(t0))
				for range next {
					t0 := time.Now()
					id, page, err := w.apply()
					if err != nil {
						fail(err)
						continue
					}
					t1 := time.Now()
					record("form", t1.Sub(t0))
					if err := w.sign(id, page); err != nil {
						fail(err)
						continue
					}
					t2 := time.Now()
					record("sign", t2.Sub(t1))
					if err := w.pay(id); err != nil {
						fail(err)
						continue
					}
					record("pay", time.Since(t2))
					record("total", time.Since(t0))
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		cpu := cpuTime() - cpu0
		if len(errs) > 0 {
			b.Fatalf("%d of %d applications failed; the first: %v", len(errs), n, errs[0])
		}
		if got := len(times["total"]); got != n {
			b.Fatalf("%d applications paid, want %d", got, n)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "apps/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n)/1000, "cpu-ms/app")
		slowest, slowestP99 := "", time.Duration(0)
		for _, s := range steps {
			d := times[s]
			slices.Sort(d)
			p50, p99 := d[len(d)/2], d[len(d)*99/100]
			b.ReportMetric(float64(p50.Milliseconds()), s+"-p50-ms")
			b.ReportMetric(float64(p99.Milliseconds()), s+"-p99-ms")
			if s != "total" && s != "login" && p99 > slowestP99 {
				slowest, slowestP99 = s, p99
			}
		}
		b.Logf("%d applications in %v (%d applicants, GOMAXPROCS %d); slowest step at p99: %s (%v)", n, elapsed.Round(time.Millisecond),
			len(walkers), runtime.GOMAXPROCS(0), slowest, slowestP99)
	}
}

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
