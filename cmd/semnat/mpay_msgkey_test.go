package main

import (
	"crypto/ecdsa"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/mpay"
)

// TestMPayMessageKeyFlags: without --message-key, `semnat mpay serve`
// makes an EC P-256 message key in DATA at the first start (the key
// readable by its owner only) and signs with the same key at the next;
// "seal" keeps MPay's own key; half a pair, or a lone file in DATA, is
// refused with a clear message.
func TestMPayMessageKeyFlags(t *testing.T) {
	data := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	var c1, c2 mpay.Config
	f := mpayMessageFlags{}
	path, err := f.apply(&c1, data, log)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(data, mpayMessageCertFile) {
		t.Fatalf("certificate path %q", path)
	}
	if _, ok := c1.MessageKey.Public().(*ecdsa.PublicKey); !ok || c1.MessageCert == nil {
		t.Fatalf("message key %T, want EC", c1.MessageKey.Public())
	}
	if fi, err := os.Stat(filepath.Join(data, mpayMessageKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if _, err := f.apply(&c2, data, log); err != nil {
		t.Fatal(err)
	}
	if !c2.MessageCert.Equal(c1.MessageCert) {
		t.Fatal("the second start made another message key")
	}
	// The flags given: the same files, as a second instance would.
	given := mpayMessageFlags{key: filepath.Join(data, mpayMessageKeyFile), cert: filepath.Join(data, mpayMessageCertFile)}
	var c3 mpay.Config
	if _, err := given.apply(&c3, t.TempDir(), log); err != nil || !c3.MessageCert.Equal(c1.MessageCert) {
		t.Fatalf("--message-key/--message-cert: %v", err)
	}
	var c4 mpay.Config
	if path, err := (&mpayMessageFlags{key: "seal"}).apply(&c4, data, log); err != nil || path != "" || c4.MessageKey != nil {
		t.Fatalf("seal: %q %v", path, err)
	}
	for _, bad := range []mpayMessageFlags{{key: "seal", cert: "x.pem"}, {key: "k.pem"}, {cert: "c.pem"}} {
		if _, err := bad.apply(&mpay.Config{}, data, log); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := os.Remove(filepath.Join(data, mpayMessageKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.apply(&mpay.Config{}, data, log); err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("a lone certificate in DATA: %v", err)
	}
}
