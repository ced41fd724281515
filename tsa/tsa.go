// Package tsa implements RFC 3161 time-stamping (with the RFC 5816 ESSCertIDv2
// signing-certificate attribute): a time-stamp authority (Server, an
// http.Handler), a Client that requests and checks tokens, and Verify, which
// checks a token against trust anchors the way a PAdES verifier must.
//
// Encoding of requests and of the token's SignedData is done with
// github.com/digitorus/timestamp and github.com/digitorus/pkcs7; the
// response status, TSTInfo parsing and every verification step (content
// type, ESS binding, critical timeStamping EKU, chain at genTime, imprint,
// nonce) are this package's own.
package tsa

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Errors callers can test with errors.Is.
var (
	// ErrMalformed: the bytes are not a well-formed request, response or token.
	ErrMalformed = errors.New("tsa: malformed message")
	// ErrRejected: the TSA refused the request (the error is a *RejectedError).
	ErrRejected = errors.New("tsa: request rejected")
	// ErrBadSignature: the token's signature, content type or signing
	// certificate binding does not verify.
	ErrBadSignature = errors.New("tsa: token signature invalid")
	// ErrNotTSA: the signing certificate is not a time-stamping certificate
	// (RFC 3161 §2.3: sole, critical extended key usage timeStamping).
	ErrNotTSA = errors.New("tsa: signer is not a time-stamping authority")
	// ErrUntrusted: the signer's certificate does not chain to a trust anchor.
	ErrUntrusted = errors.New("tsa: TSA certificate not trusted")
	// ErrImprintMismatch: the token does not cover the data or digest given.
	ErrImprintMismatch = errors.New("tsa: token covers other data")
	// ErrNonceMismatch: the token's nonce is not the request's.
	ErrNonceMismatch = errors.New("tsa: nonce mismatch")
	// ErrUnsupportedHash: a hash algorithm this package does not accept.
	ErrUnsupportedHash = errors.New("tsa: unsupported hash algorithm")
	// ErrTransport: the HTTP exchange with the TSA failed.
	ErrTransport = errors.New("tsa: request to TSA failed")
)

// PKIStatus values (RFC 3161 §2.4.2).
const (
	StatusGranted                = 0
	StatusGrantedWithMods        = 1
	StatusRejection              = 2
	StatusWaiting                = 3
	StatusRevocationWarning      = 4
	StatusRevocationNotification = 5
)

// FailureInfo bits (RFC 3161 §2.4.2).
type FailureInfo int

const (
	FailBadAlg              FailureInfo = 0
	FailBadRequest          FailureInfo = 2
	FailBadDataFormat       FailureInfo = 5
	FailTimeNotAvailable    FailureInfo = 14
	FailUnacceptedPolicy    FailureInfo = 15
	FailUnacceptedExtension FailureInfo = 16
	FailAddInfoNotAvailable FailureInfo = 17
	FailSystemFailure       FailureInfo = 25
)

func (f FailureInfo) String() string {
	switch f {
	case FailBadAlg:
		return "badAlg"
	case FailBadRequest:
		return "badRequest"
	case FailBadDataFormat:
		return "badDataFormat"
	case FailTimeNotAvailable:
		return "timeNotAvailable"
	case FailUnacceptedPolicy:
		return "unacceptedPolicy"
	case FailUnacceptedExtension:
		return "unacceptedExtension"
	case FailAddInfoNotAvailable:
		return "addInfoNotAvailable"
	case FailSystemFailure:
		return "systemFailure"
	}
	return fmt.Sprintf("failInfo(%d)", int(f))
}

// RejectedError is the error for a response that grants no token.
type RejectedError struct {
	Status  int
	Failure []FailureInfo
	Text    string
}

func (e *RejectedError) Error() string {
	var fs []string
	for _, f := range e.Failure {
		fs = append(fs, f.String())
	}
	msg := fmt.Sprintf("tsa: request rejected (status %d", e.Status)
	if len(fs) > 0 {
		msg += ", " + strings.Join(fs, ",")
	}
	msg += ")"
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

// Has tells whether the rejection carries failure f.
func (e *RejectedError) Has(f FailureInfo) bool {
	for _, x := range e.Failure {
		if x == f {
			return true
		}
	}
	return false
}

var (
	oidSignedData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidSigningCertificate    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertificateV2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidExtKeyUsage           = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidQCStatements          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQTSTStatement1        = asn1.ObjectIdentifier{0, 4, 0, 19422, 1, 1}
	defaultAcceptedHashes    = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}
	errTrailing              = errors.New("trailing data")
	maxTokenCertificates     = 16
	maxStatusStrings         = 8
	defaultMaxResponseBytes  = int64(1 << 20)
	defaultMaxRequestBytes   = 16 << 10
	defaultAccuracy          = time.Second
	timeStampReqContentType  = "application/timestamp-query"
	timeStampRespContentType = "application/timestamp-reply"
)

// DefaultPolicy is the TSA policy of the test TSA (an arc below the
// "example" private enterprise number 32473, never a real policy).
var DefaultPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 498, 2, 1}

// RFC 3161 structures.
type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type accuracyASN1 struct {
	Seconds int64 `asn1:"optional"`
	Millis  int64 `asn1:"optional,tag:0"`
	Micros  int64 `asn1:"optional,tag:1"`
}

type tstInfoASN1 struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time        `asn1:"generalized"`
	Accuracy       accuracyASN1     `asn1:"optional"`
	Ordering       bool             `asn1:"optional,default:false"`
	Nonce          *big.Int         `asn1:"optional"`
	TSA            asn1.RawValue    `asn1:"optional,explicit,tag:0"`
	Extensions     []pkix.Extension `asn1:"optional,tag:1"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

type timeStampResp struct {
	Status pkiStatusInfo
	Token  asn1.RawValue `asn1:"optional"`
}

// ParseResponse reads a DER TimeStampResp and returns the token it grants.
// A response that grants nothing gives a *RejectedError (ErrRejected).
func ParseResponse(der []byte) ([]byte, error) {
	var resp timeStampResp
	rest, err := asn1.Unmarshal(der, &resp)
	if err != nil {
		return nil, fmt.Errorf("%w: TimeStampResp: %w", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: TimeStampResp: %w", ErrMalformed, errTrailing)
	}
	st := resp.Status
	if st.Status != StatusGranted && st.Status != StatusGrantedWithMods {
		re := &RejectedError{Status: st.Status}
		for i := 0; i < st.FailInfo.BitLength && i <= int(FailSystemFailure); i++ {
			if st.FailInfo.At(i) == 1 {
				re.Failure = append(re.Failure, FailureInfo(i))
			}
		}
		var texts []string
		for i, s := range st.StatusString {
			if i >= maxStatusStrings {
				break
			}
			if s.Tag == asn1.TagUTF8String {
				texts = append(texts, strings.ToValidUTF8(string(s.Bytes), "?"))
			}
		}
		re.Text = strings.Join(texts, "; ")
		if len(resp.Token.FullBytes) > 0 {
			return nil, fmt.Errorf("%w: rejection carries a token", ErrMalformed)
		}
		return nil, re
	}
	if len(resp.Token.FullBytes) == 0 {
		return nil, fmt.Errorf("%w: granted response without a token", ErrMalformed)
	}
	return resp.Token.FullBytes, nil
}

func marshalRejection(f FailureInfo, text string) []byte {
	var bs asn1.BitString
	n := int(f) + 1
	bs.Bytes = make([]byte, (n+7)/8)
	bs.Bytes[int(f)/8] |= 0x80 >> (uint(f) % 8)
	bs.BitLength = n
	si := pkiStatusInfo{Status: StatusRejection, FailInfo: bs}
	if text != "" {
		s, err := asn1.MarshalWithParams(text, "utf8")
		if err == nil {
			si.StatusString = []asn1.RawValue{{FullBytes: s}}
		}
	}
	der, err := asn1.Marshal(timeStampResp{Status: si})
	if err != nil {
		// Only our own fixed structures reach here; fall back to a bare rejection.
		return []byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02}
	}
	return der
}
