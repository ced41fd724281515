package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/pades"
)

// pdfPasswordEnv holds the password of encrypted PDFs when no file is given.
const pdfPasswordEnv = "SEMNAT_PDF_PASSWORD"

// pdfPassword is the password of encrypted PDFs for `semnat sign` and
// `semnat verify`: from --password-file, else $SEMNAT_PDF_PASSWORD (unset
// once read), else typed at a prompt (no echo) when a file needs one. It
// is never printed or logged.
type pdfPassword struct {
	file string

	mu    sync.Mutex // serialises prompts of parallel workers
	pw    []byte
	given bool // from the file or the environment: no prompt
}

func (p *pdfPassword) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.file, "password-file", "", "file holding the user or owner password of encrypted PDFs (else $"+pdfPasswordEnv+", else a prompt when a file needs one)")
}

// load reads the password from the file or the environment, if given.
func (p *pdfPassword) load() error {
	if p.file != "" {
		pw, err := secret.FromFile(p.file)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		p.pw, p.given = pw, true
		return nil
	}
	if v, ok := os.LookupEnv(pdfPasswordEnv); ok {
		p.pw, p.given = []byte(v), true
		os.Unsetenv(pdfPasswordEnv) // not inherited by anything started later
	}
	return nil
}

// wipe clears the password from memory once the command is done.
func (p *pdfPassword) wipe() {
	p.mu.Lock()
	clear(p.pw)
	p.pw = nil
	p.mu.Unlock()
}

// current is the password to try first.
func (p *pdfPassword) current() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pw
}

// do runs op with the password. When op says the file needs a password
// and none was given, the user is asked (once: later files try the same
// password first) and op runs again. Password errors come back in plain
// words.
func (p *pdfPassword) do(a *app, path string, op func(pw []byte) error) error {
	tried := p.current()
	err := op(tried)
	if errors.Is(err, pades.ErrPasswordRequired) && !p.given {
		p.mu.Lock()
		if string(p.pw) == string(tried) { // nobody typed one meanwhile
			pw, perr := secret.Prompt(a.stdin, a.stderr, "Password for "+filepath.Base(path))
			if perr != nil {
				p.mu.Unlock()
				return fmt.Errorf("%s is encrypted and needs its password: give --password-file FILE or $%s (reading it at the prompt: %v)", path, pdfPasswordEnv, perr)
			}
			p.pw = pw
		}
		tried = p.pw
		p.mu.Unlock()
		err = op(tried)
	}
	switch {
	case errors.Is(err, pades.ErrPasswordRequired):
		return fmt.Errorf("%s is encrypted and needs its password: give --password-file FILE, $%s, or type it at the prompt (%w)", path, pdfPasswordEnv, pades.ErrPasswordRequired)
	case errors.Is(err, pades.ErrWrongPassword):
		return fmt.Errorf("%s: the password is wrong: it is neither the user nor the owner password of this PDF (%w)", path, pades.ErrWrongPassword)
	}
	return err
}
