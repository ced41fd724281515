package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSources(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("s3cret\r\nsecond line\n"), 0o600)
	if b, err := FromFile(f); err != nil || string(b) != "s3cret" {
		t.Fatalf("file: %q %v", b, err)
	}
	in := strings.NewReader("from-pipe\nrest")
	var out strings.Builder
	if b, err := Prompt(in, &out, "Password"); err != nil || string(b) != "from-pipe" || out.String() != "Password: " {
		t.Fatalf("prompt: %q %v %q", b, err, out.String())
	}
	if rest, _ := ReadLine(in, 10); string(rest) != "rest" {
		t.Fatalf("prompt consumed too much: %q", rest)
	}
	t.Setenv("SEMNAT_TEST_PW", "env-pw")
	if b, err := Get("", "SEMNAT_TEST_PW", nil, nil, "x"); err != nil || string(b) != "env-pw" {
		t.Fatalf("env: %q %v", b, err)
	}
	if _, ok := os.LookupEnv("SEMNAT_TEST_PW"); ok {
		t.Fatal("the secret stayed in the process environment")
	}
	if _, err := ReadLine(strings.NewReader(strings.Repeat("x", 20)), 10); err == nil {
		t.Fatal("overlong secret accepted")
	}
	if _, err := ReadLine(strings.NewReader(""), 10); err == nil {
		t.Fatal("empty input accepted")
	}
}
