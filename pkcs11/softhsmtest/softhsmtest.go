// Package softhsmtest gives tests a real SoftHSM2 token: a private SoftHSM
// configuration and token directory for the test binary, and a freshly
// initialised token per New call, with chosen testcerts entities imported.
//
// A PKCS#11 module is initialised once per process and SoftHSM2 reads
// SOFTHSM2_CONF only then, and it does not see tokens that another process
// creates afterwards. So the first New of a test binary sets SOFTHSM2_CONF
// (process-wide) to a configuration in a temporary directory, loads the
// module and keeps it loaded; every New then initialises one more token in
// that module through C_InitToken (what `softhsm2-util --init-token --free`
// does). Tokens of different tests are independent; a test binary that uses
// this package should call Cleanup from TestMain to remove the directory.
//
// Outside CI a missing SoftHSM2 skips the test; with CI set it fails it.
package softhsmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pkcs11"
	"github.com/semnat/semnat/testcerts"
)

// Default PINs of the tokens New makes: strings no serial, slot number or
// digest can contain, so that tests can look for them in output.
const (
	UserPIN = "pin-7Qzx"
	SOPIN   = "so-pin-9kM2wr"
)

// ModulePaths are the places SoftHSM2's module is looked for.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// env is the per-process SoftHSM setup.
var env struct {
	once   sync.Once
	err    error
	dir    string
	conf   string
	module string
	mod    *pkcs11.Module // kept open for the life of the process
	mu     sync.Mutex
	n      int
}

func setup() error {
	env.once.Do(func() {
		for _, p := range modulePaths {
			if _, err := os.Stat(p); err == nil {
				env.module = p
				break
			}
		}
		if env.module == "" {
			env.err = fmt.Errorf("softhsmtest: %w: SoftHSM2 is not installed (apt-get install softhsm2)", pkcs11.ErrModuleNotFound)
			return
		}
		removeStale()
		dir, err := os.MkdirTemp("", fmt.Sprintf("semnat-softhsm-%d-", os.Getpid()))
		if err != nil {
			env.err = err
			return
		}
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			env.err = err
			return
		}
		conf := filepath.Join(dir, "softhsm2.conf")
		body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			env.err = err
			return
		}
		// Must be set before the module's C_Initialize.
		os.Setenv("SOFTHSM2_CONF", conf)
		mod, err := pkcs11.Open(env.module)
		if err != nil {
			env.err = err
			return
		}
		env.dir, env.conf, env.mod = dir, conf, mod
	})
	return env.err
}

// removeStale removes the directories of earlier test processes that have
// ended without Cleanup (a test binary without TestMain).
func removeStale() {
	if _, err := os.Stat("/proc/self"); err != nil {
		return // cannot tell live processes from dead ones
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "semnat-softhsm-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "semnat-softhsm-%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			os.RemoveAll(d)
		}
	}
}

// Cleanup removes the token directory of this process. Call it from
// TestMain after m.Run.
func Cleanup() {
	if env.dir != "" {
		os.RemoveAll(env.dir)
	}
}

// Token is an initialised SoftHSM2 token.
type Token struct {
	// ModulePath is the SoftHSM2 module; Conf the SOFTHSM2_CONF it uses.
	ModulePath, Conf string
	// Module is an open handle on the module, closed at the test's end.
	Module        *pkcs11.Module
	Label, Serial string
	PIN, SOPIN    string
	// Keys maps imported entity names to their CKA_ID.
	Keys map[string]pkcs11.KeyID
}

// New initialises a new token and imports the named testcerts entities
// (from testcerts.New(t)) with their chains; each key and certificate is
// labelled with the entity name.
func New(t testing.TB, entities ...string) *Token {
	t.Helper()
	if err := setup(); err != nil {
		testtool.Unavailable(t, err.Error(), "install: "+testtool.InstallHint("softhsm2-util"))
	}
	env.mu.Lock()
	env.n++
	n := env.n
	env.mu.Unlock()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, t.Name())
	label := fmt.Sprintf("t%d-%s", n, name)
	if len(label) > 32 {
		label = label[:32]
	}
	mod, err := pkcs11.Open(env.module)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	ti, err := mod.InitToken(label, []byte(SOPIN), []byte(UserPIN))
	if err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	tok := &Token{ModulePath: env.module, Conf: env.conf, Module: mod, Label: ti.Label, Serial: ti.Serial,
		PIN: UserPIN, SOPIN: SOPIN, Keys: map[string]pkcs11.KeyID{}}
	if len(entities) > 0 {
		pki := testcerts.New(t)
		for _, e := range entities {
			tok.Import(t, pki.MustGet(e))
		}
	}
	return tok
}

// Import writes an entity's key, certificate and chain on the token,
// labelled with the entity name.
func (tok *Token) Import(t testing.TB, e *testcerts.Entity) pkcs11.KeyID {
	t.Helper()
	res, err := tok.Module.Import(context.Background(), pkcs11.ImportOptions{
		Token:       tok.Selector(),
		PIN:         tok.PINSource(),
		Key:         e.Key,
		Certificate: e.Cert,
		Chain:       e.Chain,
		Label:       e.Name,
	})
	if err != nil {
		t.Fatalf("softhsmtest: import %s: %v", e.Name, err)
	}
	tok.Keys[e.Name] = res.ID
	return res.ID
}

// Selector selects this token.
func (tok *Token) Selector() pkcs11.TokenSelector {
	return pkcs11.TokenSelector{Label: tok.Label, Serial: tok.Serial}
}

// PINSource gives the token's user PIN.
func (tok *Token) PINSource() pkcs11.PINSource { return pkcs11.PINValue([]byte(tok.PIN)) }

// Signer opens a Signer on the key of the named entity; it is closed at
// the test's end.
func (tok *Token) Signer(t testing.TB, entity string) *pkcs11.Signer {
	t.Helper()
	s, err := tok.Module.NewSigner(context.Background(), pkcs11.SignerOptions{
		Token: tok.Selector(), KeyLabel: entity, PIN: tok.PINSource()})
	if err != nil {
		t.Fatalf("softhsmtest: signer %s: %v", entity, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Command returns an exec.Cmd that sees the same SoftHSM tokens (for
// pkcs11-tool or softhsm2-util as oracles).
func (tok *Token) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+tok.Conf)
	return cmd
}
