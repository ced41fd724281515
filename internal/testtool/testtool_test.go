package testtool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnavailableLogsSkip: outside CI a check whose tool is missing is
// skipped and leaves one line in the skip log `make test` summarises.
func TestUnavailableLogsSkip(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	t.Setenv(SkipLogEnv, log)
	t.Setenv("CI", "")
	for range 2 {
		t.Run("missing", func(t *testing.T) {
			Unavailable(t, "semnat-no-such-tool-xyz not installed", "install: apt-get install xyz (bash .ci/run installs every tool)")
			t.Error("Unavailable did not end the test")
		})
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "semnat-no-such-tool-xyz not installed") || lines[0] != "semnat-no-such-tool-xyz not installed (install: apt-get install xyz)" || strings.Contains(lines[0], ";") {
		t.Fatalf("skip log: %q", data)
	}
}
