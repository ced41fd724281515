package mpay_test

import (
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/store"
)

// BenchmarkCompletePaymentsPostgresES256OneWriter is
// BenchmarkCompletePaymentsPostgresES256 with the store's group
// transactions run one at a time (store.Options.GroupWriters 1; the
// default on PostgreSQL is 2): the A/B of the two, run side by side with
// -bench 'CompletePaymentsPostgresES256'.
func BenchmarkCompletePaymentsPostgresES256OneWriter(b *testing.B) {
	st, err := store.OpenPostgres(testtool.PostgresSchema(b), store.Options{GroupWriters: 1})
	if err != nil {
		b.Fatal(err)
	}
	completePayments(b, newEnvOn(b, st, es256Config(b)))
}
