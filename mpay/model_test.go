package mpay

import (
	"errors"
	"strings"
	"testing"
)

func TestTransitions(t *testing.T) {
	states := []State{Created, Pending, Partial, Paid, Failed, Expired}
	events := []Event{EvRefresh, EvStart, EvPaidInFull, EvPaidPart, EvFail, EvExpire, EvSettledBySP}
	allowed := map[State]map[Event]State{
		Created: {EvRefresh: Created, EvStart: Pending, EvExpire: Expired, EvSettledBySP: Paid},
		Failed:  {EvRefresh: Failed, EvStart: Pending, EvExpire: Expired, EvSettledBySP: Paid},
		Partial: {EvRefresh: Partial, EvStart: Pending, EvExpire: Expired, EvSettledBySP: Paid},
		Pending: {EvPaidInFull: Paid, EvPaidPart: Partial, EvFail: Failed},
		Expired: {EvRefresh: Expired},
	}
	for _, s := range states {
		for _, e := range events {
			got, err := Next(s, e)
			want, ok := allowed[s][e]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("%s --%s--> %s, %v; want %s", s, e, got, err, want)
			case !ok && !errors.Is(err, ErrTransition):
				t.Errorf("%s --%s--> %s allowed", s, e, got)
			}
		}
	}
	if Paid.Payable() || Pending.Payable() || Expired.Payable() || !Failed.Payable() {
		t.Error("payable states wrong")
	}
}

func TestAmounts(t *testing.T) {
	for in, want := range map[string]int64{"12": 1200, "12.5": 1250, "12,50": 1250, "0.01": 1, " 7 ": 700, "1000000000000": 1e14} {
		got, err := ParseAmount(in)
		if err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
		if err == nil && FormatAmount(got) != func() string { v, _ := ParseAmount(FormatAmount(got)); return FormatAmount(v) }() {
			t.Errorf("round trip of %q", in)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1.234", "1e3", "abc", ".5", "1.-5", "99999999999999"} {
		if _, err := ParseAmount(in); err == nil {
			t.Errorf("ParseAmount(%q) accepted", in)
		}
	}
	if FormatAmount(5) != "0.05" || FormatAmount(-1250) != "-12.50" {
		t.Error("FormatAmount")
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12", "12.50", "0,5", "-1", "1.2.3", "", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		if a < 0 {
			t.Fatalf("%q: negative %d", s, a)
		}
		b, err := ParseAmount(FormatAmount(a))
		if err != nil || a != b {
			t.Fatalf("%q: %d does not round-trip (%d, %v)", s, a, b, err)
		}
	})
}

func TestCheckAmount(t *testing.T) {
	due := int64(10000)
	for _, tc := range []struct {
		partial, advance bool
		due              *int64
		inFlight, amount int64
		ok               bool
	}{
		{false, false, &due, 0, 10000, true},
		{false, false, &due, 0, 5000, false},
		{false, false, &due, 0, 20000, false},
		{true, false, &due, 0, 5000, true},
		{true, false, &due, 4000, 7000, false},
		{true, false, &due, 4000, 6000, true},
		{false, true, &due, 0, 20000, true},
		{false, true, nil, 0, 1, true},
		{false, false, &due, 0, 0, false},
	} {
		in := &Invoice{AmountDue: tc.due, Partial: tc.partial, Advance: tc.advance, InFlight: tc.inFlight, Currency: "MDL"}
		if err := in.CheckAmount(tc.amount); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

// TestPagesTranslated renders every page in every language: no message id
// may show (a message not found), and the Romanian words are the default.
func TestPagesTranslated(t *testing.T) {
	due := int64(15000)
	in := &Invoice{ID: "1", Token: "tok", ServiceID: "S", OrderKey: "K", State: Created, AmountDue: &due, Currency: "MDL", Reason: "Taxă", ReturnURL: "http://sp/"}
	pay := &Payment{ID: "9", State: PayApproved, Amount: 100, Currency: "MDL", CardLast4: "1111"}
	ids := catalog.IDs()
	for _, lang := range []string{"ro", "ru", "en"} {
		for name, p := range map[string]*page{
			"start":    {Services: []SP{{ServiceID: "S", Name: "S"}}},
			"error":    {Error: "x", BackURL: "/"},
			"invoice":  {Invoice: in, SP: &SP{Name: "S"}, Payments: []Payment{*pay}},
			"payment":  {Invoice: in, Payment: pay},
			"terminal": {Payment: pay, Change: "1.00", Error: "x"},
			"bank":     {Invoice: in, Payment: &Payment{ID: "8", State: PayChallenge, Instrument: InstrumentEBanking, Amount: 100, Currency: "MDL"}, SP: &SP{Name: "S"}},
		} {
			p.Lang = lang
			var b strings.Builder
			if err := pages.Execute(&b, lang, name, p); err != nil {
				t.Fatalf("%s/%s: %v", lang, name, err)
			}
			for _, id := range ids {
				if strings.Contains(b.String(), ">"+id+"<") || strings.Contains(b.String(), " "+id+" ") {
					t.Errorf("%s/%s: message %s not found", lang, name, id)
				}
			}
		}
		if lang == "ro" && text(lang, "receipt.title") != "Notă de plată" {
			t.Error("the Romanian receipt title")
		}
	}
	if text("xx", "inv.pay") != "Plătește" {
		t.Error("an unknown language is not Romanian")
	}
}

// TestReceiptLanguages: the receipt is set in each language (Romanian
// diacritics, Cyrillic) without error.
func TestReceiptLanguages(t *testing.T) {
	due := int64(15000)
	in := &Invoice{ID: "1", OrderKey: "K", AmountDue: &due, Currency: "MDL", Reason: "Taxa de stat pentru pașaport"}
	in.Order.CustomerName = "Ștefan Țurcanu"
	p := &Payment{ID: "9", State: PayApproved, Amount: 15000, Currency: "MDL", CardLast4: "1111", AuthCode: "123456"}
	for _, lang := range []string{"ro", "ru", "en"} {
		b, err := RenderReceipt(lang, &SP{ServiceID: "S", Name: "Agenția Servicii Publice"}, in, p)
		if err != nil || !strings.HasPrefix(string(b), "%PDF-") {
			t.Fatalf("%s: %v", lang, err)
		}
	}
}
