// Package mobileid is the mobile (SIM) signature layer of semnat: a faithful
// MSSP simulator with two protocol faces, and a Go client for both.
//
// The simulator (Simulator) keeps a registry of SIM users (MSISDN → person,
// operator, SIM keys and certificates issued by the testcerts
// mobile-signature CA, PIN/PUK retry counters) and runs signature
// transactions through the states created → delivering → awaiting user →
// signed | cancelled | expired | failed. The SIM signs the digest it is
// sent, never a document. Its http.Handler serves:
//
//	/mid-api/...      SK ID Solutions Mobile-ID REST compatible face
//	/rest/service...  ETSI TS 102 204 REST/JSON face (Swisscom/Kiuru style)
//	/sim/{msisdn}...  the virtual phone (only when Options.Phone is set)
//
// Scripted test users (+37300000001 ... +37300000041, see README.md) behave
// the same on both faces; other users wait for the virtual phone.
//
// Modelling Moldova's operator MSSPs as ETSI TS 102 204 services is a project
// assumption: their real protocol is not public.
//
// The Client talks to either face, shows the verification code before the
// user is asked (Start, Pending.VerificationCode), waits (Pending.Wait), and
// verifies the returned signature against the digest it sent and the
// certificate against its trust anchors. Every failure maps to a typed
// *Error wrapping a sentinel (ErrUserCancelled, ErrPhoneAbsent, ...).
package mobileid
