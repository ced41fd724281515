// Package secret reads passwords and PINs for the CLI: from a file, an
// environment variable, or a prompt without echo. Values are returned as
// byte slices so callers can clear them after use; they are never logged.
package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// MaxLen bounds what is read for one secret.
const MaxLen = 1024

// ErrEmpty is returned for an empty secret where one is required.
var ErrEmpty = errors.New("secret: empty")

// Trim drops one trailing line end (LF or CRLF).
func Trim(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// FromFile reads the first line of path.
func FromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxLen+2))
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		clear(data[i:]) // the rest of the file is not ours to keep
		data = data[:i]
	}
	return Trim(data), nil
}

// Prompt writes label on out and reads one line from in: without echo when
// in is a terminal, byte by byte otherwise (so nothing after the line is
// consumed from a pipe).
func Prompt(in io.Reader, out io.Writer, label string) ([]byte, error) {
	fmt.Fprintf(out, "%s: ", label)
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
		return b, err
	}
	return ReadLine(in, MaxLen)
}

// ReadLine reads bytes up to a newline (dropped) or EOF, at most max bytes.
func ReadLine(in io.Reader, max int) ([]byte, error) {
	var line []byte
	var c [1]byte
	for {
		n, err := in.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return Trim(line), nil
			}
			if len(line) >= max {
				clear(line)
				return nil, fmt.Errorf("secret: longer than %d bytes", max)
			}
			line = append(line, c[0])
		}
		if err == io.EOF {
			if len(line) == 0 {
				return nil, fmt.Errorf("secret: no input: %w", io.ErrUnexpectedEOF)
			}
			return Trim(line), nil
		}
		if err != nil {
			clear(line)
			return nil, err
		}
	}
}

// Get reads a secret from file if given, else from the environment
// variable env if set (which is then removed from the process environment,
// so that child processes never see it), else from a prompt.
func Get(file, env string, in io.Reader, out io.Writer, label string) ([]byte, error) {
	if file != "" {
		return FromFile(file)
	}
	if env != "" {
		if v, ok := os.LookupEnv(env); ok {
			os.Unsetenv(env)
			return []byte(v), nil
		}
	}
	return Prompt(in, out, label)
}
