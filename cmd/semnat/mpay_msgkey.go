package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/atomicfile"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mpay"
)

// mpayMessageFlags choose the key MPay signs its REST/JWS messages with
// (mpay/msgkey.go): by default an EC P-256 key (ES256) kept in DATA, made
// at the first start; MPay's own key (--p12, --key or --token) keeps the
// receipts' seal and the SOAP face's WS-Security.
type mpayMessageFlags struct{ key, cert string }

// Files of the message key made at the first start, in DATA.
const (
	mpayMessageKeyFile  = "mpay-message.key"
	mpayMessageCertFile = "mpay-message.crt"
)

func (m *mpayMessageFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&m.key, "message-key", "", "PEM key that signs MPay's REST messages to service providers (JWS; default: an EC P-256 key, ES256, made at the first start as DATA/"+
		mpayMessageKeyFile+"); \"seal\": MPay's own key (--p12, --key or --token) signs them. Instances sharing a store need the same message key")
	fl.StringVar(&m.cert, "message-cert", "", "PEM certificate of --message-key, the one REST service providers check MPay's messages against (default: DATA/"+mpayMessageCertFile+")")
}

// apply sets c's message key and returns the certificate file REST SPs
// are given ("" when MPay's own key signs the messages).
func (m *mpayMessageFlags) apply(c *mpay.Config, data string, log *slog.Logger) (string, error) {
	switch {
	case m.key == "seal" && m.cert != "":
		return "", errors.New("--message-key seal signs the messages with MPay's own key: give no --message-cert")
	case m.key == "seal":
		return "", nil
	case (m.key == "") != (m.cert == ""):
		return "", errors.New("--message-key and --message-cert go together (or give neither: a message key is made in --data)")
	case m.key != "":
		b, err := keyfile.LoadPEM(m.key, m.cert, "")
		if err != nil {
			return "", fmt.Errorf("MPay's message key: %w", err)
		}
		c.MessageKey, c.MessageCert = b.Key, b.Cert
		return m.cert, nil
	}
	keyPath, certPath := filepath.Join(data, mpayMessageKeyFile), filepath.Join(data, mpayMessageCertFile)
	_, kerr := os.Stat(keyPath)
	_, cerr := os.Stat(certPath)
	switch {
	case kerr == nil && cerr == nil:
		b, err := keyfile.LoadPEM(keyPath, certPath, "")
		if err != nil {
			return "", fmt.Errorf("MPay's message key in %s: %w", data, err)
		}
		c.MessageKey, c.MessageCert = b.Key, b.Cert
		return certPath, nil
	case !errors.Is(kerr, fs.ErrNotExist) || !errors.Is(cerr, fs.ErrNotExist):
		return "", fmt.Errorf("MPay's message key: %s and %s must both be there or both be missing (restore the missing one, or remove both to make a new key, whose certificate the service providers must then be given)", keyPath, certPath)
	}
	key, cert, err := mpay.NewMessageKey("MPay")
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("MPay's message key: %w", err)
	}
	defer clear(der)
	if err := atomicfile.WriteBytes(certPath, 0o644, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})); err != nil {
		return "", fmt.Errorf("MPay's message key: %w", err)
	}
	if err := atomicfile.WriteBytes(keyPath, 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		os.Remove(certPath)
		return "", fmt.Errorf("MPay's message key: %w", err)
	}
	log.Info("mpay: made a message key (ES256): give its certificate to the REST service providers", "cert", certPath)
	c.MessageKey, c.MessageCert = key, cert
	return certPath, nil
}

// messageCertNote is what the start line says of the message key.
func messageCertNote(certPath string) string {
	if certPath == "" {
		return "; REST messages signed by MPay's own key"
	}
	return "; REST messages' certificate, for the service providers: " + certPath
}
