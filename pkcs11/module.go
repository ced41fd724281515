// Package pkcs11 signs with keys held on USB tokens, smart cards and HSMs
// through a PKCS#11 module (github.com/miekg/pkcs11). It lists slots, tokens,
// certificates and keys, logs in with a PIN taken from a prompt, a file or an
// environment variable, and gives a crypto.Signer (RSA PKCS#1 v1.5, RSA-PSS,
// ECDSA) that is safe for concurrent use: one login, a pool of sessions, and
// recovery after the token is re-inserted or a session is closed under it.
// It can also provision a token from a PKCS#12 file (for tests and demos).
//
// Tests run against SoftHSM2; see the softhsmtest subpackage.
package pkcs11

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// EnvModule names the environment variable that gives the module path when
// none is passed explicitly.
const EnvModule = "SEMNAT_PKCS11_MODULE"

// DefaultModulePaths are the usual module locations tried, in order, when no
// path is given: SoftHSM2 and OpenSC on Debian/Ubuntu, Fedora and macOS.
func DefaultModulePaths() []string {
	return []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/opt/homebrew/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
		"/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
		"/usr/lib64/opensc-pkcs11.so",
		"/usr/lib/opensc-pkcs11.so",
		"/opt/homebrew/lib/opensc-pkcs11.so",
	}
}

// FindModule resolves the module to load: path if not empty, else
// $SEMNAT_PKCS11_MODULE, else the first of DefaultModulePaths that exists.
func FindModule(path string) (string, error) {
	if path == "" {
		path = os.Getenv(EnvModule)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("pkcs11: module %s: %w (%v)", path, ErrModuleNotFound, err)
		}
		return path, nil
	}
	for _, p := range DefaultModulePaths() {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("pkcs11: %w: none of the usual SoftHSM2/OpenSC paths exists; install softhsm2 or opensc, or pass --module PATH or set %s", ErrModuleNotFound, EnvModule)
}

// library is one loaded and initialised PKCS#11 module. A module's state
// (C_Initialize, logins, sessions) is process-wide by the PKCS#11 standard,
// so every Module opened on the same file in a process shares one library;
// this table is the one process-wide variable of the package and mirrors the
// module's own global state.
type library struct {
	ctx      *p11.Ctx
	path     string
	refs     int
	ownsInit bool // we called C_Initialize (so we call C_Finalize)
}

var libraries = struct {
	sync.Mutex
	m map[string]*library
}{m: map[string]*library{}}

// Module is a loaded PKCS#11 module. It is safe for concurrent use. Close it
// when done; the module is finalised when the last Module on it is closed.
type Module struct {
	lib    *library
	mu     sync.Mutex
	closed bool
}

// Open loads the PKCS#11 module at path (see FindModule for an empty path)
// and initialises it. Opening the same module twice in a process shares
// the loaded library.
func Open(path string) (*Module, error) {
	path, err := FindModule(path)
	if err != nil {
		return nil, err
	}
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: module %s: %w", path, err)
	}
	if r, err := filepath.EvalSymlinks(key); err == nil {
		key = r
	}
	libraries.Lock()
	defer libraries.Unlock()
	if lib, ok := libraries.m[key]; ok {
		lib.refs++
		return &Module{lib: lib}, nil
	}
	ctx := p11.New(key)
	if ctx == nil {
		return nil, fmt.Errorf("pkcs11: %w: %s is not a loadable PKCS#11 library", ErrModuleLoad, path)
	}
	owns := true
	if err := ctx.Initialize(); err != nil {
		if code, ok := codeOf(err); ok && code == p11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			owns = false // initialised by other code in this process
		} else {
			ctx.Destroy()
			return nil, fmt.Errorf("pkcs11: %w: %s: %w", ErrModuleLoad, path, wrap("C_Initialize", err))
		}
	}
	lib := &library{ctx: ctx, path: path, refs: 1, ownsInit: owns}
	libraries.m[key] = lib
	return &Module{lib: lib}, nil
}

// Path is the file the module was loaded from.
func (m *Module) Path() string { return m.lib.path }

// Close releases the module; the last Close in the process finalises and
// unloads it. Signers made from the module must be closed first.
func (m *Module) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	libraries.Lock()
	defer libraries.Unlock()
	lib := m.lib
	lib.refs--
	if lib.refs > 0 {
		return nil
	}
	for k, l := range libraries.m {
		if l == lib {
			delete(libraries.m, k)
		}
	}
	var err error
	if lib.ownsInit {
		err = wrap("C_Finalize", lib.ctx.Finalize())
	}
	lib.ctx.Destroy()
	return err
}

func (m *Module) ctx() (*p11.Ctx, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("pkcs11: module %s: %w", m.lib.path, ErrClosed)
	}
	return m.lib.ctx, nil
}

// ModuleInfo describes the loaded library (C_GetInfo).
type ModuleInfo struct {
	Path               string `json:"path"`
	CryptokiVersion    string `json:"cryptoki_version"`
	ManufacturerID     string `json:"manufacturer"`
	LibraryDescription string `json:"description"`
	LibraryVersion     string `json:"library_version"`
}

// Info reports C_GetInfo.
func (m *Module) Info() (ModuleInfo, error) {
	ctx, err := m.ctx()
	if err != nil {
		return ModuleInfo{}, err
	}
	in, err := ctx.GetInfo()
	if err != nil {
		return ModuleInfo{}, wrap("C_GetInfo", err)
	}
	return ModuleInfo{
		Path:               m.lib.path,
		CryptokiVersion:    fmt.Sprintf("%d.%d", in.CryptokiVersion.Major, in.CryptokiVersion.Minor),
		ManufacturerID:     clean(in.ManufacturerID),
		LibraryDescription: clean(in.LibraryDescription),
		LibraryVersion:     fmt.Sprintf("%d.%d", in.LibraryVersion.Major, in.LibraryVersion.Minor),
	}, nil
}

// TokenInfo describes a token (C_GetTokenInfo).
type TokenInfo struct {
	Label          string `json:"label"`
	Serial         string `json:"serial"`
	Manufacturer   string `json:"manufacturer"`
	Model          string `json:"model"`
	Flags          uint   `json:"flags"`
	MinPINLen      uint   `json:"min_pin_len"`
	MaxPINLen      uint   `json:"max_pin_len"`
	Initialized    bool   `json:"initialized"`
	LoginRequired  bool   `json:"login_required"`
	UserPINSet     bool   `json:"user_pin_initialized"`
	PINCountLow    bool   `json:"pin_count_low"`
	PINFinalTry    bool   `json:"pin_final_try"`
	PINLocked      bool   `json:"pin_locked"`
	PINToBeChanged bool   `json:"pin_to_be_changed"`
	ProtectedPath  bool   `json:"protected_authentication_path"`
	WriteProtected bool   `json:"write_protected"`
}

func tokenInfo(ti p11.TokenInfo) TokenInfo {
	f := ti.Flags
	return TokenInfo{
		Label:          clean(ti.Label),
		Serial:         clean(ti.SerialNumber),
		Manufacturer:   clean(ti.ManufacturerID),
		Model:          clean(ti.Model),
		Flags:          f,
		MinPINLen:      ti.MinPinLen,
		MaxPINLen:      ti.MaxPinLen,
		Initialized:    f&p11.CKF_TOKEN_INITIALIZED != 0,
		LoginRequired:  f&p11.CKF_LOGIN_REQUIRED != 0,
		UserPINSet:     f&p11.CKF_USER_PIN_INITIALIZED != 0,
		PINCountLow:    f&p11.CKF_USER_PIN_COUNT_LOW != 0,
		PINFinalTry:    f&p11.CKF_USER_PIN_FINAL_TRY != 0,
		PINLocked:      f&p11.CKF_USER_PIN_LOCKED != 0,
		PINToBeChanged: f&p11.CKF_USER_PIN_TO_BE_CHANGED != 0,
		ProtectedPath:  f&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0,
		WriteProtected: f&p11.CKF_WRITE_PROTECTED != 0,
	}
}

// FlagNames lists the token flags worth showing a person, e.g.
// ["login-required", "pin-count-low"].
func (t TokenInfo) FlagNames() []string {
	var out []string
	add := func(on bool, s string) {
		if on {
			out = append(out, s)
		}
	}
	add(!t.Initialized, "not-initialized")
	add(t.LoginRequired, "login-required")
	add(!t.UserPINSet, "user-pin-not-set")
	add(t.PINCountLow, "pin-count-low")
	add(t.PINFinalTry, "pin-final-try")
	add(t.PINLocked, "pin-locked")
	add(t.PINToBeChanged, "pin-to-be-changed")
	add(t.ProtectedPath, "pin-pad")
	add(t.WriteProtected, "write-protected")
	return out
}

// pinState tells a person what the token says about remaining PIN tries.
func (t TokenInfo) pinState() string {
	switch {
	case t.PINLocked:
		return "the PIN is locked"
	case t.PINFinalTry:
		return "one try left before the PIN locks"
	case t.PINCountLow:
		return "the token reports few tries left"
	}
	return ""
}

func (t TokenInfo) String() string {
	if t.Serial != "" {
		return fmt.Sprintf("%q (serial %s)", t.Label, t.Serial)
	}
	return fmt.Sprintf("%q", t.Label)
}

// Slot is a slot of the module and the token in it, if any.
type Slot struct {
	ID           uint       `json:"id"`
	Description  string     `json:"description"`
	Manufacturer string     `json:"manufacturer"`
	TokenPresent bool       `json:"token_present"`
	Removable    bool       `json:"removable"`
	Token        *TokenInfo `json:"token,omitempty"`
}

// Slots lists every slot and the token in it (C_GetSlotList(false)).
func (m *Module) Slots() ([]Slot, error) {
	ctx, err := m.ctx()
	if err != nil {
		return nil, err
	}
	ids, err := ctx.GetSlotList(false)
	if err != nil {
		return nil, wrap("C_GetSlotList", err)
	}
	out := make([]Slot, 0, len(ids))
	for _, id := range ids {
		si, err := ctx.GetSlotInfo(id)
		if err != nil {
			return nil, wrap("C_GetSlotInfo", err)
		}
		s := Slot{
			ID:           id,
			Description:  clean(si.SlotDescription),
			Manufacturer: clean(si.ManufacturerID),
			TokenPresent: si.Flags&p11.CKF_TOKEN_PRESENT != 0,
			Removable:    si.Flags&p11.CKF_REMOVABLE_DEVICE != 0,
		}
		if s.TokenPresent {
			ti, err := ctx.GetTokenInfo(id)
			if err != nil {
				if errors.Is(wrap("", err), ErrTokenNotPresent) {
					s.TokenPresent = false
					out = append(out, s)
					continue
				}
				return nil, wrap("C_GetTokenInfo", err)
			}
			t := tokenInfo(ti)
			s.Token = &t
		}
		out = append(out, s)
	}
	return out, nil
}

// TokenSelector picks a token by label and/or serial. The zero value picks
// the only initialised token present.
type TokenSelector struct {
	Label  string
	Serial string
}

func (s TokenSelector) String() string {
	switch {
	case s.Label != "" && s.Serial != "":
		return fmt.Sprintf("label %q serial %s", s.Label, s.Serial)
	case s.Label != "":
		return fmt.Sprintf("label %q", s.Label)
	case s.Serial != "":
		return "serial " + s.Serial
	}
	return "any"
}

// FindToken returns the slot holding the token sel selects.
func (m *Module) FindToken(sel TokenSelector) (Slot, error) {
	slots, err := m.Slots()
	if err != nil {
		return Slot{}, err
	}
	var found []Slot
	var labels []string
	for _, s := range slots {
		if s.Token == nil || !s.Token.Initialized {
			continue
		}
		labels = append(labels, s.Token.String())
		if sel.Label != "" && s.Token.Label != sel.Label {
			continue
		}
		if sel.Serial != "" && !strings.EqualFold(s.Token.Serial, sel.Serial) {
			continue
		}
		found = append(found, s)
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if len(labels) == 0 {
			return Slot{}, fmt.Errorf("pkcs11: %s: %w: no initialised token is present; insert the token", m.lib.path, ErrTokenNotPresent)
		}
		return Slot{}, fmt.Errorf("pkcs11: %w: no token with %s (present: %s)", ErrTokenNotFound, sel, strings.Join(labels, ", "))
	}
	return Slot{}, fmt.Errorf("pkcs11: %w: %d tokens match %s (present: %s); pass a token label or serial", ErrAmbiguous, len(found), sel, strings.Join(labels, ", "))
}

// clean trims the blank padding of PKCS#11 fixed-size strings (and NULs).
func clean(s string) string {
	return strings.TrimRight(s, " \x00")
}
