package jobs

import (
	"context"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/store"
)

// TestUnusedIndexesDropped (PostgreSQL): after New, river's GIN indexes
// of the jobs' args and metadata are gone, the indexes river's reindexer
// is told to rebuild all exist (it warns of a missing one at each run),
// and a second queue on the same database (another instance starting)
// finds nothing to drop and works.
func TestUnusedIndexesDropped(t *testing.T) {
	st, err := store.OpenPostgres(testtool.PostgresSchema(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for range 2 {
		if _, err := New(ctx, st, Options{Queue: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(name string) bool {
		var n int
		if err := st.QueryRow(ctx, `SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for _, name := range droppedPostgresIndexes {
		if exists(name) {
			t.Errorf("river's index %s is still there", name)
		}
	}
	names := reindexedIndexes("postgres")
	if len(names) == 0 {
		t.Fatal("no index for river's reindexer")
	}
	for _, name := range names {
		if !exists(name) {
			t.Errorf("river's reindexer is told to rebuild %s, which does not exist", name)
		}
	}
	if len(reindexedIndexes("sqlite")) != len(names)+len(droppedPostgresIndexes) {
		t.Errorf("SQLite's reindexed indexes: %v", reindexedIndexes("sqlite"))
	}
}
