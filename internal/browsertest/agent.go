package browsertest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
)

// BuildSemnat builds the semnat command into the test's temporary folder
// (the agent a person runs, `semnat verify` a person checks with).
func BuildSemnat(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "semnat")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/semnat/semnat/cmd/semnat").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// StartAgent runs `bin agent --yes` for the SoftHSM token on ln (bound
// by the test, so that the pages knew its address before; handed over as
// a file descriptor), allowing the pages of origins; the PIN is in
// $SEMNAT_PIN, never on the command line. It is stopped when the test
// ends; what it says (the sites it signed for) is in the buffer.
func StartAgent(t *testing.T, bin string, ln net.Listener, tok *softhsmtest.Token, origins ...string) *testtool.SyncBuffer {
	t.Helper()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	args := []string{"agent", "--listen-fd", "3", "--module", tok.ModulePath, "--token-label", tok.Label, "--yes"}
	for _, o := range origins {
		args = append(args, "--origin", o)
	}
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{lf} // file descriptor 3 in the agent
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+tok.Conf, "SEMNAT_PIN="+tok.PIN)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testtool.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.HasPrefix(line, "listening on http://"+ln.Addr().String()) {
		t.Fatalf("agent: %q %v\n%s", line, err, stderr.String())
	}
	return stderr
}
