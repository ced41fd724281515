package idn

import (
	"errors"
	"testing"
)

func TestValidKnownNumbers(t *testing.T) {
	// Published numbers (see shared/reference/egov-flows.md §8.1).
	for _, s := range []string{"1009600026622", "1010600034203", "1006601000255", "1003600096694", "1006601000439", "2006022048426"} {
		if err := Check(s); err != nil {
			t.Errorf("Check(%s) = %v, want valid", s, err)
		}
	}
	for _, s := range []string{"2001003328546", "200602204842", "20060220484260", "200602204842x", ""} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		} else if err := Check(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestCompleteAndKind(t *testing.T) {
	s, err := Complete("200602204842")
	if err != nil || s != "2006022048426" {
		t.Fatalf("Complete = %q, %v", s, err)
	}
	if KindOf(s) != Person || KindOf("1003600096694") != Entity || KindOf("123") != Unknown {
		t.Fatal("KindOf misclassifies")
	}
	if _, err := Complete("12345678901a"); err == nil {
		t.Fatal("Complete accepted a letter")
	}
}
