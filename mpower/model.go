package mpower

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/semnat/semnat/idn"
)

// State is the status of a power of representation (egov-flows §5): its
// number is the official status code.
type State string

const (
	Draft             State = "draft"              // 1: created, the authorizing party has not signed
	PendingAcceptance State = "pending-acceptance" // 2: signed; the representative must accept
	PendingValidity   State = "pending-validity"   // 3: complete, starts at FromDate
	Valid             State = "valid"              // 4: in force: the only state that is valid
	Suspended         State = "suspended"          // 5: held by the registry
	Canceled          State = "canceled"           // 6: expired, revoked, renounced or declined (Reason)
)

// States lists every state in order.
func States() []State {
	return []State{Draft, PendingAcceptance, PendingValidity, Valid, Suspended, Canceled}
}

// Code is the official status number (1-6), 0 for an unknown state.
func (s State) Code() int {
	for i, x := range States() {
		if x == s {
			return i + 1
		}
	}
	return 0
}

// StateOfCode is the state of an official status number.
func StateOfCode(n int) (State, bool) {
	if n < 1 || n > len(States()) {
		return "", false
	}
	return States()[n-1], true
}

// Event is what happens to a power.
type Event string

const (
	EvSign     Event = "sign"     // the authorizing party's signature verified
	EvAccept   Event = "accept"   // the representative's signature verified
	EvDecline  Event = "decline"  // the representative refuses
	EvRevoke   Event = "revoke"   // the authorizing party withdraws it
	EvRenounce Event = "renounce" // the representative gives it up
	EvSuspend  Event = "suspend"  // the registry holds it
	EvResume   Event = "resume"   // the registry releases it
)

// Reasons a power is Canceled.
const (
	ReasonExpired   = "expired"
	ReasonRevoked   = "revoked"
	ReasonRenounced = "renounced"
	ReasonDeclined  = "declined"
)

// transitions is the whole state machine: from a state, an event leads to
// the state given; "started" stands for PendingValidity or Valid, by the
// dates (started resolves it).
var transitions = map[State]map[Event]State{
	Draft:             {EvSign: started, EvRevoke: Canceled},
	PendingAcceptance: {EvAccept: started, EvDecline: Canceled, EvRevoke: Canceled},
	PendingValidity:   {EvRevoke: Canceled, EvRenounce: Canceled, EvSuspend: Suspended},
	Valid:             {EvRevoke: Canceled, EvRenounce: Canceled, EvSuspend: Suspended},
	Suspended:         {EvResume: started, EvRevoke: Canceled, EvRenounce: Canceled},
	Canceled:          {},
}

// started is the placeholder of transitions for "in force from FromDate".
const started State = "started"

// TransitionError is an event that does not apply to the state the power
// is in (at the moment of the change: another change may have won).
type TransitionError struct {
	Code  string
	From  State
	Event Event
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("mpower: power %s is %s: it cannot be %s", e.Code, e.From, pastTense[e.Event])
}

var pastTense = map[Event]string{EvSign: "signed", EvAccept: "accepted", EvDecline: "declined", EvRevoke: "revoked",
	EvRenounce: "renounced", EvSuspend: "suspended", EvResume: "resumed"}

// PartyType is who the authorizing party is (official numbers).
type PartyType int

const (
	Natural PartyType = 1 // a person, by IDNP
	Legal   PartyType = 2 // a legal entity, by IDNO
)

// Power is a power of representation.
type Power struct {
	Code          string // 16 digits, idn.CheckAuthCode
	TypeCode      string // AT-xxxxxxx
	AuthorizingBy PartyType
	AuthorizingID string // IDNP or IDNO
	// SignedBy is the person who signs for the authorizing party: the
	// party itself, or an administrator in office of the company.
	SignedBy        string
	RepresentedID   string // the representative's IDNP
	From, To        time.Time
	State           State     // as stored: see StateAt
	Reason          string    // why it is Canceled
	Changed         time.Time // when State was last set
	Created         time.Time
	Lang            string // of its legal text: ro, ru or en
	NeedsAcceptance bool
}

// StateAt is the power's status at t: a stored PendingValidity or Valid
// power is Valid between From and To, PendingValidity before, Canceled
// (expired) after. Nothing else changes with time.
func (p *Power) StateAt(t time.Time) (State, string) {
	switch p.State {
	case PendingValidity, Valid:
		switch {
		case !t.Before(p.To):
			return Canceled, ReasonExpired
		case t.Before(p.From):
			return PendingValidity, ""
		}
		return Valid, ""
	}
	return p.State, p.Reason
}

// ValidAt tells whether the power is in force at t.
func (p *Power) ValidAt(t time.Time) bool {
	s, _ := p.StateAt(t)
	return s == Valid
}

// Apply changes the power's state for ev happening at t, or returns a
// *TransitionError (nothing changed). The one place a state changes.
func (p *Power) Apply(ev Event, at time.Time) error {
	cur, _ := p.StateAt(at)
	if cur == Canceled && p.State != Canceled { // expired: nothing more applies
		return &TransitionError{Code: p.Code, From: Canceled, Event: ev}
	}
	next, ok := transitions[p.State][ev]
	if !ok {
		return &TransitionError{Code: p.Code, From: cur, Event: ev}
	}
	reason := ""
	switch {
	case next == started:
		next = PendingValidity
		if ev == EvSign && p.NeedsAcceptance {
			next = PendingAcceptance
		} else if !at.Before(p.From) {
			next = Valid
		}
	case next == Canceled:
		reason = map[Event]string{EvRevoke: ReasonRevoked, EvRenounce: ReasonRenounced, EvDecline: ReasonDeclined}[ev]
	}
	p.State, p.Reason, p.Changed = next, reason, at
	return nil
}

// AuthType is an authorization type, defined by a service provider.
type AuthType struct {
	Code  string            // "AT-" and 7 digits
	Names map[string]string // by language: ro (required), ru, en
	// LegalText is the text of the act (text/template over TextData), by
	// language; ro is required.
	LegalText       map[string]string
	NeedsAcceptance bool
	NeedsCoSigner   bool
	MaxDays         int    // longest validity, in days
	ProviderIDNO    string // the service provider
	ProviderName    string
	// System is the registered system (sysauth) of the provider that sees
	// its powers through the check API.
	System  string
	Created time.Time
}

var typeCode = regexp.MustCompile(`^AT-[0-9]{7}$`)

// Langs are the languages of names and legal texts.
var Langs = []string{"ro", "ru", "en"}

// ErrInvalid is wrapped by every refusal of bad input.
var ErrInvalid = errors.New("mpower: invalid")

// Check tells what is wrong with t.
func (t *AuthType) Check() error {
	switch {
	case !typeCode.MatchString(t.Code):
		return fmt.Errorf("%w: authorization type code %q: want AT- and 7 digits (AT-0000001)", ErrInvalid, t.Code)
	case strings.TrimSpace(t.Names["ro"]) == "":
		return fmt.Errorf("%w: type %s: the Romanian name is required", ErrInvalid, t.Code)
	case strings.TrimSpace(t.LegalText["ro"]) == "":
		return fmt.Errorf("%w: type %s: the Romanian legal text is required", ErrInvalid, t.Code)
	case t.MaxDays <= 0 || t.MaxDays > 3660:
		return fmt.Errorf("%w: type %s: maximum duration %d days: want 1 to 3660", ErrInvalid, t.Code, t.MaxDays)
	case idn.KindOf(t.ProviderIDNO) != idn.Entity:
		return fmt.Errorf("%w: type %s: provider IDNO %q is not a valid IDNO", ErrInvalid, t.Code, t.ProviderIDNO)
	case t.System == "":
		return fmt.Errorf("%w: type %s: name the provider's registered system", ErrInvalid, t.Code)
	}
	for k := range t.Names {
		if !knownLang(k) {
			return fmt.Errorf("%w: type %s: name in unknown language %q (ro, ru, en)", ErrInvalid, t.Code, k)
		}
	}
	for k, v := range t.LegalText {
		if !knownLang(k) {
			return fmt.Errorf("%w: type %s: legal text in unknown language %q (ro, ru, en)", ErrInvalid, t.Code, k)
		}
		if _, err := fillText(v, sampleText); err != nil {
			return fmt.Errorf("%w: type %s: legal text (%s): %v", ErrInvalid, t.Code, k, err)
		}
	}
	return nil
}

func knownLang(l string) bool {
	for _, x := range Langs {
		if x == l {
			return true
		}
	}
	return false
}

// Entity is a legal entity of the register.
type Entity struct {
	IDNO           string
	Name           string
	Form           string // legal form: SRL, SA, ÎI, ...
	Administrators []Administrator
}

// Administrator is a person in office at a company from From until To
// (zero: still in office).
type Administrator struct {
	IDNP     string
	From, To time.Time
}

// InOffice tells whether a is in office at t.
func (a Administrator) InOffice(t time.Time) bool {
	return !t.Before(a.From) && (a.To.IsZero() || t.Before(a.To))
}

// AdministeredBy tells whether idnp is an administrator of e in office at t.
func (e *Entity) AdministeredBy(idnp string, t time.Time) bool {
	for _, a := range e.Administrators {
		if a.IDNP == idnp && a.InOffice(t) {
			return true
		}
	}
	return false
}
