package mobileid

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/semnat/semnat/i18n"
)

// The virtual phone (Options.Phone): what a SIM user sees and does, over HTTP.
//
//	GET  /sim/{msisdn}          a page that looks like the phone prompt
//	GET  /sim/{msisdn}/prompt   {"pending", "requester", "display_text", "verification_code", ...}
//	POST /sim/{msisdn}/confirm  {"pin": "12345"} → {"result": "signed" | "wrong_pin" | "pin_blocked"}
//	POST /sim/{msisdn}/cancel   → {"result": "cancelled"}
//	GET  /sim/{msisdn}/state    SIM state: PIN tries left, pending transaction, last result

// Prompt is what the phone shows for a pending request.
type Prompt struct {
	MSISDN           string    `json:"msisdn"`
	Pending          bool      `json:"pending"`
	Scripted         bool      `json:"scripted"` // the user acts by itself
	Kind             string    `json:"kind,omitempty"`
	Requester        string    `json:"requester,omitempty"`
	DisplayText      string    `json:"display_text,omitempty"`
	VerificationCode string    `json:"verification_code,omitempty"`
	PINLength        int       `json:"pin_length,omitempty"`
	Created          time.Time `json:"created,omitzero"`
	Deadline         time.Time `json:"deadline,omitzero"`
}

// SIMState is the state the virtual phone reports.
type SIMState struct {
	MSISDN        string    `json:"msisdn"`
	Name          string    `json:"name"`
	Operator      string    `json:"operator"`
	Kind          string    `json:"kind"`
	KeyType       string    `json:"key_type"`
	Behaviour     Behaviour `json:"behaviour"`
	PIN1TriesLeft int       `json:"pin1_tries_left"`
	PIN2TriesLeft int       `json:"pin2_tries_left"`
	PUKTriesLeft  int       `json:"puk_tries_left"`
	Busy          bool      `json:"busy"`
	State         State     `json:"state,omitempty"` // of the pending transaction
	LastResult    string    `json:"last_result,omitempty"`
}

// PhonePrompt returns what the phone of msisdn shows (false: not in the registry).
func (s *Simulator) PhonePrompt(msisdn string) (Prompt, bool) {
	sm := s.lookup(msisdn)
	if sm == nil {
		return Prompt{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Prompt{MSISDN: sm.MSISDN, Scripted: sm.Behaviour != Manual}
	if t := sm.pending; t != nil && t.state == StateAwaiting {
		p.Pending, p.Requester, p.DisplayText, p.VerificationCode = true, t.caller, t.display, t.phoneCode()
		p.Kind, p.PINLength = "sign", 5
		if t.auth {
			p.Kind, p.PINLength = "auth", 4
		}
		p.Created, p.Deadline = t.created, t.deadline
	}
	return p, true
}

// PhoneState returns the SIM state of msisdn.
func (s *Simulator) PhoneState(msisdn string) (SIMState, bool) {
	sm := s.lookup(msisdn)
	if sm == nil {
		return SIMState{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SIMState{MSISDN: sm.MSISDN, Name: sm.GivenName + " " + sm.Surname, Operator: sm.Operator, Kind: sm.Kind,
		KeyType: sm.KeyType, Behaviour: sm.Behaviour, PIN1TriesLeft: sm.pin1, PIN2TriesLeft: sm.pin2,
		PUKTriesLeft: sm.puk, Busy: sm.pending != nil || sm.Behaviour == Busy, LastResult: sm.last}
	if sm.pending != nil {
		st.State = sm.pending.state
	}
	return st, true
}

// Phone answers of PhoneConfirm.
const (
	PhoneSigned     = "signed"
	PhoneWrongPIN   = "wrong_pin"
	PhonePINBlocked = "pin_blocked"
	PhoneCancelled  = "cancelled"
)

// phoneError is a refusal of the virtual phone, with its HTTP status.
type phoneError struct {
	code int
	msg  string
}

func (e *phoneError) Error() string { return e.msg }

// phoneTxn finds the request waiting on sm's phone. Caller holds s.mu.
func (s *Simulator) phoneTxn(sm *sim) (*sim, *txn, *phoneError) {
	if sm == nil {
		return nil, nil, &phoneError{404, "no such SIM"}
	}
	if sm.Behaviour != Manual {
		return nil, nil, &phoneError{409, "this test user is scripted and answers by itself"}
	}
	t := sm.pending
	if t == nil || t.state != StateAwaiting {
		return nil, nil, &phoneError{409, "no request is waiting on this phone"}
	}
	return sm, t, nil
}

// PhoneConfirm enters pin on the phone of msisdn: the SIM signs when it is
// right; a wrong PIN leaves the request waiting until the PIN blocks.
func (s *Simulator) PhoneConfirm(msisdn, pin string) (result string, triesLeft int, err error) {
	sm := s.lookup(msisdn)
	s.mu.Lock()
	sm, t, perr := s.phoneTxn(sm)
	if perr != nil {
		s.mu.Unlock()
		return "", 0, perr
	}
	want, tries := sm.PIN2, &sm.pin2
	if t.auth {
		want, tries = sm.PIN1, &sm.pin1
	}
	if *tries > 0 && subtle.ConstantTimeCompare([]byte(pin), []byte(want)) == 1 {
		*tries = pinTries
		s.mu.Unlock()
		s.signAndFinish(t, outOK)
		return PhoneSigned, pinTries, nil
	}
	if *tries > 0 {
		*tries--
	}
	if *tries == 0 {
		s.finish(t, outPINBlocked, nil)
		s.mu.Unlock()
		return PhonePINBlocked, 0, nil
	}
	n := *tries
	s.mu.Unlock()
	return PhoneWrongPIN, n, nil
}

// PhoneCancel presses Cancel on the phone of msisdn.
func (s *Simulator) PhoneCancel(msisdn string) error {
	sm := s.lookup(msisdn)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, t, perr := s.phoneTxn(sm)
	if perr != nil {
		return perr
	}
	s.finish(t, outCancel, nil)
	return nil
}

func phoneJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func phoneFail(w http.ResponseWriter, err error) {
	code := 500
	if pe, ok := err.(*phoneError); ok {
		code = pe.code
	}
	phoneJSON(w, code, map[string]string{"error": err.Error()})
}

//go:embed phone.html locales/*.toml
var phoneFS embed.FS

// phoneWords are the messages the phone page's script shows.
var phoneWords = []string{"ask_auth", "ask_sign", "scripted", "wrong_pin", "unreachable"}

// phonePage is the virtual phone's page in ro, ru and en, and its
// messages; parsed on first use, not at start-up (every semnat command
// links this package).
var phonePage = sync.OnceValues(func() (*phoneTemplates, error) {
	cat, err := i18n.NewCatalog(phoneFS, "locales")
	if err != nil {
		return nil, fmt.Errorf("mobileid: phone page: %w", err)
	}
	pages, err := cat.Templates(phoneFS, nil, map[string][]string{"phone": {"phone.html"}})
	if err != nil {
		return nil, fmt.Errorf("mobileid: phone page: %w", err)
	}
	return &phoneTemplates{cat: cat, pages: pages}, nil
})

type phoneTemplates struct {
	cat   *i18n.Catalog
	pages *i18n.Templates
}

// phonePageData is what phone.html reads.
type phonePageData struct {
	Prompt
	Langs []i18n.LangLink
	Words map[string]string // the script's words in the page's language
}

func (s *Simulator) phoneRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sim/{msisdn}", func(w http.ResponseWriter, r *http.Request) {
		t, err := phonePage()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		lang := i18n.Choose(w, r)
		l := t.cat.Localizer(lang)
		p, ok := s.PhonePrompt(r.PathValue("msisdn"))
		if !ok {
			http.Error(w, l.T("phone.no_sim"), http.StatusNotFound)
			return
		}
		d := phonePageData{Prompt: p, Langs: i18n.Links(r, lang), Words: map[string]string{}}
		for _, k := range phoneWords {
			d.Words[k] = l.T("phone." + k)
		}
		var b bytes.Buffer
		if err := t.pages.Execute(&b, lang, "phone", d); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /sim/{msisdn}/prompt", func(w http.ResponseWriter, r *http.Request) {
		if p, ok := s.PhonePrompt(r.PathValue("msisdn")); ok {
			phoneJSON(w, 200, p)
			return
		}
		phoneFail(w, &phoneError{404, "no such SIM"})
	})
	mux.HandleFunc("GET /sim/{msisdn}/state", func(w http.ResponseWriter, r *http.Request) {
		if st, ok := s.PhoneState(r.PathValue("msisdn")); ok {
			phoneJSON(w, 200, st)
			return
		}
		phoneFail(w, &phoneError{404, "no such SIM"})
	})
	mux.HandleFunc("POST /sim/{msisdn}/confirm", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			PIN string `json:"pin"`
		}
		b, err := readBody(w, r)
		if err == nil {
			err = json.Unmarshal(b, &body)
		}
		if err != nil && r.FormValue("pin") != "" {
			body.PIN, err = r.FormValue("pin"), nil
		}
		if err != nil {
			phoneFail(w, &phoneError{400, `want {"pin": "..."}`})
			return
		}
		res, left, err := s.PhoneConfirm(r.PathValue("msisdn"), body.PIN)
		if err != nil {
			phoneFail(w, err)
			return
		}
		phoneJSON(w, 200, map[string]any{"result": res, "tries_left": left})
	})
	mux.HandleFunc("POST /sim/{msisdn}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := s.PhoneCancel(r.PathValue("msisdn")); err != nil {
			phoneFail(w, err)
			return
		}
		phoneJSON(w, 200, map[string]string{"result": PhoneCancelled})
	})
}

func (s *Simulator) routes() http.Handler {
	mux := http.NewServeMux()
	s.midRoutes(mux)
	s.etsiRoutes(mux)
	if s.phone {
		s.phoneRoutes(mux)
	}
	return mux
}
