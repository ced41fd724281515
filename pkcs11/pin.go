package pkcs11

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// EnvPIN is the environment variable PINFromFlags reads when no PIN file is
// given.
const EnvPIN = "SEMNAT_PIN"

// maxPINLen bounds what a PIN source reads.
const maxPINLen = 256

// PINSource supplies the user PIN of a token when a login needs it. It is
// asked again when a Signer must log in again (the token was re-inserted), so
// the PIN itself is not kept. The caller zeroes the returned slice after use.
type PINSource interface {
	PIN(ctx context.Context, token TokenInfo) ([]byte, error)
}

// PINFunc adapts a function to PINSource.
type PINFunc func(ctx context.Context, token TokenInfo) ([]byte, error)

// PIN calls f.
func (f PINFunc) PIN(ctx context.Context, token TokenInfo) ([]byte, error) { return f(ctx, token) }

// PINValue is a fixed PIN, for programs that got it some other way. Each
// call returns a fresh copy.
func PINValue(pin []byte) PINSource {
	p := bytes.Clone(pin)
	return PINFunc(func(context.Context, TokenInfo) ([]byte, error) {
		if len(p) == 0 {
			return nil, fmt.Errorf("pkcs11: %w: empty PIN", ErrNoPIN)
		}
		return bytes.Clone(p), nil
	})
}

// PINFile reads the PIN from the first line of a file (a trailing CR/LF is
// dropped). The file is read each time a login needs it.
func PINFile(path string) PINSource {
	return PINFunc(func(context.Context, TokenInfo) ([]byte, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: PIN file: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return nil, fmt.Errorf("pkcs11: PIN file %s: %w", path, err)
		}
		pin, err := ParsePIN(data)
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: PIN file %s: %w", path, err)
		}
		return pin, nil
	})
}

// PINEnv reads the PIN from an environment variable once, when called, and
// removes the variable from the process environment so that child
// processes and later readers of the environment never see it. The PIN is
// kept for the logins that need it (see PINValue).
func PINEnv(name string) PINSource {
	v, ok := os.LookupEnv(name)
	os.Unsetenv(name)
	if !ok {
		return PINFunc(func(context.Context, TokenInfo) ([]byte, error) {
			return nil, fmt.Errorf("pkcs11: %w: $%s is not set", ErrNoPIN, name)
		})
	}
	raw := []byte(v)
	pin, err := ParsePIN(raw)
	clear(raw)
	if err != nil {
		return PINFunc(func(context.Context, TokenInfo) ([]byte, error) {
			return nil, fmt.Errorf("pkcs11: $%s: %w", name, err)
		})
	}
	src := PINValue(pin)
	clear(pin)
	return src
}

// PINPrompt asks for the PIN on out and reads it from in (see
// PromptSecret). The prompt names the token and what it reports about
// remaining tries.
func PINPrompt(in io.Reader, out io.Writer) PINSource {
	return PINFunc(func(ctx context.Context, t TokenInfo) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("PIN for token %s", t)
		if s := t.pinState(); s != "" {
			msg += " (" + s + ")"
		}
		pin, err := PromptSecret(in, out, msg)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: %w", err)
		}
		return pin, nil
	})
}

// PromptSecret writes "prompt: " on out and reads a secret from in. When in
// is a terminal the secret is read without echo; otherwise one line is read
// (from a pipe), byte by byte so that nothing after it is consumed. The
// secret is checked with ParsePIN.
func PromptSecret(in io.Reader, out io.Writer, prompt string) ([]byte, error) {
	fmt.Fprintf(out, "%s: ", prompt)
	var line []byte
	var err error
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		line, err = term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
	} else {
		line, err = readLine(in, maxPINLen+2)
		fmt.Fprintln(out)
	}
	if err != nil {
		clear(line)
		return nil, fmt.Errorf("reading the secret: %w", err)
	}
	secret, err := ParsePIN(line)
	clear(line)
	return secret, err
}

// PINFromFlags is the CLI's choice of source: the file if given, else the
// environment variable EnvPIN if set, else a prompt on in/out.
func PINFromFlags(file string, in io.Reader, out io.Writer) PINSource {
	if file != "" {
		return PINFile(file)
	}
	if _, ok := os.LookupEnv(EnvPIN); ok {
		return PINEnv(EnvPIN)
	}
	return PINPrompt(in, out)
}

func readLine(r io.Reader, limit int) ([]byte, error) {
	var line []byte
	var b [1]byte
	for len(line) < limit {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return line, nil
			}
			line = append(line, b[0])
		}
		if err == io.EOF {
			if len(line) == 0 {
				return nil, fmt.Errorf("%w: no input to read it from (use a file or environment variable)", ErrNoPIN)
			}
			return line, nil
		}
		if err != nil {
			return line, err
		}
	}
	return line, nil
}

// ParsePIN takes a PIN from file or variable content: the first line,
// without its CR/LF. It refuses an empty PIN, one longer than 256 bytes and
// control characters (a binary file given by mistake). The result is a new
// slice; data is not modified.
func ParsePIN(data []byte) ([]byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	data = bytes.TrimSuffix(data, []byte{'\r'})
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the PIN is empty", ErrNoPIN)
	}
	if len(data) > maxPINLen {
		return nil, fmt.Errorf("%w: the PIN is longer than %d bytes", ErrPINLength, maxPINLen)
	}
	for _, c := range data {
		if c < 0x20 || c == 0x7f {
			return nil, fmt.Errorf("%w: the PIN contains a control character", ErrNoPIN)
		}
	}
	return bytes.Clone(data), nil
}
