// Package wire is the protocol between a web page of `semnat serve` and the
// local token agent (`semnat agent`): the JSON messages, and the binding
// signature that ties a token signature to the web origin that asked for it
// and to the server's one-time nonce.
//
// The page calls the agent on http://127.0.0.1:PORT (default
// DefaultAddr):
//
//	GET  /v1/info          → Info
//	GET  /v1/certificates  → []Certificate
//	POST /v1/sign          SignRequest → SignResponse
//	POST /v1/authenticate  AuthRequest → AuthResponse (log in to the site)
//
// Errors are RFC 9457 problem documents. The agent answers only origins on
// its allow-list (CORS, with the Private Network Access preflight) and only
// requests whose Host is 127.0.0.1 or localhost on its own port.
//
// Binding: besides the signature over the document digest, the agent signs,
// with the same key and scheme, the digest of BindingMessage(origin, nonce,
// digest), where origin is the Origin header the browser sent it. The server
// accepts the document signature only if the binding signature verifies with
// the certificate's key for its own origin and the nonce it issued for that
// sign request, so a signature obtained by another page (another origin) or
// for another request (another nonce) is refused.
package wire

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
)

// DefaultAddr is where the agent listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8421"

// DefaultURL is the agent's base URL at DefaultAddr, as a page calls it.
const DefaultURL = "http://" + DefaultAddr

// Protocol is the version of this protocol.
const Protocol = 1

// Info answers GET /v1/info.
type Info struct {
	Name     string `json:"name"` // "semnat-agent"
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	Token    string `json:"token,omitempty"` // the token's label
}

// Certificate is one signing certificate on the token (GET /v1/certificates).
type Certificate struct {
	ID          string   `json:"id"` // CKA_ID, hex
	Label       string   `json:"label,omitempty"`
	Subject     string   `json:"subject"`
	Issuer      string   `json:"issuer"`
	NotAfter    string   `json:"notAfter"`        // RFC 3339
	Certificate []byte   `json:"certificate"`     // DER (base64 in JSON)
	Chain       [][]byte `json:"chain,omitempty"` // DER of CA certificates found on the token
	// Authentication: an authentication certificate (IsAuthentication),
	// for logins (POST /v1/authenticate) only; the others sign documents
	// only.
	Authentication bool `json:"authentication,omitempty"`
}

// SignRequest asks for one digest to be signed (POST /v1/sign).
type SignRequest struct {
	CertificateID string `json:"certificateId"` // Certificate.ID
	Hash          string `json:"hash"`          // "SHA-256", "SHA-384" or "SHA-512"
	// Scheme is "pkcs1v15" or "pss" for RSA keys ("" means pkcs1v15), ""
	// for ECDSA keys.
	Scheme   string `json:"scheme,omitempty"`
	Digest   []byte `json:"digest"`   // the digest to sign (base64 in JSON)
	Nonce    string `json:"nonce"`    // the server's one-time nonce
	Document string `json:"document"` // what is being signed, shown to the user (e.g. a file name)
}

// SignBatchRequest asks for several digests to be signed with one key
// after one consent and one PIN (POST /v1/sign-batch): the agent's prompt
// lists every document and digest. Each document may leave CertificateID
// empty; if set it must be the batch's.
type SignBatchRequest struct {
	CertificateID string        `json:"certificateId"`
	Documents     []SignRequest `json:"documents"` // 1 to MaxBatch
}

// SignBatchResponse carries one SignResponse per document, in order.
type SignBatchResponse struct {
	Signatures []SignResponse `json:"signatures"`
}

// MaxBatch bounds the documents of one SignBatchRequest.
const MaxBatch = 20

// SignResponse carries the document signature and the binding signature:
// PKCS#1 v1.5 or PSS bytes for RSA, ASN.1 DER for ECDSA.
type SignResponse struct {
	Signature []byte `json:"signature"`
	Binding   []byte `json:"binding"`
	Origin    string `json:"origin"` // the origin the agent bound the signature to
}

// HashByName maps the Hash field to a crypto.Hash.
func HashByName(name string) (crypto.Hash, error) {
	switch strings.ToUpper(strings.ReplaceAll(name, "_", "-")) {
	case "SHA-256", "SHA256":
		return crypto.SHA256, nil
	case "SHA-384", "SHA384":
		return crypto.SHA384, nil
	case "SHA-512", "SHA512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("wire: unsupported hash %q (SHA-256, SHA-384 or SHA-512)", name)
}

// HashName is the inverse of HashByName ("SHA-256", …): crypto.Hash's own name.
func HashName(h crypto.Hash) string { return h.String() }

// SignerOpts is the crypto.SignerOpts for a hash and scheme.
func SignerOpts(h crypto.Hash, scheme string) (crypto.SignerOpts, error) {
	switch scheme {
	case "", "pkcs1v15":
		return h, nil
	case "pss":
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, nil
	}
	return nil, fmt.Errorf("wire: unknown signature scheme %q (pkcs1v15 or pss)", scheme)
}

// BindingMessage is the message whose digest the binding signature signs.
func BindingMessage(origin, nonce string, digest []byte) []byte {
	return fmt.Appendf(nil, "semnat-agent-binding/1\norigin=%s\nnonce=%s\ndigest=%x\n", origin, nonce, digest)
}

// BindingDigest is the digest of BindingMessage with h.
func BindingDigest(h crypto.Hash, origin, nonce string, digest []byte) []byte {
	d := h.New()
	d.Write(BindingMessage(origin, nonce, digest))
	return d.Sum(nil)
}

// AuthRequest asks the agent to prove, for a login, that the person holds
// the key of a certificate (POST /v1/authenticate). The page sends no
// digest: the agent signs the digest of AuthMessage(origin, nonce), which
// it builds itself from the Origin the browser sent and the server's
// one-time nonce. A login can therefore never be used to have a document
// signed (a document signature is over a digest the page chooses; an
// authentication signature only over this fixed-form message), and the
// person is asked "log in to <origin> as <name>", not to sign.
type AuthRequest struct {
	CertificateID string `json:"certificateId"`    // Certificate.ID
	Hash          string `json:"hash"`             // "SHA-256" (default), "SHA-384" or "SHA-512"
	Scheme        string `json:"scheme,omitempty"` // as in SignRequest
	Nonce         string `json:"nonce"`            // the server's one-time login nonce
}

// AuthResponse is the authentication signature over
// AuthDigest(hash, origin, nonce): PKCS#1 v1.5 or PSS bytes for RSA, ASN.1
// DER for ECDSA.
type AuthResponse struct {
	Signature []byte `json:"signature"`
	Origin    string `json:"origin"` // the origin the agent authenticated to
	Hash      string `json:"hash"`
	Scheme    string `json:"scheme,omitempty"`
}

// AuthMessage is the message an authentication signature is over. Its
// first line differs from BindingMessage's, and no CMS signed-attributes
// encoding (DER, starting with 0x31) or PDF byte range starts like it.
func AuthMessage(origin, nonce string) []byte {
	return fmt.Appendf(nil, "semnat-agent-login/1\norigin=%s\nnonce=%s\n", origin, nonce)
}

// AuthDigest is the digest of AuthMessage with h.
func AuthDigest(h crypto.Hash, origin, nonce string) []byte {
	d := h.New()
	d.Write(AuthMessage(origin, nonce))
	return d.Sum(nil)
}

// ErrAuthentication is returned by VerifyAuthentication for a signature
// that is not the key's over this origin and nonce.
var ErrAuthentication = errors.New("wire: the authentication signature does not match this site and login")

// VerifyAuthentication checks that sig is pub's signature, with h and
// scheme, over AuthDigest(h, origin, nonce).
func VerifyAuthentication(pub crypto.PublicKey, h crypto.Hash, scheme, origin, nonce string, sig []byte) error {
	if nonce == "" || origin == "" {
		return ErrAuthentication
	}
	ok, err := verifyDigest(pub, h, scheme, AuthDigest(h, origin, nonce), sig)
	if err != nil {
		return err
	}
	if !ok {
		return ErrAuthentication
	}
	return nil
}

// ErrBinding is returned by VerifyBinding for a binding that does not verify.
var ErrBinding = errors.New("wire: the agent's binding signature does not match this origin and request")

// VerifyBinding checks that binding is pub's signature, with h and scheme,
// over the binding of origin, nonce and digest.
func VerifyBinding(pub crypto.PublicKey, h crypto.Hash, scheme, origin, nonce string, digest, binding []byte) error {
	if nonce == "" || origin == "" {
		return ErrBinding
	}
	ok, err := verifyDigest(pub, h, scheme, BindingDigest(h, origin, nonce, digest), binding)
	if err != nil {
		return err
	}
	if !ok {
		return ErrBinding
	}
	return nil
}

// verifyDigest tells whether sig is pub's signature over digest.
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, scheme string, digest, sig []byte) (bool, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if scheme == "pss" {
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h}) == nil, nil
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil, nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig), nil
	case ed25519.PublicKey:
		return false, fmt.Errorf("wire: Ed25519 keys are not used by the agent")
	}
	return false, fmt.Errorf("wire: unsupported public key %T", pub)
}

// Problem is the RFC 9457 problem document (Content-Type
// application/problem+json) the agent answers with when it does not sign.
// Type is one of the Problem* constants; clients test Type, never Title or
// Detail, which are for people.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Problem types of the agent. ProblemRefused is the person saying no:
// not an error, the page should say so and offer to try again.
const (
	ProblemOriginNotAllowed = "urn:semnat:problem:agent-origin-not-allowed"  // 403: no Origin, or one not on the allow-list
	ProblemBadHost          = "urn:semnat:problem:agent-bad-host"            // 421: Host is not 127.0.0.1/localhost/[::1] on the agent's port
	ProblemBadRequest       = "urn:semnat:problem:agent-bad-request"         // 400: malformed JSON, unknown field, wrong digest size, ...
	ProblemTooLarge         = "urn:semnat:problem:agent-too-large"           // 413: body over the limit
	ProblemMediaType        = "urn:semnat:problem:agent-media-type"          // 415: POST body is not application/json
	ProblemNotFound         = "urn:semnat:problem:agent-not-found"           // 404: no such endpoint
	ProblemMethod           = "urn:semnat:problem:agent-method-not-allowed"  // 405
	ProblemUnknownCert      = "urn:semnat:problem:agent-unknown-certificate" // 404: no signing certificate with that id on the token
	ProblemWrongKey         = "urn:semnat:problem:agent-wrong-key"           // 409: a login with a signing key, or a document with an authentication key
	ProblemRefused          = "urn:semnat:problem:agent-refused"             // 403: the person refused to sign
	ProblemSharedKey        = "urn:semnat:problem:agent-shared-key"          // 409: a document with a key the token also certifies for logging in
	ProblemConsent          = "urn:semnat:problem:agent-consent-unavailable" // 503: the agent could not ask (no terminal, ...)
	ProblemPINIncorrect     = "urn:semnat:problem:agent-pin-incorrect"       // 403: the token refused the PIN (not retried)
	ProblemPINLength        = "urn:semnat:problem:agent-pin-length"          // 422: the PIN is too short/long for the token (no try used)
	ProblemPINLocked        = "urn:semnat:problem:agent-pin-locked"          // 423: the PIN is locked; unblock with the PUK
	ProblemToken            = "urn:semnat:problem:agent-token-unavailable"   // 503: token absent, removed, module failure
	ProblemSign             = "urn:semnat:problem:agent-sign-failed"         // 500: the token failed to sign
)
