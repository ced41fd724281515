package mpay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is an invoice's state.
type State string

// Invoice states: created (the order pulled, nothing paid), pending (a
// payment is at the provider; the amount is locked), partial (paid in
// part, the rest still payable), paid, failed (the last attempt failed; the
// payer may try again), expired (the order expired or was withdrawn).
const (
	Created State = "created"
	Pending State = "pending"
	Partial State = "partial"
	Paid    State = "paid"
	Failed  State = "failed"
	Expired State = "expired"
)

// Event is what happens to an invoice.
type Event string

// Events of the invoice state machine.
const (
	EvRefresh     Event = "refresh"      // the SP's latest order details (amount, due date)
	EvStart       Event = "start"        // a payment goes to the provider
	EvPaidInFull  Event = "paid-in-full" // the provider approved the whole amount due
	EvPaidPart    Event = "paid-part"    // the provider approved a part of it
	EvFail        Event = "fail"         // the provider declined or timed out
	EvExpire      Event = "expire"       // the due date passed, or the SP says the order is no longer payable
	EvSettledBySP Event = "settled"      // the SP says the order is paid (elsewhere)
)

// transitions is the invoice state machine, the one place that says which
// event may happen in which state, and what state follows.
var transitions = map[State]map[Event]State{
	Created: {EvRefresh: Created, EvStart: Pending, EvExpire: Expired, EvSettledBySP: Paid},
	Failed:  {EvRefresh: Failed, EvStart: Pending, EvExpire: Expired, EvSettledBySP: Paid},
	Partial: {EvRefresh: Partial, EvStart: Pending, EvExpire: Expired, EvSettledBySP: Paid},
	Pending: {EvPaidInFull: Paid, EvPaidPart: Partial, EvFail: Failed},
	Paid:    {},
	Expired: {EvRefresh: Expired},
}

// ErrTransition is an event not allowed in an invoice's state.
var ErrTransition = errors.New("mpay: not allowed in this state")

// Next is the state after e in s (ErrTransition when e may not happen).
func Next(s State, e Event) (State, error) {
	n, ok := transitions[s][e]
	if !ok {
		return s, fmt.Errorf("%w: %s in state %s", ErrTransition, e, s)
	}
	return n, nil
}

// Payable tells whether the payer may start a payment in s.
func (s State) Payable() bool { _, ok := transitions[s][EvStart]; return ok }

// PayState is a payment's state at the provider.
type PayState string

// Payment states.
const (
	PayAuthorizing PayState = "authorizing" // at the provider (a delayed approval)
	PayChallenge   PayState = "challenge"   // the 3-D Secure page waits for the payer
	PayApproved    PayState = "approved"
	PayDeclined    PayState = "declined"
)

// payTransitions: a payment is approved or declined once.
var payTransitions = map[PayState][]PayState{
	PayAuthorizing: {PayApproved, PayDeclined, PayChallenge},
	PayChallenge:   {PayApproved, PayDeclined},
}

func payNext(from, to PayState) error {
	for _, t := range payTransitions[from] {
		if t == to {
			return nil
		}
	}
	return fmt.Errorf("%w: payment %s to %s", ErrTransition, from, to)
}

// FormatAmount writes minor units as "1234.50".
func FormatAmount(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// ParseAmount reads "12", "12.5", "12,50" into minor units; no floats.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", "."))
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("mpay: amount %q: write it as 123 or 123.45", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1e12 {
		return 0, fmt.Errorf("mpay: amount %q: write it as 123 or 123.45 (at most 1 000 000 000 000)", s)
	}
	var f int64
	if frac != "" {
		for len(frac) < 2 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return 0, fmt.Errorf("mpay: amount %q: write it as 123 or 123.45", s)
		}
	}
	return w*100 + f, nil
}
