// Package cardsim is MPay's simulated card processor: the outcome of an
// authorisation depends on the card number, as with the test cards of
// real acquirers, so that every path of a payment can be tried by hand
// and in tests. The numbers (all pass the Luhn check):
//
//	4111 1111 1111 1111  approved
//	4000 0000 0000 0002  declined (do not honour)
//	4000 0000 0000 9995  declined: insufficient funds
//	4000 0000 0000 3220  3-D Secure challenge: code 1234 approves, anything else fails
//	4000 0000 0000 0119  processor time-out (no answer; the payment fails, nothing is charged)
//	4000 0000 0000 0077  approved after a delay (Options.Delay, 3 s by default)
//
// Any other Luhn-valid number is declined as unknown to the simulator. The
// expiry must not be past and the CVC must be 3 digits.
package cardsim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Test card numbers.
const (
	CardApprove      = "4111111111111111"
	CardDecline      = "4000000000000002"
	CardInsufficient = "4000000000009995"
	Card3DS          = "4000000000003220"
	CardTimeout      = "4000000000000119"
	CardDelayed      = "4000000000000077"
	// ChallengeCode is what the 3-D Secure page takes to approve.
	ChallengeCode = "1234"
)

// Outcome is what the processor answers.
type Outcome string

// Outcomes of an authorisation.
const (
	Approved     Outcome = "approved"
	Declined     Outcome = "declined"
	Insufficient Outcome = "insufficient-funds"
	Challenge    Outcome = "challenge" // the payer must pass the 3-D Secure page
	Delayed      Outcome = "delayed"   // approved at Result.ApproveAt
	TimedOut     Outcome = "timeout"
)

// Card is what the payer types.
type Card struct {
	Number, Holder string
	ExpMonth       int
	ExpYear        int // four digits
	CVC            string
}

// ErrBadCard is a card refused before it reaches the processor (number,
// expiry or CVC malformed).
var ErrBadCard = errors.New("cardsim: bad card")

// ParseCard reads a typed card (spaces allowed in the number; expiry
// MM/YY or MM/YYYY).
func ParseCard(number, holder, expiry, cvc string, now time.Time) (Card, error) {
	n := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, number)
	if len(n) < 12 || len(n) > 19 || !digits(n) || !Luhn(n) {
		return Card{}, fmt.Errorf("%w: the card number is not valid", ErrBadCard)
	}
	m, y, ok := strings.Cut(strings.TrimSpace(expiry), "/")
	mm, err1 := strconv.Atoi(strings.TrimSpace(m))
	yy, err2 := strconv.Atoi(strings.TrimSpace(y))
	if !ok || err1 != nil || err2 != nil || mm < 1 || mm > 12 || yy < 0 {
		return Card{}, fmt.Errorf("%w: the expiry date is not MM/YY", ErrBadCard)
	}
	if yy < 100 {
		yy += 2000
	}
	if yy < now.Year() || yy == now.Year() && mm < int(now.Month()) {
		return Card{}, fmt.Errorf("%w: the card expired", ErrBadCard)
	}
	if len(cvc) != 3 || !digits(cvc) {
		return Card{}, fmt.Errorf("%w: the CVC is 3 digits", ErrBadCard)
	}
	return Card{Number: n, Holder: strings.TrimSpace(holder), ExpMonth: mm, ExpYear: yy, CVC: cvc}, nil
}

// Last4 is the card's last four digits, all that is kept of it.
func (c Card) Last4() string { return c.Number[len(c.Number)-4:] }

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Luhn tells whether a digit string passes the Luhn check.
func Luhn(n string) bool {
	sum, double := 0, false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Options tune the processor.
type Options struct {
	// Delay is how long CardDelayed waits before approval (3 s when zero).
	Delay time.Duration
	// Timeout is how long CardTimeout keeps the caller waiting before it
	// gives up (2 s when zero).
	Timeout time.Duration
}

// Processor is the simulated processor.
type Processor struct{ opts Options }

// New makes a processor.
func New(opts Options) *Processor {
	if opts.Delay <= 0 {
		opts.Delay = 3 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	return &Processor{opts: opts}
}

// Result is an authorisation's answer.
type Result struct {
	Outcome   Outcome
	Reason    string    // for a decline, in English (pages translate the outcome)
	AuthCode  string    // for an approval
	ApproveAt time.Time // for Delayed
}

// Authorize asks the processor to charge amount (minor units) to card.
func (p *Processor) Authorize(ctx context.Context, c Card, amount int64, now time.Time) (Result, error) {
	if amount <= 0 {
		return Result{}, fmt.Errorf("cardsim: amount %d: must be positive", amount)
	}
	switch c.Number {
	case CardApprove:
		return Result{Outcome: Approved, AuthCode: authCode(c, amount)}, nil
	case CardDecline:
		return Result{Outcome: Declined, Reason: "do not honour"}, nil
	case CardInsufficient:
		return Result{Outcome: Insufficient, Reason: "insufficient funds"}, nil
	case Card3DS:
		return Result{Outcome: Challenge}, nil
	case CardDelayed:
		return Result{Outcome: Delayed, ApproveAt: now.Add(p.opts.Delay)}, nil
	case CardTimeout:
		t := time.NewTimer(p.opts.Timeout)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return Result{Outcome: TimedOut, Reason: "the processor did not answer"}, nil
	}
	return Result{Outcome: Declined, Reason: "card unknown to the simulator"}, nil
}

// Challenge answers the 3-D Secure page: the code approves or fails.
func (p *Processor) Challenge(c string) Result {
	if c == ChallengeCode {
		return Result{Outcome: Approved, AuthCode: "3DS" + c}
	}
	return Result{Outcome: Declined, Reason: "3-D Secure authentication failed"}
}

func authCode(c Card, amount int64) string {
	return fmt.Sprintf("%06d", (amount*31+int64(c.ExpMonth)*7919)%1000000)
}
