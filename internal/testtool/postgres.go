package testtool

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// FreshPostgres is the DSN of an empty schema of its own in the
// PostgreSQL database $SEMNAT_TEST_POSTGRES names (.ci/postgres.sh starts a
// server and prints it); the schema is dropped when the test ends. Without
// the variable the test is skipped, except in CI where it fails.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("SEMNAT_TEST_POSTGRES")
	if dsn == "" {
		if InCI() {
			t.Fatal("SEMNAT_TEST_POSTGRES is not set: .ci/run must start PostgreSQL (.ci/postgres.sh)")
		}
		t.Skip("SEMNAT_TEST_POSTGRES not set (bash .ci/postgres.sh prints a DSN)")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", dsn); err == nil {
			a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			a.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
