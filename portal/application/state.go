// Package application keeps the portal's applications: what a citizen
// asked for (a service of the catalogue, for whom, the form, the attached
// documents, the delivery), its state and the history of its states. The
// whole state machine is one table (transitions); every change is written
// with its history row and its audit event in one store transaction, and
// only when the stored state is still the one the change started from.
package application

import (
	"fmt"
	"slices"
)

// State is the status of an application (the FOD's request statuses).
type State string

const (
	Draft      State = "draft"       // being filled in by the applicant
	Submitted  State = "submitted"   // signed by the applicant and sent
	Paid       State = "paid"        // the tariff is paid
	InProgress State = "in-progress" // the provider works on it
	Completed  State = "completed"   // the result is issued
	Rejected   State = "rejected"    // the provider refused it (Reason)
	Cancelled  State = "cancelled"   // withdrawn, timed out or incomplete (Reason)
)

// States lists every state in order.
func States() []State {
	return []State{Draft, Submitted, Paid, InProgress, Completed, Rejected, Cancelled}
}

// Final tells whether nothing more can happen to an application in s.
func (s State) Final() bool { return s == Completed || s == Rejected || s == Cancelled }

// Event is what happens to an application.
type Event string

const (
	EvSubmit   Event = "submit"   // the signed application is received
	EvPay      Event = "pay"      // the payment is confirmed
	EvStart    Event = "start"    // a clerk takes it
	EvComplete Event = "complete" // the result is issued
	EvReject   Event = "reject"   // the provider refuses it
	EvCancel   Event = "cancel"   // ended without a decision
)

// Reasons of a Cancelled application (and the kinds of a Rejected one's).
const (
	ReasonByApplicant    = "by-applicant"         // the applicant withdrew it
	ReasonPaymentTimeout = "payment-timeout"      // not paid in time
	ReasonIncomplete     = "documents-incomplete" // the documents do not suffice
	ReasonRefused        = "refused"              // a rejection (the clerk's words go in the note)
)

// Rule is one transition: from a state, an event leads to another state,
// if its guard (when there is one) lets it, with one of the reasons (when
// the event takes one).
type Rule struct {
	From, To State
	Event    Event
	Reasons  []string                // allowed reasons; none: the event takes no reason
	Guard    func(*Application) bool // nil: always
	Why      string                  // what the guard asks, for the error
}

func paid(a *Application) bool { return a.Cost > 0 }
func free(a *Application) bool { return a.Cost == 0 }

// transitions is the whole state machine.
var transitions = []Rule{
	{From: Draft, Event: EvSubmit, To: Submitted},
	{From: Draft, Event: EvCancel, To: Cancelled, Reasons: []string{ReasonByApplicant}},
	{From: Submitted, Event: EvPay, To: Paid, Guard: paid, Why: "only a service with a tariff is paid"},
	{From: Submitted, Event: EvStart, To: InProgress, Guard: free, Why: "a service with a tariff starts once paid"},
	{From: Submitted, Event: EvReject, To: Rejected, Reasons: []string{ReasonRefused, ReasonIncomplete}},
	{From: Submitted, Event: EvCancel, To: Cancelled, Reasons: []string{ReasonByApplicant, ReasonPaymentTimeout, ReasonIncomplete}},
	{From: Paid, Event: EvStart, To: InProgress},
	{From: Paid, Event: EvReject, To: Rejected, Reasons: []string{ReasonRefused, ReasonIncomplete}},
	{From: Paid, Event: EvCancel, To: Cancelled, Reasons: []string{ReasonIncomplete}},
	{From: InProgress, Event: EvComplete, To: Completed},
	{From: InProgress, Event: EvReject, To: Rejected, Reasons: []string{ReasonRefused, ReasonIncomplete}},
	{From: InProgress, Event: EvCancel, To: Cancelled, Reasons: []string{ReasonIncomplete}},
}

// Transitions lists the state machine's rules.
func Transitions() []Rule { return slices.Clone(transitions) }

// TransitionError is an event that does not apply to an application in
// the state it is in (at the moment of the change: another change may
// have won), or a reason the event does not take.
type TransitionError struct {
	ID     string
	From   State
	Event  Event
	Reason string
	Detail string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("application %s is %s: %s cannot happen%s", e.ID, e.From, e.Event, e.Detail)
}

// next is the rule for ev with reason on a, or why there is none.
func next(a *Application, ev Event, reason string) (*Rule, error) {
	for i := range transitions {
		r := &transitions[i]
		if r.From != a.State || r.Event != ev {
			continue
		}
		if r.Guard != nil && !r.Guard(a) {
			return nil, &TransitionError{ID: a.ID, From: a.State, Event: ev, Detail: " (" + r.Why + ")"}
		}
		if len(r.Reasons) == 0 && reason != "" || len(r.Reasons) > 0 && !slices.Contains(r.Reasons, reason) {
			return nil, &TransitionError{ID: a.ID, From: a.State, Event: ev, Reason: reason,
				Detail: fmt.Sprintf(" with reason %q (allowed: %v)", reason, r.Reasons)}
		}
		return r, nil
	}
	return nil, &TransitionError{ID: a.ID, From: a.State, Event: ev}
}
