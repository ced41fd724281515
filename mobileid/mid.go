package mobileid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The SK ID Solutions Mobile-ID REST face, mounted at /mid-api.

// midRequest is the body of /certificate, /signature and /authentication.
type midRequest struct {
	RelyingPartyUUID       string `json:"relyingPartyUUID"`
	RelyingPartyName       string `json:"relyingPartyName"`
	PhoneNumber            string `json:"phoneNumber"`
	NationalIdentityNumber string `json:"nationalIdentityNumber"`
	Hash                   string `json:"hash,omitempty"`
	HashType               string `json:"hashType,omitempty"`
	Language               string `json:"language,omitempty"`
	DisplayText            string `json:"displayText,omitempty"`
	DisplayTextFormat      string `json:"displayTextFormat,omitempty"`
}

// midStatus is a session status response.
type midStatus struct {
	State     string        `json:"state"`
	Result    string        `json:"result,omitempty"`
	Signature *midSignature `json:"signature,omitempty"`
	Cert      string        `json:"cert,omitempty"`
	Time      string        `json:"time"`
	TraceID   string        `json:"traceId"`
}

type midSignature struct {
	Value     string `json:"value"`
	Algorithm string `json:"algorithm"`
}

var midHashes = map[string]crypto.Hash{"SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512}

func midTime() string { return time.Now().UTC().Format("2006-01-02T15:04:05") }

func midJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func midError(w http.ResponseWriter, code int, msg string) {
	midJSON(w, code, map[string]string{"error": msg, "time": midTime(), "traceId": randomHex(8)})
}

func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// midAuthorize finds the relying party, or "" if refused.
func (s *Simulator) midAuthorize(name, uuid string, ip netip.Addr) string {
	for _, rp := range s.rps {
		if subtle.ConstantTimeCompare([]byte(rp.Name), []byte(name)) != 1 || subtle.ConstantTimeCompare([]byte(rp.UUID), []byte(uuid)) != 1 {
			continue
		}
		if len(rp.AllowedIPs) == 0 {
			return rp.Name
		}
		for _, p := range rp.AllowedIPs {
			if p.Contains(ip) {
				return rp.Name
			}
		}
	}
	return ""
}

// parseMIDRequest decodes and checks a request body. It returns the HTTP
// status and message of a refusal.
func parseMIDRequest(body []byte, withHash bool) (*midRequest, crypto.Hash, []byte, int, string) {
	var req midRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&req); err != nil {
		return nil, 0, nil, http.StatusBadRequest, "Failed to parse request body"
	}
	switch {
	case req.RelyingPartyUUID == "":
		return nil, 0, nil, 400, "relyingPartyUUID must not be empty"
	case req.RelyingPartyName == "":
		return nil, 0, nil, 400, "relyingPartyName must not be empty"
	case req.PhoneNumber == "":
		return nil, 0, nil, 400, "phoneNumber must not be empty"
	case normalizeMSISDN(req.PhoneNumber) == "" || !strings.HasPrefix(req.PhoneNumber, "+"):
		return nil, 0, nil, 400, "phoneNumber must be in international format, e.g. +37369123456"
	case req.NationalIdentityNumber == "":
		return nil, 0, nil, 400, "nationalIdentityNumber must not be empty"
	}
	if !withHash {
		return &req, 0, nil, 0, ""
	}
	h, ok := midHashes[req.HashType]
	if !ok {
		return nil, 0, nil, 400, "hashType must be one of SHA256, SHA384, SHA512"
	}
	digest, err := base64.StdEncoding.DecodeString(req.Hash)
	if err != nil || len(digest) != h.Size() {
		return nil, 0, nil, 400, fmt.Sprintf("hash must be %d bytes, base64 encoded, for %s", h.Size(), req.HashType)
	}
	switch req.Language {
	case "", "EST", "ENG", "RUS", "LIT", "RON":
	default:
		return nil, 0, nil, 400, "language must be one of EST, ENG, RUS, LIT (semnat also accepts RON)"
	}
	switch TextFormat(req.DisplayTextFormat) {
	case "", GSM7, UCS2:
	default:
		return nil, 0, nil, 400, "displayTextFormat must be GSM-7 or UCS-2"
	}
	if err := CheckDisplayText(req.DisplayText, TextFormat(req.DisplayTextFormat)); err != nil {
		return nil, 0, nil, 400, "displayText: " + strings.TrimPrefix(err.Error(), ErrDisplayText.Error()+": ")
	}
	return &req, h, digest, 0, ""
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
}

func (s *Simulator) midCertificate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		midError(w, 400, "request body too large")
		return
	}
	req, _, _, code, msg := parseMIDRequest(body, false)
	if code != 0 {
		midError(w, code, msg)
		return
	}
	if s.midAuthorize(req.RelyingPartyName, req.RelyingPartyUUID, remoteIP(r)) == "" {
		midError(w, 401, "Failed to authorize user")
		return
	}
	result := map[string]string{"time": midTime(), "traceId": randomHex(8)}
	sm := s.lookup(req.PhoneNumber)
	switch {
	case sm == nil || sm.Behaviour == NotClient || sm.IDNP != req.NationalIdentityNumber:
		result["result"] = "NOT_FOUND"
	case sm.Behaviour == KeysInactive || sm.Behaviour == CertExpired:
		result["result"] = "NOT_ACTIVE"
	default:
		k, err := s.keysOf(sm)
		if err != nil {
			midError(w, 500, "Internal error")
			return
		}
		result["result"], result["cert"] = "OK", base64.StdEncoding.EncodeToString(k.sign.Cert.Raw)
	}
	midJSON(w, 200, result)
}

func (s *Simulator) midStart(auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			midError(w, 400, "request body too large")
			return
		}
		req, h, digest, code, msg := parseMIDRequest(body, true)
		if code != 0 {
			midError(w, code, msg)
			return
		}
		ip := remoteIP(r)
		rp := s.midAuthorize(req.RelyingPartyName, req.RelyingPartyUUID, ip)
		if rp == "" {
			midError(w, 401, "Failed to authorize user")
			return
		}
		t, _ := s.start(&request{face: FaceMID, caller: rp, ip: ip, auth: auth, msisdn: req.PhoneNumber,
			idnp: req.NationalIdentityNumber, hash: h, digest: digest,
			display: PhoneText(req.DisplayText, TextFormat(req.DisplayTextFormat))}, true)
		if t == nil {
			midError(w, 500, "Internal error")
			return
		}
		midJSON(w, 200, map[string]string{"sessionID": t.id})
	}
}

// midSessionTimeout clamps timeoutMs (default 10 s, 1 s .. 2 min), scaled.
func (s *Simulator) midSessionTimeout(q string) time.Duration {
	d := defaultLongPoll
	if q != "" {
		if ms, err := strconv.ParseInt(q, 10, 64); err == nil {
			d = time.Duration(min(max(ms, 0), int64(maxLongPoll/time.Millisecond))) * time.Millisecond
		}
	}
	return s.d(min(max(d, minLongPoll), maxLongPoll))
}

func (s *Simulator) midSession(auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t := s.find(r.PathValue("id"))
		if t == nil || t.face != FaceMID || t.auth != auth {
			midError(w, 404, "Session not found")
			return
		}
		if t.ip != remoteIP(r) {
			midError(w, 401, "Failed to authorize user")
			return
		}
		s.wait(r.Context(), t, s.midSessionTimeout(r.URL.Query().Get("timeoutMs")), true)
		v := s.view(t)
		st := midStatus{State: "RUNNING", Time: midTime(), TraceID: randomHex(8)}
		if v.state.final() {
			st.State, st.Result = "COMPLETE", string(midResult(v.result))
			if v.result == outOK || v.result == outRevoked {
				ent := v.keys.sign
				if auth {
					ent = v.keys.auth
					st.Cert = base64.StdEncoding.EncodeToString(ent.Cert.Raw)
				}
				raw, alg, err := midEncodeSignature(ent.Cert.PublicKey, t.hash, v.sig)
				if err != nil {
					midError(w, 500, "Internal error")
					return
				}
				st.Signature = &midSignature{Value: base64.StdEncoding.EncodeToString(raw), Algorithm: alg}
			}
		}
		midJSON(w, 200, st)
	}
}

// midResult maps an outcome to the Mobile-ID result (README: semnat's
// mapping for what Mobile-ID has no code for).
func midResult(o outcome) Result {
	switch o {
	case outOK, outRevoked:
		return ResultOK
	case outCancel:
		return ResultUserCancelled
	case outTimeout:
		return ResultTimeout
	case outPhoneAbsent:
		return ResultPhoneAbsent
	case outDelivery, outBusy:
		return ResultDeliveryError
	case outBadSignature:
		return ResultSignatureHashMismatch
	case outUnknownUser, outNotClient, outKeysInactive, outCertExpired:
		return ResultNotMIDClient
	}
	return ResultSIMError
}

// midEncodeSignature turns a SIM signature into the Mobile-ID form: RSA
// as is, ECDSA as raw r||s.
func midEncodeSignature(pub any, h crypto.Hash, sig []byte) ([]byte, string, error) {
	name := strings.ReplaceAll(h.String(), "-", "")
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return sig, name + "WithRSAEncryption", nil
	case *ecdsa.PublicKey:
		raw, err := ecdsaRaw(sig, (k.Curve.Params().BitSize+7)/8)
		return raw, name + "WithECEncryption", err
	}
	return nil, "", errors.New("mobileid: unsupported key")
}

// ecdsaRaw converts an ASN.1 ECDSA signature to r||s of n bytes each.
func ecdsaRaw(der []byte, n int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 ||
		v.R.BitLen() > 8*n || v.S.BitLen() > 8*n {
		return nil, errors.New("mobileid: malformed ECDSA signature")
	}
	out := make([]byte, 2*n)
	v.R.FillBytes(out[:n])
	v.S.FillBytes(out[n:])
	return out, nil
}

// ecdsaDER converts a raw r||s ECDSA signature to ASN.1 DER.
func ecdsaDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 || len(raw) > 264 {
		return nil, fmt.Errorf("%w: raw ECDSA signature of %d bytes", ErrProtocol, len(raw))
	}
	n := len(raw) / 2
	r, s := new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])
	if r.Sign() == 0 || s.Sign() == 0 {
		return nil, fmt.Errorf("%w: zero ECDSA signature component", ErrProtocol)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}

// midMethods wraps h so that other methods get Mobile-ID's 405 body.
func midMethods(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			midError(w, 405, "Method "+r.Method+" not allowed")
			return
		}
		h(w, r)
	}
}

func (s *Simulator) midRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/mid-api/certificate", midMethods("POST", s.midCertificate))
	mux.HandleFunc("/mid-api/signature", midMethods("POST", s.midStart(false)))
	mux.HandleFunc("/mid-api/authentication", midMethods("POST", s.midStart(true)))
	mux.HandleFunc("/mid-api/signature/session/{id}", midMethods("GET", s.midSession(false)))
	mux.HandleFunc("/mid-api/authentication/session/{id}", midMethods("GET", s.midSession(true)))
	mux.HandleFunc("/mid-api/", func(w http.ResponseWriter, r *http.Request) { midError(w, 404, "Not found") })
}
