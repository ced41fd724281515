package cardsim

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCards(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p := New(Options{Delay: time.Second, Timeout: time.Millisecond})
	for number, want := range map[string]Outcome{CardApprove: Approved, CardDecline: Declined, CardInsufficient: Insufficient,
		Card3DS: Challenge, CardTimeout: TimedOut, CardDelayed: Delayed, "5555555555554444": Declined} {
		c, err := ParseCard(number, "", "12/30", "123", now)
		if err != nil {
			t.Fatalf("%s: %v", number, err)
		}
		r, err := p.Authorize(context.Background(), c, 100, now)
		if err != nil || r.Outcome != want {
			t.Errorf("%s: %v %v, want %v", number, r.Outcome, err, want)
		}
		if want == Delayed && !r.ApproveAt.Equal(now.Add(time.Second)) {
			t.Errorf("delayed approval at %v", r.ApproveAt)
		}
	}
	if p.Challenge(ChallengeCode).Outcome != Approved || p.Challenge("0000").Outcome != Declined {
		t.Error("3-D Secure codes")
	}
	for _, bad := range [][4]string{{"4111111111111112", "12/30", "123"}, {CardApprove, "11/26", "123"}, {CardApprove, "13/30", "123"},
		{CardApprove, "12/30", "12"}, {"4111", "12/30", "123"}, {CardApprove, "1230", "123"}} {
		if _, err := ParseCard(bad[0], "", bad[1], bad[2], now); !errors.Is(err, ErrBadCard) {
			t.Errorf("%v accepted: %v", bad, err)
		}
	}
	if c, err := ParseCard("4111 1111 1111 1111", " Ion ", "12/2026", "123", now); err != nil || c.Last4() != "1111" || c.Holder != "Ion" {
		t.Errorf("spaces, four-digit year: %+v %v", c, err)
	}
}

func FuzzParseCard(f *testing.F) {
	f.Add(CardApprove, "12/30", "123")
	f.Add("4111 1111", "1/1", "000")
	f.Add("", "/", "")
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, number, expiry, cvc string) {
		c, err := ParseCard(number, "", expiry, cvc, now)
		if err == nil && (!Luhn(c.Number) || len(c.Last4()) != 4) {
			t.Fatalf("accepted %q", number)
		}
	})
}
