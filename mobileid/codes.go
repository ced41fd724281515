package mobileid

import (
	"errors"
	"fmt"
)

// Face names a protocol face of the MSSP.
type Face string

const (
	FaceMID  Face = "mid"  // SK ID Solutions Mobile-ID REST (/mid-api)
	FaceETSI Face = "etsi" // ETSI TS 102 204 REST/JSON (/rest/service)
)

// StatusCode is an ETSI TS 102 204 status or fault code.
type StatusCode int

// ETSI TS 102 204 status codes (§1.8 of the reference).
const (
	RequestOK              StatusCode = 100
	WrongParam             StatusCode = 101
	MissingParam           StatusCode = 102
	WrongDataLength        StatusCode = 103
	UnauthorizedAccess     StatusCode = 104
	UnknownClient          StatusCode = 105
	InappropriateData      StatusCode = 107
	IncompatibleInterface  StatusCode = 108
	UnsupportedProfile     StatusCode = 109
	ExpiredTransaction     StatusCode = 208
	OTAError               StatusCode = 209
	UserCancel             StatusCode = 401
	PINNrBlocked           StatusCode = 402
	CardBlocked            StatusCode = 403
	NoKeyFound             StatusCode = 404
	PBSignatureProcess     StatusCode = 406
	NoCertFound            StatusCode = 422
	Signature              StatusCode = 500
	RevokedCertificate     StatusCode = 501
	ValidSignature         StatusCode = 502
	InvalidSignature       StatusCode = 503
	OutstandingTransaction StatusCode = 504
	InternalError          StatusCode = 900
)

var statusNames = map[StatusCode]string{
	100: "REQUEST_OK", 101: "WRONG_PARAM", 102: "MISSING_PARAM", 103: "WRONG_DATA_LENGTH",
	104: "UNAUTHORIZED_ACCESS", 105: "UNKNOWN_CLIENT", 107: "INAPPROPRIATE_DATA",
	108: "INCOMPATIBLE_INTERFACE", 109: "UNSUPPORTED_PROFILE", 208: "EXPIRED_TRANSACTION",
	209: "OTA_ERROR", 401: "USER_CANCEL", 402: "PIN_NR_BLOCKED", 403: "CARD_BLOCKED",
	404: "NO_KEY_FOUND", 405: "NO_URL_FOUND", 406: "PB_SIGNATURE_PROCESS", 422: "NO_CERT_FOUND",
	500: "SIGNATURE", 501: "REVOKED_CERTIFICATE", 502: "VALID_SIGNATURE", 503: "INVALID_SIGNATURE",
	504: "OUTSTANDING_TRANSACTION", 505: "CONSTRAINT_MISMATCH", 900: "INTERNAL_ERROR",
}

// String gives the code's name (StatusMessage / fault Reason), e.g. "USER_CANCEL".
func (c StatusCode) String() string {
	if n, ok := statusNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", int(c))
}

// Result is a Mobile-ID session end result code.
type Result string

// Mobile-ID session results (SK-EID/MID "complete list").
const (
	ResultOK                    Result = "OK"
	ResultTimeout               Result = "TIMEOUT"
	ResultNotMIDClient          Result = "NOT_MID_CLIENT"
	ResultUserCancelled         Result = "USER_CANCELLED"
	ResultSignatureHashMismatch Result = "SIGNATURE_HASH_MISMATCH"
	ResultPhoneAbsent           Result = "PHONE_ABSENT"
	ResultDeliveryError         Result = "DELIVERY_ERROR"
	ResultSIMError              Result = "SIM_ERROR"
)

// Sentinel errors: every failure of the client wraps one of these (through
// *Error), so callers test with errors.Is. The texts are meant for end users.
var (
	ErrUserCancelled      = errors.New("the user declined on the phone")
	ErrTimeout            = errors.New("the user did not answer on the phone in time")
	ErrNotClient          = errors.New("this phone number has no mobile signature (or the IDNP does not match)")
	ErrPhoneAbsent        = errors.New("phone unreachable, try later")
	ErrDelivery           = errors.New("the request could not be delivered to the phone, try later")
	ErrSIM                = errors.New("the SIM card reported an error")
	ErrInvalidSignature   = errors.New("the signature returned does not verify")
	ErrWrongPIN           = errors.New("a wrong PIN was entered on the phone")
	ErrPINBlocked         = errors.New("the PIN is blocked; unblock it with the PUK")
	ErrCardBlocked        = errors.New("the SIM is blocked (PUK blocked); contact the operator")
	ErrNoKey              = errors.New("the mobile signature keys are not active")
	ErrNoCertificate      = errors.New("no valid certificate for this mobile signature")
	ErrCertificateExpired = errors.New("the mobile signature certificate has expired")
	ErrCertificateRevoked = errors.New("the mobile signature certificate is revoked")
	ErrUntrusted          = errors.New("the certificate does not chain to a trusted CA")
	ErrBusy               = errors.New("another signature request is pending on this phone; answer or cancel it first")
	ErrUnauthorized       = errors.New("the service refused our credentials")
	ErrBadRequest         = errors.New("the service rejected the request")
	ErrSessionNotFound    = errors.New("the signing session is unknown or has expired")
	ErrService            = errors.New("the mobile signature service failed")
	ErrDisplayText        = errors.New("display text does not fit the phone")
	ErrProtocol           = errors.New("the service answered something the protocol does not allow")
)

// Error is a failure reported by an MSSP (or found in its answer), with the
// wire code that carried it.
type Error struct {
	Face    Face   // which protocol face answered
	Code    string // wire code: "401" (ETSI), "USER_CANCELLED" (Mobile-ID), "HTTP 401"
	SubCode string // ETSI sub-code ("4012") when the service gave one
	Detail  string // the service's own words, if any
	Err     error  // sentinel (ErrUserCancelled, ...)
}

func (e *Error) Error() string {
	s := "mobileid: " + e.Err.Error() + " (" + string(e.Face) + " " + e.Code
	if e.SubCode != "" {
		s += "/" + e.SubCode
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s + ")"
}

func (e *Error) Unwrap() error { return e.Err }

// etsiSentinel maps an ETSI code (and sub-code) to its sentinel error.
func etsiSentinel(code StatusCode, sub string) error {
	switch code {
	case UserCancel:
		if sub == "4012" {
			return ErrWrongPIN
		}
		return ErrUserCancelled
	case ExpiredTransaction:
		return ErrTimeout
	case OTAError:
		if sub == "2093" {
			return ErrPhoneAbsent
		}
		return ErrDelivery
	case PINNrBlocked:
		return ErrPINBlocked
	case CardBlocked:
		return ErrCardBlocked
	case NoKeyFound:
		return ErrNoKey
	case NoCertFound:
		return ErrNoCertificate
	case RevokedCertificate:
		return ErrCertificateRevoked
	case InvalidSignature:
		return ErrInvalidSignature
	case PBSignatureProcess:
		return ErrBusy
	case UnknownClient:
		return ErrNotClient
	case UnauthorizedAccess:
		return ErrUnauthorized
	case WrongParam, MissingParam, WrongDataLength, InappropriateData, IncompatibleInterface, UnsupportedProfile:
		return ErrBadRequest
	case InternalError:
		if sub == "9003" || sub == "9004" {
			return ErrSIM
		}
		return ErrService
	}
	return ErrService
}

// midSentinel maps a Mobile-ID result to its sentinel error.
func midSentinel(r Result) error {
	switch r {
	case ResultTimeout, "EXPIRED_TRANSACTION":
		return ErrTimeout
	case ResultNotMIDClient, "NOT_FOUND":
		return ErrNotClient
	case "NOT_ACTIVE":
		return ErrNoKey
	case ResultUserCancelled:
		return ErrUserCancelled
	case ResultSignatureHashMismatch:
		return ErrInvalidSignature
	case ResultPhoneAbsent:
		return ErrPhoneAbsent
	case ResultDeliveryError:
		return ErrDelivery
	case ResultSIMError:
		return ErrSIM
	}
	return ErrService
}
