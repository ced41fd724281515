package mpower

import (
	"context"
	"testing"
	"time"
)

// TestListTotals: the count List gives with a page (on PostgreSQL a
// column of the page's own query) is the number of matching powers on
// every page: the first, a later one, one past the end (an empty page)
// and a filter nothing matches, for a party alone and for every power.
func TestListTotals(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			ctx := context.Background()
			var codes []string
			for range 5 {
				codes = append(codes, f.grant(t, "AT-0000002", f.alice.IDNP, "", f.bob.IDNP).Code)
				f.clk.add(time.Second)
			}
			f.grant(t, "AT-0000002", f.carol.IDNP, "", f.bob.IDNP) // not alice's
			for _, c := range []struct {
				name        string
				filter      Filter
				total, size int
				first       string // the page's first code, newest first
			}{
				{"page 1", Filter{IDN: f.alice.IDNP, PageSize: 2}, 5, 2, codes[4]},
				{"page 3", Filter{IDN: f.alice.IDNP, PageSize: 2, Page: 3}, 5, 1, codes[0]},
				{"past the end", Filter{IDN: f.alice.IDNP, PageSize: 2, Page: 4}, 5, 0, ""},
				{"nothing matches", Filter{IDN: f.alice.IDNP, GrantedTo: f.carol.IDNP}, 0, 0, ""},
				{"every power", Filter{PageSize: 4}, 6, 4, ""},
				{"every power, past the end", Filter{PageSize: 4, Page: 3}, 6, 0, ""},
			} {
				list, total, err := f.reg.List(ctx, c.filter)
				if err != nil || total != c.total || len(list) != c.size || c.first != "" && list[0].Code != c.first {
					t.Errorf("%s: %d powers of %d, %v; want %d of %d, first %s", c.name, len(list), total, err, c.size, c.total, c.first)
				}
			}
		})
	}
}
