package mobileid

import (
	"time"

	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/semnat/semnat/dirattr"
	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/testcerts"
)

// Behaviour is how a SIM user answers requests.
type Behaviour string

// Behaviours. Manual users wait for the virtual phone; every other one is
// scripted and acts by itself (README.md has the table of test numbers).
const (
	Manual         Behaviour = "manual"
	AnswerOK       Behaviour = "ok"                // signs after about a second
	AnswerOKSlow   Behaviour = "ok-30s"            // signs after 30 s
	AnswerCancel   Behaviour = "cancel"            // the user presses Cancel
	NoAnswer       Behaviour = "no-answer"         // never answers: time-out
	PhoneAbsent    Behaviour = "phone-absent"      // phone switched off / out of coverage
	DeliveryError  Behaviour = "delivery-error"    // the SMS could not be sent
	SIMError       Behaviour = "sim-error"         // invalid answer from the SIM application
	BadSignature   Behaviour = "bad-signature"     // the signature does not verify
	PINBlocked     Behaviour = "pin-blocked"       // signing PIN blocked
	WrongPINThenOK Behaviour = "wrong-pin-then-ok" // two wrong PINs, then the right one
	PUKBlocked     Behaviour = "puk-blocked"       // PUK blocked: card blocked
	NotClient      Behaviour = "not-client"        // no mobile signature on this number
	KeysInactive   Behaviour = "keys-inactive"     // keys not activated
	CertExpired    Behaviour = "cert-expired"      // signing certificate expired
	CertRevoked    Behaviour = "cert-revoked"      // signs, but the certificate is revoked
	Busy           Behaviour = "busy"              // another request is always pending
	CodeMismatch   Behaviour = "code-mismatch"     // phone shows another code; user refuses
)

var behaviours = []Behaviour{Manual, AnswerOK, AnswerOKSlow, AnswerCancel, NoAnswer, PhoneAbsent,
	DeliveryError, SIMError, BadSignature, PINBlocked, WrongPINThenOK, PUKBlocked, NotClient,
	KeysInactive, CertExpired, CertRevoked, Busy, CodeMismatch}

// User is one entry of the SIM registry.
type User struct {
	MSISDN       string    `json:"msisdn"` // E.164, "+373..."
	GivenName    string    `json:"given_name"`
	Surname      string    `json:"surname"`
	IDNP         string    `json:"idnp"`
	Operator     string    `json:"operator"`               // "moldcell" or "orange"
	Kind         string    `json:"kind"`                   // "personal" or "professional"
	Organization string    `json:"organization,omitempty"` // professional: legal entity name
	IDNO         string    `json:"idno,omitempty"`         // professional: legal entity IDNO
	KeyType      string    `json:"key_type"`               // "rsa2048" or "p256"
	PIN1         string    `json:"pin1,omitempty"`         // authentication PIN, 4 digits (default 1234)
	PIN2         string    `json:"pin2,omitempty"`         // signing PIN, 5 digits (default 12345)
	PUK          string    `json:"puk,omitempty"`          // 8 digits (default 12345678)
	Behaviour    Behaviour `json:"behaviour,omitempty"`    // default manual
	Description  string    `json:"description,omitempty"`
	// Personal data the SIM certificates carry (RFC 3739
	// subjectDirectoryAttributes), each optional: "YYYY-MM-DD", "M" or
	// "F", an ISO 3166 country code such as "MD".
	BirthDate string `json:"birth_date,omitempty"`
	Gender    string `json:"gender,omitempty"`
	Residence string `json:"residence,omitempty"`
}

// Default PINs of users that do not set their own (test SIMs only).
const (
	DefaultPIN1 = "1234"
	DefaultPIN2 = "12345"
	DefaultPUK  = "12345678"
)

// ErrUsersFile is wrapped by every error of ParseUsers.
var ErrUsersFile = errors.New("mobileid: bad users file")

// normalizeMSISDN returns the E.164 form "+<digits>" of s (a leading "+" or
// "00" is optional), or "" when s is not 8 to 15 digits.
func normalizeMSISDN(s string) string {
	s = strings.TrimSpace(s)
	if t, ok := strings.CutPrefix(s, "+"); ok {
		s = t
	} else if t, ok := strings.CutPrefix(s, "00"); ok {
		s = t
	}
	if len(s) < 8 || len(s) > 15 || s[0] == '0' {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return "+" + s
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// check validates u and fills in defaults.
func (u *User) check() error {
	m := normalizeMSISDN(u.MSISDN)
	if m == "" {
		return fmt.Errorf("msisdn %q: want E.164 digits, e.g. +37369123456", u.MSISDN)
	}
	u.MSISDN = m
	if u.GivenName == "" || u.Surname == "" {
		return fmt.Errorf("%s: given_name and surname are required", m)
	}
	if idn.KindOf(u.IDNP) != idn.Person {
		return fmt.Errorf("%s: idnp %q is not a valid IDNP", m, u.IDNP)
	}
	switch u.Operator {
	case "":
		u.Operator = "moldcell"
	case "moldcell", "orange":
	default:
		return fmt.Errorf("%s: operator %q: want moldcell or orange", m, u.Operator)
	}
	switch u.Kind {
	case "":
		u.Kind = "personal"
	case "personal":
	case "professional":
		if idn.KindOf(u.IDNO) != idn.Entity || u.Organization == "" {
			return fmt.Errorf("%s: a professional signature needs organization and a valid idno", m)
		}
	default:
		return fmt.Errorf("%s: kind %q: want personal or professional", m, u.Kind)
	}
	switch u.KeyType {
	case "":
		u.KeyType = string(testcerts.P256)
	case string(testcerts.P256), string(testcerts.RSA2048):
	default:
		return fmt.Errorf("%s: key_type %q: want rsa2048 or p256", m, u.KeyType)
	}
	if u.PIN1 == "" {
		u.PIN1 = DefaultPIN1
	}
	if u.PIN2 == "" {
		u.PIN2 = DefaultPIN2
	}
	if u.PUK == "" {
		u.PUK = DefaultPUK
	}
	if !isDigits(u.PIN1, 4) || !isDigits(u.PIN2, 5) || !isDigits(u.PUK, 8) {
		return fmt.Errorf("%s: pin1 must be 4 digits, pin2 5 digits, puk 8 digits", m)
	}
	if u.Behaviour == "" {
		u.Behaviour = Manual
	}
	known := false
	for _, b := range behaviours {
		known = known || b == u.Behaviour
	}
	if !known {
		return fmt.Errorf("%s: behaviour %q unknown", m, u.Behaviour)
	}
	if u.BirthDate != "" || u.Gender != "" || u.Residence != "" {
		a := dirattr.Attributes{DateOfBirth: u.BirthDate, Gender: u.Gender}
		if u.Residence != "" {
			a.CountriesOfResidence = []string{u.Residence}
		}
		if _, err := dirattr.Extension(a); err != nil {
			return fmt.Errorf("%s: %v", m, err)
		}
	}
	return nil
}

// ParseUsers reads a users file: {"users": [User, ...]}.
func ParseUsers(data []byte) ([]User, error) {
	var f struct {
		Users []User `json:"users"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsersFile, err)
	}
	seen := map[string]bool{}
	for i := range f.Users {
		if err := f.Users[i].check(); err != nil {
			return nil, fmt.Errorf("%w: user %d: %w", ErrUsersFile, i+1, err)
		}
		if seen[f.Users[i].MSISDN] {
			return nil, fmt.Errorf("%w: %s listed twice", ErrUsersFile, f.Users[i].MSISDN)
		}
		seen[f.Users[i].MSISDN] = true
	}
	return f.Users, nil
}

func mustIDN(first12 string) string {
	s, err := idn.Complete(first12)
	if err != nil {
		panic(err) // package constants only
	}
	return s
}

// ScriptedUsers returns the built-in test users, whose behaviour is fixed
// (README.md lists them). The numbers +37300000xxx are assumed unassigned.
func ScriptedUsers() []User {
	type row struct {
		n          string
		b          Behaviour
		kt         testcerts.KeyType
		given, sur string
		desc       string
	}
	rows := []row{
		{"001", AnswerOK, testcerts.RSA2048, "Andrei", "Ciobanu", "OK, RSA-2048, answers in about a second"},
		{"002", AnswerOK, testcerts.P256, "Elena", "Rotari", "OK, ECDSA P-256 (professional signature)"},
		{"003", AnswerOKSlow, testcerts.P256, "Victor", "Lungu", "OK after 30 s"},
		{"010", AnswerCancel, testcerts.P256, "Ion", "Munteanu", "user cancels"},
		{"011", NoAnswer, testcerts.P256, "Maria", "Sandu", "never answers (time-out)"},
		{"012", PhoneAbsent, testcerts.P256, "Vasile", "Ursu", "phone absent"},
		{"013", DeliveryError, testcerts.P256, "Ana", "Botnaru", "delivery error"},
		{"014", SIMError, testcerts.P256, "Petru", "Cebotari", "SIM application error"},
		{"015", BadSignature, testcerts.P256, "Olga", "Guțu", "signature does not verify"},
		{"020", PINBlocked, testcerts.P256, "Nicolae", "Rusu", "signing PIN blocked"},
		{"021", WrongPINThenOK, testcerts.P256, "Tatiana", "Popa", "wrong PIN twice, then OK"},
		{"022", PUKBlocked, testcerts.P256, "Sergiu", "Lupu", "PUK blocked (card blocked)"},
		{"030", NotClient, testcerts.P256, "Dumitru", "Stratan", "no mobile signature (unknown user)"},
		{"031", KeysInactive, testcerts.P256, "Irina", "Bivol", "keys inactive"},
		{"032", CertExpired, testcerts.P256, "Gheorghe", "Cojocaru", "certificate expired"},
		{"033", CertRevoked, testcerts.P256, "Natalia", "Moraru", "certificate revoked"},
		{"040", Busy, testcerts.P256, "Mihail", "Țurcan", "busy: another request pending"},
		{"041", CodeMismatch, testcerts.P256, "Lilia", "Bejan", "phone shows another code, user refuses"},
	}
	out := make([]User, 0, len(rows))
	for i, r := range rows {
		u := User{
			MSISDN: "+37300000" + r.n, GivenName: r.given, Surname: r.sur,
			IDNP:    mustIDN(fmt.Sprintf("2004005%05d", i+1)),
			KeyType: string(r.kt), Behaviour: r.b, Description: r.desc,
			Operator: "moldcell", Kind: "personal",
			PIN1: DefaultPIN1, PIN2: DefaultPIN2, PUK: DefaultPUK,
		}
		if i%2 == 1 {
			u.Operator = "orange"
		}
		if r.n == "002" {
			u.Kind, u.Organization, u.IDNO = "professional", "Exemplu SRL", mustIDN("100360000001")
		}
		switch r.n { // personal data in the certificates of the two that answer OK
		case "001":
			u.BirthDate, u.Gender, u.Residence = "1980-05-17", "M", "MD"
		case "002":
			u.BirthDate, u.Gender, u.Residence = "1992-09-03", "F", "MD"
		}
		out = append(out, u)
	}
	return out
}

// GeneratedUser returns the i-th user of the generated registry:
// MSISDN +37369000000+i (Orange), a P-256 key, manual behaviour.
func GeneratedUser(i int) User {
	return User{
		MSISDN: fmt.Sprintf("+373690%05d", i), GivenName: "Test", Surname: fmt.Sprintf("User%05d", i),
		IDNP:     mustIDN(fmt.Sprintf("2004007%05d", i%100000)),
		Operator: "orange", Kind: "personal", KeyType: string(testcerts.P256),
		PIN1: DefaultPIN1, PIN2: DefaultPIN2, PUK: DefaultPUK, Behaviour: Manual,
		BirthDate: time.Date(1970, 1, 1+i%20000, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
		Gender:    []string{"F", "M"}[i%2], Residence: "MD",
	}
}
