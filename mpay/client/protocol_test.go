package client

import (
	"errors"
	"testing"
)

// TestOrderCustomerEmail: an order's optional e-mail address must be a
// bare address.
func TestOrderCustomerEmail(t *testing.T) {
	q := OrderDetailsQuery{ServiceID: "S", OrderKey: "K"}
	due := int64(100)
	for email, ok := range map[string]bool{"": true, "ion@example.md": true, "Ion <ion@example.md>": false, "ion": false, "ion@example.md\r\nBcc: x@y.md": false} {
		o := OrderDetails{ServiceID: "S", OrderKey: "K", Status: StatusActive, Currency: "MDL", TotalAmountDue: &due, CustomerEmail: email}
		if err := o.Check(q); (err == nil) != ok || err != nil && !errors.Is(err, ErrBadMessage) {
			t.Errorf("CustomerEmail %q: %v", email, err)
		}
	}
}
